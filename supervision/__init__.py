"""Supervisors with OTP semantics, the directory of logical addresses, and crash recovery."""
