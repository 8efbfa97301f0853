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
    # An interim hedge added by the exposure monitor: its orders use the emergency lane.
    urgent: bool = False

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


def leg_to_record(leg: LegSpec) -> dict[str, object]:
    return {
        "leg_id": leg.leg_id,
        "tradingsymbol": leg.tradingsymbol,
        "side": leg.side.value,
        "quantity": leg.quantity,
        "role": leg.role.value,
        "order_type": leg.order_type.value,
        "limit_price": leg.limit_price,
        "market_protection": leg.market_protection,
        "stop": None if leg.stop is None else [leg.stop.trigger_price, leg.stop.limit_price],
        "exchange": leg.exchange,
        "trigger_price": leg.trigger_price,
        "urgent": leg.urgent,
    }


def leg_from_record(rec: dict[str, object]) -> LegSpec:
    stop = rec.get("stop")
    return LegSpec(
        leg_id=str(rec["leg_id"]),
        tradingsymbol=str(rec["tradingsymbol"]),
        side=Side(str(rec["side"])),
        quantity=int(rec["quantity"]),  # type: ignore[call-overload]
        role=LegRole(str(rec["role"])),
        order_type=OrderType(str(rec["order_type"])),
        limit_price=rec["limit_price"],  # type: ignore[arg-type]
        market_protection=rec["market_protection"],  # type: ignore[arg-type]
        stop=None if stop is None else StopSpec(float(stop[0]), float(stop[1])),  # type: ignore[index]
        exchange=str(rec["exchange"]),
        # Records written before SL entries kept their trigger have none.
        trigger_price=rec.get("trigger_price"),  # type: ignore[arg-type]
        urgent=bool(rec.get("urgent", False)),
    )


def group_to_record(spec: GroupSpec) -> dict[str, object]:
    return {
        "group_id": spec.group_id,
        "strategy": spec.strategy,
        "idempotency_key": spec.idempotency_key,
        "underlying": spec.underlying,
        "legs": [leg_to_record(leg) for leg in spec.legs],
        "product": spec.product.value,
        "account": spec.account,
        "tags": list(spec.tags),
    }


def group_from_record(rec: dict[str, object]) -> GroupSpec:
    return GroupSpec(
        group_id=str(rec["group_id"]),
        strategy=str(rec["strategy"]),
        idempotency_key=str(rec["idempotency_key"]),
        underlying=str(rec["underlying"]),
        legs=tuple(leg_from_record(leg) for leg in rec["legs"]),  # type: ignore[attr-defined]
        product=Product(str(rec["product"])),
        account=str(rec["account"]),
        tags=tuple(rec["tags"]),  # type: ignore[arg-type]
    )
