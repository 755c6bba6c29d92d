# Checked by mypy --strict in test_typing.py: certless's credentials are what azure-core expects.
from __future__ import annotations

from azure.core.credentials import AccessToken, AccessTokenInfo, SupportsTokenInfo, TokenCredential
from azure.core.credentials_async import AsyncSupportsTokenInfo, AsyncTokenCredential

import certless
import certless.aio


def sync_credentials() -> tuple[TokenCredential, SupportsTokenInfo]:
    credential = certless.Credential(tenant_id="contoso.onmicrosoft.com", client_id="11111111-2222-3333-4444-555555555555")
    from_config: TokenCredential = certless.Credential.from_config({"AzureAd": {}}, connect_timeout=2.0)
    from_env: SupportsTokenInfo = certless.Credential.from_env({"AZURE_TENANT_ID": "x"})
    token: AccessToken = credential.get_token("https://graph.microsoft.com/.default", enable_cae=True)
    info: AccessTokenInfo = credential.get_token_info("https://graph.microsoft.com/.default", options={"claims": "{}"})
    expires: int = token.expires_on + info.expires_on
    with credential as c:
        c.close()
    del from_config, expires
    return credential, from_env


async def async_credentials() -> tuple[AsyncTokenCredential, AsyncSupportsTokenInfo]:
    credential = certless.aio.Credential.from_env()
    token: AccessToken = await credential.get_token("https://graph.microsoft.com/.default", tenant_id="t")
    info: AccessTokenInfo = await credential.get_token_info("https://graph.microsoft.com/.default")
    async with credential:
        pass
    await credential.close()
    del token, info
    return credential, credential


def errors(e: certless.CertlessError) -> tuple[int, str, int | None, tuple[int, ...], str | None, str | None]:
    return (e.code, e.leg, e.status, e.aadsts_codes, e.trace_id, e.correlation_id)


def unavailable(credential: certless.Credential) -> AccessToken | None:
    try:
        return credential.get_token("https://graph.microsoft.com/.default")
    except certless.CredentialUnavailableError as e:
        error: certless.ManagedIdentityError = e
        del error
        return None
