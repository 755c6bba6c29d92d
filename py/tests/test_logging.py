"""Core's log records reach Python's logging under the `certless` logger, redacted."""

from __future__ import annotations

import logging
import uuid

import pytest

import certless
from conftest import GRAPH, Emulator


def test_records_go_to_the_certless_logger_without_tokens(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="certless")
    credential = certless.Credential.from_env(emu.env())
    token = credential.get_token(GRAPH)
    records = [r for r in caplog.records if r.name == "certless" or r.name.startswith("certless.")]
    assert records, "core logged nothing through Python's logging"
    assert any(emu.mi_client_id in r.getMessage() for r in records)
    for r in caplog.records:
        assert token.token not in r.getMessage()
        assert token.token.split(".")[1] not in r.getMessage()


def test_failures_are_logged_as_warnings(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="certless")
    env = emu.env()
    env["AZURE_CLIENT_ID"] = str(uuid.uuid4())
    with pytest.raises(certless.TokenExchangeError):
        certless.Credential.from_env(env).get_token(GRAPH)
    warnings = [r for r in caplog.records if r.name.startswith("certless") and r.levelno >= logging.WARNING]
    assert warnings and "AADSTS" in warnings[-1].getMessage()


def test_level_changes_take_effect(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="certless")
    certless.Credential.from_env(emu.env()).get_token(GRAPH)
    assert not [r for r in caplog.records if r.name.startswith("certless") and r.levelno < logging.ERROR]
