#!/usr/bin/env node
'use strict';
// npm's install script: builds the native addon with cmake-js.
//
// npm runs it more often than on a fresh clone: on every `npm install` or `npm ci` in a built
// tree, and on the first `npx goal` in a clone, where npm links the package into its npx cache
// and runs its install scripts here, in the working tree. A `cmake-js rebuild` there would
// wipe build/ (pulling the addon from under anything running) and take ~20 s with CUDA. So
// when build/ was configured on this machine, in this place, with the same settings, and its
// last build finished, this runs an incremental `cmake-js build` (a no-op when nothing
// changed), and a clean rebuild should that fail; otherwise, and always for `npm rebuild`,
// `npm run build:native` or `--rebuild`, a clean rebuild.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Environment variables that CMake reads when it configures (compilers, their flags, the CUDA
// architectures) and that CMakeLists.txt reads (GOAL_NO_CUDA); the configure step's outcome,
// cached, does not follow them afterwards. npm_cmake_* are cmake-js's -D options, which the
// configure command below shows too.
const CONFIGURE_ENV = /^(GOAL_NO_CUDA|CC|CXX|CUDACXX|CUDAHOSTCXX|CFLAGS|CXXFLAGS|CUDAFLAGS|CUDAARCHS|LDFLAGS|CMAKE_[A-Z_]+|npm_cmake_.+)$/;

// Where an nvcc would be found: the cache keeps the one (or none) it found when configuring.
function nvccInSight(env) {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean).concat('/usr/local/cuda/bin');
  return dirs.map((d) => path.join(d, 'nvcc')).find((f) => fs.existsSync(f)) ?? null;
}

/**
 * What the build depends on that CMake's cache does not track, as text: the machine and the
 * place it was configured in, the Node it builds for, the environment read when configuring,
 * the nvcc in sight, and cmake-js's configure command (its -D options, from .npmrc's cmake_*
 * keys too, the generator, the Node headers).
 */
function settings(root, env, configure) {
  const read = {};
  for (const k of Object.keys(env).sort()) if (CONFIGURE_ENV.test(k)) read[k] = env[k];
  return JSON.stringify({
    root, host: os.hostname(), node: process.version, platform: process.platform, arch: process.arch,
    env: read, nvcc: nvccInSight(env), configure,
  });
}

const stampOf = (root) => path.join(root, 'build', 'goal-build.json');

/** The tools the build needs that `env`'s PATH lacks (CXX, when set, names the compiler). */
function missingTools(env) {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? ['.exe', ''] : [''];
  const found = (name) => dirs.some((d) => exts.some((ext) => fs.existsSync(path.join(d, name + ext))));
  const missing = [];
  if (!found('cmake')) missing.push('cmake');
  if (!(env.CXX || ['c++', 'g++', 'clang++'].some(found))) missing.push('a C++ compiler (c++, g++ or clang++)');
  return missing;
}

/** The line a failed build ends with: what it needs, and what of it is not in sight. */
function failed(env) {
  const missing = missingTools(env);
  return `goal-snn: the native addon was not built${missing.length ? ` (not found on PATH: ${missing.join(', ')})` : ''}; ` +
    'it needs CMake ≥ 3.18 and a C++17 compiler (README.md, Quick start)';
}

/**
 * 'build' (incremental) when build/ under `root` was last built, completely, with these
 * settings, and no rebuild was asked for; else 'rebuild'.
 */
function plan(root, env, configure, argv = []) {
  if (argv.includes('--rebuild') || env.npm_command === 'rebuild') return 'rebuild';
  let stamp = null;
  try {
    stamp = fs.readFileSync(stampOf(root), 'utf8');
  } catch {}
  const built = ['Release/goal_snn.node', 'CMakeCache.txt'].every((f) => fs.existsSync(path.join(root, 'build', f)));
  return built && stamp === settings(root, env, configure) ? 'build' : 'rebuild';
}

function main() {
  const root = path.resolve(__dirname, '..');
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const cmake = (command, stdio = 'inherit') => {
    const r = spawnSync(process.execPath, [cmakeJs, command, '--log-level', 'warn'], { cwd: root, stdio, encoding: 'utf8' });
    if (r.error) {
      console.error(`goal-snn: cannot run cmake-js: ${r.error.message}`);
      process.exit(1);
    }
    return r;
  };
  const fail = (status) => {
    console.error(failed(process.env));
    process.exit(status ?? 1);
  };
  const printed = cmake('print-configure', ['ignore', 'pipe', 'inherit']);
  if (printed.status !== 0) fail(printed.status);
  const configure = printed.stdout.trim();
  let run = cmake(plan(root, process.env, configure, process.argv.slice(2)));
  if (run.status !== 0 && fs.existsSync(stampOf(root))) {
    // The cache may name a compiler or a generator that is gone (CUDA upgraded, ninja removed).
    console.error('goal-snn: the incremental build failed; building afresh');
    run = cmake('rebuild');
  }
  if (run.status !== 0) fail(run.status);
  // Written only after a build that finished: a rebuild starts by deleting build/, so one cut
  // short leaves no stamp and the next install rebuilds again (an incremental build cut short
  // keeps the stamp and is simply resumed).
  fs.writeFileSync(stampOf(root), settings(root, process.env, configure));
}

if (require.main === module) main();
module.exports = { plan, settings, failed };
