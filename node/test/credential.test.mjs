// Happy paths: every way to build a credential, the @azure/core-auth token shape, the cache,
// and both module systems.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { Credential, ErrorCode, version } from '../index.mjs';
import { Emulator, GRAPH, SHAREPOINT } from './helpers/emulator.mjs';

const require = createRequire(import.meta.url);
let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

/** Checks the @azure/core-auth shape and that the emulator issued the token for `resource`. */
async function assertToken(token, resource) {
  assert.equal(typeof token.token, 'string');
  assert.equal(token.tokenType, 'Bearer');
  assert.equal(token.source, 'SignedAssertionFromManagedIdentity');
  // Milliseconds (core-auth), not seconds: about an hour from now.
  const left = token.expiresOnTimestamp - Date.now();
  assert.ok(left > 50 * 60 * 1000 && left <= 61 * 60 * 1000, `expiresOnTimestamp ${token.expiresOnTimestamp} is not ~1 h from now in ms`);
  const checked = await emu.verify(token.token);
  assert.equal(checked.valid, true, JSON.stringify(checked));
  assert.equal(checked.claims.aud, resource);
  assert.equal(checked.claims.appid ?? checked.claims.azp, emu.clientId);
}

test('fromEnv gets a token through IMDS and the exchange, then serves it from the cache', async () => {
  await emu.resetCounters();
  const credential = Credential.fromEnv();
  assert.equal(credential.tenantId, emu.tenantId);
  assert.equal(credential.clientId, emu.clientId);
  assert.deepEqual(credential.sources, ['SignedAssertionFromManagedIdentity']);

  const first = await credential.getToken(GRAPH);
  await assertToken(first, 'https://graph.microsoft.com');
  assert.deepEqual(await emu.counters().then(({ imds, entra_token }) => ({ imds, entra_token })), { imds: 1, entra_token: 1 });

  const again = await credential.getToken([GRAPH]);
  assert.deepEqual(again, first, 'a cache hit (built in JS) has the same fields as the fetched token');
  const bare = await credential.getToken('https://graph.microsoft.com');
  assert.equal(bare.token, first.token);
  const counters = await emu.counters();
  assert.equal(counters.entra_token, 1, 'a cached token must not cause another exchange');

  // Another resource is another token; the managed-identity assertion is reused.
  const sharepoint = await credential.getToken(SHAREPOINT);
  await assertToken(sharepoint, 'https://contoso.sharepoint.com');
  assert.deepEqual(await emu.counters().then(({ imds, entra_token }) => ({ imds, entra_token })), { imds: 1, entra_token: 2 });
});

test('the options constructor, with a user-assigned identity by client, object and resource id', async () => {
  const info = await emu.admin('GET', 'info');
  const mi = info.default_user_assigned;
  for (const selector of [
    { managedIdentityClientId: mi.client_id },
    { managedIdentityObjectId: mi.object_id },
    { managedIdentityResourceId: mi.resource_id },
  ]) {
    const credential = new Credential({ tenantId: emu.tenantId, clientId: emu.clientId, authorityHost: emu.url, ...selector });
    await assertToken(await credential.getToken(GRAPH), 'https://graph.microsoft.com');
  }
});

test('fromConfig takes an appsettings.json path, a file URL, the parsed object and its AzureAd section', async () => {
  const azureAd = {
    Instance: `${emu.url}/`,
    TenantId: emu.tenantId,
    ClientId: emu.clientId,
    ClientCredentials: [{ SourceType: 'SignedAssertionFromManagedIdentity', ManagedIdentityClientId: emu.miClientId }],
  };
  const file = path.join(emu.dir, 'appsettings.json');
  fs.writeFileSync(file, JSON.stringify({ Logging: {}, AzureAd: azureAd }));
  for (const source of [file, pathToFileURL(file), { AzureAd: azureAd }, azureAd]) {
    const credential = Credential.fromConfig(source);
    assert.equal(credential.clientId, emu.clientId);
    await assertToken(await credential.getToken(GRAPH), 'https://graph.microsoft.com');
  }
});

test('App Service is used when its environment is set', async () => {
  await emu.resetCounters();
  const info = await emu.admin('GET', 'info');
  process.env.IDENTITY_ENDPOINT = info.app_service_endpoint;
  process.env.IDENTITY_HEADER = info.app_service_secret;
  try {
    const credential = new Credential(emu.options());
    await assertToken(await credential.getToken(GRAPH), 'https://graph.microsoft.com');
    const counters = await emu.counters();
    assert.equal(counters.app_service, 1);
    assert.equal(counters.imds, 0);
  } finally {
    delete process.env.IDENTITY_ENDPOINT;
    delete process.env.IDENTITY_HEADER;
  }
});

test('claims bypass the cache and tenantId reaches Entra', async () => {
  const credential = new Credential(emu.options());
  await credential.getToken(GRAPH);
  await emu.resetCounters();
  await emu.clearRequests();
  const challenged = await credential.getToken(GRAPH, { claims: '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}' });
  await assertToken(challenged, 'https://graph.microsoft.com');
  assert.equal((await emu.counters()).entra_token, 1, 'claims must bypass the cache');
  const exchange = (await emu.requests()).find((r) => r.endpoint === 'entra_token');
  assert.ok(exchange.form.some(([k]) => k === 'claims'), 'the claims must be sent to Entra');

  await emu.clearRequests();
  const other = '9b2e7c41-3f5a-4d8e-b6c2-71a0d4e8f5b3';
  await credential.getToken(GRAPH, { tenantId: other }).catch(() => {});
  const paths = (await emu.requests()).map((r) => r.path);
  assert.ok(paths.some((p) => p.includes(`/${other}/oauth2/v2.0/token`)), `no exchange for tenant ${other} in ${paths}`);
});

test('require and import give the same module', async () => {
  const cjs = require('..');
  const esm = await import('../index.mjs');
  assert.equal(esm.Credential, cjs.Credential);
  assert.equal(esm.default, cjs);
  assert.equal(version, require('../package.json').version);
  for (const name of ['Credential', 'CertlessError', 'ConfigurationError', 'ManagedIdentityError', 'TokenExchangeError', 'AbortError', 'ErrorCode']) {
    assert.ok(cjs[name], `require('certless').${name}`);
    assert.equal(esm[name], cjs[name], `import { ${name} }`);
  }
});

test('the credential shows no token when inspected', async () => {
  const { inspect } = await import('node:util');
  const credential = new Credential(emu.options());
  const token = await credential.getToken(GRAPH);
  assert.ok(!inspect(credential, { showHidden: true, depth: 5 }).includes(token.token));
  assert.ok(!JSON.stringify(credential).includes(token.token));
});

test('certificate credentials (Path with a PFX password, Base64Encoded) from an appsettings object', async () => {
  const issued = await emu.admin('POST', 'client-certificate', { password: 'pfx pass' });
  const pfx = path.join(emu.dir, 'app.pfx');
  fs.writeFileSync(pfx, Buffer.from(issued.pfx_base64, 'base64'));
  const entries = [
    { SourceType: 'Path', CertificateDiskPath: pfx, CertificatePassword: 'pfx pass' },
    { SourceType: 'Base64Encoded', Base64EncodedValue: issued.pfx_base64, CertificatePassword: 'pfx pass' },
  ];
  for (const entry of entries) {
    const credential = Credential.fromConfig({
      AzureAd: { Instance: `${emu.url}/`, TenantId: emu.tenantId, ClientId: emu.clientId, ClientCredentials: [entry] },
    });
    const token = await credential.getToken(SHAREPOINT);
    const { claims } = await emu.verify(token.token);
    assert.equal(claims.appid, emu.clientId);
    assert.equal(claims.appidacr, '2');
  }
  assert.throws(
    () => Credential.fromConfig({
      AzureAd: {
        Instance: `${emu.url}/`, TenantId: emu.tenantId, ClientId: emu.clientId,
        ClientCredentials: [{ ...entries[0], CertificatePassword: 'hunter2-not-it' }],
      },
    }),
    (e) => e.code === ErrorCode.CertificateUnusable && /password given/.test(e.message) && !e.message.includes('hunter2'),
  );
});
