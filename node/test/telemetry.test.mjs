// OpenTelemetry from Node: what certless exports over OTLP/HTTP reaches a real receiver
// (tests/otlp/receiver.py) with `Platform` "node". Telemetry is configured from the environment
// once per process, so each program runs in a child process with its own OTEL_* variables. No
// assertion waits for time to pass: the child flushes (or exits, which flushes) before it ends,
// and the receiver is polled up to a bound that only limits how long a broken run hangs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { ErrorCode, flushTelemetry, version } from '../index.mjs';
import { Emulator, GRAPH, SHAREPOINT } from './helpers/emulator.mjs';
import { OtlpReceiver, metric, points, spans } from './helpers/otlp.mjs';

const MSAL_METER = 'MicrosoftIdentityClient_Common_Meter';
const SERVICE_NAME = 'certless-node-test';
const ARM = 'https://management.azure.com/.default';
const indexUrl = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'index.mjs')).href;

// The child: a credential from the emulator's environment, the steps it is given, and what each
// step gave, as JSON on stdout.
const PROGRAM = `
const { Credential, CertlessError, flushTelemetry } = await import(process.argv[1]);
const steps = JSON.parse(process.argv[2]);
const credential = Credential.fromEnv();
const results = [];
for (const step of steps) {
  try {
    if (step.do === 'get') {
      const options = step.traceparent === undefined ? undefined : { traceparent: step.traceparent };
      if (options && step.abortable) options.abortSignal = new AbortController().signal;
      await credential.getToken(step.scope, options);
      results.push('token');
    } else if (step.do === 'flush') {
      results.push(flushTelemetry(30000));
    }
  } catch (e) {
    if (!(e instanceof CertlessError)) throw e;
    results.push(e.code);
  }
}
console.log(JSON.stringify({ pid: process.pid, results }));
`;

let emu;
let receiver;

before(async () => {
  emu = await Emulator.start();
  receiver = await OtlpReceiver.start();
});
after(async () => {
  await emu?.stop();
  await receiver?.stop();
});
beforeEach(async () => {
  await emu.clearFaults();
  await emu.clearRequests();
  await receiver.clear();
});

function withoutOtel() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
}

function otelEnv(extra = {}) {
  return {
    ...withoutOtel(),
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: SERVICE_NAME,
    OTEL_METRIC_EXPORT_INTERVAL: '200',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    ...extra,
  };
}

/** Runs PROGRAM in a child with `processEnv` plus the emulator's client environment. */
function run(processEnv, steps) {
  const env = { ...processEnv };
  for (const name of ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'IMDS_ENDPOINT',
    'CERTLESS_MANAGED_IDENTITY_SOURCE', 'CERTLESS_MANAGED_IDENTITY_OBJECT_ID', 'CERTLESS_MANAGED_IDENTITY_RESOURCE_ID']) {
    delete env[name];
  }
  Object.assign(env, emu.env);
  // The timeout only bounds a broken run (a hang at exit); a good one takes about a second.
  const done = spawnSync(process.execPath, ['--input-type=module', '-e', PROGRAM, indexUrl, JSON.stringify(steps)], {
    env, encoding: 'utf8', timeout: 120000,
  });
  assert.equal(done.status, 0, `${done.stderr}${done.error ?? ''}`);
  return JSON.parse(done.stdout);
}

function hasSuccess(got, source) {
  return points(got, 'MsalSuccess').some((p) => p.attributes.TokenSource === source);
}

function traceparentHeader(request) {
  const header = request.headers.find(([name]) => name === 'traceparent');
  return header ? header[1] : undefined;
}

test('a miss then a hit: MSAL\'s metrics, certless\'s, one span tree, and the traceparent on the wire', async () => {
  const out = run(otelEnv(), [{ do: 'get', scope: GRAPH }, { do: 'get', scope: GRAPH }, { do: 'flush' }]);
  assert.deepEqual(out.results, ['token', 'token', true]);
  const got = await receiver.waitFor('MsalSuccess from the cache and from Entra, and the spans',
    (g) => hasSuccess(g, 'Cache') && hasSuccess(g, 'IdentityProvider') && spans(g, 'certless.entra').length > 0);
  assert.deepEqual(got.errors, []);

  const success = metric(got, 'MsalSuccess');
  assert.deepEqual([success.scope, success.type, success.monotonic], [MSAL_METER, 'sum', true]);
  for (const p of points(got, 'MsalSuccess')) {
    assert.equal(p.attributes.Platform, 'node');
    assert.equal(p.attributes.ApiId, 'AcquireTokenForClient');
    assert.ok(Number.isInteger(p.value) && p.value >= 1, JSON.stringify(p));
  }
  const bySource = Object.fromEntries(points(got, 'MsalSuccess').map((p) => [p.attributes.TokenSource, p.attributes]));
  assert.equal(bySource.IdentityProvider.CacheRefreshReason, 'NoCachedAccessToken');
  assert.equal(bySource.Cache.CacheLevel, 'L1Cache');
  assert.deepEqual([metric(got, 'MsalTotalDuration.1A').type, metric(got, 'MsalTotalDuration.1A').unit], ['histogram', 'ms']);
  assert.equal(metric(got, 'MsalDurationInHttp.1A').unit, 'ms');
  const inL1 = metric(got, 'MsalDurationInL1CacheInUs.1B');
  assert.deepEqual([inL1.scope, inL1.type, inL1.unit], [MSAL_METER, 'histogram', 'us']);
  assert.equal(points(got, 'MsalFailure').length, 0);

  const mi = metric(got, 'certless.managed_identity.requests');
  assert.deepEqual([mi.scope, mi.type, mi.unit], ['certless', 'sum', '{request}']);
  assert.ok(mi.points.some((p) => p.attributes.outcome === 'ok' && p.attributes['certless.managed_identity.source'] === 'imds' &&
    p.attributes['http.response.status_code'] === 200), JSON.stringify(mi.points));
  assert.ok(points(got, 'certless.entra.requests').some((p) => p.attributes.outcome === 'ok'));

  const resource = success.resource;
  assert.equal(resource['service.name'], SERVICE_NAME);
  assert.deepEqual([resource['telemetry.sdk.name'], resource['telemetry.sdk.language']], ['certless', 'rust']);
  assert.equal(resource['telemetry.sdk.version'], version);
  assert.deepEqual([resource['certless.host'], resource['process.pid']], ['node', out.pid]);

  const [root, ...moreRoots] = spans(got, 'certless.acquire_token');
  assert.equal(moreRoots.length, 0, 'one fetch, one span; the hit makes none');
  assert.deepEqual([root.scope, root.kind, root.parent_span_id], ['certless', 'INTERNAL', '']);
  assert.notEqual(root.status, 'ERROR');
  assert.equal(root.attributes['certless.managed_identity.source'], 'imds');
  const [miSpan, ...moreMi] = spans(got, 'certless.managed_identity');
  const [entraSpan, ...moreEntra] = spans(got, 'certless.entra');
  assert.deepEqual([moreMi.length, moreEntra.length], [0, 0]);
  for (const child of [miSpan, entraSpan]) {
    assert.deepEqual([child.trace_id, child.parent_span_id, child.kind], [root.trace_id, root.span_id, 'CLIENT']);
    assert.equal(child.attributes['http.response.status_code'], 200);
    assert.equal(child.attributes['server.address'], '127.0.0.1');
  }
  assert.equal(miSpan.attributes['http.request.method'], 'GET');
  assert.equal(entraSpan.attributes['http.request.method'], 'POST');

  const requests = await emu.requests();
  const sent = Object.fromEntries(requests.map((r) => [r.endpoint, traceparentHeader(r)]));
  assert.equal(sent.imds, `00-${root.trace_id}-${miSpan.span_id}-01`);
  assert.equal(sent.entra_token, `00-${root.trace_id}-${entraSpan.span_id}-01`);
});

test('a traceparent makes the request\'s span a child of the caller\'s; a malformed one is InvalidArgument', async () => {
  const plain = ['4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7'];
  const withSignal = ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'];
  const out = run(otelEnv(), [
    { do: 'get', scope: GRAPH, traceparent: `00-${plain[0]}-${plain[1]}-01` },
    { do: 'get', scope: SHAREPOINT, traceparent: `00-${withSignal[0]}-${withSignal[1]}-01`, abortable: true },
    { do: 'get', scope: ARM, traceparent: '00-not-a-traceparent-01' },
    { do: 'flush' },
  ]);
  assert.deepEqual(out.results, ['token', 'token', ErrorCode.InvalidArgument, true]);
  const got = await receiver.waitFor('two request spans', (g) => spans(g, 'certless.acquire_token').length >= 2);
  const roots = Object.fromEntries(spans(got, 'certless.acquire_token').map((s) => [s.trace_id, s]));
  assert.deepEqual(Object.keys(roots).sort(), [plain[0], withSignal[0]].sort());
  for (const [traceId, spanId] of [plain, withSignal]) {
    assert.equal(roots[traceId].parent_span_id, spanId);
    // The second fetch presents the managed-identity token the first one got: an exchange alone.
    const children = got.spans.filter((s) => s.parent_span_id === roots[traceId].span_id);
    assert.ok(children.some((s) => s.name === 'certless.entra'), JSON.stringify(children));
    assert.ok(children.every((s) => s.trace_id === traceId));
  }
});

test('a refused exchange: MsalFailure with its ErrorCode, and spans with status ERROR', async () => {
  await emu.fault({ endpoint: 'entra_token', status: 400 });
  const out = run(otelEnv(), [{ do: 'get', scope: GRAPH }, { do: 'flush' }]);
  assert.deepEqual(out.results, [ErrorCode.ExchangeRejected, true]);
  const got = await receiver.waitFor('MsalFailure and an error span',
    (g) => points(g, 'MsalFailure').length > 0 && spans(g, 'certless.acquire_token').length > 0);
  const failure = metric(got, 'MsalFailure');
  assert.deepEqual([failure.scope, failure.type], [MSAL_METER, 'sum']);
  const attributes = failure.points[failure.points.length - 1].attributes;
  assert.deepEqual([attributes.Platform, attributes.ApiId, attributes.ErrorCode, attributes.IsProactiveRefresh],
    ['node', 'AcquireTokenForClient', 'ExchangeRejected', false]);
  assert.ok(points(got, 'MsalSuccess').every((p) => p.value === 0), 'no success counted');
  const [root] = spans(got, 'certless.acquire_token');
  assert.equal(root.status, 'ERROR');
  const entra = spans(got, 'certless.entra');
  assert.ok(entra.length > 0 && entra.every((s) => s.status === 'ERROR' && s.attributes['http.response.status_code'] === 400 &&
    s.parent_span_id === root.span_id), JSON.stringify(entra));
});

for (const [name, settings] of [
  ['no OTEL variables', null],
  ['OTEL_SDK_DISABLED=true', { OTEL_SDK_DISABLED: 'true' }],
  ['both exporters none', { OTEL_METRICS_EXPORTER: 'none', OTEL_TRACES_EXPORTER: 'none' }],
]) {
  test(`off (${name}): flushTelemetry is true and nothing is sent`, async () => {
    // With the variables that turn it off, the endpoint is set too: only they keep it quiet.
    const out = run(settings ? otelEnv(settings) : withoutOtel(),
      [{ do: 'get', scope: GRAPH }, { do: 'get', scope: GRAPH }, { do: 'flush' }]);
    assert.deepEqual(out.results, ['token', 'token', true]);
    // The child has exited, and its exit flushes too: whatever it would have sent has arrived.
    assert.deepEqual((await receiver.received()).requests, []);
  });
}

test('the process\'s exit flushes what was recorded', async () => {
  // Intervals far longer than the program: only the flush on process.on('exit') sends.
  const out = run(otelEnv({ OTEL_METRIC_EXPORT_INTERVAL: '600000', OTEL_BSP_SCHEDULE_DELAY: '600000' }),
    [{ do: 'get', scope: GRAPH }]);
  assert.deepEqual(out.results, ['token']);
  const got = await receiver.waitFor('what the exit flushed',
    (g) => spans(g, 'certless.acquire_token').length === 1 && hasSuccess(g, 'IdentityProvider'));
  assert.deepEqual([...new Set(points(got, 'MsalSuccess').map((p) => p.attributes.Platform))], ['node']);
});

test('flushTelemetry checks its timeout', () => {
  for (const bad of [-1, NaN, Infinity, 3_600_001, '5', null]) {
    assert.throws(() => flushTelemetry(/** @type {any} */ (bad)), (e) => e.code === ErrorCode.InvalidArgument, String(bad));
  }
  // This process has no OTEL_* settings of its own (the children above had theirs): off.
  if (!Object.keys(process.env).some((k) => k.startsWith('OTEL_'))) assert.equal(flushTelemetry(0), true);
});
