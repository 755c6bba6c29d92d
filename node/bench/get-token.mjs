// Cache-hit getToken latency: certless next to @azure/identity's ManagedIdentityCredential,
// both against the same local emulator.
//
//   node bench/get-token.mjs [--iterations N] [--json]
//
// Build the addon with `node scripts/build.js --release --with-cli` first (npm run bench does).
// Each round times a batch of sequential `await credential.getToken(scope)` calls after the
// token is cached; the figures are per call, over rounds (median, p90, p99 of the batch means).
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

import { Credential } from '../index.mjs';
import { Emulator, GRAPH } from '../test/helpers/emulator.mjs';

const args = process.argv.slice(2);
const iterations = Number(args[args.indexOf('--iterations') + 1]) || 200_000;
const asJson = args.includes('--json');
const require = createRequire(import.meta.url);

async function measure(name, getToken, total) {
  await getToken(); // fill the cache
  for (let i = 0; i < Math.min(20_000, total / 10); i++) await getToken(); // warm up the JIT
  const batch = 1000;
  const rounds = Math.max(10, Math.floor(total / batch));
  const perCall = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) await getToken();
    perCall.push(((performance.now() - start) * 1000) / batch);
  }
  perCall.sort((a, b) => a - b);
  const at = (q) => perCall[Math.min(perCall.length - 1, Math.floor(q * perCall.length))];
  return { name, calls: rounds * batch, medianUs: at(0.5), p90Us: at(0.9), p99Us: at(0.99) };
}

const emu = await Emulator.start();
emu.applyEnv();
const results = [];
try {
  const ours = new Credential(emu.options());
  results.push(await measure('certless Credential.getToken (IMDS)', () => ours.getToken(GRAPH), iterations));

  const { ManagedIdentityCredential } = require('@azure/identity');
  // @azure/identity through App Service (IDENTITY_ENDPOINT + IDENTITY_HEADER): MSAL adds a trailing
  // slash to the IMDS path, which the emulator does not route. It refuses an http
  // AZURE_AUTHORITY_HOST, which a managed-identity token does not need.
  delete process.env.AZURE_AUTHORITY_HOST;
  const info = await emu.admin('GET', 'info');
  process.env.IDENTITY_ENDPOINT = info.app_service_endpoint;
  process.env.IDENTITY_HEADER = info.app_service_secret;
  const theirs = new ManagedIdentityCredential({ clientId: emu.miClientId });
  results.push(await measure('@azure/identity ManagedIdentityCredential (App Service)', () => theirs.getToken(GRAPH),
    Math.max(20_000, Math.floor(iterations / 10))));
} finally {
  await emu.stop();
}

if (asJson) {
  console.log(JSON.stringify({ node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length, results }, null, 2));
} else {
  console.log(`cache-hit getToken latency, Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model}`);
  console.log('| credential | calls | median | p90 | p99 |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.calls} | ${r.medianUs.toFixed(2)} µs | ${r.p90Us.toFixed(2)} µs | ${r.p99Us.toFixed(2)} µs |`);
  }
  const [ours, ...others] = results;
  for (const o of others) console.log(`certless is ${(o.medianUs / ours.medianUs).toFixed(0)}x faster than ${o.name}`);
}
