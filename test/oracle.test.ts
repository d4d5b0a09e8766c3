// The engine against a second implementation of SPEC.md (test/oracle/goal_oracle.py, NumPy,
// dense and step by step) on corners the reference fixtures do not reach: rank = O and
// rank = N for both feedback forms, the factored/dense switch at 2R = N, one output and
// one input, a single neuron, non-default constants and threshold, sizes that are not a
// multiple of any vector width, empty phases, and readouts that diverge to NaN (SPEC's dense
// arithmetic spreads it: 0·NaN is NaN); and, in float32 (NumPy keeps float32 arrays float32
// as the reference's PyTorch does), output-level feedback, dense D, odd constants and a
// readout whose squared errors overflow a float32 sum (mse ∞ while W_ho is finite), which the
// reference's float32 fixtures lack. The oracle earns its place by first reproducing
// every reference fixture, float64 and float32.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compareReplay, replay, REPLAY_TOLERANCE, type JsonFixture } from '../src/index';
import { parsePythonJson } from '../src/io/pyjson';
import { FIXTURE_DIR, fixtureNames } from './helpers';

const ORACLE = path.join(__dirname, 'oracle', 'goal_oracle.py');
const numpy = spawnSync('python3', ['-c', 'import numpy']).status === 0;
const skip = numpy ? false : 'python3 with numpy not found: the NumPy oracle cannot run';

function oracle(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('python3', [ORACLE, ...args], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

t.test('the oracle reproduces the reference fixtures', { skip }, async (t) => {
  const r = oracle('check', ...fixtureNames().map((f) => path.join(FIXTURE_DIR, f)));
  t.equal(r.status, 0, r.out);
  t.match(r.out, /rank3-n40\.json: ok/, 'it checked the float64 fixtures');
  t.match(r.out, /rank12-n40-f32\.json: ok/, 'and the float32 ones');
});

t.test('the engine replays the oracle\'s cases: float64 exactly, float32 within its tolerance', { skip }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-oracle-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const made = oracle('make', dir);
  t.equal(made.status, 0, made.out);
  const cases = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  t.ok(cases.length >= 21, `${cases.length} cases`);
  t.ok(cases.filter((c) => c.includes('diverged')).length >= 4, 'diverged readouts among them');
  // Python's json writes NaN for a diverged run's values.
  const fixtures = new Map(cases.map((c) => [c, parsePythonJson(fs.readFileSync(path.join(dir, c), 'utf8')) as JsonFixture]));
  t.ok([...fixtures.values()].filter((f) => f.dtype === 'float32').length >= 8, 'float32 cases among them');
  for (const [name, fixture] of fixtures) {
    if (name.includes('diverged')) {
      t.ok(Number.isNaN(fixture.expect?.mse_out) && fixture.expect?.W_hh_final?.flat().some(Number.isNaN), `${name}: the oracle's run did diverge`);
    }
    const diverged = name.includes('diverg'); // also 'diverging': finite, but grown
    const warnings: string[] = [];
    const result = await replay(fixture, { onWarning: (m) => warnings.push(m) });
    t.equal(result.dtype, fixture.dtype, `${name}: replayed in the fixture's precision`);
    t.equal(warnings.length, diverged ? 1 : 0, `${name}: ${diverged ? 'one warning' : 'no warning'} ${warnings.join('; ')}`);
    if (diverged) t.match(warnings[0], /^the readout training diverged/);
    const checks = compareReplay(fixture, result);
    const expected = Object.keys(fixture.expect ?? {}).filter((k) => k !== 'min_margin').length;
    t.equal(checks.length, expected, `${name}: every expected field compared`);
    const bad = checks.filter((c) => !c.ok).map((c) => `${c.field} (rel ${c.maxRel.toExponential(2)})`);
    t.strictSame(bad, [], `${name}: spikes and dz exact, the rest within ${REPLAY_TOLERANCE[fixture.dtype]}`);
  }
});
