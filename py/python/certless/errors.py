"""certless's exceptions: one class per leg of the flow that failed.

Every exception carries core's stable numeric ``code`` (the table in docs/errors.md), the ``leg``
(``config``, ``managed_identity``, ``exchange``, ...), the HTTP ``status``, Entra's
``aadsts_codes``, and the ``trace_id`` / ``correlation_id`` to quote in a support ticket. ``str()``
is the full message, including the fix for the common causes.

When azure-core is installed, :class:`CertlessError` derives from
``azure.core.exceptions.ClientAuthenticationError``, so an Azure SDK client reports a certless
failure the way it reports any authentication failure. When the host has no managed identity at
all, the error is a :class:`CredentialUnavailableError`, which also derives from azure-identity's
class of that name when azure-identity is installed, so that its ``ChainedTokenCredential`` and
``DefaultAzureCredential`` move on to their next credential. The exceptions pickle
(multiprocessing, concurrent.futures) with every field.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type, cast

if TYPE_CHECKING:
    from azure.core.exceptions import ClientAuthenticationError as _Base
else:
    try:
        from azure.core.exceptions import ClientAuthenticationError as _Base
    except ImportError:  # azure-core is optional
        _Base = Exception

__all__ = [
    "CertlessError",
    "ConfigurationError",
    "CredentialUnavailableError",
    "ManagedIdentityError",
    "TokenExchangeError",
]

_FIELDS = (
    "code",
    "leg",
    "reason",
    "remedy",
    "status",
    "aadsts_codes",
    "oauth_error",
    "trace_id",
    "correlation_id",
    "credential_source",
    "causes",
)


class CertlessError(_Base):
    """A certless failure. Subclasses name the leg; ``code`` is stable across releases."""

    code: int
    """certless's stable error code: 1xx configuration, 2xx managed identity, 3xx exchange, 4xx chain."""
    leg: str
    """``config``, ``managed_identity``, ``exchange``, ``key_vault``, ``chain``, ``caller``, ``resource`` or ``internal``."""
    reason: str
    """What went wrong, without the remedy."""
    remedy: Optional[str]
    """How to fix the common causes, when known."""
    status: Optional[int]
    """The HTTP status of the failing endpoint's answer."""
    aadsts_codes: Tuple[int, ...]
    """Entra's AADSTS error codes."""
    oauth_error: Optional[str]
    """The OAuth ``error`` field (``invalid_client``, ...)."""
    trace_id: Optional[str]
    """Entra's trace id."""
    correlation_id: Optional[str]
    """The correlation id of the request."""
    credential_source: Optional[str]
    """The credential source that failed (``SignedAssertionFromManagedIdentity``, ...)."""
    causes: Tuple["CertlessError", ...]
    """For a failed credential list: each source's own failure, in order."""

    def __init__(
        self,
        message: str,
        *,
        code: int = 900,
        leg: str = "internal",
        reason: Optional[str] = None,
        remedy: Optional[str] = None,
        status: Optional[int] = None,
        aadsts_codes: Tuple[int, ...] = (),
        oauth_error: Optional[str] = None,
        trace_id: Optional[str] = None,
        correlation_id: Optional[str] = None,
        credential_source: Optional[str] = None,
        causes: Tuple["CertlessError", ...] = (),
    ) -> None:
        if _Base is Exception:
            super().__init__(message)
        else:
            super().__init__(message=message)
        self.message = message
        self.code = code
        self.leg = leg
        self.reason = message if reason is None else reason
        self.remedy = remedy
        self.status = status
        # azure-core's HttpResponseError has status_code; keep it meaningful for SDK code.
        self.status_code = status
        self.aadsts_codes = tuple(aadsts_codes)
        self.oauth_error = oauth_error
        self.trace_id = trace_id
        self.correlation_id = correlation_id
        self.credential_source = credential_source
        self.causes = tuple(causes)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, leg={self.leg!r}, status={self.status!r}, aadsts_codes={self.aadsts_codes!r})"

    def __reduce__(self) -> Tuple[Any, ...]:
        # Rebuilt from the fields only: azure-core's base keeps the traceback of the exception
        # being handled when it was created, which does not pickle.
        return (_rebuild, (type(self), self.message, {f: getattr(self, f) for f in _FIELDS}))


class ConfigurationError(CertlessError):
    """The configuration is wrong or incomplete (codes 1xx); nothing went on the wire."""


class ManagedIdentityError(CertlessError):
    """The managed-identity endpoint (IMDS, App Service) failed or refused (codes 2xx)."""


class TokenExchangeError(CertlessError):
    """Entra's token endpoint refused or failed the exchange (codes 3xx; see ``aadsts_codes``)."""


_UNAVAILABLE_DOC = """There is no managed identity on this host (nothing answers at IMDS, or Docker Desktop
answers for it) and no other entry of the credential list produced a token: the credential cannot
work here, as opposed to failing. With azure-identity installed this is also an
``azure.identity.CredentialUnavailableError``, so a ``ChainedTokenCredential`` or
``DefaultAzureCredential`` holding a certless credential moves on to its next credential."""

if TYPE_CHECKING:

    class CredentialUnavailableError(ManagedIdentityError):
        __doc__ = _UNAVAILABLE_DOC

else:
    # Defined on first use (PEP 562): importing azure-identity, to derive from its class, takes
    # longer than importing certless, and most programs never meet this error.
    def __getattr__(name: str) -> Any:
        if name == "CredentialUnavailableError":
            return _credential_unavailable_class()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Every thread must get the same class, or `except CredentialUnavailableError` would miss.
_unavailable_lock = threading.Lock()
_unavailable_class: Optional[Type[ManagedIdentityError]] = None


def _credential_unavailable_class() -> Type[ManagedIdentityError]:
    global _unavailable_class
    with _unavailable_lock:
        if _unavailable_class is None:
            bases: Tuple[type, ...] = (ManagedIdentityError,)
            try:
                from azure.identity import CredentialUnavailableError as azure_unavailable

                bases += (azure_unavailable,)
            except ImportError:  # azure-identity is optional
                pass
            namespace = {"__doc__": _UNAVAILABLE_DOC, "__module__": __name__}
            _unavailable_class = cast(Type[ManagedIdentityError], type("CredentialUnavailableError", bases, namespace))
        return _unavailable_class


_BY_LEG: Dict[str, Type[CertlessError]] = {
    "config": ConfigurationError,
    "managed_identity": ManagedIdentityError,
    "exchange": TokenExchangeError,
}


def _rebuild(cls: Type[CertlessError], message: str, fields: Dict[str, Any]) -> CertlessError:
    return cls(message, **fields)


def _from_native(fields: Dict[str, Any]) -> CertlessError:
    """Called by the extension with a core error's fields. A failed credential list carries the
    leg of its most telling failure, so it gets that leg's class too. Core flags only
    managed-identity failures (and lists of them) as unavailable."""
    message = fields.pop("message")
    if fields.pop("unavailable", False):
        return _credential_unavailable_class()(message, **fields)
    return _BY_LEG.get(fields["leg"], CertlessError)(message, **fields)
