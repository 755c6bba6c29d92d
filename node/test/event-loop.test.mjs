// The event loop is never blocked by network work: a 10 ms timer keeps firing while tokens are
// fetched from slow endpoints. The bound is generous; a blocking implementation would stall the
// timer for the whole server delay (1 s per request).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Credential } from '../index.mjs';
import { Emulator, GRAPH, SHAREPOINT } from './helpers/emulator.mjs';

let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

test('a timer keeps firing on schedule while tokens are fetched', async (t) => {
  await emu.fault({ endpoint: 'imds', delay_ms: 1000 });
  await emu.fault({ endpoint: 'entra_token', delay_ms: 1000 });
  // Built first: constructing a credential is synchronous CPU work (core builds its HTTP clients).
  const credentials = Array.from({ length: 8 }, () => new Credential(emu.options()));
  const period = 10;
  const lateness = [];
  let expected = performance.now() + period;
  const timer = setInterval(() => {
    const now = performance.now();
    lateness.push(now - expected);
    expected = now + period;
  }, period);
  try {
    const started = performance.now();
    // Eight cold credentials, two resources each: sixteen fetches of >= 2 s each, all in flight.
    const tokens = await Promise.all(credentials.flatMap((c) => [c.getToken(GRAPH), c.getToken(SHAREPOINT)]));
    const elapsed = performance.now() - started;
    assert.equal(tokens.length, 16);
    assert.ok(elapsed >= 2000, `the fetches took ${Math.round(elapsed)} ms, so the faults did not apply`);
    const worst = Math.max(...lateness);
    // On schedule, the timer fires about elapsed/period times; a blocked loop fires far fewer.
    assert.ok(lateness.length >= elapsed / period / 4, `the timer fired ${lateness.length} times in ${Math.round(elapsed)} ms`);
    assert.ok(worst < 500, `the timer was ${Math.round(worst)} ms late (server delay 1000 ms)`);
    t.diagnostic(`timer: ${lateness.length} ticks in ${Math.round(elapsed)} ms, worst lateness ${worst.toFixed(1)} ms, ` +
      `median ${lateness.sort((a, b) => a - b)[lateness.length >> 1].toFixed(2)} ms`);
  } finally {
    clearInterval(timer);
    await emu.clearFaults();
  }
});
