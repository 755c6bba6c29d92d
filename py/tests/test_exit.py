"""Exiting right after asyncio work never crashes the interpreter.

certless completes asyncio requests from its own runtime threads; one that entered Python while
the interpreter finalized used to abort the process ("Fatal Python error", SIGSEGV) in about a
quarter of short programs. Each program here is a subprocess, because the crash happens at exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from typing import List

from conftest import Emulator

SHORT_PROGRAM = textwrap.dedent(
    """
    import asyncio, json, sys
    import certless.aio

    env = json.loads(sys.argv[1])
    SCOPES = ["https://graph.microsoft.com/.default", "https://contoso.sharepoint.com/.default",
              "https://management.azure.com/.default", "https://vault.azure.net/.default"]

    async def main():
        credentials = [certless.aio.Credential.from_env(env) for _ in range(4)]
        tokens = await asyncio.gather(*(c.get_token(s) for c in credentials for s in SCOPES))
        assert all(t.token for t in tokens)
        if sys.argv[2] == "leave-in-flight":
            # asyncio.run cancels these when main returns: their requests complete, or are
            # cancelled, while the interpreter exits.
            for i, c in enumerate(credentials):
                asyncio.ensure_future(c.get_token("https://storage.azure.com/.default"))
                asyncio.ensure_future(c.get_token(f"https://app{i}.example.com/.default", tenant_id=env["AZURE_TENANT_ID"]))
            await asyncio.sleep(0)
        print("ok")

    asyncio.run(main())
    """
)

PROGRAMS = 200
AT_ONCE = 4


def run_short_program(env: dict, mode: str) -> subprocess.CompletedProcess:
    # The timeout only bounds a broken run (a hang at exit); a good one takes well under a second.
    return subprocess.run(
        [sys.executable, "-c", SHORT_PROGRAM, json.dumps(env), mode],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_short_asyncio_programs_exit_cleanly(emu: Emulator) -> None:
    env = emu.env()
    modes = ["exit-right-after", "leave-in-flight"] * (PROGRAMS // 2)
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        results: List[subprocess.CompletedProcess] = list(pool.map(lambda m: run_short_program(env, m), modes))
    failures = [r for r in results if r.returncode != 0 or r.stdout.strip() != "ok" or "Fatal Python error" in r.stderr]
    assert not failures, (
        f"{len(failures)} of {len(results)} programs failed; exit codes {sorted({r.returncode for r in failures})}; "
        f"first stderr:\n{failures[0].stderr[-2000:]}"
    )


AT_EXIT_PROGRAM = textwrap.dedent(
    """
    import asyncio, atexit, json, sys

    env = json.loads(sys.argv[1])

    def late_hook():
        # Runs after certless's own exit hook (atexit is last in, first out).
        async def main():
            return await certless.aio.Credential.from_env(env).get_token("https://graph.microsoft.com/.default")
        print("token" if asyncio.run(main()).token else "empty")

    atexit.register(late_hook)
    import certless.aio
    """
)


def test_an_atexit_hook_can_still_await_a_token(emu: Emulator) -> None:
    # Once exit has begun, certless's threads no longer enter Python; a request must then be
    # answered on the caller's thread rather than wait for a callback that will never come.
    result = subprocess.run(
        [sys.executable, "-c", AT_EXIT_PROGRAM, json.dumps(emu.env())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "token"), result.stderr
    assert emu.counters()["entra_token"] == 1
