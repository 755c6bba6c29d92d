"""azure-identity's credential chains move past certless on a host without a managed identity,
and stop at certless's real failures."""

from __future__ import annotations

import asyncio
import pickle
import socket
import uuid
from typing import Any, Dict, List

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ChainedTokenCredential, CredentialUnavailableError
from azure.identity.aio import ChainedTokenCredential as AsyncChainedTokenCredential

import certless
import certless.aio
from conftest import GRAPH, Emulator

DOCKER_DESKTOP_403 = (
    "connecting to 169.254.169.254:80: connecting to 169.254.169.254:80: dial tcp 169.254.169.254:80: "
    "connectex: A socket operation was attempted to an unreachable network."
)


def no_managed_identity_env(emu: Emulator) -> Dict[str, str]:
    """The emulator's app registration on a host where nothing listens at IMDS's address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    env = emu.env()
    env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = f"http://127.0.0.1:{closed_port}"
    return env


class Recording:
    """A second credential of the chain that says whether the chain reached it."""

    def __init__(self) -> None:
        self.calls: List[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.extend(scopes)
        return AccessToken("from-the-next-credential", 2**31)


class AsyncRecording(Recording):
    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:  # type: ignore[override]
        return super().get_token(*scopes)

    async def close(self) -> None:
        pass


def test_no_managed_identity_is_credential_unavailable(emu: Emulator) -> None:
    with pytest.raises(certless.CredentialUnavailableError) as caught:
        certless.Credential.from_env(no_managed_identity_env(emu)).get_token(GRAPH)
    e = caught.value
    assert isinstance(e, CredentialUnavailableError) and isinstance(e, certless.ManagedIdentityError)
    assert isinstance(e, ClientAuthenticationError)
    assert (e.code, e.leg) == (200, "managed_identity"), str(e)
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is certless.CredentialUnavailableError and str(copy) == str(e) and copy.code == 200
    assert emu.counters()["entra_token"] == 0


def test_chained_credential_moves_on_to_the_next_credential(emu: Emulator) -> None:
    next_credential = certless.Credential.from_env(emu.env())
    chain = ChainedTokenCredential(certless.Credential.from_env(no_managed_identity_env(emu)), next_credential)
    token = chain.get_token(GRAPH)
    assert token.token == next_credential.get_token(GRAPH).token
    assert emu.counters()["entra_token"] == 1


def test_docker_desktop_is_unavailable_too(emu: Emulator) -> None:
    emu.fault(endpoint="imds", status=403, body={"custom": DOCKER_DESKTOP_403})
    recording = Recording()
    chain = ChainedTokenCredential(certless.Credential.from_env(emu.env()), recording)
    assert chain.get_token(GRAPH).token == "from-the-next-credential"
    assert recording.calls == [GRAPH]
    assert emu.counters()["imds"] == 1


@pytest.mark.parametrize(
    "breaks",
    [
        {"fault": {"endpoint": "imds", "status": 400}},  # the managed identity answers, and refuses
        {"env": {"AZURE_CLIENT_ID": str(uuid.uuid4())}},  # Entra refuses the exchange
    ],
)
def test_a_real_failure_stops_the_chain(emu: Emulator, breaks: Dict[str, Any]) -> None:
    if "fault" in breaks:
        emu.fault(**breaks["fault"])
    env = {**emu.env(), **breaks.get("env", {})}
    with pytest.raises(certless.CertlessError) as caught:
        certless.Credential.from_env(env).get_token(GRAPH)
    assert not isinstance(caught.value, CredentialUnavailableError), str(caught.value)
    recording = Recording()
    chain = ChainedTokenCredential(certless.Credential.from_env(env), recording)
    with pytest.raises(ClientAuthenticationError) as chain_error:
        chain.get_token(GRAPH)
    assert not isinstance(chain_error.value, CredentialUnavailableError)
    assert "certless code" in str(chain_error.value) and recording.calls == []


def test_async_chain_moves_on_and_stops(emu: Emulator) -> None:
    async def main() -> None:
        recording = AsyncRecording()
        chain = AsyncChainedTokenCredential(certless.aio.Credential.from_env(no_managed_identity_env(emu)), recording)
        assert (await chain.get_token(GRAPH)).token == "from-the-next-credential"
        with pytest.raises(certless.CredentialUnavailableError):
            await certless.aio.Credential.from_env(no_managed_identity_env(emu)).get_token(GRAPH)

        env = {**emu.env(), "AZURE_CLIENT_ID": str(uuid.uuid4())}
        recording = AsyncRecording()
        chain = AsyncChainedTokenCredential(certless.aio.Credential.from_env(env), recording)
        with pytest.raises(ClientAuthenticationError):
            await chain.get_token(GRAPH)
        assert recording.calls == []

    asyncio.run(main())
