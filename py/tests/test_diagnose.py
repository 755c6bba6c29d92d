"""certless.diagnose: core's leg-by-leg diagnosis, as the JSON report, from Python."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

import certless
from conftest import Emulator

SHAREPOINT = "https://contoso.sharepoint.com/.default"


def test_a_healthy_setup_is_ok(emu: Emulator) -> None:
    report = certless.diagnose(environment=emu.env("imds"), scope=SHAREPOINT)
    assert report["ok"] is True, report["headline"]
    assert report["headline"].startswith("OK: token obtained")
    assert [leg["leg"] for leg in report["legs"]] == ["config", "platform", "managed_identity", "federated_credential", "exchange", "token"]
    assert all(leg["status"] == "ok" for leg in report["legs"])
    fic = report["matching_federated_credential"]
    assert fic["az_command"].startswith("az ad app federated-credential create")
    assert "eyJ" not in str(report), "never a raw token"


def test_a_failure_is_the_first_line_not_an_exception(emu: Emulator) -> None:
    report = certless.diagnose(
        tenant_id=emu.tenant_id,
        client_id="99999999-8888-7777-6666-555555555555",
        authority_host=emu.url,
        managed_identity_client_id=emu.mi_client_id,
        environment=emu.env("imds"),
        scope=SHAREPOINT,
    )
    assert report["ok"] is False
    assert report["headline"].startswith("FAIL: ") and "AADSTS700016" in report["headline"] and "Fix:" in report["headline"]
    assert report["error"]["aadsts_codes"] == [700016]
    assert report["error"]["trace_id"] and report["error"]["correlation_id"]


def test_a_configuration_file_and_a_dict(emu: Emulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = {"AzureAd": {"Instance": emu.url + "/", "TenantId": "YOUR_TENANT_ID", "ClientId": emu.client_id}}
    report = certless.diagnose(config, environment=emu.env("imds"))
    assert report["ok"] is False
    assert "placeholder" in report["headline"]
    path = tmp_path / "appsettings.json"
    path.write_text('{"AzureAd": {"TennantId": "x"}}')
    report = certless.diagnose(path)
    assert "TennantId" in report["headline"] and "Did you mean 'TenantId'" in report["headline"]


def _app_credentials(emu: Emulator) -> List[Dict[str, Any]]:
    """The emulator's app's federated credentials (name, issuer, subject, audiences): the fields
    `az ad app federated-credential list` prints."""
    credentials: List[Dict[str, Any]] = emu._call("GET", "registry")["apps"][0]["federated_credentials"]
    assert credentials, "the emulator's app has a federated credential"
    return credentials


def test_the_matching_federated_credential_is_named_from_a_list(emu: Emulator) -> None:
    credentials = _app_credentials(emu)
    name = credentials[0]["name"]
    report = certless.diagnose(environment=emu.env("imds"), scope=SHAREPOINT, federated_credentials=credentials)
    assert report["ok"] is True, report["headline"]
    assert f"through federated credential '{name}'" in report["headline"]
    # Graph's shape, {"value": [...]}, is read the same way.
    report = certless.diagnose(environment=emu.env("imds"), federated_credentials={"value": credentials})
    assert f"through federated credential '{name}'" in report["headline"], report["headline"]


def test_the_matching_federated_credential_is_named_from_a_file(emu: Emulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    credentials = _app_credentials(emu)
    path = tmp_path / "fics.json"
    path.write_text(json.dumps(credentials))
    for given in (path, str(path)):
        report = certless.diagnose(environment=emu.env("imds"), scope=SHAREPOINT, federated_credentials=given)
        assert f"through federated credential '{credentials[0]['name']}'" in report["headline"], report["headline"]


def test_the_credentials_are_read_from_graph_with_the_operators_token(emu: Emulator, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """From the emulated Microsoft Graph, with a token in an environment variable (as
    `az account get-access-token` gives one) and with a command that prints az's JSON."""
    token = emu._call("POST", "graph-token", {})
    az_output = tmp_path / "az-token.json"
    az_output.write_text(json.dumps(token))
    monkeypatch.setenv("CERTLESS_TEST_GRAPH_TOKEN", token["accessToken"])
    name = _app_credentials(emu)[0]["name"]
    for graph in (
        {"token_env": "CERTLESS_TEST_GRAPH_TOKEN", "url": emu.url},
        {"token_command": f"cat '{az_output}'", "url": emu.url},
    ):
        report = certless.diagnose(environment=emu.env("imds"), scope=SHAREPOINT, graph=graph)
        assert f"through federated credential '{name}'" in report["headline"], report["headline"]
        leg = next(leg for leg in report["legs"] if leg["leg"] == "federated_credentials")
        assert leg["checks"][0]["detail"].startswith("Microsoft Graph " + emu.url), leg
        assert token["accessToken"] not in json.dumps(report), "never the Graph token"
    # A token Graph refuses is a warning in the report, never an exception.
    monkeypatch.setenv("CERTLESS_TEST_GRAPH_TOKEN", "not-a-token")
    report = certless.diagnose(
        environment=emu.env("imds"), graph={"token_env": "CERTLESS_TEST_GRAPH_TOKEN", "url": emu.url}
    )
    assert report["ok"] is True
    assert "refused the token" in json.dumps(report)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"graph": {"token_env": "GRAPH_TOKEN", "tokn": "x"}}, "unknown field `tokn`"),
        ({"graph": {}}, "exactly one token source"),
        ({"graph": {"token_env": "GRAPH_TOKEN"}, "federated_credentials": []}, "one way"),
        ({"graph": {"token_env": "A", "token_command": "b"}}, "exactly one token source"),
    ],
)
def test_settings_core_refuses_raise(emu: Emulator, settings: Dict[str, Any], says: str) -> None:
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.diagnose(environment=emu.env("imds"), **settings)
    assert caught.value.code == 100 and says in str(caught.value)


def test_settings_of_the_wrong_type_raise_type_error() -> None:
    with pytest.raises(TypeError, match="federated_credentials must be"):
        certless.diagnose(federated_credentials=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="graph must be a dict"):
        certless.diagnose(graph="GRAPH_TOKEN")  # type: ignore[arg-type]
