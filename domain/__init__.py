"""The pure model of legguard: no pykka, no I/O, no clock reads, no randomness.

Instruments, legs, order groups, lifecycles, commands and events, validation, margin maths, greeks
and the execution plan. Everything here is a function of its arguments.
"""
