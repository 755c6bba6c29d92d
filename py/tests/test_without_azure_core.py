"""Without azure-core, certless uses field-compatible token types and plain exceptions."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

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


def test_without_azure_core(emu: Emulator) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps(emu.env()), GRAPH],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
