"""The market: underlying price paths, option fair prices, LTPs and price bands.

Each underlying follows a jump-diffusion stepped every `step_s` virtual seconds from its own
random stream (`market.NIFTY`, ...). Steps are taken lazily, in order, whenever anything reads the
market (and by the exchange's step timer while orders are working or ticks are subscribed), so the
path is a function of the seed and the script alone: not of when, or how often, it is observed.

Options are priced by Black-Scholes on the underlying's smile; a scenario can script an
instrument's price outright (`set_ltp`) or move the underlying (`set_spot`, `gap`, `halt`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass

from domain.greeks import Smile, bs_price, years_to_expiry
from domain.instruments import Instrument, InstrumentKind, InstrumentUniverse, round_to_tick
from runtime.clock import Clock
from runtime.rng import RandomStreams
from sim.exchange.config import MarketConfig, UnderlyingModel


@dataclass(frozen=True, slots=True)
class Band:
    low: float
    high: float

    def contains(self, price: float) -> bool:
        return self.low - 1e-9 <= price <= self.high + 1e-9

    def clip(self, price: float) -> float:
        return min(self.high, max(self.low, price))


@dataclass(frozen=True, slots=True)
class Script:
    """A scenario's price for one instrument, with the book it shows."""

    price: float
    spread_ticks: int = 0  # 0: bid = ask = price, so "trades at 100" means exactly 100
    level_lots: tuple[int, ...] | None = None  # lots per level, nearest first; None = the model's


class _Path:
    """Mutable state of one underlying's price process."""

    __slots__ = (
        "circuits_hit",
        "epoch",
        "flex_spots",
        "halted_until",
        "model",
        "name",
        "rng",
        "smile",
        "spot",
        "start_spot",
    )

    def __init__(self, name: str, model: UnderlyingModel, streams: RandomStreams) -> None:
        self.name = name
        self.model = model
        self.smile: Smile = model.smile
        self.spot = model.spot
        self.start_spot = model.spot
        self.rng = streams.stream(f"market.{name}")
        self.halted_until = 0.0
        self.circuits_hit = 0
        self.epoch = 0  # bumps on every price change: keys the fair-price cache and the depth
        self.flex_spots: list[float] = []  # spot at each band-flex boundary, for lazy bands


class Market:
    def __init__(
        self, clock: Clock, streams: RandomStreams, universe: InstrumentUniverse, config: MarketConfig
    ) -> None:
        self._clock = clock
        self._config = config
        self.universe = universe
        self._paths = {name: _Path(name, model, streams) for name, model in config.underlyings.items()}
        self._next_step = 1
        # Market time counts from the exchange's creation: a SystemClock's monotonic() counts from boot.
        self._origin = clock.monotonic()
        self._start_now = clock.now()
        self._scripts: dict[str, Script] = {}
        self._script_epochs: dict[str, int] = {}
        self._bands: dict[str, tuple[int, Band]] = {}  # symbol → (flex boundary reached, band)
        self._band_overrides: dict[str, Band] = {}
        self._fair_cache: dict[str, tuple[tuple[int, int], float]] = {}
        for inst in universe.values():
            if inst.underlying not in self._paths:
                raise ValueError(f"no price model for underlying {inst.underlying}")

    # ------------------------------------------------------------------ the path

    @property
    def underlyings(self) -> list[str]:
        return list(self._paths)

    def _elapsed(self) -> float:
        return self._clock.monotonic() - self._origin

    def next_step_time(self) -> float:
        """When the next price step is due, on the clock's monotonic scale."""
        return self._origin + self._next_step * self._config.step_s

    def catch_up(self) -> list[str]:
        """Take every step due by now; the underlyings whose price moved, in config order."""
        now = self._elapsed()
        moved: dict[str, None] = {}
        step_s = self._config.step_s
        while self._next_step * step_s <= now + 1e-9:
            step_time = self._next_step * step_s
            for path in self._paths.values():
                if self._step(path, step_time):
                    moved[path.name] = None
            self._record_flex_boundary(step_time)
            self._next_step += 1
        return list(moved)

    def _step(self, path: _Path, step_time: float) -> bool:
        if step_time < path.halted_until:
            return False
        model = path.model
        sigma = model.vol * math.sqrt(self._config.step_s / self._config.trading_seconds_per_year)
        log_return = sigma * path.rng.gauss(0.0, 1.0) - 0.5 * sigma * sigma
        if model.jumps_per_hour > 0.0 and path.rng.random() < model.jumps_per_hour * self._config.step_s / 3600:
            log_return += path.rng.gauss(0.0, model.jump_sigma)
        path.spot *= math.exp(log_return)
        path.epoch += 1
        self._check_circuit(path, step_time)
        return True

    def _check_circuit(self, path: _Path, at: float) -> None:
        levels = self._config.circuit_pcts
        if (
            path.circuits_hit < len(levels)
            and abs(path.spot / path.start_spot - 1.0) >= levels[path.circuits_hit] - 1e-9
        ):
            path.circuits_hit += 1
            path.halted_until = max(path.halted_until, at + self._config.circuit_halt_s)

    def _record_flex_boundary(self, step_time: float) -> None:
        flex = self._config.band_flex_s
        if flex <= 0:
            return
        for path in self._paths.values():
            while (len(path.flex_spots) + 1) * flex <= step_time + 1e-9:
                path.flex_spots.append(path.spot)

    # ------------------------------------------------------------------ scripting

    def set_spot(self, underlying: str, price: float) -> None:
        if not (price > 0.0 and math.isfinite(price)):
            raise ValueError(f"spot must be positive and finite, got {price}")
        self.catch_up()
        path = self._paths[underlying]
        path.spot = price
        path.epoch += 1
        self._check_circuit(path, self._elapsed())

    def gap(self, underlying: str, *, pct: float | None = None, to_price: float | None = None) -> float:
        """Jump the spot by `pct` (-0.05 = five per cent down) or to `to_price`; the new spot."""
        if (pct is None) == (to_price is None):
            raise ValueError("gap takes exactly one of pct or to_price")
        self.catch_up()
        target = to_price if to_price is not None else self._paths[underlying].spot * (1.0 + (pct or 0.0))
        self.set_spot(underlying, target)
        return target

    def halt(self, underlying: str, seconds: float) -> None:
        self.catch_up()
        path = self._paths[underlying]
        path.halted_until = max(path.halted_until, self._elapsed() + seconds)

    def resume(self, underlying: str) -> None:
        """End a halt now, and re-base the circuit levels on the current price (a new session)."""
        self.catch_up()
        path = self._paths[underlying]
        path.halted_until = 0.0
        path.circuits_hit = 0
        path.start_spot = path.spot

    def set_vol(self, underlying: str, atm_vol: float) -> None:
        self.catch_up()
        path = self._paths[underlying]
        path.smile = dataclasses.replace(path.smile, atm_vol=atm_vol)
        path.epoch += 1

    def set_ltp(self, symbol: str, script: Script) -> None:
        if not (script.price > 0.0 and math.isfinite(script.price)):
            raise ValueError(f"scripted price must be positive and finite, got {script.price}")
        self._scripts[symbol] = script
        self._script_epochs[symbol] = self._script_epochs.get(symbol, 0) + 1
        # A scripted price is the market: a band that would exclude it re-centres on it.
        inst = self.universe[symbol]
        if not self.band(inst).contains(script.price):
            path = self._paths[inst.underlying]
            self._bands[symbol] = (len(path.flex_spots), self._band_around(inst, script.price))

    def clear_ltp(self, symbol: str) -> None:
        self._scripts.pop(symbol, None)
        self._script_epochs[symbol] = self._script_epochs.get(symbol, 0) + 1

    def set_band(self, symbol: str, low: float, high: float) -> None:
        if not 0.0 < low < high:
            raise ValueError(f"a band needs 0 < low < high, got {low}, {high}")
        self._band_overrides[symbol] = Band(low, high)

    # ------------------------------------------------------------------ reading

    def spot(self, underlying: str) -> float:
        return self._paths[underlying].spot

    def smile(self, underlying: str) -> Smile:
        return self._paths[underlying].smile

    def is_halted(self, underlying: str) -> bool:
        return self._elapsed() < self._paths[underlying].halted_until

    def script(self, symbol: str) -> Script | None:
        return self._scripts.get(symbol)

    def epoch(self, inst: Instrument) -> tuple[int, int]:
        return self._paths[inst.underlying].epoch, self._script_epochs.get(inst.tradingsymbol, 0)

    def years_left(self, inst: Instrument) -> float:
        return years_to_expiry(self._clock.now(), inst.expiry)

    def fair(self, inst: Instrument) -> float:
        """The model (or scripted) price, before bands and ticks."""
        script = self._scripts.get(inst.tradingsymbol)
        if script is not None:
            return script.price
        key = self.epoch(inst)
        cached = self._fair_cache.get(inst.tradingsymbol)
        if cached is not None and cached[0] == key:
            return cached[1]
        path = self._paths[inst.underlying]
        value = self.model_value(inst, path.spot, path.smile, self.years_left(inst))
        self._fair_cache[inst.tradingsymbol] = (key, value)
        return value

    @staticmethod
    def model_value(inst: Instrument, spot: float, smile: Smile, years: float) -> float:
        if inst.kind is InstrumentKind.FUT:
            return spot
        return bs_price(inst.kind, spot, inst.strike, years, smile.vol(spot, inst.strike))

    def band(self, inst: Instrument) -> Band:
        override = self._band_overrides.get(inst.tradingsymbol)
        if override is not None:
            return override
        path = self._paths[inst.underlying]
        reached, band = self._bands.get(inst.tradingsymbol) or (
            0,
            self._band_around(inst, self._start_fair(inst)),
        )
        # Walk the flex boundaries passed since the last look: the band re-centres on the fair
        # price of a boundary that found it outside (NSE's dynamic bands flex after a band hit).
        for boundary in range(reached, len(path.flex_spots)):
            fair = self._fair_at_boundary(inst, path, boundary)
            if not band.contains(fair):
                band = self._band_around(inst, fair)
        self._bands[inst.tradingsymbol] = (len(path.flex_spots), band)
        return band

    def ltp(self, inst: Instrument) -> float:
        band = self.band(inst)
        return round_to_tick(max(inst.tick_size, band.clip(self.fair(inst))), inst.tick_size)

    def ltps(self, symbols: Iterable[str]) -> dict[str, float]:
        self.catch_up()
        return {sym: self.ltp(self.universe[sym]) for sym in symbols}

    def _start_fair(self, inst: Instrument) -> float:
        script = self._scripts.get(inst.tradingsymbol)
        if script is not None:
            return script.price
        path = self._paths[inst.underlying]
        return self.model_value(inst, path.start_spot, path.model.smile, years_to_expiry(self._start_now, inst.expiry))

    def _fair_at_boundary(self, inst: Instrument, path: _Path, boundary: int) -> float:
        script = self._scripts.get(inst.tradingsymbol)
        if script is not None:
            return script.price
        at = self._start_now + (boundary + 1) * self._config.band_flex_s
        return self.model_value(inst, path.flex_spots[boundary], path.smile, years_to_expiry(at, inst.expiry))

    def _band_around(self, inst: Instrument, reference: float) -> Band:
        half = max(self._config.band_pct * reference, self._config.band_min_abs)
        tick = inst.tick_size
        low = max(tick, round_to_tick(reference - half, tick))
        return Band(low, round_to_tick(reference + half, tick))
