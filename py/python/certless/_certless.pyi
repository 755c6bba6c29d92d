# The native extension. Use the `certless` and `certless.aio` classes built on these bases.
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, final

from typing_extensions import Self, disjoint_base

from ._stats import SharedCacheStats
from ._tokens import AccessToken, AccessTokenInfo, TokenRequestOptions
from .errors import CertlessError

__all__ = ["__version__", "SyncCredential", "AsyncCredential", "Ready", "CancelOnDone", "install", "diagnose", "explain_refusal", "flush_telemetry"]

__version__: str

def install(
    access_token: Any,
    access_token_info: Any,
    error_factory: Callable[[dict[str, Any]], CertlessError],
    settle: Callable[[Any, bool, Any], None],
) -> None: ...

class _CredentialBase:
    def __new__(
        cls,
        *,
        tenant_id: str | None = None,
        client_id: str | None = None,
        authority_host: str | None = None,
        managed_identity_client_id: str | None = None,
        managed_identity_object_id: str | None = None,
        managed_identity_resource_id: str | None = None,
        managed_identity_source: str | None = None,
        token_exchange_audience: str | None = None,
        connect_timeout: float | None = None,
        request_timeout: float | None = None,
        deadline: float | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        shared_cache: str | None = None,
        shared_cache_key_file: str | os.PathLike[str] | None = None,
        shared_cache_ca_file: str | os.PathLike[str] | None = None,
        environment: Mapping[str, str] | None = None,
        config_json: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
        from_env: bool = False,
    ) -> Self: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def authority_host(self) -> str: ...
    @property
    def sources(self) -> list[str]: ...
    @property
    def managed_identity_source(self) -> str | None: ...
    def shared_cache_stats(self) -> SharedCacheStats | None: ...
    def _forget_objects(self) -> None: ...

@disjoint_base
class SyncCredential(_CredentialBase):
    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        traceparent: str | None = None,
        **kwargs: Any,
    ) -> AccessToken: ...
    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo: ...

@disjoint_base
class AsyncCredential(_CredentialBase):
    def _get_token(
        self,
        scopes: tuple[str, ...],
        claims: str | None = None,
        tenant_id: str | None = None,
        traceparent: str | None = None,
    ) -> Awaitable[AccessToken]: ...
    def _get_token_info(
        self, scopes: tuple[str, ...], options: TokenRequestOptions | None = None
    ) -> Awaitable[AccessTokenInfo]: ...

@final
class Ready:
    def __await__(self) -> Self: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def send(self, value: Any) -> Any: ...

@final
class CancelOnDone:
    def __call__(self, future: Any, /) -> None: ...

def diagnose(
    settings: str,
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    authority_host: str | None = None,
    managed_identity_client_id: str | None = None,
    managed_identity_object_id: str | None = None,
    managed_identity_resource_id: str | None = None,
    managed_identity_source: str | None = None,
    token_exchange_audience: str | None = None,
    connect_timeout: float | None = None,
    request_timeout: float | None = None,
    deadline: float | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    shared_cache: str | None = None,
    shared_cache_key_file: str | os.PathLike[str] | None = None,
    shared_cache_ca_file: str | os.PathLike[str] | None = None,
    environment: Mapping[str, str] | None = None,
    config_json: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    from_env: bool = False,
) -> str: ...

def explain_refusal(
    url: str,
    status: int,
    www_authenticate: str | None = None,
    body: str | None = None,
    token: str | None = None,
) -> Any: ...

def flush_telemetry(timeout: float = 5.0) -> bool: ...
