// The committed declarations compile for ESM and CommonJS consumers, and `Credential` is an
// @azure/core-auth TokenCredential (tsc over test/types/).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

test('the declarations type-check against @azure/core-auth', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const project = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url));
  const result = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
  assert.equal(result.status, 0, `tsc:\n${result.stdout}${result.stderr}`);
});
