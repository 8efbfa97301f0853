"""Settings: one frozen object, built once in main.py and passed down.

Broker and exchange rules change often (freeze quantities are revised monthly by NSE circulars), so
every such rule is a setting here with today's value as its default, never a constant in code.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class UnderlyingConfig:
    name: str
    lot_size: int
    freeze_quantity: int
    strike_step: int
    tick_size: float = 0.05
    exchange: str = "NFO"
    spot_token: int = 0


DEFAULT_UNDERLYINGS: tuple[UnderlyingConfig, ...] = (
    # Lot sizes from the Jan 2026 contracts, freeze quantities since 2 Mar 2026 (KITE.md).
    UnderlyingConfig("NIFTY", lot_size=65, freeze_quantity=1800, strike_step=50, spot_token=256265),
    UnderlyingConfig("BANKNIFTY", lot_size=30, freeze_quantity=600, strike_step=100, spot_token=260105),
)


@dataclass(frozen=True, slots=True)
class ExchangeRules:
    orders_per_second: int = 10
    orders_per_minute: int = 400
    orders_per_day: int = 5000
    max_modifications: int = 25
    tag_max_length: int = 20
    # MARKET orders sent through the API must carry market_protection (-1 automatic, 1..100 %).
    market_protection: int = -1
    sl_m_allowed_on_options: bool = False


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    protection_fill_timeout_s: float = 5.0
    risk_fill_timeout_s: float = 5.0
    # Share of the per-second order budget kept free for reversals, hedges and stop fallbacks.
    emergency_lane_per_second: int = 3
    unknown_lookup_delay_s: float = 0.5
    unknown_max_lookups: int = 6
    # After a restart, an intent the broker's book does not show after this many lookups was never
    # sent (a send is synchronous: what the broker took is in its book by now).
    recovery_max_lookups: int = 2
    # What recovery does with a group that was partly filled when the process died:
    # "reverse" flattens it, "resume" finishes it when its protection is in place.
    recovery_policy: str = "reverse"
    # A long option that no longer sells for more than this (and has exhausted the exit protection
    # ladder) is left as a residual to expire, with an alert, instead of being chased forever.
    worthless_price: float = 0.10
    # A protected market order left partly unfilled at the band is re-sent after this long.
    chase_after_s: float = 1.0
    # A cancel that has not taken effect is asked for again this often, until the order is final.
    cancel_retry_s: float = 1.0
    unhedged_bound_s: float = 2.0
    # A working order with no update for this long is looked up (order updates can be lost).
    child_stale_s: float = 5.0
    # A reversal child that ends unfilled is re-issued after this delay, doubling up to the max.
    reissue_backoff_s: float = 0.2
    reissue_backoff_max_s: float = 5.0
    writer_barrier_timeout_s: float = 10.0
    recovery_timeout_s: float = 60.0
    margin_check_timeout_s: float = 20.0
    # Restart intensity of one group's supervisor; past it the group goes to the safe state.
    group_max_restarts: int = 5
    group_max_seconds: float = 10.0
    # The service runs its actors on this many pooled worker threads (runtime.pool); 0 gives every
    # actor a thread of its own. The writer and the gateway always have their own.
    actor_pool_workers: int = 4


@dataclass(frozen=True, slots=True)
class RiskConfig:
    max_legs: int = 8
    max_lots_per_leg: int = 200
    allow_mixed_underlyings: bool = False
    max_open_groups: int = 2000
    shock_pct: float = 0.03
    loss_addon_pct: float = 0.5
    margin_buffer: float = 0.0
    interim_delta_limit: float = 50.0
    exposure_recheck_s: float = 0.1
    stop_gap_threshold_pct: float = 0.02
    stop_fill_timeout_s: float = 2.0
    stale_tick_s: float = 5.0
    price_band_pct: float = 0.4
    # Sizing (strategies say direction, risk decides quantity).
    daily_loss_limit: float = 50_000.0
    portfolio_delta_limit: float = 500.0
    baseline_vol: float = 0.14
    max_sets: int = 50
    max_lots_per_instrument: int = 2000
    max_gross_notional: float = 5e9


@dataclass(frozen=True, slots=True)
class StorageConfig:
    path: str = "var/legguard"
    map_size: int = 1 << 32  # 4 GiB reserved up front; LMDB only uses what it writes
    # fsync on every commit. Only the simulator turns it off: its process crashes happen inside one
    # process, where the page cache survives them, so an fsync would prove nothing and cost time.
    sync: bool = True


@dataclass(frozen=True, slots=True)
class KiteConfig:
    api_key: str = ""
    access_token: str = ""
    api_root: str = "https://api.kite.trade"
    ws_root: str = "wss://ws.kite.trade"
    timeout_s: float = 7.0
    watchdog_s: float = 10.0


@dataclass(frozen=True, slots=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8740
    token: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    underlyings: tuple[UnderlyingConfig, ...] = DEFAULT_UNDERLYINGS
    rules: ExchangeRules = field(default_factory=ExchangeRules)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    risk: RiskConfig = field(default_factory=RiskConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    kite: KiteConfig = field(default_factory=KiteConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    broker: str = "sim"

    def underlying(self, name: str) -> UnderlyingConfig:
        for spec in self.underlyings:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def replace(self, **sections: Any) -> Settings:
        return dataclasses.replace(self, **sections)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then a TOML file's sections, then keyword overrides (whole sections)."""
    settings = Settings()
    if path is not None:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        settings = _apply(settings, raw)
    return settings.replace(**overrides) if overrides else settings


def _apply(settings: Settings, raw: dict[str, Any]) -> Settings:
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "underlyings":
            changes[key] = tuple(UnderlyingConfig(**item) for item in value)
        elif key == "broker":
            changes[key] = str(value)
        elif isinstance(value, dict) and hasattr(settings, key):
            changes[key] = dataclasses.replace(getattr(settings, key), **value)
        else:
            raise ValueError(f"unknown settings section {key!r}")
    return settings.replace(**changes)
