"""The worst-case margin check, and margin reserved for groups in flight.

Before any order of a group is sent, every partial-fill state of its send order is priced: the
broker's basket margin of the state's positions (with hedge benefit, considering open positions),
plus an add-on on the loss after an adverse move of the underlying, plus a buffer (domain/margin.py).
If any state does not fit what is available — the broker's figure less what groups already in
flight have reserved — the group is denied with MARGIN, naming the state and the numbers. Two groups
accepted together therefore cannot oversubscribe the account. A reservation is released when its
group settles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.messages import GroupChanged
from actors.reads import read_broker
from brokers.port import OrderRequest
from domain.greeks import years_to_expiry
from domain.margin import MarginVerdict, MarketView, worst_case_margin
from domain.model import GroupSpec, OrderType, Side
from domain.plan import GroupRecord
from domain.pricing import option_vol, parity_spot, parity_symbols
from storage import keys
from supervision.base import SupervisedActor, handles


@dataclass(frozen=True)
class CheckMargin:
    spec: GroupSpec
    reserve: bool = True  # False: price it only (sizing asks what one set would need)


@dataclass(frozen=True)
class MarginDecision:
    fits: bool
    required: float
    available: float
    state: str
    detail: dict[str, Any]
    elapsed_ms: float


class MarginActor(SupervisedActor):
    def started(self) -> None:
        self.reservations: dict[str, float] = {}
        for group_id in self.ctx.store.open_groups():
            found = self.ctx.store.snapshot(keys.group_key(group_id))
            if found is not None:
                reserved = GroupRecord.from_record(found[1]).extra.get("margin_required")
                if reserved:
                    self.reservations[group_id] = float(reserved)
        self.checks = 0
        self.last_elapsed_ms = 0.0
        self.last_states = 0

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.actor_address,
            "reserved": round(sum(self.reservations.values()), 2),
            "groups": len(self.reservations),
            "checks": self.checks,
            "last_check_ms": round(self.last_elapsed_ms, 3),
            "last_states": self.last_states,
        }

    @handles(CheckMargin)
    def on_check(self, message: CheckMargin) -> MarginDecision:
        started = self.ctx.clock.monotonic()
        verdict, broker_available = self._verdict(message.spec)
        worst = verdict.worst
        elapsed = (self.ctx.clock.monotonic() - started) * 1000
        self.checks += 1
        self.last_elapsed_ms = elapsed
        self.last_states = len(verdict.states)
        if verdict.fits and message.reserve:
            self.reservations[message.spec.group_id] = worst.required
        return MarginDecision(
            fits=verdict.fits,
            required=round(worst.required, 2),
            available=round(verdict.available, 2),
            state=worst.label,
            detail={
                "base_margin": round(worst.base_margin, 2),
                "shocked_loss": round(worst.shocked_loss, 2),
                "addon": round(worst.addon, 2),
                "buffer": round(worst.buffer, 2),
                "broker_available": round(broker_available, 2),
                "reserved_by_others": round(
                    sum(self.reservations.values()) - (worst.required if verdict.fits else 0), 2
                ),
                "states": len(verdict.states),
                "positions": dict(worst.positions),
            },
            elapsed_ms=elapsed,
        )

    @handles(GroupChanged)
    def on_group_changed(self, message: GroupChanged) -> None:
        if message.outcome:
            self.reservations.pop(message.group_id, None)

    def _verdict(self, spec: GroupSpec) -> tuple[MarginVerdict, float]:
        risk = self.ctx.settings.risk
        universe = self.ctx.universe
        instruments = {leg.tradingsymbol: universe[leg.tradingsymbol] for leg in spec.legs}
        market = self._market_view(spec, instruments)
        broker_available = float(read_broker(self.ctx, "margins").available)
        available = broker_available - sum(v for g, v in self.reservations.items() if g != spec.group_id)
        cache: dict[tuple[tuple[str, int], ...], float] = {}

        def margin_of(positions: Any) -> float:
            key = tuple(sorted(positions.items()))
            if key not in cache:
                cache[key] = self._basket_margin(dict(positions))
            return cache[key]

        verdict = worst_case_margin(
            spec,
            instruments=instruments,
            market=market,
            margin_of=margin_of,
            available=available,
            shock_pct=risk.shock_pct,
            addon_pct=risk.loss_addon_pct,
            buffer=risk.margin_buffer,
        )
        return verdict, broker_available

    def _basket_margin(self, positions: dict[str, int]) -> float:
        requests = [
            OrderRequest(
                tag="margin",
                tradingsymbol=symbol,
                side=Side.BUY if units > 0 else Side.SELL,
                quantity=abs(units),
                order_type=OrderType.MARKET,
                market_protection=self.ctx.settings.rules.market_protection,
            )
            for symbol, units in sorted(positions.items())
            if units
        ]
        return float(read_broker(self.ctx, "basket_margins", requests, consider_positions=True).final_total)

    def _market_view(self, spec: GroupSpec, instruments: dict[str, Any]) -> MarketView:
        universe = self.ctx.universe
        options = [i for i in instruments.values() if i.is_option]
        expiry = min((i.expiry for i in options), default=None)
        strikes = [i.strike for i in options] or [0.0]
        near = sum(strikes) / len(strikes)
        symbols = list(instruments)
        if expiry is not None:
            symbols += parity_symbols(universe, spec.underlying, expiry, near)
        ltps = read_broker(self.ctx, "ltp", sorted(set(symbols)))
        spot = parity_spot(universe, ltps, spec.underlying, expiry) if expiry is not None else None
        if spot is None:
            future = universe.future(spec.underlying)
            spot = float(ltps.get(future.tradingsymbol, near)) if future is not None else near
        now = self.ctx.clock.now()
        vols = {s: option_vol(i, ltps.get(s), spot, now) for s, i in instruments.items()}
        return MarketView(
            spot=spot,
            vol_of=lambda inst: vols.get(inst.tradingsymbol, 0.2),
            years_of=lambda inst: years_to_expiry(now, inst.expiry),
        )
