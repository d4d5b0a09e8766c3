// The install script rebuilds the addon from scratch only when it must: npm runs it again on
// every install in a built tree and on the first `npx goal` in a clone, and a rebuild there
// would delete build/ under a running program.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';

type Env = Record<string, string | undefined>;
const { plan, settings } = require('../native/install.js') as {
  plan: (root: string, env: Env) => 'build' | 'rebuild';
  settings: (root: string, env: Env) => string;
};

/** A directory that looks like a finished build with `env`'s settings, less what `omit` names. */
function built(env: Env, omit: string[] = []) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-install-'));
  fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
  const files: Record<string, string> = {
    'Release/goal_snn.node': '',
    'CMakeCache.txt': '',
    'goal-build.json': settings(root, env),
  };
  for (const [f, text] of Object.entries(files)) if (!omit.includes(f)) fs.writeFileSync(path.join(root, 'build', f), text);
  return root;
}

const base: Env = { PATH: '/usr/bin', HOME: '/root' };

t.test('a finished build with the same settings is built incrementally', async (t) => {
  const root = built(base);
  t.teardown(() => fs.rmSync(root, { recursive: true }));
  t.equal(plan(root, base), 'build');
  // What npx and npm change between runs does not matter to the build.
  t.equal(plan(root, { ...base, PATH: '/tmp/npx/node_modules/.bin:/usr/bin', npm_command: 'exec', npm_config_yes: 'true' }), 'build');
});

t.test('what CMake reads when configuring forces a rebuild when it changes', async (t) => {
  const root = built(base);
  t.teardown(() => fs.rmSync(root, { recursive: true }));
  for (const change of [{ GOAL_NO_CUDA: '1' }, { CUDACXX: '/opt/cuda/bin/nvcc' }, { npm_config_cmake_GOAL_CUDA: 'OFF' }]) {
    t.equal(plan(root, { ...base, ...change }), 'rebuild', JSON.stringify(change));
  }
  // ...and so does the other way round: a build made with GOAL_NO_CUDA=1, installed without it.
  const cpuOnly = built({ ...base, GOAL_NO_CUDA: '1' });
  t.teardown(() => fs.rmSync(cpuOnly, { recursive: true }));
  t.equal(plan(cpuOnly, base), 'rebuild');
  t.equal(plan(cpuOnly, { ...base, GOAL_NO_CUDA: '1' }), 'build');
});

t.test('a build that did not finish, or was made elsewhere, is rebuilt', async (t) => {
  for (const missing of ['goal-build.json', 'Release/goal_snn.node', 'CMakeCache.txt']) {
    const root = built(base, [missing]);
    t.equal(plan(root, base), 'rebuild', `without build/${missing}`);
    fs.rmSync(root, { recursive: true });
  }
  // A moved tree: CMake's cache names the old directory.
  const root = built(base);
  const moved = `${root}-moved`;
  fs.renameSync(root, moved);
  t.teardown(() => fs.rmSync(moved, { recursive: true }));
  t.equal(plan(moved, base), 'rebuild');
  // No build at all: a fresh clone.
  const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-install-'));
  t.teardown(() => fs.rmSync(fresh, { recursive: true }));
  t.equal(plan(fresh, base), 'rebuild');
});
