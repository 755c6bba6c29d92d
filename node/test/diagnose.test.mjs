// diagnose(): core's leg-by-leg diagnosis, the JSON report, from Node.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { diagnose } from '../index.mjs';
import { Emulator } from './helpers/emulator.mjs';

const SHAREPOINT = 'https://contoso.sharepoint.com/.default';
let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

test('a healthy setup from the environment is all OK', async () => {
  const report = await diagnose(undefined, { scope: SHAREPOINT });
  assert.equal(report.ok, true, report.headline);
  assert.match(report.headline, /^OK: token obtained/);
  assert.deepEqual(report.legs.map((l) => l.leg), ['config', 'platform', 'managed_identity', 'federated_credential', 'exchange', 'token']);
  assert.ok(report.legs.every((l) => l.status === 'ok'));
  assert.match(report.matching_federated_credential.az_command, /^az ad app federated-credential create/);
  assert.ok(!JSON.stringify(report).includes('eyJ'), 'never a raw token');
});

test('a failure is the first line, not a rejection', async () => {
  const report = await diagnose({
    options: { tenantId: process.env.AZURE_TENANT_ID, clientId: '99999999-8888-7777-6666-555555555555',
      authorityHost: process.env.AZURE_AUTHORITY_HOST, managedIdentityClientId: process.env.CERTLESS_MANAGED_IDENTITY_CLIENT_ID },
  }, { scope: SHAREPOINT });
  assert.equal(report.ok, false);
  assert.match(report.headline, /^FAIL: .*AADSTS700016.* Fix: /);
  assert.deepEqual(report.error.aadsts_codes, [700016]);
  assert.ok(report.error.trace_id && report.error.correlation_id);
});

test('a configuration that cannot be read is the report too', async () => {
  const report = await diagnose({ AzureAd: { TennantId: 'x' } });
  assert.equal(report.ok, false);
  assert.match(report.headline, /TennantId.*Did you mean 'TenantId'/);
  await assert.rejects(diagnose(42), { code: 100 });
});

/** The emulator's app's federated credentials (name, issuer, subject, audiences), as `az` lists them. */
async function appCredentials() {
  const registry = await emu.admin('GET', 'registry');
  const credentials = registry.apps[0].federated_credentials;
  assert.ok(credentials.length > 0, "the emulator's app has a federated credential");
  return credentials;
}

test('the matching federated credential is named, from a list, Graph\'s shape or a file', async () => {
  const credentials = await appCredentials();
  const named = `through federated credential '${credentials[0].name}'`;
  for (const federatedCredentials of [credentials, { value: credentials }]) {
    const report = await diagnose(undefined, { scope: SHAREPOINT, federatedCredentials });
    assert.equal(report.ok, true, report.headline);
    assert.ok(report.headline.includes(named), report.headline);
  }
  const dir = await mkdtemp(join(tmpdir(), 'certless-fics-'));
  try {
    const file = join(dir, 'fics.json');
    await writeFile(file, JSON.stringify(credentials));
    for (const federatedCredentials of [file, pathToFileURL(file)]) {
      const report = await diagnose(undefined, { federatedCredentials });
      assert.ok(report.headline.includes(named), report.headline);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the credentials are read from the emulated Microsoft Graph with the operator\'s token', async () => {
  const credentials = await appCredentials();
  const token = await emu.admin('POST', 'graph-token', {});
  process.env.CERTLESS_TEST_GRAPH_TOKEN = token.accessToken;
  try {
    const report = await diagnose(undefined, {
      scope: SHAREPOINT, graph: { tokenEnv: 'CERTLESS_TEST_GRAPH_TOKEN', url: emu.url },
    });
    assert.ok(report.headline.includes(`through federated credential '${credentials[0].name}'`), report.headline);
    const leg = report.legs.find((l) => l.leg === 'federated_credentials');
    assert.ok(leg.checks[0].detail.startsWith(`Microsoft Graph ${emu.url}`), JSON.stringify(leg));
    assert.ok(!JSON.stringify(report).includes(token.accessToken), 'never the Graph token');
  } finally {
    delete process.env.CERTLESS_TEST_GRAPH_TOKEN;
  }
});

test('settings certless does not know, or that contradict themselves, are refused', async () => {
  for (const [settings, says] of [
    [{ scop: SHAREPOINT }, /the diagnose settings have no 'scop'/],
    [{ graph: { tokenEnv: 'GRAPH_TOKEN', token_env: 'GRAPH_TOKEN' } }, /the graph settings have no 'token_env'/],
    [{ graph: {} }, /exactly one token source/],
    [{ graph: { tokenEnv: 'A', tokenCommand: 'b' } }, /exactly one token source/],
    [{ federatedCredentials: [], graph: { tokenEnv: 'GRAPH_TOKEN' } }, /one way/],
    [{ federatedCredentials: 42 }, /federatedCredentials must be/],
    [{ scope: 42 }, /the scope must be a string/],
    ['scope', /the diagnose settings must be an object/],
  ]) {
    await assert.rejects(diagnose(undefined, settings), (e) => {
      assert.equal(e.code, 100, e.message);
      assert.equal(e.name, 'ConfigurationError');
      assert.match(e.message, says);
      return true;
    }, JSON.stringify(settings));
  }
});
