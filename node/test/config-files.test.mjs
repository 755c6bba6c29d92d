// Credential.fromConfig reads appsettings.json as .NET writes and reads it (byte order marks,
// comments, trailing commas), and refuses a path that is not a regular file, by name.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { ConfigurationError, Credential, ErrorCode } from '../index.mjs';
import { Emulator, SHAREPOINT } from './helpers/emulator.mjs';

let emu;

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
});
after(() => emu?.stop());

/** The shape of the identity template's appsettings.json, filled in for the emulator, CRLF. */
function identityTemplate() {
  return [
    '{',
    '  /*',
    'The following identity settings need to be configured',
    'before the project can be successfully executed.',
    'For more info see https://aka.ms/dotnet-template-ms-identity-platform',
    '*/',
    '  "AzureAd": {',
    `    "Instance": "${emu.url}/",`,
    '    "Domain": "contoso.onmicrosoft.com",',
    `    "TenantId": "${emu.tenantId}",`,
    `    "ClientId": "${emu.clientId}",`,
    '    "ClientCredentials": [',
    `      { "SourceType": "SignedAssertionFromManagedIdentity", "ManagedIdentityClientId": "${emu.miClientId}" },`,
    '    ],',
    '//    "ClientSecret": "Client secret from app-registration. Check user secrets/azure portal.",',
    '    "CallbackPath": "/signin-oidc",',
    '  },',
    '  "AllowedHosts": "*"',
    '}',
    '',
  ].join('\r\n');
}

function utf16be(text) {
  const le = Buffer.from(text, 'utf16le');
  return Buffer.from(le.map((_, i) => le[i ^ 1]));
}

test('the identity template is read as Visual Studio and Notepad save it', async () => {
  const text = identityTemplate();
  const files = {
    'utf8-bom.json': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]),
    'utf16le.json': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]),
    'utf16be.json': Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)]),
  };
  for (const [name, bytes] of Object.entries(files)) {
    const file = path.join(emu.dir, name);
    fs.writeFileSync(file, bytes);
    const credential = Credential.fromConfig(file);
    assert.equal(credential.clientId, emu.clientId, name);
    const token = await credential.getToken(SHAREPOINT);
    const { claims } = await emu.verify(token.token);
    assert.equal(claims.aud, 'https://contoso.sharepoint.com', name);
  }
});

test('a broken file names the place of the mistake', () => {
  const file = path.join(emu.dir, 'unclosed.json');
  fs.writeFileSync(file, '\ufeff{\r\n  "AzureAd": {} /* never closed\r\n}\r\n');
  assert.throws(
    () => Credential.fromConfig(file),
    (e) => e instanceof ConfigurationError && e.code === ErrorCode.InvalidConfig
      && e.message.includes('line 2, column 17') && e.message.includes(file),
  );
});

test('a path that is no regular file is refused at once', { skip: process.platform === 'win32' }, () => {
  const fifo = path.join(emu.dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  for (const [file, what] of [[fifo, 'is a FIFO (named pipe)'], ['/dev/zero', 'is a character device'], [emu.dir, 'is a directory']]) {
    assert.throws(
      () => Credential.fromConfig(file),
      (e) => e instanceof ConfigurationError && e.code === ErrorCode.ConfigFileUnreadable
        && e.message.includes(`${file} ${what}, not a regular file`),
      file,
    );
  }
});
