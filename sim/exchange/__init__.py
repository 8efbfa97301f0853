"""The simulated NSE exchange core: market, order book, ledger, margin, and scenario control.

exchange = Exchange(clock, RandomStreams(seed), config=ExchangeConfig(faults=FaultConfig(...)))
exchange.add_rule(OrderRule(match(tag_prefix="rv"), reject("RMS: margin")))
exchange.set_ltp(symbol, 100.0)
order_id = exchange.place("default", request)
"""

from sim.exchange.accounts import AccountSummary
from sim.exchange.config import (
    ExchangeConfig,
    FaultConfig,
    Latency,
    LatencyConfig,
    MarginConfig,
    MarketConfig,
    UnderlyingModel,
)
from sim.exchange.depth import Level, Quote
from sim.exchange.errors import ExchangeError, InputRejected, OrderRefused, OutcomeUnknown, RateLimited
from sim.exchange.exchange import Exchange
from sim.exchange.ledger import Fill
from sim.exchange.margin import MarginBreakdown
from sim.exchange.market import Band
from sim.exchange.orders import SL_M_ON_OPTIONS
from sim.exchange.rules import (
    Delay,
    FillAfter,
    Hold,
    OrderMatch,
    OrderRule,
    Partial,
    Reject,
    UnknownOutcomeAction,
    delay,
    fill_after,
    hold,
    match,
    partial,
    reject,
    unknown_outcome,
)
from sim.exchange.universe import SCENARIO_SPEC, Listing, build_universe, default_listings, default_universe

__all__ = [
    "SCENARIO_SPEC",
    "SL_M_ON_OPTIONS",
    "AccountSummary",
    "Band",
    "Delay",
    "Exchange",
    "ExchangeConfig",
    "ExchangeError",
    "FaultConfig",
    "Fill",
    "FillAfter",
    "Hold",
    "InputRejected",
    "Latency",
    "LatencyConfig",
    "Level",
    "Listing",
    "MarginBreakdown",
    "MarginConfig",
    "MarketConfig",
    "OrderMatch",
    "OrderRefused",
    "OrderRule",
    "OutcomeUnknown",
    "Partial",
    "Quote",
    "RateLimited",
    "Reject",
    "UnderlyingModel",
    "UnknownOutcomeAction",
    "build_universe",
    "default_listings",
    "default_universe",
    "delay",
    "fill_after",
    "hold",
    "match",
    "partial",
    "reject",
    "unknown_outcome",
]
