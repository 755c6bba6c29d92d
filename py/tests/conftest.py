"""The emulator of the managed-identity endpoints and Entra, as a pytest session fixture.

It is the `certless emulator` command of this repository (`cargo build -p certless-cli`), started
on a free loopback port; tests read its request counters and inject faults over its admin API.
Set CERTLESS_BIN to use another binary.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
GRAPH = "https://graph.microsoft.com/.default"
SHAREPOINT = "https://contoso.sharepoint.com/.default"
ARM = "https://management.azure.com/.default"


class Emulator:
    """A running `certless emulator` and its admin API (`/_emulator/...`)."""

    def __init__(self, ready: Dict[str, Any]) -> None:
        self.ready = ready
        self.url: str = ready["http_url"]
        self.tenant_id: str = ready["tenant_id"]
        self.client_id: str = ready["client_id"]
        self.info: Dict[str, Any] = self._call("GET", "info")
        self.mi_client_id: str = self.info["default_user_assigned"]["client_id"]

    def env(self, source: str = "imds") -> Dict[str, str]:
        """The environment a client needs (`AZURE_TENANT_ID`, ..., the managed-identity source)."""
        return dict(self.info["env"][source])

    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def counters(self) -> Dict[str, int]:
        return self._call("GET", "counters")

    def reset(self) -> None:
        self._call("DELETE", "faults")
        self._call("POST", "counters/reset")
        self._call("DELETE", "requests")

    def fault(self, **spec: Any) -> None:
        """E.g. `fault(endpoint="entra_token", status=429, retry_after=5, remaining=1)`."""
        self._call("POST", "faults", spec)

    def requests(self) -> List[Dict[str, Any]]:
        return self._call("GET", "requests")


def _binary() -> Path:
    explicit = os.environ.get("CERTLESS_BIN")
    if explicit:
        return Path(explicit)
    for profile in ("debug", "release"):
        candidate = REPO / "target" / profile / "certless"
        if candidate.exists():
            return candidate
    pytest.exit("build the emulator first: cargo build -p certless-cli (or set CERTLESS_BIN)", returncode=2)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    state = tmp_path_factory.mktemp("emulator")
    ready_file = state / "ready.json"
    log = open(state / "emulator.log", "wb")
    proc = subprocess.Popen(
        [str(_binary()), "emulator", "--ready-file", str(ready_file), "--state-dir", str(state)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        # Not a timing assertion: a bound on how long a broken setup may hang the run.
        deadline = time.monotonic() + 60
        while not ready_file.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"the emulator exited with {proc.returncode}: {(state / 'emulator.log').read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not write its ready file within 60 s")
            time.sleep(0.05)
        yield Emulator(json.loads(ready_file.read_text()))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def emu(emulator: Emulator) -> Iterator[Emulator]:
    """The emulator with no faults, zeroed counters and an empty request journal."""
    emulator.reset()
    yield emulator
    emulator.reset()
