"""The instruments the simulated exchange lists: NIFTY and BANKNIFTY chains, and a scenario underlying.

NIFTY has weekly expiries (Tuesdays since Sep 2025), BANKNIFTY only monthly ones (its weeklies
were discontinued in Nov 2024). `SCEN` is a scenario underlying whose lot size fits the design
documents' worked numbers (SELL 50 calls, SELL 100 with a freeze of 20) under 2026 lot rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.greeks import years_to_expiry
from domain.instruments import (
    Instrument,
    InstrumentUniverse,
    UnderlyingSpec,
    build_chain,
    is_last_weekday_of_month,
)
from runtime.config import DEFAULT_UNDERLYINGS, UnderlyingConfig

_IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

SCENARIO_SPEC = UnderlyingSpec("SCEN", lot_size=10, freeze_quantity=100, strike_step=100)


@dataclass(frozen=True, slots=True)
class Listing:
    """How one underlying's chain is listed."""

    spec: UnderlyingSpec
    spot: float
    weekly_count: int = 2  # weekly expiries besides the monthly one
    expiry_weekday: int = 1  # Tuesday
    strikes_each_side: int = 20


def spec_of(config: UnderlyingConfig) -> UnderlyingSpec:
    return UnderlyingSpec(
        config.name,
        config.lot_size,
        config.freeze_quantity,
        config.strike_step,
        config.tick_size,
        config.exchange,
    )


def default_listings(
    underlyings: Iterable[UnderlyingConfig] = DEFAULT_UNDERLYINGS, spots: Mapping[str, float] | None = None
) -> list[Listing]:
    spots = {"NIFTY": 24_000.0, "BANKNIFTY": 52_000.0, "SCEN": 10_000.0, **(spots or {})}
    out = []
    for config in underlyings:
        weekly = 0 if config.name == "BANKNIFTY" else 2
        out.append(Listing(spec_of(config), spots[config.name], weekly_count=weekly))
    out.append(Listing(SCENARIO_SPEC, spots["SCEN"], weekly_count=1, strikes_each_side=10))
    return out


def build_universe(listings: Iterable[Listing], now_epoch: float) -> InstrumentUniverse:
    """Chains for every listing, with the expiries still open at `now_epoch`."""
    today = dt.datetime.fromtimestamp(now_epoch, _IST).date()
    instruments: list[Instrument] = []
    for number, listing in enumerate(listings, start=1):
        expiries = listed_expiries(listing, today, now_epoch)
        instruments += build_chain(
            listing.spec,
            spot=listing.spot,
            expiries=expiries,
            strikes_each_side=listing.strikes_each_side,
            first_token=number * 100_000 + 1,
        )
    return InstrumentUniverse(instruments)


def listed_expiries(listing: Listing, today: dt.date, now_epoch: float) -> list[dt.date]:
    """The next `weekly_count` open expiries on the listing's weekday, plus the next monthly one."""
    ahead = (listing.expiry_weekday - today.weekday()) % 7
    days = [today + dt.timedelta(days=ahead + 7 * week) for week in range(10)]
    open_days = [day for day in days if years_to_expiry(now_epoch, day) > 0.0]
    chosen = open_days[: listing.weekly_count]
    monthly = next(day for day in open_days if is_last_weekday_of_month(day))
    return sorted({*chosen, monthly})


def default_universe(now_epoch: float, spots: Mapping[str, float] | None = None) -> InstrumentUniverse:
    return build_universe(default_listings(spots=spots), now_epoch)
