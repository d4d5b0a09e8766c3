#!/usr/bin/env node
'use strict';
// npm's install script: builds the native addon with cmake-js.
//
// npm runs it more often than on a fresh clone: on every `npm install` or `npm ci` in a built
// tree, and on the first `npx goal` in a clone, where npm links the package into its npx cache
// and runs its install scripts here, in the working tree. A `cmake-js rebuild` there would
// wipe build/ (pulling the addon from under anything running) and take ~20 s with CUDA. So
// when build/ was configured here, with the same settings, and its last build finished, this
// runs an incremental `cmake-js build` (a no-op when nothing changed); otherwise a clean
// rebuild. `npm run build:native` always rebuilds (e.g. after installing CUDA).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// What the build depends on that CMake's cache does not track: where it was configured, the
// Node it builds for, and the settings read when configuring (GOAL_NO_CUDA in CMakeLists.txt,
// CUDACXX by CMake's CUDA detection, npm_config_cmake_* by cmake-js).
function settings(root, env) {
  const read = {};
  for (const k of Object.keys(env).sort()) {
    if (k === 'GOAL_NO_CUDA' || k === 'CUDACXX' || k.toLowerCase().startsWith('npm_config_cmake_')) read[k] = env[k];
  }
  return JSON.stringify({ root, node: process.version, platform: process.platform, arch: process.arch, env: read });
}

const stampOf = (root) => path.join(root, 'build', 'goal-build.json');

/** 'build' (incremental) when build/ under `root` was last built, completely, with these settings; else 'rebuild'. */
function plan(root, env) {
  let stamp = null;
  try {
    stamp = fs.readFileSync(stampOf(root), 'utf8');
  } catch {}
  const built = ['Release/goal_snn.node', 'CMakeCache.txt'].every((f) => fs.existsSync(path.join(root, 'build', f)));
  return stamp === settings(root, env) && built ? 'build' : 'rebuild';
}

function main() {
  const root = path.resolve(__dirname, '..');
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const run = spawnSync(process.execPath, [cmakeJs, plan(root, process.env), '--log-level', 'warn'], { cwd: root, stdio: 'inherit' });
  if (run.error) {
    console.error(`goal-snn: cannot run cmake-js: ${run.error.message}`);
    process.exit(1);
  }
  if (run.status !== 0) process.exit(run.status === null ? 1 : run.status);
  // Written only after a build that finished: a rebuild starts by deleting build/, so one cut
  // short leaves no stamp and the next install rebuilds again (an incremental build cut short
  // keeps the stamp and is simply resumed).
  fs.writeFileSync(stampOf(root), settings(root, process.env));
}

if (require.main === module) main();
module.exports = { plan, settings };
