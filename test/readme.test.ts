// The README says what the code does: its parameter table is the library's defaults, and CI
// runs the README's test command.
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { defaults, paramDocs } from '../src/index';
import { describeDefault, parameterTable } from '../src/params';

const root = path.join(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

t.test('the parameter table is generated from defaults and paramDocs', async (t) => {
  t.ok(readme.includes(parameterTable()), 'README holds parameterTable() verbatim (regenerate it if this fails)');
  const rows = readme.split('\n').filter((l) => /^\| `\w+` \|/.test(l));
  t.equal(rows.length, paramDocs.length, 'one row per parameter');
  for (const row of rows) {
    const [, name, , shown] = row.split('|').map((c) => c.trim());
    const key = name.replace(/`/g, '') as keyof typeof defaults;
    const value = defaults[key];
    if (typeof value === 'number' || typeof value === 'string') t.equal(shown, String(value), `${key}: ${shown}`);
    else t.equal(shown, describeDefault(key), `${key}: ${shown}`);
  }
});

t.test('every parameter states its unit (— when it has none)', async (t) => {
  t.strictSame(paramDocs.filter((d) => !d.unit).map((d) => d.name), []);
  t.match(readme, /^Units: .*`a\.u\.`.*`—`/ms, 'the README says what the units mean');
});

t.test('quick start and CI agree', async (t) => {
  t.match(readme, /\$ npm install\n/);
  t.match(readme, /\$ npm test\n/);
  t.match(readme, /\$ npx goal train -N 150\n/);
  const ci = fs.readFileSync(path.join(root, '.ci', 'run'), 'utf8');
  t.match(ci, /^npm ci$/m);
  t.match(ci, /^npm test$/m, 'CI runs the README test command');
});

t.test("the README's library example runs as printed", async (t) => {
  const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(code, 'README has a js example');
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'goal-readme-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'goal-snn'), 'dir');
  fs.writeFileSync(path.join(dir, 'example.js'), code!);
  const r = require('node:child_process').spawnSync(process.execPath, ['example.js'], { cwd: dir, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.strictSame(lines.slice(0, 4).map((l: string) => Number(l.split(' ')[0])), [250, 500, 750, 1000], 'progress every 250 epochs');
  t.match(lines[4], /^\S+ \S+ \d+ 1 cpu:/, 'mse_out, last mse_rec, last dz, seed, device');
  fs.rmSync(dir, { recursive: true });
});

t.test("the README's sweep example prints what the README shows (its seeds fix every number)", async (t) => {
  const block = /```console\n(\$ npx goal sweep [^\n]*)\n([\s\S]*?)```/.exec(readme);
  t.ok(block, 'README has the sweep example');
  const args = block![1].replace('$ npx goal ', '').split(' ');
  const shown = block![2];
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'goal-readme-'));
  const r = require('node:child_process').spawnSync(process.execPath, [path.join(root, 'bin', 'goal.js'), ...args, '--backend', 'cpu'],
    { cwd: dir, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.ok(shown.includes(r.stdout.trim()), `the tables, verbatim:\n${r.stdout}`);
  // Points are numbered as they finish, which threads may reorder: compare the one shown.
  const point = (text: string) => /^point \d\/6: (rank 3, τ⋆ 5, seed 1: .*)\(/m.exec(text)?.[1];
  t.ok(point(shown), 'the README shows rank 3, seed 1');
  t.equal(point(shown), point(r.stderr), 'rank 3, seed 1, but for its time');
  t.match(shown, /^sweep: 6 points in [\d.]+ s on cpu$/m);
  fs.rmSync(dir, { recursive: true });
});
