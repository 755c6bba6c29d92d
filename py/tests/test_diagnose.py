"""certless.diagnose: core's leg-by-leg diagnosis, as the JSON report, from Python."""

from __future__ import annotations

import certless
from conftest import Emulator

SHAREPOINT = "https://contoso.sharepoint.com/.default"


def test_a_healthy_setup_is_ok(emu: Emulator) -> None:
    report = certless.diagnose(environment=emu.env("imds"), scope=SHAREPOINT)
    assert report["ok"] is True, report["headline"]
    assert report["headline"].startswith("OK: token obtained")
    assert [leg["leg"] for leg in report["legs"]] == ["config", "managed_identity", "federated_credential", "exchange", "token"]
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
