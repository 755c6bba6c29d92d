"""An emulator and a `certless serve` in front of it, as separate processes, and process herds.

Shared by the broker's tests (test_broker.py) and its benchmark (scripts/bench/bench-serve.py).
CERTLESS_BIN names the `certless` binary (default: target/debug, then target/release).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
GRAPH = "https://graph.microsoft.com/.default"


def binary() -> str:
    explicit = os.environ.get("CERTLESS_BIN")
    if explicit:
        return explicit
    for profile in ("debug", "release"):
        candidate = REPO / "target" / profile / "certless"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("build the CLI first: cargo build -p certless-cli (or set CERTLESS_BIN)")


def _wait_for(path: Path, proc: subprocess.Popen, what: str, log: Path) -> dict:
    # Not a timing assertion: a bound on how long a broken setup may hang the run.
    deadline = time.monotonic() + 60
    while not path.exists() or not path.read_text():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within 60 s: {log.read_text()}")
        time.sleep(0.02)
    return json.loads(path.read_text())


def _stop(proc: subprocess.Popen) -> Optional[int]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Emulator:
    """`certless emulator` and its admin API."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="certless-serve-emu-"))
        self.log = self.dir / "emulator.log"
        ready = self.dir / "ready.json"
        self.proc = subprocess.Popen(
            [binary(), "emulator", "--ready-file", str(ready), "--state-dir", str(self.dir)],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.ready = _wait_for(ready, self.proc, "the emulator", self.log)
        self.url: str = self.ready["http_url"]
        self.client_id: str = self.ready["client_id"]
        self.info = self._call("GET", "info")

    def env(self, source: str = "imds") -> Dict[str, str]:
        return dict(self.info["env"][source])

    def _call(self, method: str, path: str, body: Optional[dict] = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def counters(self) -> Dict[str, int]:
        return self._call("GET", "counters")

    def upstream(self) -> tuple:
        """(managed-identity requests, Entra token requests) so far."""
        c = self.counters()
        mi = sum(c[k] for k in ("imds", "app_service", "cloud_shell", "azure_arc", "service_fabric"))
        return mi, c["entra_token"]

    def reset(self) -> None:
        self._call("DELETE", "faults")
        self._call("POST", "counters/reset")

    def fault(self, **spec) -> None:
        self._call("POST", "faults", spec)

    def stop(self) -> None:
        _stop(self.proc)


class Broker:
    """`certless serve` on a free loopback port (and a Unix socket), configured from `env`."""

    def __init__(self, env: Dict[str, str], *extra: str, binary_path: Optional[str] = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="certless-serve-"))
        self.log = self.dir / "serve.log"
        self.socket = self.dir / "certless.sock"
        self.state_dir = self.dir / "state"
        self._env = env
        self._extra = extra
        self._binary = binary_path or binary()
        self._start("127.0.0.1:0")

    def _start(self, listen: str) -> None:
        ready = self.dir / "ready.json"
        if ready.exists():
            ready.unlink()
        self.proc = subprocess.Popen(
            [self._binary, "serve", "--listen", listen,
             "--secret-file", str(self.dir / "secret"), "--socket", str(self.socket),
             "--state-dir", str(self.state_dir), "--ready-file", str(ready), *self._extra],
            env={"PATH": os.environ.get("PATH", ""), **self._env},
            stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"), stdin=subprocess.DEVNULL,
        )
        self.ready = _wait_for(ready, self.proc, "certless serve", self.log)
        self.url: str = self.ready["url"]
        self.base = self.url.rsplit("/msi/token", 1)[0]
        self.secret_file = self.dir / "secret"
        self.secret = self.secret_file.read_text().strip()

    def restart(self) -> None:
        """Stops the broker and starts it again on the same port, as systemd would."""
        port = self.url.split("//", 1)[1].split("/", 1)[0]
        assert self.stop() == 0, self.log.read_text()
        self._start(port)

    def rotate_secret(self, grace: int) -> str:
        """`certless serve rotate-secret`, then waits until the broker publishes the new secret."""
        old = self.secret
        subprocess.run([self._binary, "serve", "rotate-secret", "--state-dir", str(self.state_dir),
                        "--grace", str(grace)], check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while self.secret_file.read_text().strip() == old:
            assert time.monotonic() < deadline, "the broker did not publish the rotated secret"
            time.sleep(0.1)
        self.secret = self.secret_file.read_text().strip()
        return self.secret

    def sdk_env(self) -> Dict[str, str]:
        """What an unmodified Azure SDK needs (App Service's variables)."""
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret}

    def certless_env(self) -> Dict[str, str]:
        return {"CERTLESS_BROKER": self.base, "CERTLESS_BROKER_SECRET_FILE": str(self.secret_file)}

    def get(self, path: str, secret: bool = False) -> tuple:
        req = urllib.request.Request(self.base + path)
        if secret:
            req.add_header("X-IDENTITY-HEADER", self.secret)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self) -> Optional[int]:
        return _stop(self.proc)


# One client process per herd member, each a different way of asking for a token.
PY_BINDING = "import certless; print(certless.Credential.from_env().get_token({scope!r}).token[:8])"
PY_AZURE_IDENTITY = (
    "from azure.identity import ManagedIdentityCredential; "
    "print(ManagedIdentityCredential().get_token({scope!r}).token[:8])"
)
NODE_BINDING = (
    "const {{ Credential }} = require({module!r}); "
    "Credential.fromEnv().getToken({scope!r}).then(t => console.log(t.token.slice(0, 8)))"
)
# A long-running SDK client: one ManagedIdentityCredential, made once (IDENTITY_HEADER read then),
# asked for the scope on each line of its standard input; answers "ok" or the error's first line.
NODE_SDK_SESSION = (
    "const {{ ManagedIdentityCredential }} = require({module!r}); "
    "const credential = new ManagedIdentityCredential(); "
    "const rl = require('readline').createInterface({{ input: process.stdin }}); "
    "rl.on('line', (scope) => credential.getToken(scope).then("
    "() => console.log('ok'), (e) => console.log(String(e.message).split('\\n')[0])));"
)
NODE_AZURE_IDENTITY = (
    "const {{ ManagedIdentityCredential }} = require({module!r}); "
    "new ManagedIdentityCredential().getToken({scope!r}).then(t => console.log(t.token.slice(0, 8)))"
)


def client_command(kind: str, scope: str = GRAPH) -> List[str]:
    """The command line of one herd member of `kind`: cli, python, azure-identity-python, node,
    azure-identity-node."""
    node_dir = REPO / "node"
    if kind == "cli":
        return [binary(), "token", "--scope", scope]
    if kind == "python":
        return [sys.executable, "-c", PY_BINDING.format(scope=scope)]
    if kind == "azure-identity-python":
        return [sys.executable, "-c", PY_AZURE_IDENTITY.format(scope=scope)]
    if kind == "node":
        return ["node", "-e", NODE_BINDING.format(module=str(node_dir), scope=scope)]
    if kind == "azure-identity-node":
        module = str(node_dir / "node_modules" / "@azure" / "identity")
        return ["node", "-e", NODE_AZURE_IDENTITY.format(module=module, scope=scope)]
    raise ValueError(kind)


SDK_KINDS = ("azure-identity-python", "azure-identity-node")
KINDS = ("cli", "python", "node") + SDK_KINDS


def herd(kind: str, size: int, broker: Broker) -> List[subprocess.CompletedProcess]:
    """`size` processes of `kind`, started at once, each asking the broker for one token. They get
    only the broker's variables: none could fetch a token by itself."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    env.update(broker.sdk_env() if kind in SDK_KINDS else broker.certless_env())
    procs = [
        subprocess.Popen(client_command(kind), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
        for _ in range(size)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out.decode(), err.decode()))
    return results
