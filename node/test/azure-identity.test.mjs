// @azure/identity's ChainedTokenCredential moves past certless on a host without a managed
// identity (it looks at the error's `name`), and stops at certless's real failures.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';

import { AggregateAuthenticationError, ChainedTokenCredential } from '@azure/identity';

import {
  CertlessError, Credential, CredentialUnavailableError, ErrorCode, ManagedIdentityError, TokenExchangeError,
} from '../index.mjs';
import { Emulator, GRAPH } from './helpers/emulator.mjs';
import { rejection } from './helpers/rejection.mjs';

const DOCKER_DESKTOP_403 = 'connecting to 169.254.169.254:80: connecting to 169.254.169.254:80: dial tcp '
  + '169.254.169.254:80: connectex: A socket operation was attempted to an unreachable network.';

let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

/** A loopback port nothing listens on. */
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The emulator's app registration on a host where nothing answers at IMDS's address. */
async function withoutManagedIdentity() {
  const saved = process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
  process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = `http://127.0.0.1:${await closedPort()}`;
  try {
    return new Credential(emu.options());
  } finally {
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = saved;
  }
}

/** A next credential of the chain that says whether the chain reached it. */
function recording() {
  const calls = [];
  return {
    calls,
    async getToken(scopes) {
      calls.push(scopes);
      return { token: 'from-the-next-credential', expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };
}

test('no managed identity on the host: CredentialUnavailableError, still a CertlessError', async () => {
  const e = await rejection((await withoutManagedIdentity()).getToken(GRAPH));
  assert.ok(e instanceof CredentialUnavailableError, `${e.name}: ${e.message}`);
  assert.ok(e instanceof ManagedIdentityError && e instanceof CertlessError && e instanceof Error);
  assert.equal(e.name, 'CredentialUnavailableError');
  assert.equal(e.code, ErrorCode.ManagedIdentityUnreachable);
  assert.equal(e.leg, 'managed_identity');
  assert.ok(e.stack.startsWith('CredentialUnavailableError'));
});

test('ChainedTokenCredential moves on to the next credential', async () => {
  const next = new Credential(emu.options());
  await emu.resetCounters();
  const chain = new ChainedTokenCredential(await withoutManagedIdentity(), next);
  const token = await chain.getToken(GRAPH);
  assert.equal(token.token, (await next.getToken(GRAPH)).token);
  assert.equal((await emu.counters()).entra_token, 1);
});

test("Docker Desktop's 403 at IMDS is unavailable too", async () => {
  await emu.fault({ endpoint: 'imds', status: 403, body: { custom: DOCKER_DESKTOP_403 } });
  try {
    const next = recording();
    const chain = new ChainedTokenCredential(new Credential(emu.options()), next);
    assert.equal((await chain.getToken(GRAPH)).token, 'from-the-next-credential');
    assert.deepEqual(next.calls, [GRAPH]);
  } finally {
    await emu.clearFaults();
  }
});

test('only unavailable credentials: the chain reports each one', async () => {
  const chain = new ChainedTokenCredential(await withoutManagedIdentity(), await withoutManagedIdentity());
  const e = await rejection(chain.getToken(GRAPH));
  assert.ok(e instanceof AggregateAuthenticationError, `${e.name}: ${e.message}`);
  assert.equal(e.errors.length, 2);
  assert.ok(e.errors.every((inner) => inner instanceof CredentialUnavailableError));
});

test('a real failure stops the chain: the managed identity refusing, Entra refusing', async () => {
  const failing = [
    // An identity the managed-identity endpoint does not know: HTTP 400.
    new Credential(emu.options({ managedIdentityClientId: '11111111-2222-3333-4444-555555555555' })),
    // The system-assigned identity has no federated credential on the app: Entra refuses.
    new Credential({ tenantId: emu.tenantId, clientId: emu.clientId, authorityHost: emu.url }),
  ];
  for (const credential of failing) {
    const next = recording();
    const e = await rejection(new ChainedTokenCredential(credential, next).getToken(GRAPH));
    assert.ok(e instanceof ManagedIdentityError || e instanceof TokenExchangeError, `${e.name}: ${e.message}`);
    assert.notEqual(e.name, 'CredentialUnavailableError');
    assert.equal(e.statusCode, e.status);
    assert.equal(typeof e.statusCode, 'number');
    assert.deepEqual(next.calls, []);
  }
});

test('every certless error carries statusCode, the same as status', async () => {
  const e = await rejection((await withoutManagedIdentity()).getToken(GRAPH));
  assert.ok('statusCode' in e);
  assert.equal(e.statusCode, undefined, 'no HTTP answer, no status');
  const refused = await rejection(
    new Credential({ tenantId: emu.tenantId, clientId: emu.clientId, authorityHost: emu.url }).getToken(GRAPH));
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.status, 401);
});
