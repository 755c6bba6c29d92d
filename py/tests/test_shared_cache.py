"""The shared token cache from Python: a real redis-server (Debian's package, started here on a
free loopback port) shared by credentials that stand for the machines of a farm."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

import certless
from conftest import GRAPH, SHAREPOINT, Emulator
from test_fork import run_in_child


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    assert server, "redis-server is missing: apt install redis-server"
    port = _free_port()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Not a timing assertion: a bound on how long a broken setup may hang the run.
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "shared-cache.key"
    path.write_text("py-test:" + base64.b64encode(os.urandom(32)).decode() + "\n")
    return path


def machine(emu: Emulator, redis_url: str, key_file: Path) -> certless.Credential:
    # A test machine's 2 cores do not always answer a read within the 50 ms default.
    environment = {**emu.env(), "CERTLESS_SHARED_CACHE_READ_BUDGET_MS": "1000"}
    return certless.Credential(
        environment=environment,
        from_env=True,
        shared_cache=redis_url,
        shared_cache_key_file=key_file,
    )


def test_a_second_machine_reads_what_the_first_fetched(emu: Emulator, redis_url: str, key_file: Path) -> None:
    first = machine(emu, redis_url, key_file)
    token = first.get_token(GRAPH)
    # The write is in the background; the second machine's read finds it once it lands.
    time.sleep(0.3)
    second = machine(emu, redis_url, key_file)
    assert second.get_token(GRAPH).token == token.token
    assert emu.counters()["entra_token"] == 1


def test_the_stats_say_what_the_shared_cache_did(emu: Emulator, redis_url: str, key_file: Path) -> None:
    assert certless.Credential(environment=emu.env(), from_env=True).shared_cache_stats() is None
    first = machine(emu, redis_url, key_file)
    first.get_token(GRAPH)
    time.sleep(0.3)  # the write is in the background
    second = machine(emu, redis_url, key_file)
    second.get_token(GRAPH)

    fetched, read = first.shared_cache_stats(), second.shared_cache_stats()
    assert fetched is not None and read is not None
    assert read["target"] == redis_url and read["state"] == "closed"
    # The first machine missed, took the lease, fetched and wrote; the second read it.
    assert (fetched["miss"], fetched["lease_won"], fetched["hit"]) == (1, 1, 0), fetched
    assert fetched["write"] >= 1, fetched
    assert (read["hit"], read["lease_won"], read["error"]) == (1, 0, 0), read
    assert set(read) == {"target", "state", "hit", "miss", "rejected", "unknown_key", "error", "over_budget",
                         "skipped", "write", "write_failure", "full", "lease_won", "lease_wait", "lease_timeout",
                         "breaker_opened"}


def test_a_forked_child_reads_the_farm_s_tokens_over_its_own_connection(
    emu: Emulator, redis_url: str, key_file: Path
) -> None:
    credential = machine(emu, redis_url, key_file)
    credential.get_token(GRAPH)  # the parent's connection is up
    other = machine(emu, redis_url, key_file)
    shared = other.get_token(SHAREPOINT).token
    time.sleep(0.3)

    def child() -> None:
        got = credential.get_token(SHAREPOINT).token
        assert got == shared, "read from Redis in the child"

    assert run_in_child(child) == 0
    assert emu.counters()["entra_token"] == 2


def test_the_setting_is_checked(emu: Emulator, key_file: Path) -> None:
    with pytest.raises(certless.ConfigurationError, match="scheme 'http'"):
        certless.Credential(environment=emu.env(), from_env=True, shared_cache="http://cache:6379",
                            shared_cache_key_file=key_file)
    with pytest.raises(certless.ConfigurationError, match="no key"):
        certless.Credential(environment=emu.env(), from_env=True, shared_cache="redis://127.0.0.1:1")
    with pytest.raises(certless.ConfigurationError, match="shared_cache_key_file"):
        certless.Credential(environment=emu.env(), from_env=True, shared_cache_key_fiel=key_file)  # type: ignore[call-arg]
