// The Key Vault and certificate-store sources and the doctor's certificate findings, configured
// from Node exactly as Microsoft.Identity.Web configures them: the logic is core's, these tests
// prove that a host gets it through configuration.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { CertlessError, ConfigurationError, Credential, ErrorCode, diagnose } from '../index.mjs';
import { Emulator, SHAREPOINT } from './helpers/emulator.mjs';

const DAY = 86400;
let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

const config = (...entries) => ({
  AzureAd: { Instance: `${emu.url}/`, TenantId: emu.tenantId, ClientId: emu.clientId, ClientCredentials: entries },
});
const keyVault = (issued) => ({ SourceType: 'KeyVault', KeyVaultUrl: issued.vault_url, KeyVaultCertificateName: issued.name });

test('a Key Vault certificate signs for the app, read with the managed identity', async () => {
  const issued = await emu.admin('POST', 'key-vault/certificates', {});
  const credential = Credential.fromConfig(config(keyVault(issued)));
  const token = await credential.getToken(SHAREPOINT);
  const { claims } = await emu.verify(token.token);
  assert.equal(claims.appidacr, '2');
  assert.equal((await emu.counters()).key_vault, 2);
});

test('a vault the identity may not read says which role is missing', async () => {
  const issued = await emu.admin('POST', 'key-vault/certificates', { vault: 'rbac-vault' });
  const registry = await emu.admin('GET', 'registry');
  const vault = registry.key_vaults.find((v) => v.name === 'rbac-vault');
  Object.assign(vault, { readers: [], permission_model: 'rbac' });
  await emu.admin('PUT', 'registry', registry);
  const credential = Credential.fromConfig(config(keyVault(issued)));
  await assert.rejects(credential.getToken(SHAREPOINT), (e) => {
    assert.ok(e instanceof CertlessError, e);
    assert.equal(e.code, ErrorCode.KeyVaultAccessDenied);
    assert.equal(e.leg, 'key_vault');
    assert.equal(e.status, 403);
    assert.match(e.message, /Key Vault Certificate User/);
    return true;
  });
});

test("CurrentUser/My on Linux is .NET's folder of PFX files; LocalMachine/My is not there", async () => {
  const issued = await emu.admin('POST', 'client-certificate', {});
  const home = fs.mkdtempSync(path.join(emu.dir, 'home-'));
  const store = path.join(home, '.dotnet', 'corefx', 'cryptography', 'x509stores', 'my');
  fs.mkdirSync(store, { recursive: true });
  fs.writeFileSync(path.join(store, `${issued.thumbprint}.pfx`), Buffer.from(issued.pfx_base64, 'base64'));
  const entry = { SourceType: 'StoreWithThumbprint', CertificateStorePath: 'CurrentUser/My', CertificateThumbprint: issued.thumbprint };
  const credential = new Credential({ configJson: JSON.stringify(config(entry)), environment: { HOME: home } });
  const token = await credential.getToken(SHAREPOINT);
  assert.equal((await emu.verify(token.token)).claims.appidacr, '2');
  assert.throws(
    () => new Credential({
      configJson: JSON.stringify(config({ ...entry, CertificateStorePath: 'LocalMachine/My' })), environment: { HOME: home },
    }),
    (e) => e instanceof ConfigurationError && e.code === ErrorCode.CertificateStoreUnavailable && /not available on/.test(e.message),
  );
});

for (const [days, status, headline] of [[1, 'warn', /^OK with/], [20, 'warn', /^OK with/], [-1, 'fail', /^ERROR: the Base64Encoded certificate/]]) {
  test(`the doctor reports a fallback certificate that expires in ${days} day(s)`, async () => {
    const now = Math.floor(Date.now() / 1000);
    const notAfter = now + days * DAY + (days > 0 ? 60 : 0);
    const issued = await emu.admin('POST', 'client-certificate', { not_before: now - 400 * DAY, not_after: notAfter });
    const report = await diagnose(config(
      { SourceType: 'SignedAssertionFromManagedIdentity', ManagedIdentityClientId: emu.miClientId },
      { SourceType: 'Base64Encoded', Base64EncodedValue: issued.pfx_base64 },
    ), { scope: SHAREPOINT });
    assert.equal(report.ok, true);
    assert.match(report.headline, headline);
    const [found] = report.certificates;
    assert.deepEqual(
      [found.source, found.status, found.thumbprint, found.days_left, found.subject],
      ['Base64Encoded', status, issued.thumbprint, days, 'CN=certless-demo-app'],
    );
  });
}
