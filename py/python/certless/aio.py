"""certless for asyncio: ``certless.aio.Credential`` is an azure-core ``AsyncTokenCredential``
(and ``AsyncSupportsTokenInfo``). It is not bound to an event loop: each call answers on the loop
that is running it, so one credential serves several loops in turn (or in several threads).
A cached token is returned without a task switch; a miss runs on certless's own runtime while
the loop goes on."""

from __future__ import annotations

from typing import Any, Optional

from . import _certless
from ._construct import Constructors
from ._tokens import AccessToken, AccessTokenInfo, TokenRequestOptions

__all__ = ["Credential"]


class Credential(Constructors, _certless.AsyncCredential):
    """The asyncio twin of :class:`certless.Credential`, with the same constructors."""

    __slots__ = ()

    async def get_token(
        self,
        *scopes: str,
        claims: Optional[str] = None,
        tenant_id: Optional[str] = None,
        enable_cae: bool = False,
        traceparent: Optional[str] = None,
        **kwargs: Any,
    ) -> AccessToken:
        """An access token for ``scopes`` (one resource: ``https://x/.default``). ``traceparent``
        (W3C, ``00-<trace id>-<span id>-<flags>``) makes the request's span a child of the
        caller's when telemetry is on."""
        return await self._get_token(scopes, claims, tenant_id, traceparent)

    async def get_token_info(self, *scopes: str, options: Optional[TokenRequestOptions] = None) -> AccessTokenInfo:
        """An access token with its type and refresh time."""
        return await self._get_token_info(scopes, options)

    async def close(self) -> None:
        """Nothing needs closing; kept for azure-core's protocol. The credential stays usable."""
        self._forget_objects()

    async def __aenter__(self) -> "Credential":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()
