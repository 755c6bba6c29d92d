"""A credential made before os.fork() works in the child: certless's runtime is fork-aware."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Callable

import pytest

import certless
from conftest import ARM, GRAPH, SHAREPOINT, Emulator

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def run_in_child(body: Callable[[], None]) -> int:
    """Runs `body` in a forked child; returns the child's exit status (0: body returned)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            # A child stuck on a dead parent thread would hang the suite: let it die instead.
            signal.alarm(60)
            body()
            code = 0
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def test_used_before_fork_works_in_the_child(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())
    parent_token = credential.get_token(GRAPH)

    def child() -> None:
        # From the cache the child inherited, then a fetch on the child's own runtime.
        assert credential.get_token(GRAPH) == parent_token
        sharepoint = credential.get_token(SHAREPOINT)
        assert sharepoint.token and sharepoint.token != parent_token.token

    assert run_in_child(child) == 0
    # The child really fetched; the parent still works after the child is gone.
    assert emu.counters()["entra_token"] == 2
    assert credential.get_token(ARM).token
    assert emu.counters()["entra_token"] == 3


def test_created_before_fork_first_used_in_the_child(emu: Emulator) -> None:
    credential = certless.Credential.from_env(emu.env())

    def child() -> None:
        assert credential.get_token(GRAPH).token

    assert run_in_child(child) == 0
    assert emu.counters()["entra_token"] == 1
    assert credential.get_token(GRAPH).token
    assert emu.counters()["entra_token"] == 2


def test_async_credential_in_the_child(emu: Emulator) -> None:
    import asyncio

    import certless.aio

    credential = certless.aio.Credential.from_env(emu.env())
    asyncio.run(credential.get_token(GRAPH))

    def child() -> None:
        assert asyncio.run(credential.get_token(SHAREPOINT)).token

    assert run_in_child(child) == 0
    assert emu.counters()["entra_token"] == 2
