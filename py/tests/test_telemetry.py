"""OpenTelemetry from Python: what certless exports over OTLP/HTTP reaches a real receiver
(tests/otlp/receiver.py, OpenTelemetry's own protobuf definitions) with `Platform` "python".

Telemetry is configured from the environment once per process, so each program runs in a child
process with its own `OTEL_*` variables; the receiver runs on a thread of this one. Nothing here
waits for a time to pass: the child flushes (or exits, which flushes) before it ends, and the
receiver is polled up to a bound that only limits how long a broken run hangs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import certless
from conftest import ARM, GRAPH, SHAREPOINT, Emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "otlp"))
from receiver import Receiver  # noqa: E402  (found through the path above)

MSAL_METER = "MicrosoftIdentityClient_Common_Meter"
SERVICE_NAME = "certless-python-test"

# A child process: a credential from the emulator's environment, the steps it is given, and what
# each step gave, as JSON on stdout.
PROGRAM = textwrap.dedent(
    """
    import asyncio, json, os, sys
    import certless, certless.aio

    args = json.loads(sys.argv[1])
    env = args["env"]
    credential = certless.Credential.from_env(env)
    aio_credential = certless.aio.Credential.from_env(env)
    results = []
    for step in args["steps"]:
        try:
            if step["do"] == "get":
                credential.get_token(step["scope"], traceparent=step.get("traceparent"))
                results.append("token")
            elif step["do"] == "aget":
                asyncio.run(aio_credential.get_token(step["scope"], traceparent=step.get("traceparent")))
                results.append("token")
            elif step["do"] == "flush":
                results.append(certless.flush_telemetry(30))
            elif step["do"] == "fork":
                # A pre-fork server's worker: it inherits the credential and its cached token,
                # asks for it once, flushes, and leaves without the parent's exit handlers.
                child = os.fork()
                if child == 0:
                    credential.get_token(step["scope"])
                    os._exit(0 if certless.flush_telemetry(30) else 3)
                _, status = os.waitpid(child, 0)
                results.append({"child": child, "status": status})
        except certless.CertlessError as e:
            results.append(e.code)
    print(json.dumps({"pid": os.getpid(), "results": results}))
    """
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def without_otel() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}


def otel_env(receiver: Receiver, **extra: str) -> Dict[str, str]:
    env = without_otel()
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_SERVICE_NAME=SERVICE_NAME,
        OTEL_METRIC_EXPORT_INTERVAL="200",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    env.update(extra)
    return env


def run(emu: Emulator, process_env: Dict[str, str], steps: List[Dict[str, Any]]) -> Dict[str, Any]:
    # The timeout only bounds a broken run (a hang at exit); a good one takes about a second.
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, json.dumps({"env": emu.env(), "steps": steps})],
        env=process_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Fatal Python error" not in done.stderr, done.stderr
    out: Dict[str, Any] = json.loads(done.stdout)
    return out


def wait_for(receiver: Receiver, what: str, arrived: Callable[[Dict[str, Any]], bool]) -> Dict[str, Any]:
    """The receiver's summary once `arrived` holds; a bound, not a timing: 30 s."""
    deadline = time.monotonic() + 30
    while True:
        got = receiver.received()
        if arrived(got):
            assert got["errors"] == [], got["errors"]
            return got
        if time.monotonic() > deadline:
            names = sorted({m["name"] for m in got["metrics"]} | {s["name"] for s in got["spans"]})
            raise AssertionError(f"{what} did not arrive within 30 s; received {names}, errors {got['errors']}")
        time.sleep(0.05)


def points(got: Dict[str, Any], name: str) -> List[Dict[str, Any]]:
    return [p for m in got["metrics"] if m["name"] == name for p in m["points"]]


def metric(got: Dict[str, Any], name: str) -> Dict[str, Any]:
    found = [m for m in got["metrics"] if m["name"] == name]
    assert found, f"no {name} among {sorted({m['name'] for m in got['metrics']})}"
    return found[-1]


def spans(got: Dict[str, Any], name: str) -> List[Dict[str, Any]]:
    return [s for s in got["spans"] if s["name"] == name]


def has_success(source: str) -> Callable[[Dict[str, Any]], bool]:
    return lambda got: any(p["attributes"].get("TokenSource") == source for p in points(got, "MsalSuccess"))


def traceparent_header(request: Dict[str, Any]) -> Optional[str]:
    return next((value for name, value in request["headers"] if name == "traceparent"), None)


def test_a_miss_then_a_hit(emu: Emulator, receiver: Receiver) -> None:
    out = run(emu, otel_env(receiver), [{"do": "get", "scope": GRAPH}, {"do": "get", "scope": GRAPH}, {"do": "flush"}])
    assert out["results"] == ["token", "token", True]
    got = wait_for(
        receiver,
        "MsalSuccess from the cache and from Entra, and the spans",
        lambda g: has_success("Cache")(g) and has_success("IdentityProvider")(g) and bool(spans(g, "certless.entra")),
    )

    # MSAL's metrics, under MSAL's meter, names, units and tags.
    success = metric(got, "MsalSuccess")
    assert (success["scope"], success["type"], success["monotonic"]) == (MSAL_METER, "sum", True)
    for p in points(got, "MsalSuccess"):
        assert p["attributes"]["Platform"] == "python"
        assert p["attributes"]["ApiId"] == "AcquireTokenForClient"
        assert isinstance(p["value"], int) and p["value"] >= 1
    by_source = {p["attributes"]["TokenSource"]: p["attributes"] for p in points(got, "MsalSuccess")}
    assert by_source["IdentityProvider"]["CacheRefreshReason"] == "NoCachedAccessToken"
    assert by_source["Cache"]["CacheLevel"] == "L1Cache"
    assert (metric(got, "MsalTotalDuration.1A")["type"], metric(got, "MsalTotalDuration.1A")["unit"]) == ("histogram", "ms")
    assert metric(got, "MsalDurationInHttp.1A")["unit"] == "ms"
    in_l1 = metric(got, "MsalDurationInL1CacheInUs.1B")
    assert (in_l1["scope"], in_l1["type"], in_l1["unit"]) == (MSAL_METER, "histogram", "us")
    assert all(p["count"] >= 1 for p in in_l1["points"])
    assert not points(got, "MsalFailure")

    # certless's own: one managed-identity request and one exchange, both answered.
    mi = metric(got, "certless.managed_identity.requests")
    assert (mi["scope"], mi["type"], mi["unit"]) == ("certless", "sum", "{request}")
    assert any(
        p["attributes"].get("outcome") == "ok"
        and p["attributes"].get("certless.managed_identity.source") == "imds"
        and p["attributes"].get("http.response.status_code") == 200
        for p in mi["points"]
    ), mi["points"]
    assert any(p["attributes"].get("outcome") == "ok" for p in points(got, "certless.entra.requests"))

    # The resource says who sent it.
    resource = success["resource"]
    assert resource["service.name"] == SERVICE_NAME
    assert (resource["telemetry.sdk.name"], resource["telemetry.sdk.language"]) == ("certless", "rust")
    assert resource["telemetry.sdk.version"] == certless.__version__
    assert (resource["certless.host"], resource["process.pid"]) == ("python", out["pid"])

    # One fetch, so one span tree; the hit made none.
    [root] = spans(got, "certless.acquire_token")
    assert (root["scope"], root["kind"], root["parent_span_id"]) == ("certless", "INTERNAL", "")
    assert root["status"] in ("UNSET", "OK")
    assert root["attributes"]["certless.managed_identity.source"] == "imds"
    assert root["resource"]["certless.host"] == "python"
    [mi_span] = spans(got, "certless.managed_identity")
    [entra_span] = spans(got, "certless.entra")
    for child in (mi_span, entra_span):
        assert (child["trace_id"], child["parent_span_id"], child["kind"]) == (root["trace_id"], root["span_id"], "CLIENT")
        assert child["attributes"]["http.response.status_code"] == 200
        assert child["attributes"]["server.address"] == "127.0.0.1"
        assert root["start_ns"] <= child["start_ns"] <= child["end_ns"] <= root["end_ns"]
    assert mi_span["attributes"]["http.request.method"] == "GET"
    assert isinstance(mi_span["attributes"]["server.port"], int)
    assert entra_span["attributes"]["http.request.method"] == "POST"

    # Each HTTP request carried its own span's context to the server.
    sent = {r["endpoint"]: traceparent_header(r) for r in emu.requests()}
    assert sent["imds"] == f"00-{root['trace_id']}-{mi_span['span_id']}-01"
    assert sent["entra_token"] == f"00-{root['trace_id']}-{entra_span['span_id']}-01"


def test_a_traceparent_makes_the_request_a_child_of_the_callers_span(emu: Emulator, receiver: Receiver) -> None:
    sync_parent = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    async_parent = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    steps = [
        {"do": "get", "scope": GRAPH, "traceparent": f"00-{sync_parent[0]}-{sync_parent[1]}-01"},
        {"do": "aget", "scope": SHAREPOINT, "traceparent": f"00-{async_parent[0]}-{async_parent[1]}-01"},
        {"do": "get", "scope": ARM, "traceparent": "00-not-a-traceparent-01"},
        {"do": "flush"},
    ]
    out = run(emu, otel_env(receiver), steps)
    assert out["results"] == ["token", "token", 100, True]
    got = wait_for(receiver, "two request spans", lambda g: len(spans(g, "certless.acquire_token")) >= 2)
    roots = {s["trace_id"]: s for s in spans(got, "certless.acquire_token")}
    assert set(roots) == {sync_parent[0], async_parent[0]}, roots
    for trace_id, span_id in (sync_parent, async_parent):
        assert roots[trace_id]["parent_span_id"] == span_id
        # A fetch may present a managed-identity token an earlier one got: then an exchange alone.
        children = [s for s in got["spans"] if s["parent_span_id"] == roots[trace_id]["span_id"]]
        assert "certless.entra" in {s["name"] for s in children}, children
        assert all(s["trace_id"] == trace_id for s in children)
    # The header on the wire is in the caller's trace.
    headers = [traceparent_header(r) for r in emu.requests() if r["endpoint"] in ("imds", "entra_token")]
    assert headers and all(h is not None and h.split("-")[1] in roots for h in headers), headers


def test_a_refused_exchange_is_a_failure_and_an_error_span(emu: Emulator, receiver: Receiver) -> None:
    emu.fault(endpoint="entra_token", status=400)
    out = run(emu, otel_env(receiver), [{"do": "get", "scope": GRAPH}, {"do": "flush"}])
    assert out["results"] == [302, True]
    got = wait_for(
        receiver,
        "MsalFailure and an error span",
        lambda g: bool(points(g, "MsalFailure")) and bool(spans(g, "certless.acquire_token")),
    )
    failure = metric(got, "MsalFailure")
    assert (failure["scope"], failure["type"]) == (MSAL_METER, "sum")
    attributes = failure["points"][-1]["attributes"]
    assert (attributes["Platform"], attributes["ApiId"]) == ("python", "AcquireTokenForClient")
    assert (attributes["ErrorCode"], attributes["IsProactiveRefresh"]) == ("ExchangeRejected", False)
    assert all(p["value"] == 0 for p in points(got, "MsalSuccess")), "no success counted"
    assert any(p["attributes"].get("outcome") == "rejected" for p in points(got, "certless.entra.requests"))
    [root] = spans(got, "certless.acquire_token")
    assert root["status"] == "ERROR"
    entra = spans(got, "certless.entra")
    assert entra and all(s["status"] == "ERROR" and s["attributes"]["http.response.status_code"] == 400 for s in entra)
    assert all(s["parent_span_id"] == root["span_id"] for s in entra)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"OTEL_SDK_DISABLED": "true"},
        {"OTEL_METRICS_EXPORTER": "none", "OTEL_TRACES_EXPORTER": "none"},
    ],
    ids=["no-otel-variables", "sdk-disabled", "exporters-none"],
)
def test_off_sends_nothing(emu: Emulator, receiver: Receiver, settings: Dict[str, str]) -> None:
    # With the variables that turn it off, the endpoint is set too: only they keep it quiet.
    process_env = otel_env(receiver, **settings) if settings else without_otel()
    out = run(emu, process_env, [{"do": "get", "scope": GRAPH}, {"do": "get", "scope": GRAPH}, {"do": "flush"}])
    assert out["results"] == ["token", "token", True]
    # The child has exited (its exit flushes too): whatever it would have sent has arrived.
    assert receiver.received()["requests"] == []


def test_the_exit_flushes(emu: Emulator, receiver: Receiver) -> None:
    # Intervals far longer than the program: only the flush at the interpreter's exit sends.
    process_env = otel_env(receiver, OTEL_METRIC_EXPORT_INTERVAL="600000", OTEL_BSP_SCHEDULE_DELAY="600000")
    out = run(emu, process_env, [{"do": "get", "scope": GRAPH}, {"do": "aget", "scope": SHAREPOINT}])
    assert out["results"] == ["token", "token"]
    got = wait_for(
        receiver,
        "what the exit flushed",
        lambda g: len(spans(g, "certless.acquire_token")) == 2 and has_success("IdentityProvider")(g),
    )
    assert {p["attributes"]["Platform"] for p in points(got, "MsalSuccess")} == {"python"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_forked_worker_exports_its_own_counts(emu: Emulator, receiver: Receiver) -> None:
    # Exports only at flush: what arrives from each process is what it counted.
    settings = otel_env(receiver, OTEL_METRIC_EXPORT_INTERVAL="600000", OTEL_BSP_SCHEDULE_DELAY="600000")
    out = run(emu, settings, [{"do": "get", "scope": GRAPH}, {"do": "fork", "scope": GRAPH}, {"do": "flush"}])
    forked = out["results"][1]
    assert forked["status"] == 0, "the worker's flush reached the receiver"
    assert out["results"][2] is True
    def by_pid(pid: int) -> Callable[[Dict[str, Any]], List[Dict[str, Any]]]:
        """The points of the last MsalSuccess export of process `pid` (each export is cumulative)."""

        def last(g: Dict[str, Any]) -> List[Dict[str, Any]]:
            sent = [m for m in g["metrics"] if m["name"] == "MsalSuccess" and m["resource"]["process.pid"] == pid]
            return list(sent[-1]["points"]) if sent else []

        return last

    worker, parent = by_pid(forked["child"]), by_pid(out["pid"])
    got = wait_for(receiver, "MsalSuccess from the worker and from its parent", lambda g: bool(worker(g)) and bool(parent(g)))
    # The worker counted its own cache hit, from zero: not the parent's fetch.
    assert [(p["attributes"]["TokenSource"], p["value"]) for p in worker(got)] == [("Cache", 1)]
    assert all(p["attributes"]["Platform"] == "python" for p in worker(got))
    assert [(p["attributes"]["TokenSource"], p["value"]) for p in parent(got)] == [("IdentityProvider", 1)]


def test_flush_telemetry_checks_its_timeout() -> None:
    for bad in (-1.0, float("nan"), float("inf"), 3601.0):
        with pytest.raises(certless.CertlessError) as caught:
            certless.flush_telemetry(bad)
        assert caught.value.code == 100, bad
    with pytest.raises(TypeError):
        certless.flush_telemetry("5")  # type: ignore[arg-type]
    # This process has no OTEL_* settings of its own (the children above had theirs): off, so
    # there is nothing to send.
    if not any(k.startswith("OTEL_") for k in os.environ):
        assert certless.flush_telemetry(0) is True
