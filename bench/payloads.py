"""The bench's order groups: one NIFTY iron condor, priced to fill at once on a scripted deep book.

The four instruments get a scripted price and a book far deeper than the bench can take, so no
order waits for the next price step's liquidity: "an exchange that fills at once". The limit prices
cross that book with room to spare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.instruments import InstrumentKind, round_to_tick
from sim.exchange import Exchange
from sim.scenarios.base import group_payload, leg

DEEP_BOOK_LOTS = (1_000_000,)
QTY = 65  # one NIFTY lot a leg


@dataclass(frozen=True)
class Condor:
    wing_put: str
    wing_call: str
    short_put: str
    short_call: str

    @property
    def symbols(self) -> tuple[str, str, str, str]:
        return (self.wing_put, self.wing_call, self.short_put, self.short_call)

    def payload(self, key: str, prices: dict[str, float]) -> dict[str, Any]:
        legs = [
            leg(self.wing_put, "BUY", QTY, "protection", _limit(prices[self.wing_put], "BUY")),
            leg(self.wing_call, "BUY", QTY, "protection", _limit(prices[self.wing_call], "BUY")),
            leg(self.short_put, "SELL", QTY, "risk", _limit(prices[self.short_put], "SELL")),
            leg(self.short_call, "SELL", QTY, "risk", _limit(prices[self.short_call], "SELL")),
        ]
        return group_payload("NIFTY", legs, key, "iron_condor")


def _limit(ltp: float, side: str) -> float:
    price = ltp * (1.2 if side == "BUY" else 0.8)
    return max(0.05, round_to_tick(price, 0.05))


def option_symbol(exchange: Exchange, offset_steps: int, kind: str) -> str:
    """The NIFTY option `offset_steps` strikes from the money, on the second expiry (not today's)."""
    universe = exchange.universe
    expiries = universe.expiries("NIFTY")
    expiry = expiries[min(1, len(expiries) - 1)]
    strike = round(exchange.spot("NIFTY") / 50) * 50 + offset_steps * 50
    inst = universe.option("NIFTY", expiry, float(strike), InstrumentKind(kind))
    assert inst is not None, f"no NIFTY {strike} {kind} on {expiry}"
    return inst.tradingsymbol


def scripted_condor(exchange: Exchange) -> tuple[Condor, dict[str, float]]:
    """A condor 6/3 strikes out, its four books scripted deep at today's prices."""
    condor = Condor(
        option_symbol(exchange, -6, "PE"),
        option_symbol(exchange, 6, "CE"),
        option_symbol(exchange, -3, "PE"),
        option_symbol(exchange, 3, "CE"),
    )
    prices = exchange.ltp(list(condor.symbols))
    for symbol, price in prices.items():
        exchange.set_ltp(symbol, price, spread_ticks=1, level_lots=DEEP_BOOK_LOTS)
    return condor, exchange.ltp(list(condor.symbols))
