// Install check: the installed certless package gets a token from the emulator.
//
// scripts/package-node.sh --check runs it from a fresh directory where certless was installed
// from its npm tarballs (no cargo, no rustc), with the emulator's client environment:
// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, CERTLESS_MANAGED_IDENTITY_CLIENT_ID, ...
// and CERTLESS_TEST_EMULATOR_URL. It asks the emulator whether the token is one it issued, and
// prints its length, never the token.
'use strict';

const path = require('node:path');

async function main() {
  const certless = require('certless');
  const where = path.dirname(require.resolve('certless'));
  const credential = certless.Credential.fromEnv();
  const { token } = await credential.getToken('https://graph.microsoft.com/.default');
  const response = await fetch(`${process.env.CERTLESS_TEST_EMULATOR_URL}/_emulator/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const verdict = await response.json();
  if (!verdict.valid) {
    console.log(`FAIL: the emulator does not recognise the token (certless from ${where})`);
    process.exitCode = 1;
    return;
  }
  console.log(`ok: certless ${certless.version} from ${where} on Node ${process.version} ` +
    `(${process.platform}-${process.arch}) got a token the emulator issued (${token.length} characters)`);
}

main().catch((e) => {
  console.log(`FAIL: ${e && e.stack || e}`);
  process.exitCode = 1;
});
