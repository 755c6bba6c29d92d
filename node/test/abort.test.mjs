// options.abortSignal: an aborted call rejects with AbortError at once and cancels its request
// in core; a fetch other callers share goes on for them.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, test } from 'node:test';

import { AbortError, CertlessError, Credential, ErrorCode } from '../index.mjs';
import { Emulator, GRAPH } from './helpers/emulator.mjs';
import { rejection } from './helpers/rejection.mjs';

let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

test('an already aborted signal rejects without any request', async () => {
  await emu.resetCounters();
  const credential = new Credential(emu.options());
  const controller = new AbortController();
  const reason = new Error('shutting down');
  controller.abort(reason);
  const e = await rejection(credential.getToken(GRAPH, { abortSignal: controller.signal }));
  assert.ok(e instanceof AbortError);
  assert.ok(e instanceof CertlessError);
  assert.equal(e.name, 'AbortError');
  assert.equal(e.code, ErrorCode.Cancelled);
  assert.equal(e.leg, 'caller');
  assert.equal(e.cause, reason);
  const { imds, entra_token } = await emu.counters();
  assert.equal(imds + entra_token, 0);
});

test('aborting a slow request rejects at once, long before the server answers', async () => {
  await emu.fault({ endpoint: 'entra_token', delay_ms: 5000 });
  try {
    const credential = new Credential(emu.options());
    const controller = new AbortController();
    const started = performance.now();
    const pending = credential.getToken(GRAPH, { abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const e = await rejection(pending);
    const waited = performance.now() - started;
    assert.ok(e instanceof AbortError, `${e}`);
    assert.ok(waited < 4000, `the abort took ${Math.round(waited)} ms; the server answers after 5000 ms`);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the abort listener is removed');
  } finally {
    await emu.clearFaults();
  }
});

test('AbortSignal.timeout works as a deadline', async () => {
  await emu.fault({ endpoint: 'imds', delay_ms: 5000 });
  try {
    const credential = new Credential(emu.options());
    const e = await rejection(credential.getToken(GRAPH, { abortSignal: AbortSignal.timeout(150) }));
    assert.ok(e instanceof AbortError, `${e}`);
    assert.equal(e.cause?.name, 'TimeoutError');
  } finally {
    await emu.clearFaults();
  }
});

test('one caller aborting does not cancel the fetch another caller waits for', async () => {
  await emu.fault({ endpoint: 'entra_token', delay_ms: 500 });
  await emu.resetCounters();
  try {
    const credential = new Credential(emu.options());
    const controller = new AbortController();
    const aborted = credential.getToken(GRAPH, { abortSignal: controller.signal });
    const patient = credential.getToken(GRAPH);
    setTimeout(() => controller.abort(), 100);
    assert.ok((await rejection(aborted)) instanceof AbortError);
    const token = await patient;
    assert.equal(token.tokenType, 'Bearer');
    assert.equal((await emu.counters()).entra_token, 1);
  } finally {
    await emu.clearFaults();
  }
});

test('a signal that never fires changes nothing and its listener is removed', async () => {
  const credential = new Credential(emu.options());
  const controller = new AbortController();
  const token = await credential.getToken(GRAPH, { abortSignal: controller.signal });
  assert.equal(token.tokenType, 'Bearer');
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  controller.abort();
  // A cache hit with an aborted signal is still an abort: the caller asked to stop.
  assert.ok((await rejection(credential.getToken(GRAPH, { abortSignal: controller.signal }))) instanceof AbortError);
});

test('the abort reaches core: the native request settles as cancelled before the server answers', async () => {
  const { createRequire } = await import('node:module');
  const native = createRequire(import.meta.url)('../certless.node');
  await emu.fault({ endpoint: 'entra_token', delay_ms: 5000 });
  try {
    const built = native.NativeCredential.fromOptions(emu.options());
    const request = new native.TokenRequest();
    const started = performance.now();
    const pending = built.getToken(GRAPH, null, null, request);
    setTimeout(() => assert.equal(request.cancel(), true), 100);
    const outcome = await pending;
    assert.equal(outcome.code, ErrorCode.Cancelled, JSON.stringify(outcome));
    assert.ok(performance.now() - started < 4000);
    assert.equal(request.cancel(), false, 'nothing left to cancel');
  } finally {
    await emu.clearFaults();
  }
});
