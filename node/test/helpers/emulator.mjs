// Starts `certless emulator` (the CLI from this workspace) on loopback for one test file and
// talks to its admin API under /_emulator/. Each test file gets its own emulator process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const nodeDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const repoRoot = path.resolve(nodeDir, '..');

export const GRAPH = 'https://graph.microsoft.com/.default';
export const SHAREPOINT = 'https://contoso.sharepoint.com/.default';

function emulatorBinary() {
  if (process.env.CERTLESS_BIN) return process.env.CERTLESS_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
  const bin = path.join(targetDir, 'debug', process.platform === 'win32' ? 'certless.exe' : 'certless');
  if (!fs.existsSync(bin)) {
    // scripts/test/test-node.sh builds it first; this keeps `npm test` working on its own.
    const built = spawnSync('cargo', ['build', '-q', '-p', 'certless-cli'], { cwd: repoRoot, stdio: 'inherit' });
    if (built.status !== 0) throw new Error(`cannot build the emulator (cargo build -p certless-cli exited ${built.status})`);
  }
  return bin;
}

/**
 * Ends a helper process started by a test (SIGTERM, then SIGKILL after 3 s), forgets its exit
 * hook `kill`, and removes its scratch directory `dir`.
 */
export async function stopChild(child, kill, dir) {
  process.removeListener('exit', kill);
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(kill, 3000);
    await exited;
    clearTimeout(timer);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts a helper process (`what`: the emulator, the OTLP receiver) and waits until it has
 * written `file`, for at most 20 s (a bound on how long a broken setup may hang the run, not a
 * timing). Returns the process, its exit hook `kill` (a SIGKILL, should the test runner exit
 * first) and what it wrote.
 */
export async function startChild(what, command, args, file) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const deadline = Date.now() + 20000;
  while (!fs.existsSync(file)) {
    if (child.exitCode !== null) throw new Error(`the ${what} exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      kill();
      throw new Error(`the ${what} did not write ${file} within 20 s: ${stderr}`);
    }
    await sleep(20);
  }
  return { child, kill, written: fs.readFileSync(file, 'utf8') };
}

export class Emulator {
  /** @param {string[]} [extraArgs] */
  static async start(extraArgs = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certless-node-test-'));
    const readyFile = path.join(dir, 'ready.json');
    const args = ['emulator', '--ready-file', readyFile, '--state-dir', dir, ...extraArgs];
    const { child, kill, written } = await startChild('emulator', emulatorBinary(), args, readyFile);
    return new Emulator(child, JSON.parse(written), dir, kill);
  }

  constructor(child, ready, dir, kill) {
    this.child = child;
    this.ready = ready;
    this.dir = dir;
    this.kill = kill;
    this.url = ready.http_url;
    this.tenantId = ready.tenant_id;
    this.clientId = ready.client_id;
    this.env = ready.env;
    this.miClientId = ready.env.CERTLESS_MANAGED_IDENTITY_CLIENT_ID;
  }

  /** Points this process's managed-identity detection (IMDS) and fromEnv() at the emulator. */
  applyEnv() {
    for (const name of ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'IMDS_ENDPOINT',
      'CERTLESS_MANAGED_IDENTITY_SOURCE', 'CERTLESS_MANAGED_IDENTITY_OBJECT_ID', 'CERTLESS_MANAGED_IDENTITY_RESOURCE_ID']) {
      delete process.env[name];
    }
    Object.assign(process.env, this.env);
  }

  /** Options for `new Credential(...)` that reach the emulator's default app and identity. */
  options(extra = {}) {
    return { tenantId: this.tenantId, clientId: this.clientId, authorityHost: this.url, managedIdentityClientId: this.miClientId, ...extra };
  }

  async admin(method, route, body) {
    const res = await fetch(`${this.url}/_emulator/${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} /_emulator/${route}: HTTP ${res.status} ${text}`);
    return JSON.parse(text);
  }

  counters() { return this.admin('GET', 'counters'); }
  resetCounters() { return this.admin('POST', 'counters/reset'); }
  fault(spec) { return this.admin('POST', 'faults', spec); }
  clearFaults() { return this.admin('DELETE', 'faults'); }
  requests() { return this.admin('GET', 'requests'); }
  clearRequests() { return this.admin('DELETE', 'requests'); }
  /** The emulator's own check of a token it issued: `{ valid, claims }`. */
  verify(token) { return this.admin('POST', 'verify', { token }); }

  async stop() {
    await stopChild(this.child, this.kill, this.dir);
  }
}
