// Fixtures written by Python's json module may hold NaN and ±Infinity (its default, allow_nan).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { parsePythonJson } from '../src/io/pyjson';
import { BIN } from './helpers';

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

t.test('goal train --replay reads a fixture Python wrote with a non-finite value', { skip: python ? false : 'python3 not found' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-pyjson-'));
  const src = path.join(__dirname, 'fixtures', 'reference', 'rank3-n40.json');
  const out = path.join(dir, 'fx.json');
  // A target entry whose square overflows: every readout MSE is +∞, which Python writes as Infinity.
  const py = spawnSync('python3', ['-c', `
import json, sys
f = json.load(open(sys.argv[1]))
f['task']['targ'][20][1] = 1e308
f['expect'] = {'mse_out': float('inf')}
json.dump(f, open(sys.argv[2], 'w'))
`, src, out], { encoding: 'utf8' });
  t.equal(py.status, 0, py.stderr);
  t.match(fs.readFileSync(out, 'utf8'), /"mse_out": Infinity/, 'Python wrote the word');
  const r = spawnSync(process.execPath, [BIN, 'train', '--replay', out, '--json'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.strictSame(j.replay_check.mse_out.ok, true, 'mse_out = Infinity matches');
  fs.rmSync(dir, { recursive: true });
});
