// The engine against a second implementation of SPEC.md (test/oracle/goal_oracle.py, NumPy,
// dense and step by step) on corners the reference fixtures do not reach: rank = O and
// rank = N for both feedback forms, the factored/dense switch at 2R = N, one output and
// one input, a single neuron, non-default constants and threshold, sizes that are not a
// multiple of any vector width, and empty phases. The oracle earns its place by first
// reproducing every float64 reference fixture.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareReplay, replay, type Fixture } from '../src/index';
import { FIXTURE_DIR, fixtureNames } from './helpers';

const ORACLE = path.join(__dirname, 'oracle', 'goal_oracle.py');
const numpy = spawnSync('python3', ['-c', 'import numpy']).status === 0;
const skip = numpy ? false : 'python3 with numpy not found: the NumPy oracle cannot run';

function oracle(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('python3', [ORACLE, ...args], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

t.test('the oracle reproduces the float64 reference fixtures', { skip }, async (t) => {
  const r = oracle('check', ...fixtureNames().map((f) => path.join(FIXTURE_DIR, f)));
  t.equal(r.status, 0, r.out);
  t.match(r.out, /rank3-n40\.json: ok/, 'it checked the fixtures');
});

t.test('the engine replays the oracle\'s cases exactly (float64)', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-oracle-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const made = oracle('make', dir);
  t.equal(made.status, 0, made.out);
  const cases = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  t.ok(cases.length >= 16, `${cases.length} cases`);
  for (const name of cases) {
    const fixture = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as Fixture;
    const result = await replay(fixture, { onWarning: (m) => t.fail(`${name}: unexpected warning ${m}`) });
    const checks = compareReplay(fixture, result);
    const expected = Object.keys(fixture.expect ?? {}).filter((k) => k !== 'min_margin').length;
    t.equal(checks.length, expected, `${name}: every expected field compared`);
    const bad = checks.filter((c) => !c.ok).map((c) => `${c.field} (rel ${c.maxRel.toExponential(2)})`);
    t.strictSame(bad, [], `${name}: spikes and dz exact, the rest within 1e-9`);
  }
});
