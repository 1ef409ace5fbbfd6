"""Switchable faults for the API paths, drawn from a seeded random stream per tenant.

Each API call draws one number; the configured shares are laid end to end, so the
shares are exclusive and add up to at most 1. Reproducible: the same seed and the same
sequence of calls per tenant give the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from .model import seeded

# Order matters: it is the order in which the shares are laid out on [0, 1).
FAULT_KINDS = (
    "rate_429",
    "rate_429_no_retry_after",
    "rate_500",
    "rate_503",
    "rate_drop",
    "rate_slow",
    "rate_malformed",
    "rate_truncated",
)
TOKEN_FAULT_KINDS = ("rate_token_503", "rate_token_throttle")


@dataclass
class FaultConfig:
    """Shares of API calls that fail in each way, plus the knobs of some faults."""

    rate_429: float = 0.0
    rate_429_no_retry_after: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    rate_slow: float = 0.0
    rate_malformed: float = 0.0
    rate_truncated: float = 0.0
    rate_token_503: float = 0.0
    rate_token_throttle: float = 0.0
    slow_seconds: float = 2.0
    retry_after_seconds: int = 2
    # Graph: above 0, incidents with both $expand=alerts and $filter answer 500 (always).
    expand_500: float = 0.0

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> FaultConfig:
        """Build from a control-API body; unknown keys or bad numbers raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(payload) - known - {"tenant", "profile"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        base = profile(str(payload["profile"])) if payload.get("profile") else cls()
        values = asdict(base)
        for key in known & set(payload):
            value = payload[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            values[key] = value
        config = cls(**values)
        config.retry_after_seconds = max(1, int(config.retry_after_seconds))
        if sum(getattr(config, k) for k in FAULT_KINDS) > 1 or any(
            getattr(config, k) > 1 for k in TOKEN_FAULT_KINDS
        ):
            raise ValueError("the API fault shares must add up to at most 1")
        if config.rate_token_503 + config.rate_token_throttle > 1:
            raise ValueError("the token fault shares must add up to at most 1")
        return config

    def is_empty(self) -> bool:
        return not any(getattr(self, k) for k in FAULT_KINDS + TOKEN_FAULT_KINDS) and (
            not self.expand_500
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


PROFILES: dict[str, dict[str, float]] = {
    "none": {},
    # A normal bad day: a few percent of everything.
    "flaky": {
        "rate_429": 0.04,
        "rate_429_no_retry_after": 0.01,
        "rate_500": 0.02,
        "rate_503": 0.03,
        "rate_drop": 0.02,
        "rate_slow": 0.04,
        "slow_seconds": 1.5,
        "rate_malformed": 0.01,
        "rate_truncated": 0.01,
        "rate_token_503": 0.02,
        "retry_after_seconds": 2,
    },
    # Heavy throttling and unavailability, as during a service incident.
    "storm": {
        "rate_429": 0.3,
        "rate_429_no_retry_after": 0.1,
        "rate_503": 0.15,
        "rate_500": 0.05,
        "rate_drop": 0.05,
        "rate_token_throttle": 0.1,
        "retry_after_seconds": 5,
    },
    # Answers that arrive late.
    "slow": {"rate_slow": 0.5, "slow_seconds": 3.0},
    # Broken transport and bodies: dropped connections, cut and lying pages.
    "broken": {"rate_drop": 0.1, "rate_malformed": 0.1, "rate_truncated": 0.1},
}


def profile(name: str) -> FaultConfig:
    """The named fault profile; ValueError for an unknown name."""
    if name not in PROFILES:
        raise ValueError(f"unknown fault profile {name!r}; known: {', '.join(PROFILES)}")
    config = FaultConfig()
    for key, value in PROFILES[name].items():
        setattr(config, key, value)
    return config


class Faults:
    """Fault settings for all tenants and per tenant, with one random stream per tenant."""

    def __init__(self, seed: int, initial: FaultConfig | None = None) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._global = initial or FaultConfig()
        self._per_tenant: dict[str, FaultConfig] = {}
        self._rngs: dict[str, random.Random] = {}

    def set(self, config: FaultConfig, tenant: str | None) -> None:
        with self._lock:
            if tenant is None:
                self._global = config
                if config.is_empty():
                    self._per_tenant.clear()
            elif config.is_empty():
                self._per_tenant.pop(tenant, None)
            else:
                self._per_tenant[tenant] = config
            # Restart the streams so a run after this change is reproducible.
            self._rngs.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "global": self._global.as_json(),
                "tenants": {t: c.as_json() for t, c in self._per_tenant.items()},
            }

    def _draw(self, tenant: str | None, kinds: tuple[str, ...]) -> tuple[str | None, FaultConfig]:
        key = tenant or "-"
        with self._lock:
            config = self._per_tenant.get(key, self._global)
            if config.is_empty():
                return None, config
            rng = self._rngs.get(key)
            if rng is None:
                rng = self._rngs[key] = seeded(f"{self._seed}:faults:{key}")
            roll = rng.random()
        edge = 0.0
        for kind in kinds:
            edge += float(getattr(config, kind))
            if roll < edge:
                return kind, config
        return None, config

    def config(self, tenant: str | None) -> FaultConfig:
        """The settings that apply to ``tenant`` now."""
        with self._lock:
            return self._per_tenant.get(tenant or "-", self._global)

    def draw_api(self, tenant: str | None) -> tuple[str | None, FaultConfig]:
        """Which fault (if any) this API call gets."""
        return self._draw(tenant, FAULT_KINDS)

    def draw_token(self, tenant: str | None) -> tuple[str | None, FaultConfig]:
        """Which fault (if any) this token request gets."""
        return self._draw(tenant, TOKEN_FAULT_KINDS)

    def coin(self, tenant: str | None) -> bool:
        """A reproducible coin flip from the tenant's stream, for variants of a fault."""
        key = tenant or "-"
        with self._lock:
            rng = self._rngs.setdefault(key, seeded(f"{self._seed}:faults:{key}"))
            return rng.random() < 0.5
