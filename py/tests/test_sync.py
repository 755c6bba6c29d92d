"""certless.Credential against the emulator: the ways to build one, tokens, the cache."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo

import certless
from conftest import ARM, GRAPH, SHAREPOINT, Emulator


def jwt_claims(token: str) -> dict:
    import base64

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_from_env_gets_a_token_then_serves_it_from_the_cache(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    token = credential.get_token(GRAPH)
    assert type(token) is AccessToken
    claims = jwt_claims(token.token)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == emu.tenant_id
    assert claims["appid"] == emu.client_id
    assert token.expires_on == claims["exp"]
    assert emu.counters()["imds"] == 1 and emu.counters()["entra_token"] == 1

    again = credential.get_token(GRAPH)
    bare_resource = credential.get_token("https://graph.microsoft.com")
    assert again == token and bare_resource == token
    assert emu.counters()["imds"] == 1 and emu.counters()["entra_token"] == 1


def test_second_resource_reuses_the_managed_identity_assertion(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    graph = credential.get_token(GRAPH)
    sharepoint = credential.get_token(SHAREPOINT)
    assert jwt_claims(sharepoint.token)["aud"] == "https://contoso.sharepoint.com"
    assert graph.token != sharepoint.token
    assert emu.counters()["imds"] == 1
    assert emu.counters()["entra_token"] == 2


def test_keyword_construction(emu: Emulator) -> None:
    credential = certless.Credential(
        tenant_id=emu.tenant_id,
        client_id=emu.client_id,
        managed_identity_client_id=emu.mi_client_id,
        authority_host=emu.url,
        managed_identity_source="imds",
        token_exchange_audience="api://AzureADTokenExchange",
        connect_timeout=5,
        request_timeout=20.5,
        environment={"AZURE_POD_IDENTITY_AUTHORITY_HOST": emu.url},
    )
    assert credential.tenant_id == emu.tenant_id
    assert credential.client_id == emu.client_id
    assert credential.sources == ["SignedAssertionFromManagedIdentity"]
    assert credential.managed_identity_source == "imds"
    assert jwt_claims(credential.get_token(ARM).token)["aud"] == "https://management.azure.com"
    imds = [r for r in emu.requests() if r["endpoint"] == "imds"]
    assert ("client_id", emu.mi_client_id) in [tuple(q) for q in imds[0]["query"]]


def id_web_config(emu: Emulator) -> dict:
    return {
        "AzureAd": {
            "Instance": emu.url + "/",
            "TenantId": emu.tenant_id,
            "ClientId": emu.client_id,
            "ClientCredentials": [
                {"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": emu.mi_client_id}
            ],
        }
    }


def test_from_config_dict_and_file(emu: Emulator, tmp_path: Path) -> None:
    environment = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": emu.url}
    from_dict = certless.Credential.from_config(id_web_config(emu), environment=environment)
    path = tmp_path / "appsettings.json"
    path.write_text(json.dumps(id_web_config(emu)))
    from_path = certless.Credential.from_config(path, environment=environment)
    from_str = certless.Credential.from_config(str(path), environment=environment)
    for credential in (from_dict, from_path, from_str):
        assert credential.client_id == emu.client_id
        assert jwt_claims(credential.get_token(GRAPH).token)["appid"] == emu.client_id
    assert emu.counters()["entra_token"] == 3


def test_app_service_source(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env("app_service"))
    assert credential.managed_identity_source == "app_service"
    credential.get_token(GRAPH)
    assert emu.counters()["app_service"] == 1 and emu.counters()["imds"] == 0


def test_get_token_info(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    info = credential.get_token_info(GRAPH)
    assert type(info) is AccessTokenInfo
    assert info.token_type == "Bearer"
    assert info.expires_on == jwt_claims(info.token)["exp"]
    assert credential.get_token(GRAPH).token == info.token
    with_options = credential.get_token_info(GRAPH, options={"tenant_id": emu.tenant_id})
    assert with_options.token == info.token
    assert emu.counters()["entra_token"] == 1


def test_claims_bypass_the_cache(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    credential.get_token(GRAPH)
    credential.get_token(GRAPH, claims='{"access_token":{"nbf":{"essential":true,"value":"1"}}}')
    assert emu.counters()["entra_token"] == 2
    # Whether the claims token replaces the cached one is core's call; either way no new request.
    credential.get_token(GRAPH)
    assert emu.counters()["entra_token"] == 2


def test_context_manager_and_close(emu: Emulator) -> None:
    with certless.Credential.from_env(emu.env()) as credential:
        token = credential.get_token(GRAPH)
    credential.close()
    assert credential.get_token(GRAPH).token == token.token
    assert emu.counters()["entra_token"] == 1


def test_many_threads_on_a_cold_credential_make_one_request_per_leg(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    # Hold the exchange so that every thread arrives while the first fetch is in flight.
    emu.fault(endpoint="entra_token", delay_ms=500, remaining=64)
    barrier = threading.Barrier(64)
    results: list = [None] * 64

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = credential.get_token(GRAPH)
        except BaseException as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [r for r in results if not isinstance(r, AccessToken)]
    assert not errors, errors[:3]
    assert len({r.token for r in results}) == 1
    counters = emu.counters()
    assert (counters["imds"], counters["entra_token"]) == (1, 1), counters


def test_the_gil_is_released_while_waiting_on_the_network(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    emu.fault(endpoint="entra_token", delay_ms=3000, remaining=1)
    returned = threading.Event()

    def wait_for_token() -> None:
        credential.get_token(GRAPH)
        returned.set()

    waiter = threading.Thread(target=wait_for_token)
    waiter.start()
    # This thread runs Python (polling the emulator) while the waiter is inside get_token. Had the
    # waiter kept the GIL, nothing here would run until its get_token returned.
    while not emu.counters()["entra_token"]:
        time.sleep(0.01)
    assert not returned.is_set()
    waiter.join()
    assert returned.is_set()


def test_another_tenant(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    home = credential.get_token(GRAPH, tenant_id=emu.tenant_id)
    assert jwt_claims(home.token)["tid"] == emu.tenant_id
    other = emu.info.get("other_tenants") or ["9b2e7c41-3f5a-4d8e-b6c2-71a0d4e8f5b3"]
    with pytest.raises(certless.TokenExchangeError):
        credential.get_token(GRAPH, tenant_id=other[0])


def test_token_does_not_leak_into_repr(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    token = credential.get_token(GRAPH)
    assert token.token not in repr(credential)
    assert emu.tenant_id in repr(credential)


def test_certificate_credentials_from_appsettings(emu: Emulator, tmp_path: Path) -> None:
    """Path (a PFX with its password) and Base64Encoded, as Id.Web configures them: the emulator's
    Entra verifies the signed assertion against the app's registered certificate."""
    import base64

    issued = emu._call("POST", "client-certificate", {"password": "pfx pass"})
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(base64.b64decode(issued["pfx_base64"]))
    entries = [
        {"SourceType": "Path", "CertificateDiskPath": str(pfx), "CertificatePassword": "pfx pass"},
        {"SourceType": "Base64Encoded", "Base64EncodedValue": issued["pfx_base64"], "CertificatePassword": "pfx pass"},
    ]
    for entry in entries:
        config = id_web_config(emu)
        config["AzureAd"]["ClientCredentials"] = [entry]
        credential = certless.Credential.from_config(config)
        assert credential.sources == [entry["SourceType"]]
        claims = jwt_claims(credential.get_token(SHAREPOINT).token)
        assert claims["appid"] == emu.client_id and claims["appidacr"] == "2"
        assert "pfx pass" not in repr(credential)

    config = id_web_config(emu)
    config["AzureAd"]["ClientCredentials"] = [dict(entries[0], CertificatePassword="hunter2-not-it")]
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential.from_config(config)
    assert caught.value.code == 110
    assert "cannot be opened with the password given" in str(caught.value)
    assert "hunter2" not in str(caught.value)
