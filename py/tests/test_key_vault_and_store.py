"""The Key Vault and certificate-store sources and the doctor's certificate findings, configured
from Python exactly as Microsoft.Identity.Web configures them (the logic is core's; these tests
prove that a host gets it through configuration JSON)."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import certless
import pytest
from conftest import SHAREPOINT, Emulator
from test_sync import jwt_claims

DAY = 86_400


def config(emu: Emulator, *entries: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "AzureAd": {
            "Instance": emu.url + "/",
            "TenantId": emu.tenant_id,
            "ClientId": emu.client_id,
            "ClientCredentials": list(entries),
        }
    }


@pytest.fixture
def registry(emu: Emulator) -> Iterator[Dict[str, Any]]:
    """The emulator's registry, put back as it was after the test."""
    saved = emu._call("GET", "registry")
    yield saved
    emu._call("PUT", "registry", saved)


def key_vault_entry(issued: Dict[str, Any]) -> Dict[str, Any]:
    return {"SourceType": "KeyVault", "KeyVaultUrl": issued["vault_url"], "KeyVaultCertificateName": issued["name"]}


def test_a_key_vault_certificate_signs_for_the_app(emu: Emulator, registry: Dict[str, Any]) -> None:
    issued = emu._call("POST", "key-vault/certificates", {})
    credential = certless.Credential.from_config(config(emu, key_vault_entry(issued)), environment=emu.env("imds"))
    assert credential.sources == ["KeyVault"]
    token = credential.get_token(SHAREPOINT)
    claims = jwt_claims(token.token)
    assert claims["appid"] == emu.client_id and claims["appidacr"] == "2"
    assert emu.counters()["key_vault"] == 2


def test_a_vault_without_an_access_policy_names_the_fix(emu: Emulator, registry: Dict[str, Any]) -> None:
    issued = emu._call("POST", "key-vault/certificates", {"name": "denied"})
    changed = emu._call("GET", "registry")
    for vault in changed["key_vaults"]:
        vault["readers"] = []
    emu._call("PUT", "registry", changed)
    credential = certless.Credential.from_config(config(emu, key_vault_entry(issued)), environment=emu.env("imds"))
    with pytest.raises(certless.CertlessError) as caught:
        credential.get_token(SHAREPOINT)
    e = caught.value
    assert (e.code, e.leg, e.status) == (601, "key_vault", 403)
    assert "az keyvault set-policy" in str(e) and "--secret-permissions get" in str(e)


def test_the_certificate_store_on_linux_is_dotnets_folder(emu: Emulator, tmp_path: Path, registry: Dict[str, Any]) -> None:
    issued = emu._call("POST", "client-certificate", {})
    store = tmp_path / ".dotnet" / "corefx" / "cryptography" / "x509stores" / "my"
    store.mkdir(parents=True)
    (store / f"{issued['thumbprint']}.pfx").write_bytes(base64.b64decode(issued["pfx_base64"]))
    entry = {"SourceType": "StoreWithThumbprint", "CertificateStorePath": "CurrentUser/My", "CertificateThumbprint": issued["thumbprint"]}
    credential = certless.Credential.from_config(config(emu, entry), environment={"HOME": str(tmp_path)})
    assert jwt_claims(credential.get_token(SHAREPOINT).token)["appidacr"] == "2"

    entry["CertificateStorePath"] = "LocalMachine/My"
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential.from_config(config(emu, entry), environment={"HOME": str(tmp_path)})
    assert caught.value.code == 112 and "not available on" in str(caught.value)


@pytest.mark.parametrize(
    ("days", "status", "headline"),
    [(1, "warn", "OK with"), (20, "warn", "OK with"), (-1, "fail", "ERROR: the Base64Encoded certificate")],
)
def test_the_doctor_reports_fallback_certificates_by_expiry(
    emu: Emulator, registry: Dict[str, Any], days: int, status: str, headline: str
) -> None:
    now = int(time.time())
    issued = emu._call("POST", "client-certificate", {"not_before": now - 400 * DAY, "not_after": now + days * DAY + 60 * (days > 0)})
    report = certless.diagnose(
        config(
            emu,
            {"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": emu.mi_client_id},
            {"SourceType": "Base64Encoded", "Base64EncodedValue": issued["pfx_base64"]},
        ),
        environment=emu.env("imds"),
        scope=SHAREPOINT,
    )
    assert report["ok"] is True
    assert report["headline"].startswith(headline), report["headline"]
    found = report["certificates"][0]
    assert (found["source"], found["status"], found["thumbprint"]) == ("Base64Encoded", status, issued["thumbprint"])
    assert found["days_left"] == days
    assert found["subject"] == "CN=certless-demo-app" and found["not_after"].endswith("Z")
