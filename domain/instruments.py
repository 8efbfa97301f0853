"""NSE F&O instruments: the contract facts every order depends on (lot, tick, freeze quantity)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum


class InstrumentKind(StrEnum):
    CE = "CE"
    PE = "PE"
    FUT = "FUT"


@dataclass(frozen=True, slots=True)
class UnderlyingSpec:
    """Contract rules of one underlying; values come from settings, never from code."""

    name: str
    lot_size: int
    freeze_quantity: int
    strike_step: int
    tick_size: float = 0.05
    exchange: str = "NFO"


@dataclass(frozen=True, slots=True)
class Instrument:
    instrument_token: int
    exchange: str
    tradingsymbol: str
    underlying: str
    expiry: dt.date
    strike: float
    kind: InstrumentKind
    lot_size: int
    tick_size: float
    freeze_quantity: int

    @property
    def is_option(self) -> bool:
        return self.kind is not InstrumentKind.FUT

    @property
    def key(self) -> str:
        """The `EXCHANGE:SYMBOL` form Kite uses for quotes."""
        return f"{self.exchange}:{self.tradingsymbol}"


_WEEKLY_MONTH = "123456789OND"
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def format_strike(strike: float) -> str:
    return str(int(strike)) if float(strike).is_integer() else f"{strike:g}"


def tradingsymbol(underlying: str, expiry: dt.date, kind: InstrumentKind, strike: float, *, monthly: bool) -> str:
    """Kite's NFO symbol: `NIFTY26DEC24500CE` for a monthly expiry, `NIFTY2612124500CE` for a weekly."""
    year = f"{expiry.year % 100:02d}"
    if kind is InstrumentKind.FUT:
        return f"{underlying}{year}{_MONTHS[expiry.month - 1]}FUT"
    if monthly:
        return f"{underlying}{year}{_MONTHS[expiry.month - 1]}{format_strike(strike)}{kind.value}"
    return f"{underlying}{year}{_WEEKLY_MONTH[expiry.month - 1]}{expiry.day:02d}{format_strike(strike)}{kind.value}"


def is_last_weekday_of_month(day: dt.date) -> bool:
    return (day + dt.timedelta(days=7)).month != day.month


class InstrumentUniverse(Mapping[str, Instrument]):
    """Read-only lookup by tradingsymbol, with secondary indexes by token and by chain."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        self._by_token: dict[int, Instrument] = {}
        for inst in instruments:
            if inst.tradingsymbol in self._by_symbol:
                raise ValueError(f"duplicate tradingsymbol {inst.tradingsymbol}")
            self._by_symbol[inst.tradingsymbol] = inst
            self._by_token[inst.instrument_token] = inst

    def __getitem__(self, symbol: str) -> Instrument:
        return self._by_symbol[symbol]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_symbol)

    def __len__(self) -> int:
        return len(self._by_symbol)

    def by_token(self, token: int) -> Instrument | None:
        return self._by_token.get(token)

    def option(self, underlying: str, expiry: dt.date, strike: float, kind: InstrumentKind) -> Instrument | None:
        for inst in self._by_symbol.values():
            if (
                inst.underlying == underlying
                and inst.expiry == expiry
                and inst.kind is kind
                and abs(inst.strike - strike) < 1e-9
            ):
                return inst
        return None

    def future(self, underlying: str, on_or_after: dt.date | None = None) -> Instrument | None:
        futures = sorted(
            (i for i in self._by_symbol.values() if i.underlying == underlying and i.kind is InstrumentKind.FUT),
            key=lambda i: i.expiry,
        )
        for inst in futures:
            if on_or_after is None or inst.expiry >= on_or_after:
                return inst
        return None

    def expiries(self, underlying: str) -> list[dt.date]:
        return sorted({i.expiry for i in self._by_symbol.values() if i.underlying == underlying and i.is_option})


def build_chain(
    spec: UnderlyingSpec,
    *,
    spot: float,
    expiries: Iterable[dt.date],
    strikes_each_side: int,
    first_token: int,
) -> list[Instrument]:
    """Option chains around `spot` for each expiry, plus a future per monthly expiry.

    Pure: the caller supplies the expiries (from the trading calendar) and the first exchange token.
    Instrument tokens are shaped like Kite's: the exchange token shifted left by 8 bits with the NFO
    segment (2) in the low byte, which is what KiteTicker reads to scale a tick's price.
    """
    atm = round(spot / spec.strike_step) * spec.strike_step
    out: list[Instrument] = []
    token = first_token
    for expiry in sorted(set(expiries)):
        monthly = is_last_weekday_of_month(expiry)
        for step in range(-strikes_each_side, strikes_each_side + 1):
            strike = float(atm + step * spec.strike_step)
            for kind in (InstrumentKind.CE, InstrumentKind.PE):
                out.append(
                    Instrument(
                        instrument_token=kite_token(token),
                        exchange=spec.exchange,
                        tradingsymbol=tradingsymbol(spec.name, expiry, kind, strike, monthly=monthly),
                        underlying=spec.name,
                        expiry=expiry,
                        strike=strike,
                        kind=kind,
                        lot_size=spec.lot_size,
                        tick_size=spec.tick_size,
                        freeze_quantity=spec.freeze_quantity,
                    )
                )
                token += 1
        if monthly:
            out.append(
                Instrument(
                    instrument_token=kite_token(token),
                    exchange=spec.exchange,
                    tradingsymbol=tradingsymbol(spec.name, expiry, InstrumentKind.FUT, 0.0, monthly=True),
                    underlying=spec.name,
                    expiry=expiry,
                    strike=0.0,
                    kind=InstrumentKind.FUT,
                    lot_size=spec.lot_size,
                    tick_size=spec.tick_size,
                    freeze_quantity=spec.freeze_quantity,
                )
            )
            token += 1
    return out


NFO_SEGMENT = 2


def kite_token(exchange_token: int, segment: int = NFO_SEGMENT) -> int:
    return (exchange_token << 8) | segment


def weekly_expiries(today: dt.date, *, weekday: int, count: int) -> list[dt.date]:
    """The next `count` expiries falling on `weekday` (Mon=0), plus the month's last one for futures."""
    days_ahead = (weekday - today.weekday()) % 7
    first = today + dt.timedelta(days=days_ahead)
    out = [first + dt.timedelta(weeks=i) for i in range(count)]
    last = first
    while not is_last_weekday_of_month(last):
        last += dt.timedelta(weeks=1)
    if last not in out:
        out.append(last)
    return out


def is_on_tick(price: float, tick: float) -> bool:
    steps = price / tick
    return abs(steps - round(steps)) < 1e-6


def round_to_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 2)
