"""Without azure-core, certless uses field-compatible token types and plain exceptions; without
azure-identity, its CredentialUnavailableError is certless's own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import GRAPH, Emulator

PROGRAM = textwrap.dedent(
    """
    import json, pickle, sys, uuid
    sys.modules["azure"] = None  # as if azure-core were not installed
    import certless

    env = json.loads(sys.argv[1])
    credential = certless.Credential.from_env(env)
    token = credential.get_token(sys.argv[2])
    info = credential.get_token_info(sys.argv[2])
    assert type(token).__module__ == "certless._tokens", type(token)
    assert token == (token.token, token.expires_on) and info.token == token.token
    assert info.token_type == "Bearer" and info.expires_on == token.expires_on
    assert token.token not in repr(token) and token.token not in repr(info)

    env["AZURE_CLIENT_ID"] = str(uuid.uuid4())
    try:
        certless.Credential.from_env(env).get_token(sys.argv[2])
    except certless.TokenExchangeError as e:
        assert certless.CertlessError.__bases__ == (Exception,)
        copy = pickle.loads(pickle.dumps(e))
        assert (copy.code, copy.status, copy.aadsts_codes) == (e.code, e.status, e.aadsts_codes) == (302, 400, e.aadsts_codes)
        assert str(copy) == str(e)
    else:
        raise AssertionError("no error")
    print("ok")
    """
)

UNAVAILABLE = textwrap.dedent(
    """
    import json, pickle, socket, sys
    if sys.argv[2] == "no-azure":
        sys.modules["azure"] = None  # as if azure-core were not installed
    else:
        sys.modules["azure.identity"] = None  # azure-core without azure-identity
    import certless

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    env = json.loads(sys.argv[1])
    env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = f"http://127.0.0.1:{closed_port}"
    try:
        certless.Credential.from_env(env).get_token("https://graph.microsoft.com/.default")
    except certless.CredentialUnavailableError as e:
        assert certless.CredentialUnavailableError.__bases__ == (certless.ManagedIdentityError,)
        copy = pickle.loads(pickle.dumps(e))
        assert type(copy) is type(e) and str(copy) == str(e) and copy.code == e.code == 200
    else:
        raise AssertionError("no error")
    print("ok")
    """
)


def test_without_azure_core(emu: Emulator) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(emu.env()), GRAPH],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


@pytest.mark.parametrize("mode", ["no-azure", "no-azure-identity"])
def test_credential_unavailable_without_azure_identity(emu: Emulator, mode: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", UNAVAILABLE, json.dumps(emu.env()), mode],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
