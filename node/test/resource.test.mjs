// explainRefusal: a SharePoint refusal of a token certless got from the emulator, explained.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { CertlessError, Credential, explainRefusal } from '../index.mjs';
import { Emulator, SHAREPOINT } from './helpers/emulator.mjs';

const SITE = 'contoso.sharepoint.com/sites/crm';
let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

test('a Sites.Selected 403 is explained, without the token', async () => {
  const credential = new Credential(emu.options());
  const { token } = await credential.getToken(SHAREPOINT);
  const info = await emu.admin('GET', 'info');
  const url = `${info.sharepoint_site_url}/_api/web/lists/getbytitle('Orders')/items`;
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.text();
  assert.equal(response.status, 403, body);

  const e = explainRefusal(url, response.status, {
    wwwAuthenticate: response.headers.get('www-authenticate'), body, token,
  });
  assert.ok(e instanceof CertlessError);
  assert.deepEqual([e.code, e.leg, e.status], [700, 'resource', 403]);
  assert.ok(e.reason.includes(`no grant on site ${SITE}`), e.reason);
  assert.ok(e.remedy.includes('POST https://graph.microsoft.com/v1.0/sites/{site-id}/permissions'), e.remedy);
  assert.ok(!e.message.includes(token) && !JSON.stringify(e).includes(token) && !String(e.stack).includes(token));
  // A URL object, and nothing but the status: still an explanation, saying less.
  const bare = explainRefusal(new URL(url), 401);
  assert.deepEqual([bare.code, bare.leg, bare.status], [700, 'resource', 401]);
});

test('arguments that are no refusal are refused clearly', () => {
  for (const [args, says] of [
    [[42, 403], /the URL must be a string/],
    [['https://x', 4030], /HTTP status/],
    [['https://x', '403'], /HTTP status/],
    [['https://x', 403, { bdy: 'x' }], /no setting 'bdy'/],
    [['https://x', 403, { token: 7 }], /token must be a string/],
    [['https://x', 403, []], /must be an object/],
  ]) {
    assert.throws(() => explainRefusal(...args), (e) => e.code === 100 && says.test(e.message));
  }
});
