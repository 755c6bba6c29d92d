"""`certless serve` seen by its clients: the real azure-identity and @azure/identity
`ManagedIdentityCredential`, unmodified, pointed at the broker with IDENTITY_ENDPOINT and
IDENTITY_HEADER; certless's own clients through CERTLESS_BROKER; herds of separate processes; and
/metrics read by Prometheus's own parser. Run by scripts/test/test-serve.sh."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
from typing import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import GRAPH, KINDS, Broker, Emulator, herd

SHAREPOINT = "https://contoso.sharepoint.com/.default"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture
def broker(emulator: Emulator) -> Iterator[Broker]:
    """A fresh broker (an empty cache) and zeroed emulator counters."""
    emulator.reset()
    b = Broker(emulator.env("imds"))
    yield b
    assert b.stop() == 0, b.log.read_text()


def test_azure_identity_python_gets_the_apps_token(broker: Broker, emulator: Emulator, monkeypatch) -> None:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    for name, value in broker.sdk_env().items():
        monkeypatch.setenv(name, value)
    token = ManagedIdentityCredential().get_token(GRAPH)
    # The app's token, not the managed identity's: its appid is the app registration.
    payload = token.token.split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert decoded["appid"] == emulator.client_id
    assert decoded["aud"] == "https://graph.microsoft.com"
    assert token.expires_on > 1_700_000_000
    # DefaultAzureCredential reaches the same endpoint through its managed-identity entry.
    assert DefaultAzureCredential().get_token(SHAREPOINT).token
    assert emulator.upstream() == (1, 2)


def test_azure_identity_python_sees_certless_code_leg_and_fix(broker: Broker, monkeypatch) -> None:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ManagedIdentityCredential

    for name, value in broker.sdk_env().items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ClientAuthenticationError) as caught:
        ManagedIdentityCredential(client_id="99999999-8888-7777-6666-555555555555").get_token(GRAPH)
    text = str(caught.value)
    assert "certless code 100" in text and "Fix:" in text and "serves no app" in text, text


def test_azure_identity_node_gets_the_apps_token(broker: Broker, emulator: Emulator) -> None:
    results = herd("azure-identity-node", 1, broker)
    assert results[0].returncode == 0, results[0].stderr
    assert emulator.upstream() == (1, 1)


def test_the_python_binding_asks_the_broker(broker: Broker, emulator: Emulator, monkeypatch) -> None:
    import certless

    for name, value in broker.certless_env().items():
        monkeypatch.setenv(name, value)
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_POD_IDENTITY_AUTHORITY_HOST"):
        monkeypatch.delenv(name, raising=False)
    credential = certless.Credential.from_env()
    assert credential.get_token(GRAPH).token
    assert credential.get_token(GRAPH).token  # its own cache
    assert emulator.upstream() == (1, 1)
    # A broker that is not there is named, with the fix; no silent fallback.
    monkeypatch.setenv("CERTLESS_BROKER", "http://127.0.0.1:1")
    with pytest.raises(certless.ManagedIdentityError) as caught:
        certless.Credential.from_env().get_token(GRAPH)
    assert "certless broker at http://127.0.0.1:1/msi/token" in str(caught.value)
    assert caught.value.code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_a_herd_of_16_processes_costs_one_request_per_leg(kind: str, broker: Broker, emulator: Emulator) -> None:
    results = herd(kind, 16, broker)
    failed = [r for r in results if r.returncode != 0]
    assert not failed, failed[0].stderr
    assert emulator.upstream() == (1, 1), kind


def test_metrics_parse_with_prometheus_client(broker: Broker) -> None:
    assert broker.get(f"/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com", secret=True)[0] == 200
    assert broker.get(f"/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com", secret=True)[0] == 200
    assert broker.get(f"/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com")[0] == 401
    status, text = broker.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(family: str, sample: str, **labels: str) -> float:
        return next(
            s.value for s in families[family].samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        )

    requests = "certless_broker_token_requests"
    assert value(requests, requests + "_total", scope_class="graph", outcome="hit") == 1
    assert value(requests, requests + "_total", scope_class="graph", outcome="miss") == 1
    upstream = "certless_upstream_requests"
    assert value(upstream, upstream + "_total", leg="exchange", outcome="ok") == 1
    assert value(upstream, upstream + "_total", leg="managed_identity", outcome="ok") == 1
    refused = "certless_broker_refused_requests"
    assert value(refused, refused + "_total", reason="secret_missing") == 1
    assert families["certless_cache_entries"].samples[0].value == 1
    expiry = families["certless_token_expiry_seconds"].samples[0]
    assert expiry.labels["scope"] == GRAPH and 3000 < expiry.value <= 3600
    latency = families["certless_broker_token_request_duration_seconds"]
    assert latency.type == "histogram"
    assert value(latency.name, latency.name + "_count", outcome="hit") == 1


def test_readyz_and_healthz(emulator: Emulator) -> None:
    emulator.reset()
    b = Broker(emulator.env("imds"), "--scope", GRAPH)
    try:
        assert b.get("/healthz")[0] == 200
        status, body = b.get("/readyz")
        assert status == 200, body
        emulator.fault(endpoint="entra_token", status=400)
        c = Broker(emulator.env("imds"), "--scope", SHAREPOINT, "--failure-hold", "0")
        try:
            status, body = c.get("/readyz")
            assert status == 503 and "AADSTS" in body, body
        finally:
            c.stop()
    finally:
        emulator.reset()
        assert b.stop() == 0


def test_the_socket_and_the_secret_file_are_not_open_to_others(broker: Broker) -> None:
    assert stat.S_IMODE(os.stat(broker.socket).st_mode) == 0o660
    assert stat.S_IMODE(os.stat(broker.secret_file).st_mode) == 0o600
    out = subprocess.run(
        ["curl", "-s", "--unix-socket", str(broker.socket),
         "http://localhost/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com"],
        capture_output=True, text=True,
    )
    assert '"access_token"' in out.stdout, out.stdout + out.stderr


def test_running_sdk_clients_survive_a_restart_and_a_rotation(emulator: Emulator, monkeypatch) -> None:
    """Azure SDKs read IDENTITY_HEADER once, when the process starts: a still-running
    azure-identity (this process) and @azure/identity (a node process) keep getting tokens after
    the broker restarts, and after its secret is rotated (within the grace period). Each step asks
    for a scope not asked before, so that each is a request to the broker, not the SDK's cache."""
    from azure.identity import ManagedIdentityCredential

    from harness import NODE_SDK_SESSION, REPO

    emulator.reset()
    b = Broker(emulator.env("imds"))
    for name, value in b.sdk_env().items():
        monkeypatch.setenv(name, value)
    python_sdk = ManagedIdentityCredential()
    module = str(REPO / "node" / "node_modules" / "@azure" / "identity")
    node_sdk = subprocess.Popen(
        ["node", "-e", NODE_SDK_SESSION.format(module=module)],
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **b.sdk_env()},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )

    def node_token(scope: str) -> str:
        assert node_sdk.stdin and node_sdk.stdout
        node_sdk.stdin.write(scope + "\n")
        node_sdk.stdin.flush()
        return node_sdk.stdout.readline().strip()

    try:
        assert python_sdk.get_token(GRAPH).token
        assert node_token(GRAPH) == "ok"
        b.restart()
        assert python_sdk.get_token(SHAREPOINT).token
        assert node_token(SHAREPOINT) == "ok"
        old = b.secret
        assert b.rotate_secret(grace=3600) != old
        assert python_sdk.get_token("https://management.azure.com/.default").token
        assert node_token("https://management.azure.com/.default") == "ok"
    finally:
        node_sdk.kill()
        node_sdk.wait()
        assert b.stop() == 0, b.log.read_text()
