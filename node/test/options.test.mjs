// The options object of `new Credential(options)` is core's options, by name: the same names,
// rules and error text as every other certless host, each value converted from its JS type.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ConfigurationError, Credential, ErrorCode, ManagedIdentityError, diagnose } from '../index.mjs';
import { Emulator, GRAPH } from './helpers/emulator.mjs';

let emu;

before(async () => {
  emu = await Emulator.start();
});
after(() => emu?.stop());

/** Options reaching the emulator, with its IMDS given through `environment`, not process.env. */
function options(extra = {}) {
  return emu.options({ environment: { AZURE_POD_IDENTITY_AUTHORITY_HOST: emu.url }, ...extra });
}

/** Runs `fn`, expects it to throw synchronously, returns the error. */
function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected an exception');
}

for (const [name, deadline] of [['deadlineMs', 1000], ['deadline', 1]]) {
  test(`${name} reaches core: a request waiting on IMDS ends at the deadline`, async () => {
    const credential = new Credential(options({ [name]: deadline }));
    // IMDS answers only after 20 s: the 1 s deadline ends the request first.
    await emu.fault({ endpoint: 'imds', delay_ms: 20000, remaining: 1 });
    try {
      await assert.rejects(credential.getToken(GRAPH), (e) => {
        assert.ok(e instanceof ManagedIdentityError, `${e.name}: ${e.message}`);
        assert.equal(e.code, ErrorCode.ManagedIdentityTimeout);
        assert.match(e.reason, /no token within the 1 s deadline/);
        return true;
      });
    } finally {
      await emu.clearFaults();
    }
  });
}

test('connectTimeoutMs and requestTimeoutMs still work, and text numbers are numbers', async () => {
  const credential = new Credential(options({ connectTimeoutMs: 4000, requestTimeoutMs: 20000, deadline: '60' }));
  assert.equal((await credential.getToken(GRAPH)).tokenType, 'Bearer');
});

test('an unknown option names the one meant, in JavaScript spelling', () => {
  const e = thrown(() => new Credential(options({ tennantId: emu.tenantId })));
  assert.ok(e instanceof ConfigurationError);
  assert.equal(e.code, ErrorCode.UnknownConfigKey);
  assert.equal(e.remedy, "Did you mean 'tenantId'?");
  assert.match(e.message, /unknown option 'tennantId'/);
  assert.equal(thrown(() => new Credential(options({ dedlineMs: 5 }))).remedy, "Did you mean 'deadlineMs'?");
});

test('values of the wrong kind or out of range get core\'s errors', () => {
  const cases = [
    [{ deadline: true }, 'deadline takes a number, not the flag true'],
    [{ tenantId: {} }, 'tenantId takes text, not an object'],
    [{ clientId: ['x'] }, 'clientId takes text, not an array'],
    [{ caFile: 10n }, 'caFile takes text, not a bigint'],
    [{ fromEnv: 'yes' }, 'fromEnv takes true or false'],
    [{ connectTimeoutMs: 0 }, 'connectTimeoutMs is 0 ms; it must be more than 0 and at most one hour'],
    [{ requestTimeoutMs: 3600001 }, 'requestTimeoutMs is 3600001 ms'],
    [{ deadline: Infinity }, 'deadline is inf s'],
    [{ environment: 'A=B' }, 'environment takes an object of strings'],
    [{ environment: { A: 1 } }, 'environment takes an object of strings'],
    [{ managedIdentityObjectId: 'b' }, 'give at most one'],
  ];
  for (const [extra, reason] of cases) {
    const e = thrown(() => new Credential(options(extra)));
    assert.ok(e instanceof ConfigurationError, `${Object.keys(extra)}: ${e}`);
    assert.equal(e.code, ErrorCode.InvalidArgument, `${Object.keys(extra)}: ${e.message}`);
    assert.ok(e.reason.includes(reason), `${e.reason} lacks ${reason}`);
  }
});

test('undefined and null leave an option unset; the environment option replaces process.env', () => {
  const credential = new Credential(options({ caFile: undefined, managedIdentitySource: null }));
  assert.equal(credential.tenantId, emu.tenantId);
  // fromEnv reads the given variables, not this process's (which has none of the emulator's).
  const fromEnv = new Credential({ fromEnv: true, environment: emu.env });
  assert.equal(fromEnv.clientId, emu.clientId);
  const e = thrown(() => new Credential({ fromEnv: true, environment: {} }));
  assert.equal(e.code, ErrorCode.MissingConfig);
});

test('diagnose({ options }) takes the same options; a wrong one rejects instead of reporting', async () => {
  const report = await diagnose({ options: options() });
  assert.equal(report.ok, true, report.headline);
  await assert.rejects(diagnose({ options: options({ tennantId: 'x' }) }), (e) => e.code === ErrorCode.UnknownConfigKey);
  await assert.rejects(diagnose({ options: options({ deadlineMs: -1 }) }), (e) => e.code === ErrorCode.InvalidArgument);
});

test('the declarations describe every option core takes', async () => {
  // Core lists its options, spelled as the unknown name is (camelCase), when it has no suggestion.
  const e = thrown(() => new Credential({ zzzzZzzzzz: 1 }));
  const listed = e.remedy.match(/^The options are: (.*)\.$/)?.[1].split(', ');
  assert.ok(listed && listed.includes('deadline'), e.remedy);
  const { readFile } = await import('node:fs/promises');
  const declarations = await readFile(new URL('../index.d.ts', import.meta.url), 'utf8');
  const declared = declarations.slice(declarations.indexOf('export type CredentialOptions = {'));
  for (const name of listed) {
    assert.match(declared, new RegExp(`\\n    ${name}\\?: `), `index.d.ts's CredentialOptions lacks ${name}`);
  }
});
