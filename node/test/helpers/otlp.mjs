// The OTLP receiver of the repository (tests/otlp/receiver.py: OpenTelemetry's own protobuf
// definitions) as a child process of one test file, and what it received. Its Python is the test
// venv's that scripts/lib/otlp-env.sh prepares (CERTLESS_OTLP_PYTHON; else target/py-venv).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startChild, stopChild } from './emulator.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function python() {
  if (process.env.CERTLESS_OTLP_PYTHON) return process.env.CERTLESS_OTLP_PYTHON;
  const venv = path.join(repoRoot, 'target', 'py-venv', 'bin', 'python');
  if (fs.existsSync(venv)) return venv;
  throw new Error('no Python with the OTLP receiver\'s packages: run scripts/test/test-node.sh ' +
    '(or set CERTLESS_OTLP_PYTHON after `source scripts/lib/otlp-env.sh && otlp_install`)');
}

export class OtlpReceiver {
  static async start() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certless-node-otlp-'));
    const portFile = path.join(dir, 'port');
    const args = [path.join(repoRoot, 'tests', 'otlp', 'receiver.py'), '--port-file', portFile];
    const { child, kill, written } = await startChild('OTLP receiver', python(), args, portFile);
    return new OtlpReceiver(child, `http://127.0.0.1:${written.trim()}`, dir, kill);
  }

  constructor(child, url, dir, kill) {
    this.child = child;
    this.url = url;
    this.dir = dir;
    this.kill = kill;
  }

  /** `{ metrics, spans, errors, requests }` as tests/otlp/receiver.py describes them. */
  async received() {
    const res = await fetch(`${this.url}/received`);
    if (!res.ok) throw new Error(`GET /received: HTTP ${res.status}`);
    return res.json();
  }

  async clear() {
    const res = await fetch(`${this.url}/received`, { method: 'DELETE' });
    if (!res.ok) throw new Error(`DELETE /received: HTTP ${res.status}`);
    await res.arrayBuffer();
  }

  /**
   * What was received once `arrived(received)` holds; 30 s is a bound on a broken run, not a timing.
   * @param {string} what
   * @param {(received: any) => boolean} arrived
   */
  async waitFor(what, arrived) {
    const deadline = Date.now() + 30000;
    for (;;) {
      const got = await this.received();
      if (arrived(got)) return got;
      if (Date.now() > deadline) {
        const names = [...new Set([...got.metrics, ...got.spans].map((x) => x.name))].sort();
        throw new Error(`${what} did not arrive within 30 s; received ${JSON.stringify(names)}, errors ${JSON.stringify(got.errors)}`);
      }
      await sleep(50);
    }
  }

  async stop() {
    await stopChild(this.child, this.kill, this.dir);
  }
}

/** The points of every export of metric `name`. */
export function points(got, name) {
  return got.metrics.filter((m) => m.name === name).flatMap((m) => m.points);
}

/** The last export of metric `name` (a failed assertion when there is none). */
export function metric(got, name) {
  const found = got.metrics.filter((m) => m.name === name);
  if (found.length === 0) throw new Error(`no ${name} among ${JSON.stringify([...new Set(got.metrics.map((m) => m.name))])}`);
  return found[found.length - 1];
}

export function spans(got, name) {
  return got.spans.filter((s) => s.name === name);
}
