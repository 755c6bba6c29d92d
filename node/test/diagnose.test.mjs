// diagnose(): core's leg-by-leg diagnosis, the JSON report, from Node.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

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
  assert.deepEqual(report.legs.map((l) => l.leg), ['config', 'managed_identity', 'federated_credential', 'exchange', 'token']);
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
