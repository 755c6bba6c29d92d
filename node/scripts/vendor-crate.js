#!/usr/bin/env node
// Makes the addon's Rust sources self-contained for a packed npm package: writes rust/ (or the
// directory given as the first argument) with the addon crate at its root and the certless core
// in rust/core, so `cargo build` works from a tarball, far from this repository's workspace.
//
//   node scripts/vendor-crate.js [OUT_DIR]
//
// npm runs it as `prepare`, before `npm pack` and before installing this directory as a
// dependency; scripts/package/package-node.sh runs it too. It needs cargo and a checkout of the repository:
// `cargo package` resolves the workspace inheritance (`version.workspace = true`, ...) into plain
// values. The crate keeps the repository's Cargo.lock (pruned to what the addon uses), so a build
// from the package compiles the exact dependency versions the repository tests.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const nodeDir = path.resolve(__dirname, '..');
const repoRoot = path.resolve(nodeDir, '..');
const out = path.resolve(process.argv[2] || path.join(nodeDir, 'rust'));

function fail(message) {
  console.error(`certless: ${message}`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
  if (result.error) fail(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} failed (exit ${result.status})`);
  return result.stdout;
}

const workspaceManifest = path.join(repoRoot, 'Cargo.toml');
if (!fs.existsSync(workspaceManifest) || !fs.readFileSync(workspaceManifest, 'utf8').includes('[workspace]')) {
  // Already a packed package (its rust/ came with it): nothing to vendor from.
  console.error('certless: not in the certless repository, nothing to vendor');
  process.exit(0);
}

const cargo = process.env.CARGO || 'cargo';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'certless-vendor-'));
try {
  // --exclude-lockfile: cargo would resolve core's dev-dependencies (the emulator, which is not
  // published) against crates.io; the repository's own lock file is pruned below instead.
  run(cargo, ['package', '--no-verify', '--allow-dirty', '--offline', '--exclude-lockfile', '--quiet',
    '-p', 'certless', '-p', 'certless-node', '--manifest-path', workspaceManifest, '--target-dir', scratch]);
  const version = JSON.parse(run(cargo, ['metadata', '--no-deps', '--offline', '--format-version', '1',
    '--manifest-path', workspaceManifest], { maxBuffer: 64 * 1024 * 1024 })).packages.find((p) => p.name === 'certless-node').version;
  for (const name of ['certless', 'certless-node']) {
    run('tar', ['-xzf', path.join(scratch, 'package', `${name}-${version}.crate`), '-C', scratch]);
  }
  const node = path.join(scratch, `certless-node-${version}`);
  const core = path.join(scratch, `certless-${version}`);

  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, 'core'), { recursive: true });
  // Only what compiles the library: no tests, benches, examples or JS from the crates.
  for (const item of ['build.rs', 'src']) fs.cpSync(path.join(node, item), path.join(out, item), { recursive: true });
  fs.cpSync(path.join(core, 'src'), path.join(out, 'core', 'src'), { recursive: true });

  // The addon's manifest: its own workspace root (a parent directory's workspace must not claim
  // it), core by path, and the repository's release profile.
  const nodeManifest = dropSections(fs.readFileSync(path.join(node, 'Cargo.toml'), 'utf8'), [])
    .replace(/^readme = .*\n/m, '')
    .replace(/^\[dependencies\.certless\]\n/m, '[dependencies.certless]\npath = "core"\n');
  if (!nodeManifest.includes('path = "core"')) fail('certless-node\'s packaged Cargo.toml has no [dependencies.certless]');
  const profiles = sectionsOf(fs.readFileSync(workspaceManifest, 'utf8'),
    (header) => header.startsWith('[profile.') && !header.includes('.package.'))
    .split('\n').filter((line) => !line.startsWith('#')).join('\n');
  fs.writeFileSync(path.join(out, 'Cargo.toml'),
    `${nodeManifest.trimEnd()}\n\n# Its own workspace, written by scripts/vendor-crate.js.\n[workspace]\n\n${profiles.trim()}\n`);

  // Core as a path dependency: without its dev-dependencies, tests, benches and examples.
  const coreManifest = dropSections(fs.readFileSync(path.join(core, 'Cargo.toml'), 'utf8'),
    ['[dev-dependencies', '[[bench]]', '[[test]]', '[[example]]'])
    .replace(/^readme = .*\n/m, '');
  fs.writeFileSync(path.join(out, 'core', 'Cargo.toml'), coreManifest);

  // The repository's lock, pruned: cargo drops what this smaller graph does not use and keeps
  // every version it does use; then the build may run with --locked.
  fs.copyFileSync(path.join(repoRoot, 'Cargo.lock'), path.join(out, 'Cargo.lock'));
  const quiet = { stdio: ['ignore', 'ignore', 'inherit'] };
  run(cargo, ['metadata', '--offline', '--format-version', '1', '--manifest-path', path.join(out, 'Cargo.toml')], quiet);
  run(cargo, ['metadata', '--locked', '--offline', '--format-version', '1', '--manifest-path', path.join(out, 'Cargo.toml')], quiet);
  console.error(`certless: vendored the addon crate and core ${version} into ${path.relative(process.cwd(), out) || out}`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}

/**
 * The TOML text without the tables whose header starts with one of `prefixes`. cargo's normalized
 * manifests put every table on its own `[header]` line, which is all this relies on.
 * @param {string} toml
 * @param {string[]} prefixes
 */
function dropSections(toml, prefixes) {
  return sectionsOf(toml, (header) => header === '' || !prefixes.some((p) => header.startsWith(p)));
}

/**
 * The tables of `toml` (with the text before the first, header '') that `keep` accepts.
 * @param {string} toml
 * @param {(header: string) => boolean} keep
 */
function sectionsOf(toml, keep) {
  let header = '';
  const kept = [];
  for (const line of toml.split('\n')) {
    if (/^\[/.test(line)) header = line.trim();
    if (keep(header)) kept.push(line);
  }
  return kept.join('\n');
}
