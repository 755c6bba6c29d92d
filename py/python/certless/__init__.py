"""certless: Microsoft Entra access tokens from a managed identity through a federated identity
credential, with no certificate and no secret.

``certless.Credential`` (and ``certless.aio.Credential`` for asyncio) can be passed wherever the
Azure SDK for Python takes a ``credential=``::

    import certless
    credential = certless.Credential.from_config("appsettings.json")
    token = credential.get_token("https://contoso.sharepoint.com/.default")

All token logic (managed-identity sources, the exchange, the cache, retries) is certless's Rust
core; this package is a thin layer over it.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any, Dict, Mapping, Sequence, Union

from . import _certless, errors
from ._construct import Constructors
from ._stats import SharedCacheStats
from ._tokens import AccessToken, AccessTokenInfo, TokenRequestOptions
from .errors import CertlessError, ConfigurationError, ManagedIdentityError, TokenExchangeError, _from_native

if TYPE_CHECKING:
    from .errors import CredentialUnavailableError
else:

    def __getattr__(name: str) -> Any:
        # CredentialUnavailableError is defined on first use (see certless.errors).
        if name == "CredentialUnavailableError":
            return errors.CredentialUnavailableError
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AccessToken",
    "AccessTokenInfo",
    "CertlessError",
    "ConfigurationError",
    "Credential",
    "CredentialUnavailableError",
    "ManagedIdentityError",
    "SharedCacheStats",
    "TokenExchangeError",
    "TokenRequestOptions",
    "__version__",
    "diagnose",
    "explain_refusal",
    "flush_telemetry",
]

__version__: str = _certless.__version__


def _settle(future: Any, ok: bool, value: Any) -> None:
    """Runs on the event loop (``call_soon_threadsafe``): hands the result to a future nobody has
    cancelled meanwhile."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


_certless.install(AccessToken, AccessTokenInfo, _from_native, _settle)

# A library's records reach the application's handlers; with none configured, they are not
# printed by logging's last-resort handler.
logging.getLogger(__name__).addHandler(logging.NullHandler())


class Credential(Constructors, _certless.SyncCredential):
    """Gets Entra access tokens for one app registration; an azure-core ``TokenCredential`` and
    ``SupportsTokenInfo``.

    Build it with keywords (``tenant_id``, ``client_id``, ``managed_identity_client_id`` /
    ``_object_id`` / ``_resource_id`` (default: system-assigned), ``authority_host``,
    ``managed_identity_source`` (``imds``, ``app_service``; default: detected),
    ``token_exchange_audience``, ``connect_timeout`` / ``request_timeout`` (seconds), ``deadline``
    (seconds for a whole request, retries included), ``ca_file``, ``environment`` (a mapping read
    instead of ``os.environ``)), with :meth:`from_config` or with :meth:`from_env`. The keywords
    are certless's options: a misspelt one raises :class:`ConfigurationError` naming the one
    meant, and a duration must be more than 0 and at most 3600 seconds. Share one per app
    registration: it is thread-safe, caches tokens, makes one upstream request when many threads
    miss the cache at once, and keeps working in a child process after ``os.fork()``. A cached
    token is returned without releasing the GIL; a network wait releases it.
    """

    __slots__ = ()

    def close(self) -> None:
        """Nothing needs closing; kept for azure-core's protocol. The credential stays usable."""
        self._forget_objects()

    def __enter__(self) -> "Credential":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


#: The scope ``diagnose`` asks for when none is given.
DEFAULT_DIAGNOSE_SCOPE = "https://graph.microsoft.com/.default"


def diagnose(
    config: Union[str, "os.PathLike[str]", Mapping[str, Any], None] = None,
    *,
    scope: str = DEFAULT_DIAGNOSE_SCOPE,
    federated_credentials: Union[str, "os.PathLike[str]", Sequence[Any], Mapping[str, Any], None] = None,
    graph: Union[Mapping[str, str], None] = None,
    **kwargs: Any,
) -> Dict[str, Any]:
    """Walks the flow leg by leg — configuration, managed-identity endpoint, what a matching
    federated credential needs, the exchange, the token — and returns the report (the same as
    ``certless doctor --json``): ``report["headline"]`` is the cause and the fix in one line,
    ``report["ok"]`` whether a token was obtained. Never raises for a failing flow: the failure
    is the report.

    ``config`` is an ``appsettings.json`` path or its dict; without it, the keywords of
    :class:`Credential` (``tenant_id=...``), or else the environment (``AZURE_TENANT_ID``, ...).

    To name the app's federated credential that matches the managed identity (``... through
    federated credential '<name>'`` on the headline), or the one that nearly does and the ``az``
    command that fixes it, read the app's list back, one way: ``federated_credentials=`` a path
    to what ``az ad app federated-credential list --id <app>`` prints, or that list itself (a
    list, or Graph's ``{"value": [...]}``); or ``graph={"token_env": "VAR"}`` /
    ``graph={"token_command": "az account get-access-token --resource-type ms-graph"}`` (and
    optionally ``"url"``) to read it from Microsoft Graph. Both at once, or a ``graph`` key
    certless does not know, raise :class:`ConfigurationError`.
    """
    settings: Dict[str, Any] = {"scope": scope}
    if isinstance(federated_credentials, (str, os.PathLike)):
        settings["federated_credentials_file"] = os.fspath(federated_credentials)
    elif isinstance(federated_credentials, Mapping):
        settings["federated_credentials"] = dict(federated_credentials)
    elif isinstance(federated_credentials, Sequence) and not isinstance(federated_credentials, (bytes, bytearray)):
        settings["federated_credentials"] = list(federated_credentials)
    elif federated_credentials is not None:
        raise TypeError(
            "federated_credentials must be a path (str or os.PathLike), a list or a dict, "
            f"not {type(federated_credentials).__name__}"
        )
    if graph is not None:
        if not isinstance(graph, Mapping):
            raise TypeError(f"graph must be a dict (token_env or token_command, url), not {type(graph).__name__}")
        settings["graph"] = dict(graph)
    if isinstance(config, Mapping):
        kwargs["config_json"] = json.dumps(dict(config))
    elif config is not None:
        kwargs["config_file"] = os.fspath(config)
    elif "tenant_id" not in kwargs and "client_id" not in kwargs:
        kwargs["from_env"] = True
    if kwargs.get("environment") is not None:
        kwargs["environment"] = dict(kwargs["environment"])
    report: Dict[str, Any] = json.loads(_certless.diagnose(json.dumps(settings), **kwargs))
    return report


def explain_refusal(
    url: str,
    status: int,
    www_authenticate: Union[str, None] = None,
    body: Union[str, None] = None,
    token: Union[str, None] = None,
) -> CertlessError:
    """Why a resource (SharePoint, Microsoft Graph, ...) refused a token certless obtained, as a
    :class:`CertlessError` (code 700, leg ``resource``) to raise or log: ``reason`` names the
    resource and SharePoint site and what the token carried (roles, audience; never the token),
    ``remedy`` what is missing and how to add it — for a ``Sites.Selected`` app without a grant on
    the site, the Microsoft Graph requests that add it. Pass the refused request's URL, the
    answer's status, ``WWW-Authenticate`` header and body, and the token that was sent."""
    error: CertlessError = _certless.explain_refusal(url, status, www_authenticate, body, token)
    return error


def flush_telemetry(timeout: float = 5.0) -> bool:
    """Sends the OpenTelemetry metrics and spans recorded so far to the collector and waits at
    most ``timeout`` seconds (0 to 3600) for it: ``True`` when everything was sent, or when
    telemetry is off (the default; the ``OTEL_EXPORTER_OTLP_*`` variables turn it on, see
    docs/telemetry.md). The interpreter's exit flushes too, waiting at most 2 seconds."""
    return _certless.flush_telemetry(timeout)
