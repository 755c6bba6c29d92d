#!/usr/bin/env node
// Builds the certless addon from source with cargo and puts it at ./certless.node.
//
//   node scripts/build.js              debug build (shares the workspace's target/debug with `cargo test`)
//   node scripts/build.js --release    optimised build
//   node scripts/build.js --install    what `npm install` runs: nothing when the prebuilt addon of
//                                      this platform (an optional dependency) loads; otherwise a
//                                      release build, or CERTLESS_NODE_PROFILE
//   node scripts/build.js --types      also regenerate native.d.ts (napi-derive) and index.d.ts (tsc)
//   node scripts/build.js --with-cli   also build the `certless` CLI (the emulator the tests start)
//
// Environment: CERTLESS_NODE_PROFILE (install profile, default release), CERTLESS_NODE_SKIP_BUILD
// (install builds nothing), CERTLESS_NODE_FROM_SOURCE (install builds even when a prebuilt addon
// loads), CERTLESS_NODE_CARGO_FLAGS (extra cargo arguments), CARGO (cargo binary).
//
// In a checkout it builds node/Cargo.toml, a member of the repository's workspace. A packed
// package has no workspace: it carries the crate as rust/ (scripts/vendor-crate.js), built with
// --locked against the lock file that came with it.
//
// cargo is called directly, without `--target`, so the dependency tree is compiled once into the
// same target/ directory the other test suites use (`napi build` always passes `--target`).
// Only the Node standard library is used: a consumer's `npm install` has no devDependencies.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const install = args.has('--install');
const types = args.has('--types');
const profile = args.has('--release')
  ? 'release'
  : install
    ? (process.env.CERTLESS_NODE_PROFILE || 'release')
    : 'debug';

function fail(message) {
  console.error(`certless: ${message}`);
  process.exit(1);
}

if (install && process.env.CERTLESS_NODE_SKIP_BUILD) {
  console.log('certless: CERTLESS_NODE_SKIP_BUILD is set, not building the addon');
  process.exit(0);
}
if (install && !process.env.CERTLESS_NODE_FROM_SOURCE) {
  const prebuilt = loadablePrebuilt();
  if (prebuilt) {
    console.log(`certless: using the prebuilt addon ${prebuilt}; nothing to build`);
    process.exit(0);
  }
}

// A checkout's crate (a workspace member), else the one packed with the package.
const checkout = fs.existsSync(path.join(root, 'Cargo.toml'));
const manifest = checkout ? path.join(root, 'Cargo.toml') : path.join(root, 'rust', 'Cargo.toml');
if (!fs.existsSync(manifest)) fail(`${manifest} is missing: this copy of the package cannot be built from source`);

const cargo = process.env.CARGO || 'cargo';
const cargoArgs = ['build', '--manifest-path', manifest, '-p', 'certless-node',
  '--message-format=json-render-diagnostics'];
if (args.has('--with-cli')) cargoArgs.push('-p', 'certless-cli');
if (profile === 'release') cargoArgs.push('--release');
else if (profile !== 'debug') cargoArgs.push('--profile', profile);
if (args.has('--locked') || !checkout) cargoArgs.push('--locked');
// Extra cargo arguments, e.g. '--locked --offline' (whitespace-separated).
if (process.env.CERTLESS_NODE_CARGO_FLAGS) cargoArgs.push(...process.env.CERTLESS_NODE_CARGO_FLAGS.split(/\s+/).filter(Boolean));

const env = { ...process.env };
let typeDefDir;
if (types) {
  // napi-derive writes one type-def line per #[napi] item while it expands the macros; forcing
  // the build script to rerun makes cargo recompile this crate (only this crate) so it does.
  typeDefDir = fs.mkdtempSync(path.join(os.tmpdir(), 'certless-typedef-'));
  env.NAPI_TYPE_DEF_TMP_FOLDER = typeDefDir;
  env.NAPI_FORCE_BUILD_CERTLESS_NODE = String(Date.now());
}

console.error(`certless: ${cargo} ${cargoArgs.join(' ')}`);
const built = spawnSync(cargo, cargoArgs, { cwd: path.dirname(manifest), env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 });
if (built.error) {
  fail(built.error.code === 'ENOENT'
    ? `cannot run '${cargo}': there is no prebuilt certless addon for ${process.platform}-${process.arch}, so it is ` +
      "built from source, which needs Rust (https://rustup.rs); install it, then run 'npm rebuild certless'"
    : `cannot run cargo: ${built.error.message}`);
}
if (built.status !== 0) fail(`cargo build failed (exit ${built.status})`);

// The cdylib's path, from cargo's own report (respects CARGO_TARGET_DIR and friends).
let library;
for (const line of built.stdout.toString().split('\n')) {
  if (!line.startsWith('{')) continue;
  const message = JSON.parse(line);
  if (message.reason === 'compiler-artifact' && message.target && message.target.name === 'certless_node') {
    library = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f));
  }
}
if (!library) fail('cargo did not report the certless_node library');

// Copy then rename: a process that has the old addon loaded keeps its mapping intact.
const dest = path.join(root, 'certless.node');
const tmp = `${dest}.${process.pid}.tmp`;
fs.copyFileSync(library, tmp);
fs.renameSync(tmp, dest);
console.error(`certless: ${path.relative(process.cwd(), dest) || dest} <- ${library}`);

// A from-source install leaves a gigabyte of build output in node_modules/certless/rust/target;
// only the addon is needed (an explicit CARGO_TARGET_DIR is the caller's to keep).
if (install && !checkout && !process.env.CARGO_TARGET_DIR) {
  fs.rmSync(path.join(root, 'rust', 'target'), { recursive: true, force: true });
}

if (types) {
  generateTypes().catch((e) => fail(`generating the type declarations failed: ${e && e.stack || e}`));
}

/**
 * The prebuilt addon package of this platform when it is installed and loads, else undefined.
 * The same table as loadAddon() in index.js: npm installs the one optional dependency whose
 * os/cpu/libc fit.
 */
function loadablePrebuilt() {
  const name = {
    'linux-x64': '@certless/linux-x64-gnu',
    'win32-x64': '@certless/win32-x64-gnu',
  }[`${process.platform}-${process.arch}`];
  if (!name) return undefined;
  try {
    require(name);
    return name;
  } catch (e) {
    if (e && e.code !== 'MODULE_NOT_FOUND') {
      console.error(`certless: the prebuilt addon ${name} does not load here (${e.message}); building from source`);
    }
    return undefined;
  }
}

async function generateTypes() {
  const { generateTypeDef } = await import('@napi-rs/cli');
  const header = '// Generated by `npm run types` from node/src/*.rs (napi-derive): do not edit.\n' +
    '// The raw addon; the package API is index.d.ts.\n';
  const { dts } = await generateTypeDef({ typeDefDir, cwd: root, dtsHeader: header });
  fs.writeFileSync(path.join(root, 'native.d.ts'), dts.endsWith('\n') ? dts : `${dts}\n`);
  fs.rmSync(typeDefDir, { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) fail('tsc failed to generate index.d.ts');
  console.error('certless: wrote native.d.ts and index.d.ts');
}
