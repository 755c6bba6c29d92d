// A herd: 256 concurrent getToken calls on a cold credential cause exactly one request to the
// managed-identity endpoint and one to Entra (the emulator counts them).
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

async function herd(credential, scope, n) {
  const tokens = await Promise.all(Array.from({ length: n }, () => credential.getToken(scope)));
  return new Set(tokens.map((t) => t.token));
}

test('256 concurrent getToken on a cold credential: one request per leg', async () => {
  await emu.clearFaults();
  // Slow both legs down so that every call is issued while the first fetch is still in flight.
  await emu.fault({ endpoint: 'imds', delay_ms: 300 });
  await emu.fault({ endpoint: 'entra_token', delay_ms: 300 });
  await emu.resetCounters();
  try {
    const credential = new Credential(emu.options());
    const distinct = await herd(credential, GRAPH, 256);
    assert.equal(distinct.size, 1, 'every caller gets the same token');
    const { imds, entra_token } = await emu.counters();
    assert.deepEqual({ imds, entra_token }, { imds: 1, entra_token: 1 }, 'upstream requests for 256 concurrent callers');
  } finally {
    await emu.clearFaults();
  }
});

test('two resources at once: one exchange each, one shared managed-identity request', async () => {
  await emu.fault({ endpoint: 'imds', delay_ms: 200 });
  await emu.resetCounters();
  try {
    const credential = new Credential(emu.options());
    const [graph, sharepoint] = await Promise.all([herd(credential, GRAPH, 64), herd(credential, SHAREPOINT, 64)]);
    assert.equal(graph.size, 1);
    assert.equal(sharepoint.size, 1);
    const { imds, entra_token } = await emu.counters();
    assert.deepEqual({ imds, entra_token }, { imds: 1, entra_token: 2 });
  } finally {
    await emu.clearFaults();
  }
});
