"""The constructors' keywords are core's options: the same names, rules and error text as every
other certless host, each value converted from its Python type."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

import certless
import certless.aio
from conftest import GRAPH, Emulator

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def keywords(emu: Emulator, **extra: Any) -> dict:
    return dict(
        tenant_id=emu.tenant_id,
        client_id=emu.client_id,
        authority_host=emu.url,
        managed_identity_client_id=emu.mi_client_id,
        environment={"AZURE_POD_IDENTITY_AUTHORITY_HOST": emu.url},
        **extra,
    )


def test_deadline_reaches_core(emu: Emulator) -> None:
    credential = certless.Credential(**keywords(emu, deadline=1))
    # IMDS answers only after 20 s: the 1 s deadline ends the request first.
    emu.fault(endpoint="imds", delay_ms=20000, remaining=1)
    with pytest.raises(certless.ManagedIdentityError) as caught:
        credential.get_token(GRAPH)
    assert (caught.value.code, caught.value.leg) == (201, "managed_identity"), str(caught.value)
    assert "no token within the 1 s deadline" in caught.value.reason


def test_deadline_reaches_core_async(emu: Emulator) -> None:
    async def main() -> None:
        credential = certless.aio.Credential(**keywords(emu, deadline=1.0))
        with pytest.raises(certless.ManagedIdentityError) as caught:
            await credential.get_token(GRAPH)
        assert caught.value.code == 201 and "1 s deadline" in str(caught.value)

    emu.fault(endpoint="imds", delay_ms=20000, remaining=1)
    asyncio.run(main())


def test_from_config_takes_the_deadline(emu: Emulator) -> None:
    config = {
        "TenantId": emu.tenant_id,
        "ClientId": emu.client_id,
        "Instance": emu.url,
        "ClientCredentials": [{"SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": emu.mi_client_id}],
    }
    credential = certless.Credential.from_config(config, deadline=1, environment={"AZURE_POD_IDENTITY_AUTHORITY_HOST": emu.url})
    emu.fault(endpoint="imds", delay_ms=20000, remaining=1)
    with pytest.raises(certless.ManagedIdentityError) as caught:
        credential.get_token(GRAPH)
    assert caught.value.code == 201


def test_an_unknown_keyword_names_the_one_meant() -> None:
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential(tennant_id=TENANT, client_id=str(uuid.uuid4()))  # type: ignore[call-arg]
    e = caught.value
    assert (e.code, e.leg) == (102, "config")
    assert e.remedy == "Did you mean 'tenant_id'?"
    assert "unknown option 'tennant_id'" in str(e)
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.diagnose(scope=GRAPH, conect_timeout=5)  # the keyword, not the flow, is wrong: raised
    assert caught.value.code == 102 and caught.value.remedy == "Did you mean 'connect_timeout'?"
    with pytest.raises(TypeError):
        certless.Credential(TENANT)  # type: ignore[misc]


@pytest.mark.parametrize(
    "keyword, value, message",
    [
        # bool is an int in Python, never a number here.
        ("deadline", True, "deadline takes a number, not the flag true"),
        ("connect_timeout", 0, "connect_timeout is 0 s; it must be more than 0 and at most one hour"),
        ("request_timeout", 3601, "request_timeout is 3601 s"),
        ("deadline", "soon", "deadline takes a number, not 'soon'"),
        ("tenant_id", 42, "tenant_id takes text, not the number 42"),
        ("tenant_id", ["x"], "tenant_id takes text, not a value of type list"),
        ("from_env", "yes", "from_env takes true or false"),
        ("environment", ["A=B"], "environment takes a mapping of str to str"),
        ("environment", {"A": 1}, "environment takes a mapping of str to str"),
    ],
)
def test_values_are_checked_by_core(keyword: str, value: Any, message: str) -> None:
    kwargs: dict = {"tenant_id": TENANT, "client_id": str(uuid.uuid4()), keyword: value}
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential(**kwargs)
    assert caught.value.code == 100, str(caught.value)
    assert message in caught.value.reason


def test_values_convert_from_their_python_types(emu: Emulator, tmp_path: Path) -> None:
    # A path-like CA file (an empty one is refused by name: it was read), numbers as int, float
    # or text, and a flag.
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential(**keywords(emu, ca_file=ca))
    assert str(ca) in str(caught.value)
    credential = certless.Credential(**keywords(emu, connect_timeout=2, request_timeout=2.5, deadline="60", ca_file=None))
    assert credential.get_token(GRAPH).token
    env = emu.env()
    env["AZURE_TENANT_ID"] = TENANT
    from_env = certless.Credential(from_env=True, environment=env, tenant_id=emu.tenant_id)
    assert from_env.tenant_id == emu.tenant_id, "an option overrides the environment"


def test_the_stubs_declare_every_option_core_takes() -> None:
    """A new option is added once, in core; its keyword must then be added to the stubs."""
    import ast

    with pytest.raises(certless.ConfigurationError) as caught:
        certless.Credential(zzzzzzzzzz=1)  # type: ignore[call-arg]
    remedy = caught.value.remedy or ""
    assert remedy.startswith("The options are: "), remedy
    listed = remedy[len("The options are: ") : -1].split(", ")
    assert "deadline" in listed
    stub = ast.parse((Path(certless.__file__).parent / "_certless.pyi").read_text())
    declared = {
        node.name: {a.arg for a in node.args.kwonlyargs}
        for node in ast.walk(stub)
        if isinstance(node, ast.FunctionDef) and node.name in ("__new__", "diagnose")
    }
    for function, keywords in declared.items():
        assert set(listed) <= keywords, f"{function} lacks {set(listed) - keywords}"
