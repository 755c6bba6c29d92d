#!/usr/bin/env python3
"""Cache-hit `get_token` latency of certless's Python package next to azure-identity's
ManagedIdentityCredential, both against the same local emulator.

Run it with the Python that has certless (and azure-identity) installed, e.g. after
`scripts/test/test-python.sh`:

    target/py-venv/bin/python scripts/bench/bench-python.py            # starts target/debug/certless emulator
    target/py-venv/bin/python scripts/bench/bench-python.py --calls 200000 --batches 51

Each figure is the median (and 10th/90th percentile) over batches of the per-call time of a
tight loop of cache hits, including the loop's own overhead (printed as "empty loop").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
SCOPE = "https://graph.microsoft.com/.default"


def start_emulator(binary: Path, state: Path) -> "tuple[subprocess.Popen[bytes], Dict[str, Any]]":
    ready = state / "ready.json"
    proc = subprocess.Popen(
        [str(binary), "emulator", "--https-port", "0", "--ready-file", str(ready), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"the emulator ({binary}) did not start")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())


def per_call_ns(call: Optional[Callable[[str], Any]], calls: int, batches: int) -> List[float]:
    """Per-call nanoseconds of `batches` loops of `call(SCOPE)` `calls` times (None: an empty loop)."""
    results = []
    r = range(calls)
    scope = SCOPE
    for _ in range(batches):
        start = time.perf_counter_ns()
        if call is None:
            for _ in r:
                pass
        else:
            for _ in r:
                call(scope)
        results.append((time.perf_counter_ns() - start) / calls)
    return results


def per_await_ns(call: Callable[[str], Any], calls: int, batches: int) -> List[float]:
    async def run() -> List[float]:
        results = []
        r = range(calls)
        scope = SCOPE
        for _ in range(batches):
            start = time.perf_counter_ns()
            for _ in r:
                await call(scope)
            results.append((time.perf_counter_ns() - start) / calls)
        return results

    return asyncio.run(run())


def summary(name: str, samples: List[float], note: str = "") -> str:
    q = statistics.quantiles(samples, n=10)
    return f"{name:<46} {statistics.median(samples):>10.1f} {q[0]:>10.1f} {q[-1]:>10.1f}  {note}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000, help="calls per batch (certless)")
    parser.add_argument("--batches", type=int, default=31)
    parser.add_argument("--azure-calls", type=int, default=5_000, help="calls per batch (azure-identity)")
    parser.add_argument("--emulator", type=Path, default=Path(os.environ.get("CERTLESS_BIN", REPO / "target/debug/certless")))
    args = parser.parse_args()

    import certless
    import certless.aio

    with tempfile.TemporaryDirectory() as state:
        proc, ready = start_emulator(args.emulator, Path(state))
        try:
            env = dict(ready["env"], CERTLESS_CA_FILE=ready["ca_pem_path"])  # Entra over https
            rows = []
            empty = per_call_ns(None, args.calls, args.batches)

            credential = certless.Credential.from_env(env)
            credential.get_token(SCOPE)
            get_token = credential.get_token
            rows.append(summary("certless Credential.get_token", per_call_ns(get_token, args.calls, args.batches)))
            get_token_info = credential.get_token_info
            rows.append(summary("certless Credential.get_token_info", per_call_ns(get_token_info, args.calls, args.batches)))

            aio_credential = certless.aio.Credential.from_env(env)
            asyncio.run(aio_credential.get_token(SCOPE))
            aio_get_token = aio_credential.get_token
            rows.append(summary("certless aio.Credential.get_token (await)", per_await_ns(aio_get_token, args.calls // 4, args.batches)))

            try:
                import azure.identity
            except ImportError:
                rows.append(f"{'azure-identity ManagedIdentityCredential':<46} (not installed: pip install azure-identity)")
            else:
                os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = env["AZURE_POD_IDENTITY_AUTHORITY_HOST"]
                mi = azure.identity.ManagedIdentityCredential(client_id=env["CERTLESS_MANAGED_IDENTITY_CLIENT_ID"])
                mi.get_token(SCOPE)
                mi_get_token = mi.get_token
                rows.append(
                    summary(
                        f"azure-identity {azure.identity.__version__} ManagedIdentityCredential",
                        per_call_ns(mi_get_token, args.azure_calls, args.batches),
                        "(managed-identity token only: no exchange)",
                    )
                )
                # The same flow as certless with azure-identity's own parts: the managed-identity
                # token as client assertion of a ClientAssertionCredential (MSAL wants https).
                try:
                    exchange = azure.identity.ClientAssertionCredential(
                        ready["tenant_id"],
                        ready["client_id"],
                        lambda: mi.get_token("api://AzureADTokenExchange/.default").token,
                        authority=ready["https_url"],
                        disable_instance_discovery=True,
                        connection_verify=ready["ca_pem_path"],
                    )
                    exchange.get_token(SCOPE)
                    rows.append(
                        summary(
                            "azure-identity ClientAssertionCredential(MI)",
                            per_call_ns(exchange.get_token, args.azure_calls, args.batches),
                            "(the same flow as certless)",
                        )
                    )
                except Exception as e:  # reported, not fatal: the MI row above stands
                    rows.append(f"{'azure-identity ClientAssertionCredential(MI)':<46} failed: {type(e).__name__}: {str(e)[:120]}")
        finally:
            proc.terminate()
            proc.wait()

    print(f"cache-hit get_token, ns per call; Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'':<46} {'median':>10} {'p10':>10} {'p90':>10}")
    print(summary("empty loop (overhead included below)", empty))
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
