// Fixtures written by Python's json module may hold NaN and ±Infinity (its default, allow_nan).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { parsePythonJson } from '../src/io/pyjson';
import { expectFields, replay } from '../src/replay';
import { BIN, loadFixture, replayMatches, scratchDir } from './helpers';

const python = spawnSync('python3', ['--version']).status === 0;

t.test('non-finite words outside strings are numbers; inside strings they stay words', async (t) => {
  const v = parsePythonJson('{"a": [NaN, Infinity, -Infinity, 1.5], "s": "NaN and -Infinity", "k\\"NaN": NaN}') as Record<string, unknown>;
  t.ok(Number.isNaN((v.a as number[])[0]));
  t.strictSame((v.a as number[]).slice(1), [Infinity, -Infinity, 1.5]);
  t.equal(v.s, 'NaN and -Infinity');
  t.ok(Number.isNaN(v['k"NaN'] as number), 'an escaped quote does not end a string early');
});

t.test('standard JSON as JSON.parse reads it; broken JSON fails with JSON.parse\'s own error', async (t) => {
  t.strictSame(parsePythonJson('{"x": [1, 2]}'), { x: [1, 2] });
  const err = (() => { try { parsePythonJson('{"x": NaN,'); } catch (e) { return e as Error; } })();
  t.ok(err instanceof SyntaxError);
  t.notMatch(err?.message, /goal:NaN|1e999/, 'about the text as given, not as rewritten');
  t.throws(() => parsePythonJson('{"x": -NaN}'), SyntaxError, 'Python never writes -NaN');
  t.throws(() => parsePythonJson('{"x": NaNa}'), SyntaxError);
});

t.test('goal train --replay reads a fixture Python wrote with non-finite values', { skip: python ? false : 'python3 not found' }, async (t) => {
  const dir = scratchDir('goal-pyjson-');
  const fx = loadFixture('rank3-n40.json') as unknown as Record<string, any>;
  // A target entry whose square overflows: every readout MSE is +∞ (and the readout's weights
  // end non-finite). Its expect is this run's own (replay() runs a fixture without one), with
  // each non-finite value a word that Python turns into the float and writes as NaN or Infinity.
  fx.task.targ[20][1] = 1e308;
  delete fx.expect;
  const warnings: string[] = [];
  const r = await replay(fx as never, { onWarning: (m) => warnings.push(m) });
  t.equal(r.mseOut, Infinity, 'the readout MSE overflows');
  t.match(warnings, [/^the readout training diverged/], 'and says so (to the test, not as a stray process warning)');
  fx.expect = expectFields(r, r.params.feedback);
  const worded = JSON.stringify(fx, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
  const src = path.join(dir, 'worded.json'), out = path.join(dir, 'fx.json');
  fs.writeFileSync(src, worded);
  const py = spawnSync('python3', ['-c', `
import json, sys
words = {'NaN', 'Infinity', '-Infinity'}
def floats(v):
    if isinstance(v, str) and v in words: return float(v.replace('Infinity', 'inf'))
    if isinstance(v, list): return [floats(x) for x in v]
    if isinstance(v, dict): return {k: floats(x) for k, x in v.items()}
    return v
json.dump(floats(json.load(open(sys.argv[1]))), open(sys.argv[2], 'w'))
`, src, out], { encoding: 'utf8' });
  t.equal(py.status, 0, py.stderr);
  t.match(fs.readFileSync(out, 'utf8'), /"mse_out": Infinity/, 'Python wrote the word');
  const cli = spawnSync(process.execPath, [BIN, 'train', '--replay', out, '--json'], { encoding: 'utf8' });
  t.equal(cli.status, 0, cli.stderr);
  const j = JSON.parse(cli.stdout);
  t.strictSame(j.replay_check.mse_out.ok, true, 'mse_out = Infinity matches');
  t.ok(replayMatches(j.replay_check), 'and so does every other field');
  fs.rmSync(dir, { recursive: true });
});
