"""The interim exposure monitor.

While a group is PARTIALLY_EXPOSED (a short option not yet covered), it keeps the group's net
position per instrument and its delta, updated on every fill (group transitions) and every tick, and
when |delta| passes the configured limit it has the group place a protective hedge at once: the
underlying's future, on the emergency lane. A safety timer re-checks at most every
`exposure_recheck_s` of clock time while any group is exposed and no event arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.messages import GroupChanged, HedgeExposure, MarketTick, UnwatchTokens, WatchTokens
from domain.greeks import delta as bs_delta
from domain.greeks import years_to_expiry
from domain.instruments import Instrument, InstrumentKind
from domain.model import GroupSpec, Side
from domain.plan import GroupRecord
from domain.pricing import option_vol, parity_spot, parity_symbols
from storage import keys
from supervision.base import SupervisedActor, handles


@dataclass(frozen=True)
class Recheck:
    generation: int


@dataclass
class _Watch:
    spec: GroupSpec
    nets: dict[str, int]
    exposed_since: float
    symbols: list[str]
    hedges: int = 0
    hedged_units: int = 0  # signed units of the future asked for so far (counted before they fill)
    last_delta: float = 0.0
    windows: list[float] = field(default_factory=list)


class ExposureActor(SupervisedActor):
    MAX_HEDGES = 3

    def started(self) -> None:
        self.watching: dict[str, _Watch] = {}
        self.prices: dict[str, float] = {}
        self.generation = 0
        self.hedges_sent: list[dict[str, Any]] = []

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.actor_address,
            "exposed_groups": sorted(self.watching),
            "hedges": list(self.hedges_sent),
            "deltas": {g: round(w.last_delta, 3) for g, w in self.watching.items()},
        }

    # ------------------------------------------------------------------ events

    @handles(GroupChanged)
    def on_group_changed(self, message: GroupChanged) -> None:
        watch = self.watching.get(message.group_id)
        if message.state != "PARTIALLY_EXPOSED" or message.outcome:
            if watch is not None and message.state not in ("PARTIALLY_EXPOSED",):
                self._stop_watching(message.group_id)
            if watch is None:
                return
        if watch is None:
            spec = self._spec(message.group_id)
            if spec is None:
                return
            watch = _Watch(spec, {}, self.ctx.clock.monotonic(), self._symbols(spec))
            self.watching[message.group_id] = watch
            tokens = tuple(self.ctx.universe[s].instrument_token for s in watch.symbols if s in self.ctx.universe)
            self.tell("market", WatchTokens(self.actor_address, tokens))
            self._arm()
        if message.group_id not in self.watching:
            return
        legs = {leg.leg_id: leg for leg in watch.spec.legs}
        for progress in message.legs:
            leg = legs.get(progress.leg_id)
            # Interim hedges are counted as asked for (hedged_units), not as they fill: counting
            # them only once filled would send the same hedge again on every tick meanwhile.
            if leg is not None and not leg.urgent:
                watch.nets[leg.tradingsymbol] = leg.side.sign * progress.net
        self._check(message.group_id)

    @handles(MarketTick)
    def on_tick(self, message: MarketTick) -> None:
        if message.tradingsymbol:
            self.prices[message.tradingsymbol] = message.last_price
        for group_id in list(self.watching):
            if message.tradingsymbol in self.watching[group_id].symbols:
                self._check(group_id)

    @handles(Recheck)
    def on_recheck(self, message: Recheck) -> None:
        if message.generation != self.generation or not self.watching:
            return
        for group_id in list(self.watching):
            self._check(group_id)
        self._arm()

    # ------------------------------------------------------------------ the decision

    def _check(self, group_id: str) -> None:
        watch = self.watching.get(group_id)
        if watch is None:
            return
        delta = self._delta(watch)
        if delta is None:
            return
        watch.last_delta = delta
        limit = self.ctx.settings.risk.interim_delta_limit
        if abs(delta) <= limit or watch.hedges >= self.MAX_HEDGES:
            return
        future = self.ctx.universe.future(watch.spec.underlying)
        if future is None:
            self.log.error("no_future_to_hedge", group_id=group_id)
            return
        lots = max(1, round(abs(delta) / future.lot_size))
        side = Side.SELL if delta > 0 else Side.BUY
        watch.hedged_units += side.sign * lots * future.lot_size
        window_ms = (self.ctx.clock.monotonic() - watch.exposed_since) * 1000
        watch.hedges += 1
        self.hedges_sent.append(
            {
                "group_id": group_id,
                "delta": round(delta, 3),
                "side": side.value,
                "quantity": lots * future.lot_size,
                "exposed_for_ms": round(window_ms, 3),
                "at": self.ctx.clock.now(),
            }
        )
        self.log.warning("interim_hedge", group_id=group_id, delta=round(delta, 2), limit=limit, side=side.value)
        self.tell(
            f"group/{group_id}",
            HedgeExposure(
                future.tradingsymbol, side.value, lots * future.lot_size, delta, f"|delta| {abs(delta):.1f} > {limit}"
            ),
        )

    def _delta(self, watch: _Watch) -> float | None:
        spot = self._spot(watch.spec)
        if spot is None:
            return None
        now = self.ctx.clock.now()
        total = 0.0
        for symbol, units in watch.nets.items():
            if not units:
                continue
            inst: Instrument = self.ctx.universe[symbol]
            if inst.kind is InstrumentKind.FUT:
                total += units
                continue
            t = years_to_expiry(now, inst.expiry)
            vol = option_vol(inst, self.prices.get(symbol), spot, now)
            total += units * bs_delta(inst.kind, spot, inst.strike, t, vol)
        return total + watch.hedged_units

    def _spot(self, spec: GroupSpec) -> float | None:
        """The underlying's price: its future's last price first (options can sit at a price band
        while the underlying runs away, which skews put-call parity), parity as the fallback."""
        future = self.ctx.universe.future(spec.underlying)
        if future is not None and future.tradingsymbol in self.prices:
            return self.prices[future.tradingsymbol]
        options = [
            self.ctx.universe[leg.tradingsymbol] for leg in spec.legs if self.ctx.universe[leg.tradingsymbol].is_option
        ]
        if not options:
            return None
        return parity_spot(self.ctx.universe, self.prices, spec.underlying, min(i.expiry for i in options))

    # ------------------------------------------------------------------ mechanics

    def _symbols(self, spec: GroupSpec) -> list[str]:
        universe = self.ctx.universe
        legs = [universe[leg.tradingsymbol] for leg in spec.legs]
        options = [i for i in legs if i.is_option]
        out = [i.tradingsymbol for i in legs]
        if options:
            expiry = min(i.expiry for i in options)
            out += parity_symbols(universe, spec.underlying, expiry, sum(i.strike for i in options) / len(options), 5)
        future = universe.future(spec.underlying)
        if future is not None:
            out.append(future.tradingsymbol)
        return sorted(set(out))

    def _spec(self, group_id: str) -> GroupSpec | None:
        found = self.ctx.store.snapshot(keys.group_key(group_id))
        return GroupRecord.from_record(found[1]).spec if found else None

    def _stop_watching(self, group_id: str) -> None:
        watch = self.watching.pop(group_id, None)
        if watch is not None:
            watch.windows.append((self.ctx.clock.monotonic() - watch.exposed_since) * 1000)
        if not self.watching:
            self.tell("market", UnwatchTokens(self.actor_address))

    def _arm(self) -> None:
        self.generation += 1
        self.after(self.ctx.settings.risk.exposure_recheck_s, Recheck(self.generation))
