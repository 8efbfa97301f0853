"""Orders, legs and order groups as the trader asks for them (requests, not execution state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    SL_M = "SL-M"


class Product(StrEnum):
    NRML = "NRML"
    MIS = "MIS"


class Validity(StrEnum):
    DAY = "DAY"
    IOC = "IOC"


class LegRole(StrEnum):
    """Protection legs (the long wings) go first and must be confirmed before any risk leg is sent."""

    PROTECTION = "protection"
    RISK = "risk"


@dataclass(frozen=True, slots=True)
class StopSpec:
    """A hybrid stop on a filled leg: an SL order (trigger + limit) first, a protected market order
    as the fallback."""

    trigger_price: float
    limit_price: float


@dataclass(frozen=True, slots=True)
class LegSpec:
    leg_id: str
    tradingsymbol: str
    side: Side
    quantity: int
    role: LegRole
    order_type: OrderType = OrderType.LIMIT
    limit_price: float | None = None
    market_protection: int | None = None
    stop: StopSpec | None = None
    exchange: str = "NFO"
    # The entry order's own trigger when it is an SL / SL-M order (not the exit stop above).
    trigger_price: float | None = None

    @property
    def signed_quantity(self) -> int:
        return self.side.sign * self.quantity


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A validated order group: what to trade, before any of it is sent."""

    group_id: str
    strategy: str
    idempotency_key: str
    underlying: str
    legs: tuple[LegSpec, ...]
    product: Product = Product.NRML
    account: str = "default"
    tags: tuple[str, ...] = field(default=())

    @property
    def protection_legs(self) -> tuple[LegSpec, ...]:
        return tuple(leg for leg in self.legs if leg.role is LegRole.PROTECTION)

    @property
    def risk_legs(self) -> tuple[LegSpec, ...]:
        return tuple(leg for leg in self.legs if leg.role is LegRole.RISK)

    def leg(self, leg_id: str) -> LegSpec:
        for leg in self.legs:
            if leg.leg_id == leg_id:
                return leg
        raise KeyError(leg_id)


@dataclass(frozen=True, slots=True)
class StrategyIntent:
    """What a strategy may say: direction and confidence. Risk decides the quantity."""

    strategy: str
    underlying: str
    legs: tuple[LegSpec, ...]  # quantities here are ratios in lots (1, 2, ...), not units
    confidence: float
    idempotency_key: str
