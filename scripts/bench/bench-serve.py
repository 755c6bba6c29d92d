#!/usr/bin/env python3
"""Measurements of `certless serve` (BENCHMARKS.md): prints numbers, asserts nothing.

  target/py-venv/bin/python scripts/bench/bench-serve.py            # after scripts/test/test-serve.sh
  CERTLESS_BIN=target/release/certless target/py-venv/bin/python scripts/bench/bench-serve.py

1. process herds of 16 and 64 (CLI, Python binding, Node binding, unmodified azure-identity and
   @azure/identity ManagedIdentityCredential) against a fresh broker each: upstream requests;
2. a cold herd of 256 concurrent HTTP requests to a fresh broker: upstream requests;
3. the cache-hit path over loopback keep-alive (cli/examples/broker_load.rs): latency, requests/s;
4. the RSS of an idle broker.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "serve"))
from harness import KINDS, REPO, Broker, Emulator, herd  # noqa: E402


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cold_http_herd(broker: Broker, size: int) -> int:
    """`size` threads, each on its own connection, released together; returns the failures."""
    host, port = broker.base.removeprefix("http://").split(":")
    gate = threading.Barrier(size)
    failures = []

    def one() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.connect()
        gate.wait()
        conn.request("GET", "/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com",
                     headers={"X-IDENTITY-HEADER": broker.secret})
        if conn.getresponse().status != 200:
            failures.append(1)

    threads = [threading.Thread(target=one) for _ in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(failures)


def main() -> None:
    emu = Emulator()
    env = emu.env("imds")
    try:
        print(f"# process herds ({load()})")
        for size in (16, 64):
            for kind in KINDS:
                emu.reset()
                broker = Broker(env)
                started = time.monotonic()
                results = herd(kind, size, broker)
                took = time.monotonic() - started
                failed = sum(1 for r in results if r.returncode != 0)
                mi, entra = emu.upstream()
                print(f"herd {size:3} x {kind:22} failed {failed:2}; upstream: managed identity {mi}, "
                      f"Entra {entra}; {took:.1f} s")
                broker.stop()

        print(f"# cold HTTP herd ({load()})")
        emu.reset()
        # Each leg 20 ms slow, so that the requests all arrive while the first fetch is out.
        emu.fault(endpoint="entra_token", delay_ms=20)
        broker = Broker(env)
        failed = cold_http_herd(broker, 256)
        mi, entra = emu.upstream()
        print(f"256 concurrent requests, cold broker: failed {failed}; upstream: managed identity {mi}, Entra {entra}")
        broker.stop()
        emu.reset()

        print(f"# cache hits over keep-alive ({load()})")
        broker = Broker(env)
        example = REPO / "target" / "release" / "examples" / "broker_load"
        for connections in (1, 4, 16):
            out = subprocess.run([str(example), broker.url, str(broker.secret_file), str(connections), "10"],
                                 capture_output=True, text=True)
            print(out.stdout.strip() or out.stderr.strip(), f"({load()})")
        time.sleep(2)
        print(f"# idle broker: RSS {rss_kib(broker.proc.pid)} KiB after serving, "
              f"{broker.proc.pid} ({os.environ.get('CERTLESS_BIN', 'target/debug/certless')})")
        broker.stop()
        fresh = Broker(env)
        time.sleep(2)
        print(f"# idle broker, never asked: RSS {rss_kib(fresh.proc.pid)} KiB")
        fresh.stop()
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
