// Failures: each leg's Error subclass and fields, and bad input of every kind, which must be
// an error and never a crash of the process.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  AbortError, CertlessError, ConfigurationError, Credential, CredentialUnavailableError, ErrorCode, ManagedIdentityError,
  TokenExchangeError,
} from '../index.mjs';
import { Emulator, GRAPH } from './helpers/emulator.mjs';
import { rejection } from './helpers/rejection.mjs';

let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

/** Awaits a rejection and returns the error (fails the test when the promise resolves). */
/** Runs `fn`, expects it to throw synchronously, returns the error. */
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected an exception');
}

test('Entra refusing the exchange: TokenExchangeError with status, AADSTS codes, trace and correlation ids', async () => {
  // The system-assigned identity has no federated credential on the app: AADSTS700213 (subject).
  const credential = new Credential({ tenantId: emu.tenantId, clientId: emu.clientId, authorityHost: emu.url });
  const e = await rejection(credential.getToken(GRAPH));
  assert.ok(e instanceof TokenExchangeError, `${e.name}: ${e.message}`);
  assert.ok(e instanceof CertlessError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'TokenExchangeError');
  assert.equal(e.code, ErrorCode.ExchangeRejected);
  assert.equal(e.leg, 'exchange');
  assert.equal(e.status, 401);
  assert.deepEqual(e.aadstsCodes, [700213]);
  assert.match(e.traceId, /^[0-9a-f-]{36}$/);
  assert.match(e.correlationId, /^[0-9a-f-]{36}$/);
  assert.equal(e.credentialSource, 'SignedAssertionFromManagedIdentity');
  assert.ok(e.remedy && e.remedy.length > 20);
  for (const part of ['AADSTS700213', `trace id ${e.traceId}`, `correlation id ${e.correlationId}`, 'certless code 302', 'Fix:']) {
    assert.ok(e.message.includes(part), `${part} missing from: ${e.message}`);
  }
  assert.ok(e.stack.startsWith('TokenExchangeError'));
});

test('the managed-identity endpoint refusing: ManagedIdentityError with the status', async () => {
  const credential = new Credential(emu.options({ managedIdentityClientId: '11111111-2222-3333-4444-555555555555' }));
  await emu.resetCounters();
  const e = await rejection(credential.getToken(GRAPH));
  assert.ok(e instanceof ManagedIdentityError, `${e.name}: ${e.message}`);
  assert.equal(e.leg, 'managed_identity');
  assert.equal(e.code, ErrorCode.ManagedIdentityRejected);
  assert.equal(typeof e.status, 'number');
  assert.ok(e.status >= 400 && e.status < 500, `status ${e.status}`);
  assert.deepEqual(e.aadstsCodes, []);
  const counters = await emu.counters();
  assert.ok(counters.imds >= 1);
  assert.equal(counters.entra_token, 0, 'no exchange without an assertion');
});

test('an unreachable Entra: code 300 on the exchange leg', async () => {
  // A port nobody listens on (the emulator's port + nothing): take a free port and close it.
  const net = await import('node:net');
  const port = await new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = server.address();
      server.close(() => resolve(p));
    });
  });
  const credential = new Credential(emu.options({ authorityHost: `http://127.0.0.1:${port}`, connectTimeoutMs: 2000, requestTimeoutMs: 5000 }));
  const e = await rejection(credential.getToken(GRAPH));
  assert.ok(e instanceof TokenExchangeError, `${e.name}: ${e.message}`);
  assert.equal(e.code, ErrorCode.ExchangeUnreachable);
  assert.equal(e.status, undefined);
});

test('configuration errors are thrown synchronously with their code and fix', () => {
  let e = thrown(() => new Credential({ clientId: emu.clientId }));
  assert.ok(e instanceof ConfigurationError);
  assert.equal(e.code, ErrorCode.MissingConfig);
  assert.equal(e.leg, 'config');
  assert.match(e.remedy, /AZURE_TENANT_ID/);

  e = thrown(() => new Credential(emu.options({ clientId: 'not-a-guid' })));
  assert.equal(e.code, ErrorCode.InvalidConfig);

  e = thrown(() => new Credential(emu.options({ authorityHost: 'http://login.example.com' })));
  assert.equal(e.code, ErrorCode.InsecureAuthority);

  e = thrown(() => Credential.fromConfig({ AzureAd: { TennantId: emu.tenantId, ClientId: emu.clientId } }));
  assert.equal(e.code, ErrorCode.UnknownConfigKey);
  assert.match(e.message, /TenantId/);

  e = thrown(() => Credential.fromConfig('/nonexistent/appsettings.json'));
  assert.equal(e.code, ErrorCode.ConfigFileUnreadable);

  e = thrown(() => new Credential(emu.options({ managedIdentityObjectId: emu.miClientId })));
  assert.equal(e.code, ErrorCode.InvalidArgument, 'two managed-identity selectors');

  e = thrown(() => new Credential(emu.options({ managedIdentitySource: 'mainframe' })));
  assert.equal(e.code, ErrorCode.InvalidConfig);
});

test('an invalid scope rejects with code 106 and nothing goes on the wire', async () => {
  const credential = new Credential(emu.options());
  await emu.resetCounters();
  for (const scopes of ['https://graph.microsoft.com/User.Read', [GRAPH, 'https://contoso.sharepoint.com/.default'], [], '']) {
    const e = await rejection(credential.getToken(scopes));
    assert.ok(e instanceof ConfigurationError, `${JSON.stringify(scopes)}: ${e}`);
    assert.equal(e.code, ErrorCode.InvalidScope, `${JSON.stringify(scopes)}: ${e.message}`);
  }
  const counters = await emu.counters();
  assert.equal(counters.imds + counters.entra_token, 0);
});

test('wrong types and huge strings are errors, never crashes', async () => {
  const credential = new Credential(emu.options());
  const huge = 'x'.repeat(10 * 1024 * 1024);
  const badScopes = [undefined, null, 42, {}, () => GRAPH, [42], [GRAPH, null], Symbol('s'), 10n, new Array(100).fill(GRAPH), huge, [huge]];
  for (const scopes of badScopes) {
    const e = await rejection(credential.getToken(scopes));
    assert.ok(e instanceof ConfigurationError, `${String(typeof scopes)}: ${e}`);
    assert.equal(e.code, ErrorCode.InvalidArgument);
  }
  const badOptions = [42, 'x', { claims: 42 }, { tenantId: {} }, { abortSignal: {} }, { abortSignal: 'yes' }, { claims: huge }, { tenantId: huge }];
  for (const options of badOptions) {
    const e = await rejection(credential.getToken(GRAPH, options));
    assert.ok(e instanceof ConfigurationError, `${JSON.stringify(options)?.slice(0, 40)}: ${e}`);
  }
  // A long but acceptable scope or tenant is refused by core, still as a configuration error.
  const long = `https://${'a'.repeat(5000)}.com/.default`;
  assert.equal((await rejection(credential.getToken(long))).code, ErrorCode.InvalidScope);
  assert.equal((await rejection(credential.getToken(GRAPH, { tenantId: 'a'.repeat(5000) }))).code, ErrorCode.InvalidArgument);

  for (const options of [undefined, null, 42, 'x', [], { tenantId: 42 }, { connectTimeoutMs: -1 }, { requestTimeoutMs: 1.5 },
    { requestTimeoutMs: Infinity }, { tenantID: emu.tenantId }, { tenantId: huge }]) {
    const e = thrown(() => new Credential(options));
    assert.ok(e instanceof ConfigurationError, `${JSON.stringify(options)}: ${e}`);
  }
  const circular = {};
  circular.self = circular;
  for (const source of [undefined, null, 42, [], true, circular, huge, new URL('https://example.com/appsettings.json')]) {
    const e = thrown(() => Credential.fromConfig(source));
    assert.ok(e instanceof ConfigurationError, `${typeof source}: ${e}`);
  }
  const e = thrown(() => Credential.fromConfig({ AzureAd: { TenantId: huge } }));
  assert.ok(e instanceof ConfigurationError);
  // Still alive and still working.
  assert.equal((await credential.getToken(GRAPH)).tokenType, 'Bearer');
});

test('the error classes are exported and distinct', () => {
  const classes = [ConfigurationError, ManagedIdentityError, CredentialUnavailableError, TokenExchangeError, AbortError];
  assert.equal(new Set(classes.map((c) => c.name)).size, classes.length);
  for (const c of classes) assert.ok(c.prototype instanceof CertlessError);
  assert.equal(AbortError.prototype.name, 'AbortError');
  assert.equal(CredentialUnavailableError.prototype.name, 'CredentialUnavailableError');
  assert.ok(Object.isFrozen(ErrorCode));
});

test('a secret the managed-identity endpoint echoes back is not in error.message', async () => {
  const info = await emu.admin('GET', 'info');
  const environment = Object.fromEntries(info.env.app_service);
  const secret = environment.IDENTITY_HEADER;
  await emu.fault({ endpoint: 'app_service', status: 401, body: 'echo_credentials' });
  try {
    const credential = new Credential({ fromEnv: true, environment });
    const e = await rejection(credential.getToken(GRAPH));
    assert.ok(e instanceof ManagedIdentityError, `${e.name}: ${e.message}`);
    assert.ok(e.message.includes('redacted secret'), e.message);
    for (const shown of [e.message, e.stack, String(e.reason ?? '')]) {
      assert.ok(!shown.includes(secret), `the secret is shown: ${shown}`);
    }
  } finally {
    await emu.clearFaults();
  }
});

test("ErrorCode is core's table: every code, by the same name and number", async () => {
  const { createRequire } = await import('node:module');
  const addon = createRequire(import.meta.url)('../certless.node');
  const core = addon.errorCodes();
  assert.ok(Object.keys(core).length >= 30, JSON.stringify(core));
  assert.deepEqual({ ...ErrorCode }, core);
});
