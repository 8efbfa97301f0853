"""Brokers: the port legguard executes through, and its adapters (Kite, and the simulator's SimBroker)."""

from brokers.port import (
    BasketMargins,
    Broker,
    BrokerError,
    BrokerListener,
    BrokerRejected,
    BrokerRetryable,
    BrokerUnknownOutcome,
    Margins,
    OrderMargin,
    OrderRequest,
    Position,
    Trade,
)

__all__ = [
    "BasketMargins",
    "Broker",
    "BrokerError",
    "BrokerListener",
    "BrokerRejected",
    "BrokerRetryable",
    "BrokerUnknownOutcome",
    "Margins",
    "OrderMargin",
    "OrderRequest",
    "Position",
    "Trade",
]
