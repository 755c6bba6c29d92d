// Install check: the installed certless package gets a token from the emulator.
//
// scripts/package/package-node.sh --check runs it from a fresh directory where certless was installed
// from its npm tarballs (no cargo, no rustc), with the emulator's client environment:
// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, CERTLESS_MANAGED_IDENTITY_CLIENT_ID, ...
// and CERTLESS_TEST_EMULATOR_URL. The token must be an app token for that tenant and client, and
// the emulator must recognise it as one it issued. It prints the token's length, never the token.
//
// CERTLESS_CHECK_NO_ADMIN=1 skips asking the emulator: Node's own sockets (libuv) cannot connect
// under Wine 8, while certless's (Rust) can; the claims are still checked.
'use strict';

const path = require('node:path');

const SCOPE = 'https://graph.microsoft.com/.default';

async function main() {
  const certless = require('certless');
  const where = path.dirname(require.resolve('certless'));
  const credential = certless.Credential.fromEnv();
  const { token } = await credential.getToken(SCOPE);

  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
  const expected = { tid: process.env.AZURE_TENANT_ID, appid: process.env.AZURE_CLIENT_ID, aud: 'https://graph.microsoft.com' };
  for (const [name, value] of Object.entries(expected)) {
    if (claims[name] !== value) throw new Error(`the token's ${name} claim is ${JSON.stringify(claims[name])}, not ${value}`);
  }
  let issued = 'not asked (CERTLESS_CHECK_NO_ADMIN)';
  if (process.env.CERTLESS_CHECK_NO_ADMIN !== '1') {
    const response = await fetch(`${process.env.CERTLESS_TEST_EMULATOR_URL}/_emulator/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    if (!(await response.json()).valid) throw new Error('the emulator does not recognise the token');
    issued = 'the emulator issued it';
  }
  console.log(`ok: certless ${certless.version} from ${where} on Node ${process.version} ` +
    `(${process.platform}-${process.arch}) got an app token for the tenant (${token.length} characters; ${issued})`);
}

main().catch((e) => {
  console.log(`FAIL: ${e && e.stack || e}${e && e.cause ? `\ncause: ${e.cause.stack || e.cause}` : ''}`);
  process.exitCode = 1;
});
