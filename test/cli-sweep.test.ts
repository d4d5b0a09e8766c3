// `goal sweep` as users run it: the Figure 2 tables, Ctrl-C then --resume, shards and merge,
// and bad grids refused with exit 2.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { readRows } from '../src/index';
import { parseSeeds } from '../src/cli/sweep';
import { BIN, firstDegenerateSeed, scratchDir, signalled } from './helpers';
import { main } from '../src/cli/main';
import type { Io } from '../src/cli/io';

const goal = (args: string[], cwd: string) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const GRID = ['-N', '30', '-T', '40', '-E', '20', '8', '--ranks', '3,ltts', '--taus', '2,5', '--seeds', '2', '--backend', 'cpu'];

t.test('tables laid out like Figure 2 D–F', async (t) => {
  const dir = scratchDir('goal-cs-');
  const r = goal(['sweep', ...GRID, '--out', 'rows.jsonl'], dir);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /final readout MSE \(median over 2 seeds\)\nrank \\ τ⋆ +2 +5\n3 +\S+ +\S+\nLTTS +\S+ +\S+/);
  t.match(r.out, /final spike error ΔS\n/);
  t.match(r.out, /T_conv \(epochs; — = not reached\)\n/);
  t.equal(readRows(path.join(dir, 'rows.jsonl')).rows.length, 8);
  const again = goal(['sweep', ...GRID, '--out', 'rows.jsonl'], dir);
  t.equal(again.code, 2, 'an existing file needs --resume');
  t.match(again.err, /--out rows.jsonl exists: add --resume to finish it/);
  fs.writeFileSync(path.join(dir, 'empty.jsonl'), '');
  const into = goal(['sweep', ...GRID, '--out', 'empty.jsonl'], dir);
  t.equal(into.code, 0, `an empty file (mktemp's) is taken as new: ${into.err}`);
  t.equal(readRows(path.join(dir, 'empty.jsonl')).rows.length, 8, 'and filled');
  const resumed = goal(['sweep', ...GRID, '--out', 'rows.jsonl', '--resume'], dir);
  t.equal(resumed.code, 0);
  t.match(resumed.err, /^resuming: 8 points are already in rows.jsonl; 0 to run\n/m);
  t.equal(readRows(path.join(dir, 'rows.jsonl')).rows.length, 8, 'nothing added');
  // A narrower grid (or a mistyped one) on the same file: the other rows are kept, and said.
  const narrow = GRID.map((a) => (a === '3,ltts' ? '3' : a === '2,5' ? '2,7' : a));
  const other = goal(['sweep', ...narrow, '--out', 'rows.jsonl', '--resume', '--json'], dir);
  t.equal(other.code, 0, other.err);
  t.match(other.err, /^resuming: 2 points are already in rows.jsonl, and 6 points of another grid \(kept there; not in this summary\); 2 to run\n/m);
  const json = JSON.parse(other.out) as { summary: { rank: unknown; tau_o: number; seeds: number }[] } & Record<string, unknown>;
  t.match(json, { planned: 2, completed: 2, skipped: 2, outside: 6, aborted: false });
  t.strictSame(json.summary.map((c) => [c.rank, c.tau_o, c.seeds]), [[3, 2, 2], [3, 7, 2]], 'this grid\'s cells only');
  t.equal(readRows(path.join(dir, 'rows.jsonl')).rows.length, 10);
  fs.rmSync(dir, { recursive: true });
});

t.test('a Ctrl-C as the last point ends: every point is done, and the status still 130', async (t) => {
  const dir = scratchDir('goal-cs-');
  let err = '', stop = () => {};
  const io: Io = {
    out: () => {},
    // The last point's line is said after its row is written: the Ctrl-C comes too late to stop any.
    err: (s) => { err += s; if (/^point 3\/3:/m.test(s)) stop(); },
    stderr: process.stderr, exitCode: 0, onInterrupt: (s) => ((stop = s), () => {}),
  };
  const out = path.join(dir, 'rows.jsonl');
  const code = await main(['sweep', '-N', '30', '-T', '40', '-E', '5', '3', '--ranks', '3', '--taus', '5', '--seeds', '3', '--out', out, '--threads', '1', '--backend', 'cpu'], io);
  t.equal(code, 130);
  t.match(err, /\ngoal: interrupted as the last points ran to their end: every point is done\n$/);
  t.equal(readRows(out).rows.length, 3, 'all three rows written');
  fs.rmSync(dir, { recursive: true });
});

t.test('Ctrl-C, then --resume: each point once', async (t) => {
  const dir = scratchDir('goal-cs-');
  const args = ['sweep', '-N', '60', '-T', '60', '-E', '50', '300', '--ranks', '3,6,ltts', '--taus', '5', '--seeds', '3', '--out', 'rows.jsonl', '--threads', '1', '--backend', 'cpu'];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (/point 2\/9/.test(err) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  t.equal(code, 130);
  t.match(err, /interrupted with \d of 9 points done; run the same command with --resume to finish/);
  const before = readRows(path.join(dir, 'rows.jsonl')).rows.length;
  t.ok(before >= 2 && before < 9, `${before} points kept`);
  const r = goal([...args, '--resume'], dir);
  t.equal(r.code, 0, r.err);
  // Said first: the points that follow are numbered among those left.
  t.match(r.err, new RegExp(`^resuming: ${before} points are already in rows.jsonl; ${9 - before} to run\npoint 1/${9 - before}: `));
  const rows = readRows(path.join(dir, 'rows.jsonl')).rows;
  t.equal(rows.length, 9);
  t.equal(new Set(rows.map((x) => `${x.rank}|${x.seed}`)).size, 9, 'no point twice');
  fs.rmSync(dir, { recursive: true });
});

t.test('Ctrl-C before the first point ends: the tables show the whole grid, every cell (0)', async (t) => {
  const dir = scratchDir('goal-cs-');
  // A batch of one (the lockstep path) reports its epochs with --verbose: the signal lands in one.
  const args = ['sweep', '-N', '60', '-T', '60', '-E', '5', '100000', '--ranks', '3,ltts', '--taus', '5', '--seeds', '2', '--batch', '1',
    '--backend', 'cpu', '--verbose'];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir });
  let err = '', out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => {
    err += d;
    if (/^batch recurrent 1\//m.test(err) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  t.equal(code, 130, err);
  t.match(err, /interrupted with 0 of 4 points done/);
  t.match(out, /final spike error ΔS\nrank \\ τ⋆ +5\n3 +\(0\)\nLTTS +\(0\)\n/);
  fs.rmSync(dir, { recursive: true });
});

t.test('a sweep ended by a signal (second Ctrl-C, SIGTERM) leaves no lock behind: --resume needs no cleanup on any host', async (t) => {
  for (const signals of [['SIGINT', 'SIGINT'], ['SIGTERM']] as NodeJS.Signals[][]) {
    const dir = scratchDir('goal-cs-');
    // Epochs of about 3 s on a free 2-core machine (long enough for a host five times as fast):
    // the signals land while one runs (a second Ctrl-C 300 ms after the first is acknowledged),
    // so only they can end it. A batch of one
    // (--batch 1, the lockstep path; the lock is the sweep's either way) reports its epochs
    // with --verbose: the signals wait for the first, however loaded the machine.
    // SIGTERM with --json: a batch system's time limit, the summary piped to a file.
    const json = signals[0] === 'SIGTERM';
    const args = ['sweep', '-N', '1200', '-T', '15000', '-E', '0', '100', '--ranks', 'ltts', '--taus', '5', '--seeds', '3', '--out', 'rows.jsonl',
      '--batch', '1', '--threads', '1', '--backend', 'cpu', '--verbose', ...(json ? ['--json'] : [])];
    const { ended, err, out } = await signalled(args, dir, /^batch recurrent 1\//m, signals.map((s, i) => (i === 0 ? [0, s] : [300, s, /stopping after the epochs in progress/]) as [number, NodeJS.Signals, RegExp?]),
      () => t.ok(fs.existsSync(path.join(dir, 'rows.jsonl.lock')), 'the lock is there while the sweep runs'));
    t.strictSame(ended, { code: null, signal: signals.at(-1) }, `${signals.join(', ')}: ended by the signal`);
    t.match(err, new RegExp(`\ngoal: ${signals.length > 1 ? 'quit' : 'terminated'} with 0 points done by this run; run the same command with --resume to finish\n$`), 'last words');
    // Its summary first, as a stopped sweep's: the grid's one cell, no point in it.
    if (json) {
      t.match(JSON.parse(out), { planned: 3, completed: 0, skipped: 0, aborted: true, backend: 'cpu', summary: [{ rank: 'ltts', tau_o: 5, seeds: 0, t_conv: null }] }, 'one JSON object');
    } else {
      t.match(out, /^final readout MSE \(median over 3 seeds; \(k\): a cell with only k\)\nrank \\ τ⋆ +5\nLTTS +\(0\)\n/, 'the tables');
    }
    t.notOk(fs.existsSync(path.join(dir, 'rows.jsonl.lock')), 'and the lock is gone');
    fs.rmSync(dir, { recursive: true });
  }
});

t.test('shards and merge', async (t) => {
  const dir = scratchDir('goal-cs-');
  for (const k of [1, 2]) t.equal(goal(['sweep', ...GRID, '--shard', `${k}/2`, '--out', `s${k}.jsonl`], dir).code, 0);
  const m = goal(['sweep', 'merge', 's1.jsonl', 's2.jsonl', '--out', 'all.jsonl'], dir);
  t.equal(m.code, 0, m.err);
  const both = goal(['sweep', '--out', 'A.jsonl', 'merge', 's1.jsonl', '--out', 'B.jsonl'], dir);
  t.equal(both.code, 2, '--out before and after merge: refused');
  t.equal(both.err, 'goal sweep merge: --out is given twice ("A.jsonl" and "B.jsonl"): give it once\n');
  t.notOk(fs.existsSync(path.join(dir, 'A.jsonl')) || fs.existsSync(path.join(dir, 'B.jsonl')), 'neither written');
  t.match(m.err, /merged 8 points from 2 files into all.jsonl/);
  // The count is of files, as mergeRows reads them: ./s1.jsonl is s1.jsonl, merged once.
  const twice = goal(['sweep', 'merge', 's1.jsonl', './s1.jsonl', 's2.jsonl', '--out', 'again.jsonl'], dir);
  t.equal(twice.code, 0, twice.err);
  t.match(twice.err, /named twice \(also as s1.jsonl\): merged once\nmerged 8 points from 2 files into again.jsonl/);
  const full = goal(['sweep', ...GRID], dir);
  t.equal(m.out, full.out, 'merged summary = unsharded summary');
  // Another sweep of the same configuration (seeds 1–3, not 1–2): joined, said to be two grids.
  const other = GRID.map((a, i) => (GRID[i - 1] === '--seeds' ? '3' : a));
  t.not(other.join(' '), GRID.join(' '), 'a grid of other seeds');
  t.equal(goal(['sweep', ...other, '--out', 'other.jsonl'], dir).code, 0);
  const mixed = goal(['sweep', 'merge', 'all.jsonl', 'other.jsonl', '--out', 'mixed.jsonl'], dir);
  t.equal(mixed.code, 0, mixed.err);
  t.match(mixed.err, /^merged \d+ points of 2 grids from 2 files into mixed.jsonl$/m);
  t.notMatch(mixed.err, /missing/, 'the seeds-1–3 grid is whole');
  // A shard of the seeds-1–3 grid beside the whole seeds-1–2 grid spans no gap of ranks × τ⋆ ×
  // seeds, yet holds fewer points than its grid: said.
  t.equal(goal(['sweep', ...other, '--shard', '2/3', '--out', 'other2.jsonl'], dir).code, 0);
  const part = goal(['sweep', 'merge', 'all.jsonl', 'other2.jsonl', '--out', 'part.jsonl'], dir);
  t.equal(part.code, 0, part.err);
  t.match(part.err, /^goal: warning: these rows hold 8 points, fewer than the largest of their 2 grids has \(12\): a shard that did not finish/m);
  // Resuming one shard's file as another shard: the first shard's points are kept, said as such.
  const reshard = goal(['sweep', ...GRID, '--shard', '1/2', '--out', 's2.jsonl', '--resume'], dir);
  t.equal(reshard.code, 0, reshard.err);
  t.match(reshard.err, /^resuming: s2.jsonl holds 4 points outside this shard \(kept there; not in this summary\); 4 to run$/m);
  const missing = goal(['sweep', 'merge', 'nope.jsonl', '--out', 'x.jsonl'], dir);
  t.equal(missing.code, 2);
  t.match(missing.err, /nope.jsonl: cannot read it \(ENOENT\)/);
  fs.writeFileSync(path.join(dir, 'junk.jsonl'), '{"x":1}\n');
  const junk = goal(['sweep', 'merge', 'junk.jsonl', '--out', 'j.jsonl'], dir);
  t.equal(junk.code, 2);
  t.match(junk.err, /junk.jsonl: line 1 lacks the fields of a sweep row/);
  t.notOk(fs.existsSync(path.join(dir, 'j.jsonl')), 'nothing written');
  // /dev/zero has no newline: read line by line, it would take all the memory there is.
  const device = goal(['sweep', 'merge', '/dev/zero', '--out', 'z.jsonl'], dir);
  t.equal(device.code, 2);
  t.equal(device.err, 'goal sweep merge: /dev/zero: is a device, a pipe or a socket, not a results file\n');
  // A shell's pipe (bash's <(…), /dev/fd/N) is read; a named pipe, which may have no writer, is not.
  const bash = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" sweep merge <(cat s1.jsonl) --out piped.jsonl`], { cwd: dir, encoding: 'utf8' });
  if (bash.error) t.test('merge <(cat s1.jsonl)', { skip: 'bash not found' }, async () => {});
  else {
    t.equal(bash.status, 0, `merge <(cat s1.jsonl) ${bash.stderr}`);
    t.equal(fs.readFileSync(path.join(dir, 'piped.jsonl'), 'utf8'), fs.readFileSync(path.join(dir, 's1.jsonl'), 'utf8'), 'the shard, as it was');
  }
  t.equal(goal(['sweep', 'merge', 's1.jsonl', '', '--out', 'e.jsonl'], dir).err, 'goal sweep merge: a shard file name is empty\n');
  t.equal(goal(['sweep', 'merge', '-', '--out', 'e.jsonl'], dir).err, 'goal sweep merge: merge reads shard files by name, not standard input (-)\n');
  t.notOk(fs.existsSync(path.join(dir, 'e.jsonl')), 'nothing written');
  const before = goal(['sweep', '--out', 'before.jsonl', 'merge', 's1.jsonl', 's2.jsonl'], dir);
  t.equal(before.code, 0, '--out given before "merge" is merge\'s');
  t.equal(fs.readFileSync(path.join(dir, 'before.jsonl'), 'utf8'), fs.readFileSync(path.join(dir, 'all.jsonl'), 'utf8'));
  const stray = goal(['sweep', '--ranks', '3', 'merge', 's1.jsonl', '--out', 'stray.jsonl'], dir);
  t.equal(stray.code, 2);
  t.equal(stray.err, 'goal sweep merge: put nothing but --out before "merge": it takes shard files and --out (got --ranks there)\n');
  // -E's list of values would take "merge" and the files: the same refusal, naming -E.
  const epochs = goal(['sweep', '-E', '1', '1', 'merge', 's1.jsonl', '--out', 'epochs.jsonl'], dir);
  t.equal(epochs.code, 2);
  t.equal(epochs.err, 'goal sweep merge: put nothing but --out before "merge": it takes shard files and --out (got -E/--epochs there)\n');
  t.notOk(fs.existsSync(path.join(dir, 'epochs.jsonl')), 'nothing written');
  t.match(goal(['sweep', '-n_rec', '20', 'merge', 's1.jsonl', '--out', 'n.jsonl'], dir).err, /\(got -N\/--n-rec there\)\n$/, 'a parameter by its spellings');
  const none = goal(['sweep', 'merge', 's1.jsonl'], dir);
  t.equal(none.code, 2);
  t.equal(none.err, 'goal sweep merge: --out <file> is required: the merged file to write\n');
  const half = goal(['sweep', 'merge', 's1.jsonl', '--out', 'half.jsonl'], dir);
  t.equal(half.code, 0, 'a merge of some shards is written…');
  t.match(half.err, /goal: warning: 4 of the grid's 8 points are missing: a shard that did not finish, or a file left out\?/, '…with a warning');
  t.match(half.out, /median over 1 seed\)/, 'and its tables say over how many seeds (shard 1/2 of 2 seeds: seed 1)');
  const again = goal(['sweep', 'merge', 's1.jsonl', '--out', 'all.jsonl'], dir);
  t.equal(again.code, 2, 'an existing --out is not overwritten');
  t.match(again.err, /^goal sweep merge: --out all.jsonl exists: merge writes a new file/);
  fs.rmSync(dir, { recursive: true });
});

t.test('merge takes --out as a sweep does: never while another writes it, and two merges to one file: one lands', async (t) => {
  const dir = scratchDir('goal-cs-');
  t.equal(goal(['sweep', ...GRID, '--out', 's.jsonl'], dir).code, 0);
  // A lock naming a live process of this host (this test): a sweep (or merge) writing that file.
  fs.writeFileSync(path.join(dir, 'busy.jsonl.lock'), `${os.hostname()} ${process.pid}\n`);
  const busy = goal(['sweep', 'merge', 's.jsonl', '--out', 'busy.jsonl'], dir);
  t.equal(busy.code, 2, "exit 2, as a sweep refused its lock");
  t.match(busy.err, new RegExp(`^goal sweep merge: --out "busy.jsonl" is being written by process ${process.pid} on `));
  t.notOk(fs.existsSync(path.join(dir, 'busy.jsonl')), 'nothing written');
  t.ok(fs.existsSync(path.join(dir, 'busy.jsonl.lock')), 'and the lock, not merge\'s, is left alone');
  // Two merges at once: whichever comes second finds the lock or the file, and writes nothing.
  const run = () => new Promise<number | null>((resolve) => {
    spawn(process.execPath, [BIN, 'sweep', 'merge', 's.jsonl', '--out', 'both.jsonl'], { cwd: dir, stdio: 'ignore' }).on('exit', resolve);
  });
  for (let i = 0; i < 3; i++) {
    fs.rmSync(path.join(dir, 'both.jsonl'), { force: true });
    const codes = await Promise.all([run(), run()]);
    t.strictSame(codes.filter((c) => c === 0).length, 1, `one of the two lands (exit codes ${codes.join(', ')})`);
    t.equal(readRows(path.join(dir, 'both.jsonl')).rows.length, 8);
    t.notOk(fs.existsSync(path.join(dir, 'both.jsonl.lock')), 'no lock left behind');
  }
  fs.rmSync(dir, { recursive: true });
});

t.test('bad sweeps: exit 2, one short message', async (t) => {
  const dir = scratchDir('goal-cs-');
  const firstDegenerate = firstDegenerateSeed(1);
  const cases: [string[], RegExp][] = [
    [['-N', '30', '--ranks', '3,200', '--taus', '5', '--seeds', '1'], /--ranks must be an integer in \[3, 30\] \(got 200\)/],
    [['-N', '30', '--ranks', '3,x', '--taus', '5', '--seeds', '1'], /^goal sweep: --ranks expects integers in \[O, N\], or ltts \(got "x"\)\n$/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--threads', 'abc'], /^goal sweep: --threads expects an integer in \[1, \d+\] \(got "abc"\)\n$/],
    // A flag where a value belongs: not the word it left over.
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--threads', '--out', 'o.jsonl'], /^goal sweep: --threads needs a value, not the flag "--out"\n$/],
    [['-N', '30', '--ranks', '--taus', '5', '--seeds', '1'], /^goal sweep: --ranks needs a value, not the flag "--taus"\n$/],
    [['-N', '30', '--ranks', '3', '--taus', '0', '--seeds', '1'], /--taus must be a finite number > 0 \(got 0\)/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '0'], /--seeds: a count must be an integer in \[1, 100000\]/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--shard', '3/2'], /--shard must be k\/n/],
    // Past 2^53 the numbers would be rounded (9007199254740993 reads as …992): refused instead.
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--shard', '9007199254740993/9007199254740993'], /--shard must be k\/n with 1 ≤ k ≤ n ≤ 9007199254740991/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--shard', '1/99999999999999999999'], /--shard must be k\/n/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--threads', '0'], /--threads must be an integer in \[1, 1024\] \(got 0\)/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--threads', '99999999'], /--threads must be an integer in \[1, 1024\]/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--resume'], /--resume needs an output file \(--out\)/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--out', 'nodir/r.jsonl'], /--out "nodir\/r.jsonl": folder .* does not exist/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--out', ''], /--out "": needs a file name/],
    // "-" is standard output to many tools and a file named "-" to the file system: refused.
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--out', '-'], /^goal sweep: --out -: not standard output \(the summary tables go there\); give a file name \(\.\/- for a file named "-"\)\n$/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1,2,1'], /--seeds lists 1 twice/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '9007199254740993,'], /^goal sweep: --seeds expects integers in \[0, 9007199254740991\] \(got "9007199254740993", past 9007199254740991: it would read as 9007199254740992\)\n$/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1,,2'], /--seeds needs a comma-separated list without empty items \(got "1,,2"\)/],
    [['-N', '30', '--ranks', '3,,ltts', '--taus', '5', '--seeds', '1'], /--ranks needs a comma-separated list without empty items/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--conv', '0'], /--conv must be a finite number > 0 \(got 0\)/],
    [['-N', '30', '--taus', '5', '--seeds', '1'], /--ranks is required/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '-To', '3'], /-To\/--tau-o is set by the sweep's grid: give its values with --taus/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '-R', '3'], /-R\/--rank is set by the sweep's grid: give its values with --ranks/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--seed', '3'], /--seed is set by the sweep's grid: give its values with --seeds/],
    [['--ranks', '3', '--taus', '5', '--seeds', '1'], /-N\/--n-rec is required/],
    [['-N', '30', '-E', '5', '0', '--ranks', '3', '--taus', '5', '--seeds', '1'], /^goal sweep: -E\/--epochs must give a sweep at least one recurrent epoch \(got 5 0\)\n$/],
    [['-N', '30', '40', '--ranks', '3', '--taus', '5', '--seeds', '1'], /unexpected argument "40": a value without its flag/],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '-savepath', 'x.pkl'], /^goal sweep: -savepath is goal train's stats file; a sweep writes one row per point to --out FILE$/m],
    [['-N', '30', '--ranks', '3', '--taus', '5', '--seeds', '1', '--gpu'], /--gpu asks for the GPU; it contradicts --backend cpu/],
    // Seeds 1..k where k is the first seed whose target is degenerate at T = 9 (by the task's
    // definition): the sweep fails before seed 1 trains, and --out is not created.
    [['-N', '30', '-T', '9', '-E', '2', '2', '--ranks', '3', '--taus', '5', '--seeds', String(firstDegenerate), '--out', 'deg.jsonl'],
      new RegExp(`-T/--t-seq=9 and seed ${firstDegenerate}: the target is degenerate`)],
  ];
  for (const [args, message] of cases) {
    const r = goal(['sweep', ...args, '--backend', 'cpu'], dir);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.err, message);
    t.ok(r.err.trim().split('\n').length <= 3, 'at most 3 lines');
    t.notMatch(r.err, /^\s+at /m, 'no stack trace');
  }
  const merged = goal(['sweep', 'merge', 'a.jsonl', '--out', '-'], dir);
  t.equal(merged.code, 2);
  t.match(merged.err, /^goal sweep merge: --out -: not standard output \(the summary tables go there\)/);
  t.strictSame(fs.readdirSync(dir), [], 'no file written');
  fs.rmSync(dir, { recursive: true });
});

t.test('--threads beyond the cores: goal sizes Node\'s worker pool to match, no warning', async (t) => {
  const dir = scratchDir('goal-cs-');
  const env = { ...process.env };
  delete env.UV_THREADPOOL_SIZE;
  // Up to twice the cores (or 8) the pool follows --threads; Node's default is max(4, cores).
  const threads = String(Math.max(8, 2 * os.availableParallelism()));
  const r = spawnSync(process.execPath, [BIN, 'sweep', '-N', '20', '-T', '30', '-E', '2', '2', '--ranks', '3', '--taus', '5', '--seeds', threads, '--threads', threads, '--backend', 'cpu'],
    { cwd: dir, encoding: 'utf8', env });
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stderr, /worker pool|UV_THREADPOOL_SIZE/);
  t.match(r.stderr, new RegExp(`sweep: ${threads} points in`));
  fs.rmSync(dir, { recursive: true });
});

t.test('--threads past the worker pool: no more networks at once than it runs, so a row\'s seconds are its own', async (t) => {
  const dir = scratchDir('goal-cs-');
  // One pool thread, three equal points: run together, the last would wait for the other two
  // and count their time (≈ the sweep's); one at a time, each takes about a third of it.
  const r = spawnSync(process.execPath, [BIN, 'sweep', '-N', '100', '-T', '100', '-E', '10', '600', '--ranks', '3', '--taus', '5', '--seeds', '3',
    '--threads', '3', '--backend', 'cpu', '--out', 'rows.jsonl', '--json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /^goal: warning: --threads 3, but Node's worker pool has 1 thread: one network runs at once/);
  const total = JSON.parse(r.stdout).seconds as number;
  const rows = readRows(path.join(dir, 'rows.jsonl')).rows;
  t.equal(rows.length, 3);
  t.ok(Math.max(...rows.map((x) => x.seconds)) < 0.75 * total, `rows ${rows.map((x) => x.seconds.toFixed(3))} s of a ${total} s sweep`);
  fs.rmSync(dir, { recursive: true });
});

t.test('many threads share the sweep\'s signal without Node warning of a listener leak', async (t) => {
  const dir = scratchDir('goal-cs-');
  // Node warns past 10 listeners on one signal: 12 points in flight at once, each listening.
  const r = spawnSync(process.execPath, [BIN, 'sweep', '-N', '20', '-T', '40', '-E', '2', '3', '--ranks', '3', '--taus', '5', '--seeds', '12',
    '--threads', '12', '--backend', 'cpu'], { cwd: dir, encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '12' } });
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stderr, /MaxListenersExceeded|memory leak/);
  fs.rmSync(dir, { recursive: true });
});

t.test('--seeds: a count or a list, spaces around items ignored as for every number', async (t) => {
  t.strictSame(parseSeeds(' 3'), [1, 2, 3]);
  t.strictSame(parseSeeds('7,'), [7]);
  t.strictSame(parseSeeds('4, 9'), [4, 9]);
  t.throws(() => parseSeeds('0'), /--seeds: a count must be an integer in \[1, 100000\]/);
});
