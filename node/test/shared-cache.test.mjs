// The shared token cache from Node: a real redis-server (Debian's package, started here on a
// free loopback port) shared by credentials that stand for the machines of a farm.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { Credential } from '../index.mjs';
import { Emulator, GRAPH } from './helpers/emulator.mjs';

let emu;
let redis;
let redisUrl;
let keyFile;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function listening(port) {
  // Not a timing assertion: a bound on how long a broken setup may hang the run.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error('redis-server did not start (apt install redis-server)');
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  emu = await Emulator.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certless-node-redis-'));
  const port = await freePort();
  redis = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' });
  await listening(port);
  redisUrl = `redis://127.0.0.1:${port}/0`;
  keyFile = path.join(dir, 'shared-cache.key');
  fs.writeFileSync(keyFile, `node-test:${crypto.randomBytes(32).toString('base64')}\n`);
});
after(() => {
  redis?.kill();
  emu?.stop();
});

/** A machine of the farm: its own credential, the farm's Redis and key. */
function machine() {
  return new Credential(emu.options({
    environment: {
      AZURE_POD_IDENTITY_AUTHORITY_HOST: emu.url,
      // A test machine's 2 cores do not always answer a read within the 50 ms default.
      CERTLESS_SHARED_CACHE_READ_BUDGET_MS: '1000',
    },
    sharedCache: redisUrl,
    sharedCacheKeyFile: keyFile,
  }));
}

test('a second machine reads what the first fetched: one Entra request for both', async () => {
  await emu.resetCounters();
  const first = await machine().getToken(GRAPH);
  // The write is in the background; the second machine's read finds it once it lands.
  await new Promise((r) => setTimeout(r, 300));
  const second = await machine().getToken(GRAPH);
  assert.equal(second.token, first.token);
  assert.equal((await emu.counters()).entra_token, 1);
});

test('a bad setting is refused with what to do', () => {
  assert.throws(() => new Credential(emu.options({ sharedCache: 'http://cache:6379', sharedCacheKeyFile: keyFile })),
    /scheme 'http'/);
  assert.throws(() => new Credential(emu.options({ sharedCache: 'redis://127.0.0.1:1' })), /no key/);
});

test('the stats say what the shared cache did', async () => {
  assert.equal(new Credential(emu.options({})).sharedCacheStats(), null);
  // What the tests above left in Redis would make the first machine's read a hit.
  const port = new URL(redisUrl).port;
  await new Promise((resolve, reject) => {
    spawn('redis-cli', ['-p', port, 'FLUSHALL'], { stdio: 'ignore' })
      .once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli FLUSHALL: ${code}`))));
  });
  const first = machine();
  await first.getToken(GRAPH);
  await new Promise((r) => setTimeout(r, 300)); // the write is in the background
  const second = machine();
  await second.getToken(GRAPH);

  const fetched = first.sharedCacheStats();
  const read = second.sharedCacheStats();
  assert.equal(read.target, redisUrl);
  assert.equal(read.state, 'closed');
  // The first machine missed, took the lease, fetched and wrote; the second read it.
  assert.deepEqual([fetched.miss, fetched.leaseWon, fetched.hit], [1, 1, 0], JSON.stringify(fetched));
  assert.ok(fetched.write >= 1, JSON.stringify(fetched));
  assert.deepEqual([read.hit, read.leaseWon, read.error], [1, 0, 0], JSON.stringify(read));
  assert.deepEqual(Object.keys(read).sort(), ['breakerOpened', 'error', 'full', 'hit', 'leaseTimeout', 'leaseWait',
    'leaseWon', 'miss', 'overBudget', 'rejected', 'skipped', 'state', 'target', 'unknownKey', 'write',
    'writeFailure']);
});
