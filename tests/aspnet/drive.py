#!/usr/bin/env python3
"""Drives the ASP.NET Web API test host (tests/aspnet) the way IIS's life treats the seed's site:
a cold start under 200 concurrent requests, recycles (Web.config edited, a DLL copied into bin\\)
while 200 requests are in flight, a SharePoint site that was never granted, a Continuous Access
Evaluation challenge, and 50 recycles in a row with the process's threads, descriptors and memory
watched. Run by scripts/test/test-aspnet.sh, which builds the site against the NuGet package, starts the
emulator and the host, and passes their addresses. Prints "N passed, M failed"; exits 1 on failure.

    drive.py HOST_URL EMULATOR_URL APP_DIR HOST_PID [CYCLES]

CERTLESS_TEST_ASPNET_LOAD_ROUNDS (default 6) sets the number of recycles under load, to hunt a rare failure.
When a request hangs or fails, the drive prints the requests the host holds (GET /_host/inflight) and sends
the host SIGQUIT: Mono then writes a thread dump to its stdout (the host's log), which test-aspnet.sh shows.
"""

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HOST, EMULATOR, APP, PID = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/"), sys.argv[3], int(sys.argv[4])
CYCLES = int(sys.argv[5]) if len(sys.argv) > 5 else 50
# A small assembly of the site's (scripts/test/test-aspnet.sh builds it) that "deployments" copy into bin\.
DEPLOY_DLL = os.environ["CERTLESS_TEST_DEPLOY_DLL"]
CONCURRENT = 200
LOAD_ROUNDS = int(os.environ.get("CERTLESS_TEST_ASPNET_LOAD_ROUNDS", "6"))
# A request takes about a second even during a recycle; one still running after this long is stuck, and the
# thread dump is taken while it still is (the client itself waits 180 s, the host's own limit being 150 s).
STUCK_AFTER = 30
# Each dump is some hundred threads long: enough to compare a few, not one per stuck round of a long hunt.
MAX_DUMPS = 3
passed = failed = 0
dumps = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"  check failed: {what}", file=sys.stderr, flush=True)
    return ok


def http(method, url, body=None, timeout=180, tag=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if tag:
        headers["X-Drive-Request"] = tag  # the host lists it in /_host/inflight
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except urllib.error.URLError as e:
        # urllib wraps what fails while connecting: a timeout here is a connection the host's kernel never took.
        if isinstance(e.reason, (socket.timeout, TimeoutError)):
            return 0, f"no connection within {timeout} s (URLError: {e.reason})"
        return 0, f"{type(e).__name__}: {e}"
    except TimeoutError as e:
        # Raised bare while waiting for the answer: connected and the request sent, then nothing.
        return 0, f"connected, but no answer within {timeout} s (TimeoutError: {e})"
    except ConnectionError as e:
        return 0, f"{type(e).__name__}: {e}"


def timed_http(method, url, tag):
    """http() with when it started and ended (seconds since the epoch): a hang shows where it began."""
    start = time.time()
    status, text = http(method, url, tag=tag)
    return status, text, start, time.time()


def emulator(method, path, body=None):
    status, text = http(method, EMULATOR + path, body if body is not None else ({} if method != "GET" else None))
    if status >= 400:
        raise RuntimeError(f"{method} {path}: {status} {text}")
    return json.loads(text) if text.strip().startswith(("{", "[")) else text


def counters():
    return emulator("GET", "/_emulator/counters")


def stats():
    status, text = http("GET", HOST + "/_host/stats")
    return json.loads(text) if status == 200 else {}


def alive():
    try:
        os.kill(PID, 0)
        return True
    except OSError:
        return False


def what(status, text):
    """A response in one line: ASP.NET's error page reduced to its exception lines."""
    if text.lstrip().startswith("<?xml") or "<html" in text[:200]:
        causes = [line for line in text.splitlines() if line.startswith("[")]
        return f"{status} {' / '.join(causes) or text[:160]}"
    return f"{status} {text[:200]}"


def many(path, n=CONCURRENT, during=None, label="many"):
    """n concurrent GETs of path; `during()` runs once they are all under way. Returns (status, text) pairs.
    Requests still running after STUCK_AFTER seconds, or answered other than 200 or 503, get explain()ed."""
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        tags = [f"{label}-{i}" for i in range(n)]
        futures = {pool.submit(timed_http, "GET", HOST + path, tag): tag for tag in tags}
        if during:
            during()
        _, pending = concurrent.futures.wait(futures, timeout=max(0.0, t0 + STUCK_AFTER - time.time()))
        if pending:
            explain(f"{len(pending)} of {n} requests still running after {STUCK_AFTER} s: "
                    f"{sorted(futures[f] for f in pending)[:10]}")
        results = {futures[f]: f.result() for f in futures}
    odd = [f"{tag} {what(s, t)} (sent at +{a - t0:.1f} s, ended at +{b - t0:.1f} s)"
           for tag, (s, t, a, b) in sorted(results.items()) if s not in (200, 503)]
    if odd:
        print(f"  {label}: {len(odd)} answered other than 200 or 503: {odd[:5]}", flush=True)
        if not pending:
            explain(f"{label}: {odd[0]}")
    return [(s, t) for s, t, _, _ in (results[tag] for tag in tags)]


def held_requests():
    """The host's requests accepted 5 s ago or more, from its own list, in a line."""
    status, text = http("GET", HOST + "/_host/inflight", timeout=10)
    try:
        held = [r for r in json.loads(text) if r.get("accepted_s_ago", 0) >= 5]
    except ValueError:
        return f"the host did not list its requests: {status} {text[:200]}"
    return f"the host holds {len(held)} request(s) accepted 5 s ago or more: {held[:20]}"


def sockets():
    """The host's port as the kernel sees it (ss), in lines: the listening socket's Recv-Q is the connections
    waiting to be accepted; an established one with bytes in its Recv-Q holds a request the host never read."""
    port = HOST.rsplit(":", 1)[1]
    lines = []
    for state in ("listening", "established"):
        try:
            out = subprocess.run(["ss", "-tn", "state", state, f"( sport = :{port} )"], capture_output=True,
                                 text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError) as e:
            return [f"ss failed: {e}"]
        rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
        unread = [r for r in rows if r and r[0] != "0"]
        lines.append(f"{state}: {len(rows)} socket(s), {len(unread)} with a Recv-Q: {[' '.join(r) for r in unread[:10]]}")
    return lines


def explain(why):
    """Shows where a stuck or failed request is: the host's own list, then a thread dump of Mono's."""
    global dumps
    print(f"  STUCK OR FAILED: {why}", flush=True)
    print(f"  {held_requests()}", flush=True)
    for line in sockets():
        print(f"  the host's port, {line}", flush=True)
    if dumps >= MAX_DUMPS or not alive():
        return
    dumps += 1
    # Mono answers SIGQUIT with a dump of every managed thread on its stdout and runs on.
    os.kill(PID, signal.SIGQUIT)
    print(f"  {time.strftime('%H:%M:%S', time.gmtime())} UTC: sent SIGQUIT to the host (thread dump {dumps} in its log)",
          flush=True)
    time.sleep(2)


def recycle_by_config(cycle):
    """Edits Web.config as an operator would (ASP.NET then unloads the AppDomain)."""
    path = os.path.join(APP, "Web.config")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    marker = "<!-- recycle "
    if marker in text:
        text = text[: text.index(marker)].rstrip() + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + f"{marker}{cycle} -->\n")


def recycle_by_deploy(cycle):
    """Copies a DLL into bin\\, as a deployment does (replacing the one the last deployment copied)."""
    target = os.path.join(APP, "bin", "Deployed.dll")
    if os.path.exists(target):
        os.remove(target)
    shutil.copyfile(DEPLOY_DLL, target)


def wait_new_domain(before, seconds=60):
    """Sends single requests until one is served by an AppDomain started after `before`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        http("GET", HOST + "/api/orders")
        if stats().get("app_domains_started", 0) > before:
            return True
        time.sleep(0.2)
    return False


def cold_start():
    print("== a cold start under 200 concurrent requests", flush=True)
    emulator("POST", "/_emulator/counters/reset")
    results = many("/api/orders", label="cold")
    ok = [s for s, _ in results if s == 200]
    check(len(ok) == CONCURRENT, f"all {CONCURRENT} answered 200 (got {sorted(set(s for s, _ in results))}: "
          f"{[t[:200] for s, t in results if s != 200][:2]})")
    body = next((t for s, t in results if s == 200), "")
    check('"Title"' in body, f"the list's items came back from SharePoint: {body[:120]}")
    c = counters()
    check(c.get("imds") == 1 and c.get("entra_token") == 1,
          f"one managed-identity and one Entra request for the cold start: {c.get('imds')}, {c.get('entra_token')}")
    check(c.get("sharepoint", 0) >= CONCURRENT, f"SharePoint saw every request: {c.get('sharepoint')}")


def recycles_under_load(rounds=LOAD_ROUNDS):
    print(f"== {rounds} recycles while {CONCURRENT} requests are in flight", flush=True)
    # The managed-identity endpoint is slow (a real one takes a second or two cold): each new AppDomain's
    # first token is still being fetched when the next recycle comes.
    emulator("POST", "/_emulator/faults", {"endpoint": "imds", "delay_ms": 700})
    # SharePoint answers in 400 ms: every round's requests are still in flight when the recycle comes.
    emulator("POST", "/_emulator/faults", {"endpoint": "sharepoint", "delay_ms": 400})
    for cycle in range(1, rounds + 1):
        emulator("POST", "/_emulator/counters/reset")
        before = stats().get("app_domains_started", 0)
        action = recycle_by_config if cycle % 2 else recycle_by_deploy
        results = many("/api/orders", during=lambda: (time.sleep(0.15), action(cycle)), label=f"load{cycle}")
        statuses = [s for s, _ in results]
        others = [what(s, t) for s, t in results if s not in (200, 503)]
        if not check(alive(), f"round {cycle}: the host process is alive"):
            return  # the next rounds would only count refused connections
        check(not others, f"round {cycle}: every request succeeded or was refused during the switch: {others[:3]}")
        started = max(1, stats().get("app_domains_started", 0) - before)
        c = counters()
        check(c.get("imds", 0) <= started and c.get("entra_token", 0) <= started,
              f"round {cycle}: at most one managed-identity and one Entra request per cold start "
              f"({started} AppDomain(s) started; imds {c.get('imds')}, entra {c.get('entra_token')})")
        print(f"  round {cycle} ({action.__doc__.split(' ')[0].lower()}): {statuses.count(200)} x 200, "
              f"{statuses.count(503)} x 503; {started} AppDomain(s) started; "
              f"imds {c.get('imds')}, entra {c.get('entra_token')}; "
              f"stray thread aborts absorbed so far {stats().get('stray_aborts')}", flush=True)
    emulator("DELETE", "/_emulator/faults")
    before = stats().get("app_domains_started", 0)
    recycle_by_config("after-load")
    check(wait_new_domain(before), "after the recycles, a new AppDomain serves requests")
    status, text = http("GET", HOST + "/api/orders")
    check(status == 200, f"and gets its token: {status} {text[:200]}")


def not_granted():
    print("== a site the app was never granted", flush=True)
    status, text = http("GET", HOST + "/api/orders/finance")
    check(status == 502, f"certless turned SharePoint's 403 into its error: {status} {text[:300]}")
    check("Sites.Selected" in text and "permissions" in text,
          f"the error names the missing Sites.Selected grant and how to add it: {text[:600]}")
    check("eyJ" not in text, "and shows no token")


def claims_challenge():
    print("== a Continuous Access Evaluation challenge", flush=True)
    http("GET", HOST + "/api/orders")
    emulator("POST", "/_emulator/counters/reset")
    emulator("POST", "/_emulator/sharepoint/revoke")
    status, text = http("GET", HOST + "/api/orders")
    check(status == 200, f"the request succeeds after one challenge: {status} {text[:200]}")
    c = counters()
    check(c.get("entra_token") == 1 and c.get("sharepoint") == 2,
          f"one new token with the claims, SharePoint asked twice: {c.get('entra_token')}, {c.get('sharepoint')}")


def many_recycles():
    print(f"== {CYCLES} recycles in a row: threads, descriptors and memory", flush=True)
    samples = []
    for cycle in range(1, CYCLES + 1):
        before = stats().get("app_domains_started", 0)
        (recycle_by_config if cycle % 2 else recycle_by_deploy)(f"many-{cycle}")
        if not check(wait_new_domain(before), f"cycle {cycle}: a new AppDomain started"):
            return
        results = many("/api/orders", n=20, label=f"cycle{cycle}")
        check(all(s == 200 for s, _ in results), f"cycle {cycle}: 20 requests answered 200")
        time.sleep(0.3)
        samples.append(stats())
    settle = min(10, CYCLES - 1)
    first, last = samples[settle], samples[-1]
    per_cycle = (last["rss_kib"] - first["rss_kib"]) / max(1, CYCLES - 1 - settle)
    print(f"  after cycle {settle + 1} -> {CYCLES}: threads {first['threads']} -> {last['threads']} "
          f"(max {max(s['threads'] for s in samples)}), fds {first['fds']} -> {last['fds']} "
          f"(max {max(s['fds'] for s in samples)}), RSS {first['rss_kib']} -> {last['rss_kib']} KiB "
          f"({per_cycle:.0f} KiB per cycle)", flush=True)
    threads = [s["threads"] for s in samples]
    fds = [s["fds"] for s in samples]
    print(f"  threads per cycle: {threads}", flush=True)
    print(f"  fds per cycle: {fds}", flush=True)
    # Thread-pool threads come and go with the load (Mono's pool grows slowly under repeated bursts),
    # and old AppDomains' keep-alive connections close on their own time, so samples wander by several.
    # A leak of one thread or descriptor per recycle (a logger's thread, a runtime per AppDomain) would
    # lift the last ten samples above the ten after warm-up by one per cycle between them; allow half.
    early = slice(settle, min(settle + 10, CYCLES))
    allowed = max(4, (CYCLES - settle - 10) // 2)
    check(min(threads[-10:]) <= max(threads[early]) + allowed, f"threads flat (within {allowed})")
    check(min(fds[-10:]) <= max(fds[early]) + allowed, f"file descriptors flat (within {allowed})")
    # Mono's ASP.NET keeps some of every unloaded application (JIT code, metadata of the site and of
    # System.Web.Http): 0.25 to 1.5 MiB per recycle in the runs of 2026-12-06, with or without
    # certless. certless's own share is measured to the KiB by dotnet/tests/RecycleTests.cs; this
    # catches what a leak of a whole runtime or cache per AppDomain would add.
    check(per_cycle < 4096, f"memory grows less than 4 MiB per recycle ({per_cycle:.0f} KiB)")


def main():
    steps = [cold_start, recycles_under_load, not_granted, claims_challenge, many_recycles]
    for step in steps:
        try:
            step()
        except Exception as e:  # a failed step is reported and the others still run
            check(False, f"{step.__name__}: {type(e).__name__}: {e}")
        if not check(alive(), f"the host process is still alive after {step.__name__}"):
            break  # the other steps would only wait for a dead host (test-aspnet.sh says why it died)
    print(f"aspnet: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
