"""The Kite Connect adapter: the Broker port over `kiteconnect` (REST) and `KiteTicker` (push).

`parse` turns every Kite payload into the port's values; `orders` holds the checks Kite would fail
later; `errors` says whether a failure is final, retryable or of unknown outcome; `reactor` keeps the
one Twisted reactor a process may run.

Exports resolve lazily: the Kite-protocol simulator imports `packets` and `instruments` from here,
and importing `kiteconnect` would drag Twisted (and its reactor) into a process that never uses them.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "KiteBroker": "brokers.kite.adapter",
    "KitePushChannel": "brokers.kite.ticker",
    "LOCAL_REJECT": "brokers.kite.orders",
    "ReactorUnavailable": "brokers.kite.reactor",
    "classify_error": "brokers.kite.errors",
    "ensure_reactor_running": "brokers.kite.reactor",
}

__all__ = [
    "LOCAL_REJECT",
    "KiteBroker",
    "KitePushChannel",
    "ReactorUnavailable",
    "classify_error",
    "ensure_reactor_running",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'brokers.kite' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
