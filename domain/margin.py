"""Worst-case margin of a group's partial-fill states.

A group is only as safe as its worst intermediate state. Before anything is sent, every state the
send order can pass through is priced: each subset of a phase's legs filled on top of the earlier
phases (the protection phase first), and each leg of a phase filled partially (one lot, half). For
each state: the margin its filled positions need (the broker's basket margin with hedge benefit, or
the simulator's SPAN-like model) plus an add-on on the loss after an adverse move of the underlying
(both directions are tried; the worse counts) plus a buffer. The group fits only if every state fits
what is available.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from domain.greeks import bs_price
from domain.instruments import Instrument, InstrumentKind
from domain.model import GroupSpec, LegSpec
from domain.plan import plan_phases

Positions = Mapping[str, int]  # tradingsymbol -> signed units


@dataclass(frozen=True, slots=True)
class MarketView:
    """What pricing a shock needs: the underlying's spot, each option's vol, time to expiry."""

    spot: float
    vol_of: Callable[[Instrument], float]
    years_of: Callable[[Instrument], float]


@dataclass(frozen=True, slots=True)
class StateMargin:
    label: str
    positions: tuple[tuple[str, int], ...]
    base_margin: float
    shocked_loss: float
    addon: float
    buffer: float

    @property
    def required(self) -> float:
        return self.base_margin + self.addon + self.buffer


@dataclass(frozen=True, slots=True)
class MarginVerdict:
    available: float
    states: tuple[StateMargin, ...]

    @property
    def worst(self) -> StateMargin:
        return max(self.states, key=lambda s: s.required)

    @property
    def fits(self) -> bool:
        return self.worst.required <= self.available


def partial_states(spec: GroupSpec, lot_size_of: Callable[[str], int]) -> list[tuple[str, dict[str, int]]]:
    """Every state the send order can pass through, with a readable label, smallest first."""
    legs = {leg.leg_id: leg for leg in spec.legs}
    done: dict[str, int] = {}
    states: list[tuple[str, dict[str, int]]] = []
    seen: set[tuple[tuple[str, int], ...]] = set()

    def add(label: str, positions: dict[str, int]) -> None:
        key = tuple(sorted((s, q) for s, q in positions.items() if q))
        if key and key not in seen:
            seen.add(key)
            states.append((label, dict(key)))

    for phase, leg_ids in plan_phases(spec):
        for size in range(1, len(leg_ids) + 1):
            for subset in itertools.combinations(leg_ids, size):
                add(f"{phase.value}: {'+'.join(subset)} filled", _merge(done, [legs[i] for i in subset]))
        for leg_id in leg_ids:
            leg = legs[leg_id]
            lot = lot_size_of(leg.tradingsymbol)
            for part, name in ((lot, "one lot"), (max(lot, (leg.quantity // 2) // lot * lot), "half")):
                if part < leg.quantity:
                    add(f"{phase.value}: {leg_id} {name} ({part})", _merge(done, [leg], quantity=part))
        done = _merge(done, [legs[i] for i in leg_ids])
    return states


def _merge(base: Mapping[str, int], legs: Sequence[LegSpec], quantity: int | None = None) -> dict[str, int]:
    out = dict(base)
    for leg in legs:
        units = leg.quantity if quantity is None else quantity
        out[leg.tradingsymbol] = out.get(leg.tradingsymbol, 0) + leg.side.sign * units
    return out


def shocked_loss(
    positions: Positions, instruments: Mapping[str, Instrument], market: MarketView, shock_pct: float
) -> float:
    """The larger loss of the positions after the underlying moves up or down by `shock_pct`."""
    worst = 0.0
    for direction in (1.0, -1.0):
        moved = market.spot * (1.0 + direction * shock_pct)
        pnl = 0.0
        for symbol, units in positions.items():
            inst = instruments[symbol]
            pnl += units * (_value(inst, moved, market) - _value(inst, market.spot, market))
        worst = max(worst, -pnl)
    return worst


def _value(inst: Instrument, spot: float, market: MarketView) -> float:
    if inst.kind is InstrumentKind.FUT:
        return spot
    return bs_price(inst.kind, spot, inst.strike, market.years_of(inst), market.vol_of(inst))


def worst_case_margin(
    spec: GroupSpec,
    *,
    instruments: Mapping[str, Instrument],
    market: MarketView,
    margin_of: Callable[[Positions], float],
    available: float,
    shock_pct: float,
    addon_pct: float,
    buffer: float,
) -> MarginVerdict:
    states = []
    for label, positions in partial_states(spec, lambda symbol: instruments[symbol].lot_size):
        loss = shocked_loss(positions, instruments, market, shock_pct)
        states.append(
            StateMargin(
                label=label,
                positions=tuple(sorted(positions.items())),
                base_margin=margin_of(positions),
                shocked_loss=loss,
                addon=addon_pct * loss,
                buffer=buffer,
            )
        )
    return MarginVerdict(available=available, states=tuple(states))
