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

export class Emulator {
  /** @param {string[]} [extraArgs] */
  static async start(extraArgs = []) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certless-node-test-'));
    const readyFile = path.join(dir, 'ready.json');
    const child = spawn(emulatorBinary(), ['emulator', '--ready-file', readyFile, '--state-dir', dir, ...extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    const deadline = Date.now() + 20000;
    while (!fs.existsSync(readyFile)) {
      if (child.exitCode !== null) throw new Error(`the emulator exited with ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline) {
        kill();
        throw new Error(`the emulator did not write ${readyFile} within 20 s: ${stderr}`);
      }
      await sleep(20);
    }
    const ready = JSON.parse(fs.readFileSync(readyFile, 'utf8'));
    return new Emulator(child, ready, dir, kill);
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
    process.removeListener('exit', this.kill);
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(this.kill, 3000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
