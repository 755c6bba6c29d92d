"""certless's exceptions: one class per leg, the fields of core's error, pickling, azure-core."""

from __future__ import annotations

import pickle
import uuid

import pytest
from azure.core.exceptions import ClientAuthenticationError

import certless
from conftest import GRAPH, Emulator

FIELDS = ("code", "leg", "reason", "remedy", "status", "aadsts_codes", "oauth_error", "trace_id", "correlation_id", "credential_source")


def assert_round_trips(error: certless.CertlessError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    for field in FIELDS:
        assert getattr(copy, field) == getattr(error, field), field
    assert [str(c) for c in copy.causes] == [str(c) for c in error.causes]


def test_configuration_error() -> None:
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential(tenant_id="common", client_id=str(uuid.uuid4()))
    e = caught.value
    assert isinstance(e, certless.CertlessError) and isinstance(e, ClientAuthenticationError)
    assert (e.code, e.leg, e.status) == (101, "config", None)
    assert "specific tenant" in e.reason and e.remedy and "Fix:" in str(e)
    assert "certless code 101" in str(e)
    assert e.message == str(e)
    assert_round_trips(e)


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}, 103),
        ({"tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47", "client_id": "YOUR_CLIENT_ID"}, 101),
        ({"tenant_id": "x.com", "client_id": str(uuid.uuid4()), "managed_identity_client_id": "a", "managed_identity_object_id": "b"}, 100),
        ({"tenant_id": "x.com", "client_id": str(uuid.uuid4()), "connect_timeout": -1.0}, 100),
        ({"tenant_id": "x.com", "client_id": str(uuid.uuid4()), "authority_host": "http://login.example.com"}, 105),
        ({"tenant_id": "x.com", "client_id": str(uuid.uuid4()), "managed_identity_source": "carrier_pigeon"}, 101),
        ({"config_json": '{"AzureAd": {"TennantId": "x.com"}}'}, 102),
        ({"config_file": "/nonexistent/appsettings.json"}, 107),
    ],
)
def test_configuration_error_codes(kwargs: dict, code: int) -> None:
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential(**kwargs)
    assert caught.value.code == code, str(caught.value)
    assert caught.value.leg == "config"


def test_invalid_scope_is_a_configuration_error(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    with pytest.raises(certless.ConfigurationError) as caught:
        credential.get_token("https://graph.microsoft.com/.default", "https://management.azure.com/.default")
    assert caught.value.code == 106
    with pytest.raises(TypeError):
        credential.get_token(42)  # type: ignore[arg-type]
    assert emu.counters()["imds"] == 0


def test_managed_identity_error_unknown_identity(emu: Emulator) -> None:
    env = emu.env()
    env["CERTLESS_MANAGED_IDENTITY_CLIENT_ID"] = str(uuid.uuid4())
    credential = certless.Credential.from_env(env)
    with pytest.raises(certless.ManagedIdentityError) as caught:
        credential.get_token(GRAPH)
    e = caught.value
    assert (e.code, e.leg, e.status) == (202, "managed_identity", 400), str(e)
    assert e.credential_source == "SignedAssertionFromManagedIdentity"
    assert emu.counters()["entra_token"] == 0
    assert_round_trips(e)


def test_managed_identity_error_unreachable() -> None:
    credential = certless.Credential(
        tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47",
        client_id=str(uuid.uuid4()),
        environment={"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"},
    )
    with pytest.raises(certless.ManagedIdentityError) as caught:
        credential.get_token(GRAPH)
    assert caught.value.code == 200 and caught.value.status is None


def test_exchange_error_unknown_app(emu: Emulator) -> None:
    env = emu.env()
    env["AZURE_CLIENT_ID"] = str(uuid.uuid4())
    credential = certless.Credential.from_env(env)
    with pytest.raises(certless.TokenExchangeError) as caught:
        credential.get_token(GRAPH)
    e = caught.value
    assert (e.code, e.leg, e.status) == (302, "exchange", 400), str(e)
    assert e.aadsts_codes and all(isinstance(c, int) for c in e.aadsts_codes)
    assert f"AADSTS{e.aadsts_codes[0]}" in str(e)
    assert e.trace_id and e.correlation_id
    assert e.trace_id in str(e) and e.correlation_id in str(e)
    assert isinstance(e, ClientAuthenticationError) and e.status_code == 400
    assert_round_trips(e)


def test_exchange_error_after_retries(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    emu.fault(endpoint="entra_token", status=400)
    with pytest.raises(certless.TokenExchangeError) as caught:
        credential.get_token(GRAPH)
    assert caught.value.status == 400 and caught.value.code == 302


def test_failed_credential_list_has_one_cause_per_source(emu: Emulator) -> None:
    config = {
        "TenantId": emu.tenant_id,
        "ClientId": str(uuid.uuid4()),
        "Instance": emu.url,
        "ClientCredentials": [
            {"SourceType": "CustomSignedAssertion", "CustomSignedAssertionProviderName": "MyProvider"},
            {"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": emu.mi_client_id},
        ],
    }
    credential = certless.Credential.from_config(config, environment={"AZURE_POD_IDENTITY_AUTHORITY_HOST": emu.url})
    assert credential.sources == ["CustomSignedAssertion", "SignedAssertionFromManagedIdentity"]
    with pytest.raises(certless.CertlessError) as caught:
        credential.get_token(GRAPH)
    e = caught.value
    assert e.code == 400
    assert isinstance(e, certless.TokenExchangeError) and e.leg == "exchange"  # the most telling failure's leg
    assert [c.code for c in e.causes] == [104, 302]
    assert isinstance(e.causes[0], certless.ConfigurationError) and isinstance(e.causes[1], certless.TokenExchangeError)
    assert_round_trips(e)


def test_errors_are_distinct_classes() -> None:
    classes = [certless.ConfigurationError, certless.ManagedIdentityError, certless.TokenExchangeError]
    for cls in classes:
        assert issubclass(cls, certless.CertlessError)
        for other in classes:
            assert cls is other or not issubclass(cls, other)
    e = certless.TokenExchangeError("m", code=302, leg="exchange", status=401, aadsts_codes=(7000215,))
    assert_round_trips(e)


def test_a_secret_echoed_by_the_endpoint_is_not_in_the_exception(emu: Emulator) -> None:
    env = emu.env("app_service")
    secret = env["IDENTITY_HEADER"]
    emu.fault(endpoint="app_service", status=401, body="echo_credentials")
    credential = certless.Credential.from_env(env)
    with pytest.raises(certless.CertlessError) as caught:
        credential.get_token(GRAPH)
    e = caught.value
    assert "redacted secret" in str(e), str(e)
    for shown in (str(e), repr(e), e.reason or "", e.message):
        assert secret not in shown
