// goal_math.h's exp, which σ' uses on the CPU and the GPU alike: within one unit in the last
// place of the correctly rounded value over the whole range, and saturating instead of
// overflowing. Checked against long double expl in a small C++ program (skipped without g++).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';

const root = path.join(__dirname, '..');
const skip = spawnSync('g++', ['--version']).status === 0 ? false : 'g++ not found';

const program = `
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include "goal_math.h"
template <typename F, typename I> long long ulps(F a, F b) {
  I x, y; std::memcpy(&x, &a, sizeof a); std::memcpy(&y, &b, sizeof b);
  return x > y ? (long long)(x - y) : (long long)(y - x);
}
int main() {
  std::mt19937_64 g(7);
  long long worst_f = 0, worst_d = 0;
  for (int i = 0; i < 2000000; ++i) {
    const float xf = float(std::uniform_real_distribution<double>(-87, 88)(g));
    worst_f = std::max(worst_f, ulps<float, unsigned>(goal::exp_(xf), float(expl((long double)xf))));
    const double xd = std::uniform_real_distribution<double>(-708, 709)(g);
    worst_d = std::max(worst_d, ulps<double, unsigned long long>(goal::exp_(xd), double(expl((long double)xd))));
  }
  const bool finite = std::isfinite(goal::exp_(1e6f)) && std::isfinite(goal::exp_(1e6)) &&
                      goal::exp_(-1e6f) >= 0 && goal::exp_(-1e6) >= 0 && goal::exp_(0.0) == 1 && goal::exp_(0.0f) == 1;
  std::printf("%lld %lld %d\\n", worst_f, worst_d, finite ? 1 : 0);
}
`;

t.test('exp_ is within 1 ulp and saturates', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-math-'));
  fs.writeFileSync(path.join(dir, 'exp.cpp'), program);
  const exe = path.join(dir, 'exp');
  const b = spawnSync('g++', ['-std=c++17', '-O2', '-ffp-contract=off', `-I${path.join(root, 'native', 'kernels')}`, path.join(dir, 'exp.cpp'), '-o', exe], { encoding: 'utf8' });
  t.equal(b.status, 0, b.stderr);
  const [f, d, finite] = spawnSync(exe, { encoding: 'utf8' }).stdout.trim().split(' ').map(Number);
  t.ok(f <= 1, `float: at most ${f} ulp from the correctly rounded value`);
  t.ok(d <= 1, `double: at most ${d} ulp`);
  t.equal(finite, 1, 'finite at ±1e6, exact at 0');
  fs.rmSync(dir, { recursive: true });
});
