"""The strategy the e2e tests trade: a NIFTY iron condor, picked from the exchange's own chain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.instruments import InstrumentKind, InstrumentUniverse

STRIKE_STEP = 50  # NIFTY


@dataclass(frozen=True)
class IronCondor:
    """Long wings (protection, bought first), short body (risk); puts first, calls second."""

    wings: tuple[str, str]
    shorts: tuple[str, str]
    quantity: int

    @property
    def symbols(self) -> tuple[str, ...]:
        return (*self.wings, *self.shorts)

    @property
    def intended(self) -> dict[str, int]:
        """The net position per instrument the condor leaves when it completes."""
        return {**dict.fromkeys(self.wings, self.quantity), **dict.fromkeys(self.shorts, -self.quantity)}

    def payload(self, idempotency_key: str) -> dict[str, Any]:
        def leg(symbol: str, side: str, role: str) -> dict[str, Any]:
            # MARKET with automatic protection: Kite turns it into a limit at the band.
            return {"tradingsymbol": symbol, "side": side, "quantity": self.quantity, "role": role,
                    "order_type": "MARKET", "market_protection": -1}  # fmt: skip

        legs = [leg(s, "BUY", "protection") for s in self.wings] + [leg(s, "SELL", "risk") for s in self.shorts]
        return {
            "strategy": "iron_condor",
            "idempotency_key": idempotency_key,
            "underlying": "NIFTY",
            "legs": legs,
        }


def trading_expiry(universe: InstrumentUniverse, underlying: str = "NIFTY") -> dt.date:
    """The second listed expiry: the nearest may expire today, and its prices are degenerate."""
    expiries = universe.expiries(underlying)
    return expiries[min(1, len(expiries) - 1)]


@dataclass(frozen=True)
class OptionChain:
    """One expiry of NIFTY options, centred on the money as the exchange quoted it when read."""

    symbols: Mapping[tuple[float, InstrumentKind], str]
    atm: float
    lot_size: int

    def option(self, steps: int, kind: InstrumentKind) -> str:
        return self.symbols[(self.atm + steps * STRIKE_STEP, kind)]

    def condor(self, *, short_steps: int, wing_steps: int, lots: int = 1) -> IronCondor:
        """Shorts `short_steps` strikes from the money, wings `wing_steps`: distinct steps, distinct
        instruments, whatever the market did since the chain was read."""
        put, call = InstrumentKind.PE, InstrumentKind.CE
        return IronCondor(
            wings=(self.option(-wing_steps, put), self.option(wing_steps, call)),
            shorts=(self.option(-short_steps, put), self.option(short_steps, call)),
            quantity=self.lot_size * lots,
        )


def nifty_chain(universe: InstrumentUniverse, ltp: Callable[[list[str]], dict[str, float]]) -> OptionChain:
    """The chain of the trading expiry; the money is the strike where call and put cost the same
    (put-call parity), from the exchange's own quotes read through the adapter."""
    expiry = trading_expiry(universe)
    symbols: dict[tuple[float, InstrumentKind], str] = {
        (inst.strike, inst.kind): inst.tradingsymbol
        for inst in universe.values()
        if inst.underlying == "NIFTY" and inst.expiry == expiry and inst.kind in (InstrumentKind.CE, InstrumentKind.PE)
    }
    prices = ltp(list(symbols.values()))
    pairs = [
        k
        for k in {strike for strike, _ in symbols}
        if (k, InstrumentKind.CE) in symbols and (k, InstrumentKind.PE) in symbols
    ]
    atm = min(
        pairs,
        key=lambda k: abs(prices[symbols[(k, InstrumentKind.CE)]] - prices[symbols[(k, InstrumentKind.PE)]]),
    )
    return OptionChain(symbols, atm, universe[symbols[(atm, InstrumentKind.CE)]].lot_size)
