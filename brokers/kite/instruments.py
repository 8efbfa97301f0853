"""Kite's instrument dump (CSV) ↔ `domain.instruments.Instrument`.

The dump gives token, symbol, expiry, strike, type, lot and tick size. It does not give the freeze
quantity (there is no API for it: NSE revises it by circular), so that comes from settings by
underlying name, and a contract whose underlying has no configured freeze quantity is left out: an
order on it could not be sliced safely.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from typing import Any

from domain.instruments import Instrument, InstrumentKind

# The dump's columns, in Kite's order; `kiteconnect` reads them by name, people read them by position.
CSV_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)

_KINDS = {kind.value: kind for kind in InstrumentKind}


def _expiry(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _underlying(row: Mapping[str, Any], known: Iterable[str]) -> str:
    """The `name` column when the dump has it; else the longest configured name the symbol starts with
    (the mock dump leaves `name` blank on NFO rows)."""
    name = str(row.get("name") or "").strip()
    if name:
        return name
    symbol = str(row["tradingsymbol"])
    prefixes = sorted((n for n in known if symbol.startswith(n)), key=len, reverse=True)
    return prefixes[0] if prefixes else ""


def parse_instrument_row(row: Mapping[str, Any], freeze_quantities: Mapping[str, int]) -> Instrument | None:
    """One dump row (raw CSV strings or kiteconnect's typed dict); None for what legguard cannot trade."""
    kind = _KINDS.get(str(row.get("instrument_type") or ""))
    if kind is None:
        return None
    underlying = _underlying(row, freeze_quantities)
    if underlying not in freeze_quantities:
        return None
    return Instrument(
        instrument_token=int(row["instrument_token"]),
        exchange=str(row["exchange"]),
        tradingsymbol=str(row["tradingsymbol"]),
        underlying=underlying,
        expiry=_expiry(row["expiry"]),
        strike=float(row["strike"]),
        kind=kind,
        lot_size=int(row["lot_size"]),
        tick_size=float(row["tick_size"]),
        freeze_quantity=freeze_quantities[underlying],
    )


def parse_instrument_rows(
    rows: Iterable[Mapping[str, Any]], freeze_quantities: Mapping[str, int]
) -> list[Instrument]:
    parsed = (parse_instrument_row(row, freeze_quantities) for row in rows)
    return [inst for inst in parsed if inst is not None]


def parse_instruments_csv(text: str | bytes, freeze_quantities: Mapping[str, int]) -> list[Instrument]:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return parse_instrument_rows(csv.DictReader(io.StringIO(text)), freeze_quantities)


def _segment(inst: Instrument) -> str:
    return f"{inst.exchange}-{'FUT' if inst.kind is InstrumentKind.FUT else 'OPT'}"


def instrument_row(inst: Instrument, *, last_price: float = 0.0) -> tuple[object, ...]:
    return (
        inst.instrument_token,
        inst.instrument_token >> 8,  # Kite's tokens are exchange_token << 8 | segment
        inst.tradingsymbol,
        inst.underlying,
        float(last_price),
        inst.expiry.isoformat(),
        float(inst.strike),
        float(inst.tick_size),
        inst.lot_size,
        inst.kind.value,
        _segment(inst),
        inst.exchange,
    )


def instruments_csv(
    instruments: Iterable[Instrument], *, last_prices: Mapping[int, float] | None = None
) -> str:
    """The dump as Kite serves it (`/instruments`, `/instruments/{exchange}`)."""
    prices = last_prices or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for inst in instruments:
        writer.writerow(instrument_row(inst, last_price=prices.get(inst.instrument_token, 0.0)))
    return out.getvalue()
