"""What ``Credential.shared_cache_stats()`` returns (docs/shared-cache.md says what each counter counts)."""

from __future__ import annotations

from typing import Literal, TypedDict

__all__ = ["SharedCacheStats"]


class SharedCacheStats(TypedDict):
    """The shared cache's address (no password), its breaker's state and its counters since the credential was made."""

    target: str
    state: Literal["closed", "open", "half_open"]
    hit: int
    miss: int
    rejected: int
    unknown_key: int
    error: int
    over_budget: int
    skipped: int
    write: int
    write_failure: int
    full: int
    lease_won: int
    lease_wait: int
    lease_timeout: int
    breaker_opened: int
