"""The token types: azure-core's when it is installed, field-compatible look-alikes otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional, TypedDict

__all__ = ["AccessToken", "AccessTokenInfo", "TokenRequestOptions"]

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
else:
    try:
        from azure.core.credentials import AccessToken
    except ImportError:

        class AccessToken(NamedTuple):
            """An access token and its expiry (Unix seconds), as azure-core's ``AccessToken``."""

            token: str
            expires_on: int

            def __repr__(self) -> str:
                return f"AccessToken(token='<redacted>', expires_on={self.expires_on})"

    try:  # azure-core >= 1.31
        from azure.core.credentials import AccessTokenInfo, TokenRequestOptions
    except ImportError:

        class AccessTokenInfo:
            """An access token with its metadata, as azure-core's ``AccessTokenInfo``."""

            __slots__ = ("token", "expires_on", "token_type", "refresh_on")

            def __init__(self, token: str, expires_on: int, *, token_type: str = "Bearer", refresh_on: Optional[int] = None) -> None:
                self.token = token
                self.expires_on = expires_on
                self.token_type = token_type
                self.refresh_on = refresh_on

            def __repr__(self) -> str:
                return f"AccessTokenInfo(token='<redacted>', expires_on={self.expires_on}, token_type={self.token_type!r}, refresh_on={self.refresh_on})"

            def __eq__(self, other: object) -> bool:
                return isinstance(other, AccessTokenInfo) and all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

            __hash__ = None  # type: ignore[assignment]

        class TokenRequestOptions(TypedDict, total=False):
            """Options of ``get_token_info``, as azure-core's ``TokenRequestOptions``."""

            claims: str
            tenant_id: str
            enable_cae: bool
