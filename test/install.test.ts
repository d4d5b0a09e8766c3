// The install script rebuilds the addon from scratch only when it must: npm runs it again on
// every install in a built tree and on the first `npx goal` in a clone, and a rebuild there
// would delete build/ under a running program.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';

type Env = Record<string, string | undefined>;
const { plan, settings, failed } = require('../native/install.js') as {
  plan: (root: string, env: Env, configure: string, argv?: string[]) => 'build' | 'rebuild';
  settings: (root: string, env: Env, configure: string) => string;
  failed: (env: Env) => string;
};

/** cmake-js's configure command, as `cmake-js print-configure` prints it (abridged). */
const CONFIGURE = "[ 'cmake', '/x', '-G', 'Ninja', '-DNODE_RUNTIMEVERSION=20.20.2' ]";

/** A directory that looks like a finished build with `env`'s settings, less what `omit` names. */
function built(t: { teardown: (fn: () => void) => void }, env: Env, omit: string[] = []) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-install-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
  const files: Record<string, string> = {
    'Release/goal_snn.node': '',
    'CMakeCache.txt': '',
    'goal-build.json': settings(root, env, CONFIGURE),
  };
  for (const [f, text] of Object.entries(files)) if (!omit.includes(f)) fs.writeFileSync(path.join(root, 'build', f), text);
  return root;
}

const base: Env = { PATH: '/usr/bin', HOME: '/root' };

t.test('a finished build with the same settings is built incrementally', async (t) => {
  const root = built(t, base);
  t.equal(plan(root, base, CONFIGURE), 'build');
  // What npx and npm change between runs does not matter to the build.
  t.equal(plan(root, { ...base, PATH: '/usr/bin:/tmp/npx/node_modules/.bin', npm_command: 'exec', npm_config_yes: 'true' }, CONFIGURE), 'build');
});

t.test('what configuring reads forces a rebuild when it changes', async (t) => {
  const root = built(t, base);
  for (const change of [{ GOAL_NO_CUDA: '1' }, { CUDACXX: '/opt/cuda/bin/nvcc' }, { CXX: 'clang++' }, { CUDAARCHS: '100' },
    { CMAKE_GENERATOR: 'Unix Makefiles' }, { npm_cmake_GOAL_CUDA: 'OFF' }]) {
    t.equal(plan(root, { ...base, ...change }, CONFIGURE), 'rebuild', JSON.stringify(change));
  }
  // cmake-js's own options (from .npmrc, another Node's headers, ...) show in its configure command.
  t.equal(plan(root, base, CONFIGURE.replace('20.20.2', '22.1.0')), 'rebuild', 'another configure command');
  // An nvcc that appeared: a build without CUDA is not kept.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-nvcc-'));
  t.teardown(() => fs.rmSync(bin, { recursive: true }));
  fs.writeFileSync(path.join(bin, 'nvcc'), '');
  t.equal(plan(root, { ...base, PATH: `${bin}:/usr/bin` }, CONFIGURE), 'rebuild', 'an nvcc found');
  // ...and the other way round: a build made with GOAL_NO_CUDA=1, installed without it.
  const cpuOnly = built(t, { ...base, GOAL_NO_CUDA: '1' });
  t.equal(plan(cpuOnly, base, CONFIGURE), 'rebuild');
  t.equal(plan(cpuOnly, { ...base, GOAL_NO_CUDA: '1' }, CONFIGURE), 'build');
});

t.test('npm rebuild, build:native (--rebuild) always rebuild', async (t) => {
  const root = built(t, base);
  t.equal(plan(root, { ...base, npm_command: 'rebuild' }, CONFIGURE), 'rebuild');
  t.equal(plan(root, base, CONFIGURE, ['--rebuild']), 'rebuild');
});

t.test('a build that did not finish, or was made elsewhere, is rebuilt', async (t) => {
  for (const missing of ['goal-build.json', 'Release/goal_snn.node', 'CMakeCache.txt']) {
    t.equal(plan(built(t, base, [missing]), base, CONFIGURE), 'rebuild', `without build/${missing}`);
  }
  // A moved tree: CMake's cache names the old directory.
  const root = built(t, base);
  const moved = `${root}-moved`;
  fs.renameSync(root, moved);
  t.teardown(() => fs.rmSync(moved, { recursive: true }));
  t.equal(plan(moved, base, CONFIGURE), 'rebuild');
  // Another machine: the stamp names the host it was built on.
  const elsewhere = built(t, base);
  const stamp = path.join(elsewhere, 'build', 'goal-build.json');
  fs.writeFileSync(stamp, fs.readFileSync(stamp, 'utf8').replace(`"host":${JSON.stringify(os.hostname())}`, '"host":"another-machine"'));
  t.equal(plan(elsewhere, base, CONFIGURE), 'rebuild', 'built on another host');
  // No build at all: a fresh clone.
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-install-'));
  t.teardown(() => fs.rmSync(fresh, { recursive: true }));
  t.equal(plan(fresh, base, CONFIGURE), 'rebuild');
});

t.test('without a built addon, or one that does not load: one GOAL_NO_ADDON line that says how to build it', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-noaddon-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const repo = path.join(__dirname, '..');
  fs.copyFileSync(path.join(repo, 'package.json'), path.join(root, 'package.json'));
  fs.cpSync(path.join(repo, 'dist', 'src'), path.join(root, 'dist', 'src'), { recursive: true });
  fs.cpSync(path.join(repo, 'bin'), path.join(root, 'bin'), { recursive: true });
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(root, 'node_modules'));
  const lib = spawnSync(process.execPath, ['-e', `
    try { require(${JSON.stringify(path.join(root, 'dist', 'src', 'index.js'))}).info(); }
    catch (e) { console.log(e.code + ' ' + e.message); }`], { encoding: 'utf8' });
  t.match(lib.stdout, /^GOAL_NO_ADDON the native addon is not built .*npm rebuild goal-snn .*npm install-scripts approve goal-snn/);
  const cli = spawnSync(process.execPath, [path.join(root, 'bin', 'goal.js'), 'info'], { encoding: 'utf8' });
  t.not(cli.status, 0, 'goal info fails');
  t.match(cli.stderr, /^goal info: the native addon is not built/);
  t.equal(cli.stderr.trim().split('\n').length, 1, `one line: ${cli.stderr}`);
  // One the loader refuses (corrupt, or built for another machine): the same, no stack trace.
  fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
  fs.writeFileSync(path.join(root, 'build', 'Release', 'goal_snn.node'), 'not a shared library\n');
  const broken = spawnSync(process.execPath, ['-e', `
    try { require(${JSON.stringify(path.join(root, 'dist', 'src', 'index.js'))}).info(); }
    catch (e) { console.log(e.constructor.name + ' ' + e.code + ' ' + e.message); }`], { encoding: 'utf8' });
  t.match(broken.stdout, /^GoalError GOAL_NO_ADDON the native addon .*goal_snn\.node cannot be loaded \(.+\): rebuild it, .*npm rebuild goal-snn/);
  const brokenCli = spawnSync(process.execPath, [path.join(root, 'bin', 'goal.js'), 'train', '-N', '20'], { encoding: 'utf8' });
  t.not(brokenCli.status, 0, 'goal train fails');
  t.match(brokenCli.stderr, /^goal train: the native addon .* cannot be loaded/);
  t.equal(brokenCli.stderr.trim().split('\n').length, 1, `one line: ${brokenCli.stderr}`);
});

t.test('a failed build says what it needs, and which of it is not on PATH', async (t) => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-tools-'));
  t.teardown(() => fs.rmSync(bin, { recursive: true }));
  const needs = 'it needs CMake ≥ 3.18 and a C++17 compiler (README.md, Quick start)';
  t.equal(failed({ PATH: bin }), `goal-snn: the native addon was not built (not found on PATH: cmake, a C++ compiler (c++, g++ or clang++)); ${needs}`);
  fs.writeFileSync(path.join(bin, 'cmake'), '');
  t.equal(failed({ PATH: bin }), `goal-snn: the native addon was not built (not found on PATH: a C++ compiler (c++, g++ or clang++)); ${needs}`);
  t.equal(failed({ PATH: bin, CXX: '/opt/gcc/bin/g++' }), `goal-snn: the native addon was not built; ${needs}`, 'CXX names the compiler');
  fs.writeFileSync(path.join(bin, 'clang++'), '');
  t.equal(failed({ PATH: `/nonexistent${path.delimiter}${bin}` }), `goal-snn: the native addon was not built; ${needs}`, 'both found: the build failed for another reason');
});
