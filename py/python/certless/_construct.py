"""The constructors both credential classes share: from a configuration, from the environment."""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Optional, Type, TypeVar, Union

__all__ = ["Constructors"]

_C = TypeVar("_C", bound="Constructors")


class Constructors:
    """``from_config`` and ``from_env`` for a class whose constructor takes certless's keywords."""

    __slots__ = ()

    @classmethod
    def from_config(
        cls: Type[_C],
        config: Union[str, "os.PathLike[str]", Mapping[str, Any]],
        *,
        authority_host: Optional[str] = None,
        connect_timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
        deadline: Optional[float] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        environment: Optional[Mapping[str, str]] = None,
    ) -> _C:
        """A credential from a Microsoft.Identity.Web configuration: the path of an
        ``appsettings.json`` (whole file or its ``AzureAd`` section) or the same as a dict."""
        kwargs: Any = dict(
            authority_host=authority_host,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            deadline=deadline,
            ca_file=ca_file,
            environment=environment,
        )
        # The constructor is the native base's, which this mixin does not know statically.
        make: Any = cls
        if isinstance(config, Mapping):
            return make(config_json=json.dumps(dict(config)), **kwargs)  # type: ignore[no-any-return]
        if isinstance(config, (str, os.PathLike)):
            return make(config_file=os.fspath(config), **kwargs)  # type: ignore[no-any-return]
        raise TypeError(f"config must be a path or a mapping, not {type(config).__name__}")

    @classmethod
    def from_env(cls: Type[_C], environ: Optional[Mapping[str, str]] = None) -> _C:
        """A credential from ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``, ``AZURE_AUTHORITY_HOST``,
        ``CERTLESS_MANAGED_IDENTITY_CLIENT_ID`` ... of the process (or of ``environ``)."""
        make: Any = cls
        environment = None if environ is None else dict(environ)
        return make(from_env=True, environment=environment)  # type: ignore[no-any-return]
