"""The simulated NSE exchange, SimBroker, virtual clock, deterministic actor runtime and scenarios."""
