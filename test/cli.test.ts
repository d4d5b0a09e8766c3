// The `goal` command as users run it: a real process, its exit code, stdout and stderr.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { Parser } from 'pickleparser';
import { paramDocs, version } from '../src/index';
import { addon } from '../src/native';
import { firstWord, rewriteLegacy, TAKES_VALUE } from '../src/cli/legacy';
import { trainCommand } from '../src/cli/train';
import { sweepCommand } from '../src/cli/sweep';
import { main } from '../src/cli/main';
import type { Io } from '../src/cli/io';
import { MAX_ARRAY, type EpochInfo } from '../src/run';
import { LINE_EVERY_S, makeProgress } from '../src/cli/progress';
import { BIN, firstDegenerateSeed, FIXTURE_DIR, loadFixture, relDiff, replayMatches, scratchDir, signalled } from './helpers';

const python = spawnSync('python3', ['--version']).status === 0;
const gpu = addon().info().cuda.available;

function goal(args: string[], cwd = os.tmpdir()) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, GOAL_DEBUG: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function tmpdir(): string {
  return scratchDir('goal-cli-');
}

t.test('plain progress lines: after the first epoch, at each tenth, and after LINE_EVERY_S seconds without one', async (t) => {
  let text = '';
  const stream = { isTTY: false, write: (s: string) => (text += s) } as unknown as NodeJS.WriteStream;
  const p = makeProgress(stream);
  // 100 recurrent epochs of 0.2 s, except epoch 35, which ends 2·LINE_EVERY_S later.
  let seconds = 0;
  for (let epoch = 1; epoch <= 100; epoch++) {
    seconds += epoch === 35 ? 2 * LINE_EVERY_S : 0.2;
    p.update({ phase: 'recurrent', epoch, epochs: 100, mse: 0.5, dz: 7, seconds } satisfies EpochInfo);
  }
  const lines = text.split('\n').filter(Boolean);
  t.strictSame(lines.map((l) => Number(/^recurrent (\d+)\/100 /.exec(l)?.[1])), [1, 10, 20, 30, 35, 40, 50, 60, 70, 80, 90, 100]);
  t.match(lines[0], /^recurrent 1\/100 \(1%\) 5\.0 ep\/s ETA 19\.8 s mse 0\.5000 \| ΔZ 7$/, 'the rate of the first epoch, from its seconds');
  text = '';
  // Epochs of 10 s: none at a tenth after the first, but one at least every LINE_EVERY_S.
  const q = makeProgress(stream);
  for (let epoch = 1; epoch <= 9; epoch++) q.update({ phase: 'readout', epoch, epochs: 1000, mse: 1, seconds: 10 * epoch });
  t.strictSame(text.split('\n').filter(Boolean).map((l) => Number(/^readout +(\d+)\/1000 /.exec(l)?.[1])), [1, 4, 7]);
  t.match(text, /^readout +1\/1000 .* ETA 2\.8 h /, '999 epochs of 10 s to go: 9990 s, in hours');
  text = '';
  // A sweep's batches one after another in the same phase: each gets its tenths.
  const b = makeProgress(stream, 'batch ');
  for (let batch = 0; batch < 2; batch++) {
    for (let epoch = 1; epoch <= 20; epoch++) b.update({ phase: 'recurrent', epoch, epochs: 20, mse: 1, dz: 0, seconds: 0.1 * epoch });
  }
  const tenths = [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20];
  t.strictSame(text.split('\n').filter(Boolean).map((l) => Number(/^batch recurrent (\d+)\/20 /.exec(l)?.[1])), [...tenths, ...tenths]);
});

t.test('the legacy rewriter knows every option that takes a value, as commander declares them', async (t) => {
  const io = {} as Io; // the commands are only declared here, never run
  const sweep = sweepCommand(io);
  for (const cmd of [trainCommand(io), sweep, ...sweep.commands]) {
    const valued = cmd.options.filter((o) => o.required && o.long).map((o) => o.long!);
    t.ok(valued.length > 0, `goal ${cmd.name()} declares options with values`);
    for (const flag of valued) t.ok(TAKES_VALUE.has(flag), `goal ${cmd.name()} ${flag}`);
  }
});

t.test("the seed README's command, verbatim", async (t) => {
  const dir = tmpdir();
  const r = goal('train -N 150 -T 150 -O 3 -E 5000 1000 -savepath output.pkl --gpu --verbose'.split(' '), dir);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^Training time: .*\nTarget readout MSE: .*\nModel readout MSE: .*\nModel spike error: .*\n$/);
  const warnings = r.err.split('\n').filter((l) => /warning/.test(l));
  if (!gpu) {
    t.match(warnings, [/no usable GPU.*running on the CPU \(cpu:(base|avx2|avx512)\)$/], 'exactly one warning: it runs on the CPU');
    t.match(r.err.split('\n')[0], /no usable GPU/, 'told first, then the run');
  }
  t.match(r.err, /n_rec +150/, 'parameter recap');
  t.match(r.err, /recurrent 1000\/1000 \(100%\) [\d.]+ ep\/s ETA .* mse .* ΔZ \d+/, 'plain progress lines off a terminal');
  const stats = new Parser().parse(fs.readFileSync(path.join(dir, 'output.pkl'))) as [number, number[], number[]];
  t.equal(stats.length, 3);
  t.equal(stats[1].length, 1000, '1000 mse_rec values');
  t.equal(stats[2].length, 1000, '1000 dz values');
  if (python) {
    const py = spawnSync('python3', ['-c', 'import pickle; d = pickle.load(open("output.pkl", "rb")); print(type(d).__name__, len(d), type(d[0]).__name__, len(d[1]), len(d[2]))'], { cwd: dir, encoding: 'utf8' });
    t.equal(py.stdout.trim(), 'tuple 3 float 1000 1000', 'Python loads (mse_out, [1000], [1000])');
  }
  fs.rmSync(dir, { recursive: true });
});

t.test('--json prints one object and nothing else', async (t) => {
  const r = goal(['train', '-N', '40', '-T', '50', '-E', '20', '5', '--seed', '3', '--json']);
  t.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  const j = JSON.parse(lines[0]);
  t.match(j, { mse_out: Number, seed: 3, backend: 'cpu', dtype: 'float32', seconds: Number, aborted: false, params: { n_rec: 40, t_seq: 50 } });
  t.equal(j.mse_rec.length, 5);
  t.equal(j.dz.length, 5);
});

t.test('legacy and long spellings give identical runs', async (t) => {
  const legacy = '-N 30 -I 4 -O 2 -T 40 -E 10 3 -R 5 -Rlr 0.2 -Olr 0.003 -F spk -Tm 7 -Ts 3 -To 4 -Si 20 -St 7 -Sr 0.9 -Vo -3 -B -5 -rst -15 -dt 0.002 --seed 9 --json';
  const long = '--n-rec 30 --n-inp 4 --n-out 2 --t-seq 40 --epochs 10 3 --rank 5 --rec-lr 0.2 --out-lr 0.003 --feedback spk --tau-m 7 --tau-s 3 --tau-o 4 --sigma-inp 20 --sigma-trg 7 --sigma-rec 0.9 --v-init -3 --bias -5 --reset -15 --dt 0.002 --seed 9 --json';
  const argparse = '-n_rec 30 -n_inp 4 -n_out 2 -t_seq 40 -epochs 10 3 -rank 5 -rec_lr 0.2 -out_lr 0.003 -feedback spk -tau_m 7 -tau_s 3 -tau_o 4 -sigma_inp 20 -sigma_trg 7 -sigma_rec 0.9 -Vo -3 -bias -5 -reset -15 -dt 0.002 --seed 9 --json';
  const runs = [legacy, long, argparse].map((a) => goal(['train', ...a.split(' ')]));
  for (const r of runs) t.equal(r.code, 0, r.err);
  const [a, b, c] = runs.map((r) => JSON.parse(r.out));
  t.strictSame(b.params, a.params, 'long = legacy params');
  t.strictSame(c.params, a.params, 'argparse names = legacy params');
  t.match(a.params, { n_rec: 30, n_inp: 4, n_out: 2, t_seq: 40, epochs: [10, 3], rank: 5, rec_lr: 0.2, out_lr: 0.003, tau_m: 7, tau_s: 3, tau_o: 4, sigma_inp: 20, sigma_trg: 7, sigma_rec: 0.9, Vo: -3, bias: -5, reset: -15, dt: 0.002 });
  t.strictSame([b.mse_rec, b.dz], [a.mse_rec, a.dz], 'and identical results');
  const eq = goal(['train', '-N=30', '-T', '40', '-E', '10', '3', '-savepath=' + path.join(tmpdir(), 'eq.pkl'), '--seed', '9', '--V', '--json']);
  t.equal(eq.code, 0, `-flag=value and --V work: ${eq.err}`);
});

t.test('a repeated -E: the last counts, like any repeated flag, the earlier ones checked; --epochs=a b is --epochs a b', async (t) => {
  const before = (...values: string[]) => [...values, ''].map((v) => `--epochs-before=${v}`);
  t.strictSame(rewriteLegacy(['-E', '3', '3', '-N', '5', '-epochs', '2', '2']), [...before('3', '3'), '-N', '5', '--epochs', '2', '2']);
  t.strictSame(rewriteLegacy(['-E', '1', '-1', '--epochs=4', '4', '-T', '30']), [...before('1', '-1'), '--epochs', '4', '4', '-T', '30']);
  t.strictSame(rewriteLegacy(['-E=5', '5']), ['--epochs', '5', '5']);
  t.strictSame(rewriteLegacy(['-E5', '5']), ['--epochs', '5', '5'], '-E5 5 is -E 5 5, as -N30 is -N 30');
  t.strictSame(rewriteLegacy(['-E', '3', '3', '-E5', '2']), [...before('3', '3'), '--epochs', '5', '2'], 'and a repeat of it');
  t.throws(() => rewriteLegacy(['-Epochs', '3', '3']), { message: "unknown option '-Epochs'" }, 'only a number is glued to -E');
  t.strictSame(rewriteLegacy(['-E', '3', '3', '2', '2']), ['--epochs', '3', '3', '2', '2'], 'one flag with four values is left to fail');
  t.strictSame(rewriteLegacy(['-E', '5', '5', '7', '-E', '1', '1']), [...before('5', '5'), '7', '--epochs', '1', '1'], 'a stray value stays, to be refused');
  const r = goal(['train', '-N', '10', '-T', '30', '-E', '3', '3', '--seed', '1', '-E', '2', '1', '--json']);
  t.equal(r.code, 0, r.err);
  t.strictSame(JSON.parse(r.out).params.epochs, [2, 1]);
  const four = goal(['train', '-N', '10', '-E', '3', '3', '2', '2']);
  t.equal(four.code, 2);
  t.match(four.err, /-E\/--epochs takes two integers, readout epochs and recurrent epochs \(got 3 3 2 2\)/);
});

t.test('any repeated flag: the last value counts (as with argparse), each checked in its own right', async (t) => {
  const run = (args: string) => goal(['train', '-T', '20', '--seed', '1', '--json', ...args.split(' ')]);
  const ok = run('-N 5 -Tm 7 --tau-m 6 -E 1 1 -E 2 2 -R 3 -R ltts');
  t.equal(ok.code, 0, ok.err);
  t.match(JSON.parse(ok.out).params, { tau_m: 6, epochs: [2, 2], rank: null });
  // An earlier value is judged with the other flags' final values; an error it causes about another flag is not its own.
  const crossed = run('-N 3 -R 5 -N 8 -E 1 1');
  t.equal(crossed.code, 0, `-N 3 -R 5 -N 8: the rank is judged against the N that counts: ${crossed.err}`);
  for (const [args, message] of [
    ['-N abc -N 20', /^goal train: -N\/--n-rec expects an integer in \[1, \d+\] \(got "abc"\)\n$/],
    ['-N 20 -R foo -R 5', /-R\/--rank expects a number, or ltts \(or none\) for LTTS \(got "foo"\)/],
    ['-N 20 -R 30 -R 5', /-R\/--rank must be an integer in \[3, 20\] \(got 30\)/],
    ['-N 20 -F bogus -F spk', /-F\/--feedback must be one of spk, out \(got "bogus"\)/],
    ['-N 20 --dtype float16 --dtype float64', /--dtype must be one of float32, float64 \(got "float16"\)/],
    ['-N 20 -E -1 5 -E 2 2', /-E\/--epochs must be two integers: .* \(got \[-1, 5\]\)/],
    ['-N 20 -E 1 -E 2 2', /-E\/--epochs takes two integers, readout epochs and recurrent epochs \(got 1\)/],
    ['-N 20 -E -E 2 2', /-E\/--epochs takes two integers, readout epochs and recurrent epochs \(got none\)/],
    ['-N 20 -E 5,5', /^goal train: -E\/--epochs takes two integers, readout epochs and recurrent epochs \(got 5,5\); give them as two words: -E 5 5\n$/],
    ['-N 20 --seed abc --seed 3', /--seed expects an integer in \[0, \d+\] \(got "abc"\)/],
    ['-N 20 -Tm 0 -Tm 3', /-Tm\/--tau-m must be a finite number > 0 \(got 0\)/],
  ] as [string, RegExp][]) {
    const r = run(args);
    t.equal(r.code, 2, `${args}: exit 2`);
    t.match(r.err, message, args);
    t.equal(r.out, '', `${args}: nothing on stdout`);
  }
  const sweep = goal(['sweep', '-N', '20', '-N', 'abc', '-N', '20', '--ranks', '3', '--taus', '5', '--seeds', '1', '--backend', 'cpu']);
  t.equal(sweep.code, 2, 'goal sweep too');
  t.match(sweep.err, /-N\/--n-rec expects an integer in \[1, \d+\] \(got "abc"\)/);
  // An earlier -E that is another flag's missing value is reported as that, as typed.
  t.match(run('-N -E 1 1 -E 2 2').err, /^goal train: -N\/--n-rec expects an integer in \[1, \d+\] \(got "-E"\)\n$/);
  t.match(run('-N -epochs 1 1 -E 2 2').err, /^goal train: -N\/--n-rec expects an integer in \[1, \d+\] \(got "-epochs"\)\n$/, 'in its own spelling');
  t.match(run('-N 10 -Tm -E 1 1 -E 2 2').err, /^goal train: -Tm\/--tau-m expects a finite number > 0 \(got "-E"\)\n$/);
  t.match(run('-N 10 -E 1 1 --epochs-before 5 5').err, /^goal train: unknown option '--epochs-before'\n\(see goal train --help\)\n$/, 'the hidden option is ours alone');
  // The paper's flags given a dash too many, or another case: named, with their long spelling.
  for (const [flag, meant] of [['--Tm', '-Tm (--tau-m)'], ['--vo', '-Vo (--v-init)'], ['--St', '-St (--sigma-trg)'], ['--v', '--V (--verbose)']]) {
    t.equal(run(`-N 10 ${flag} 3`).err, `goal train: unknown option '${flag}'\n(Did you mean ${meant}?)\n(see goal train --help)\n`, flag);
  }
  t.equal(goal(['info', '--Tm']).err, "goal info: unknown option '--Tm'\n(see goal info --help)\n", 'not suggested where the command takes no such flag');
  // A one-letter flag given two dashes, in its case; in another case it is as likely a long option's start.
  t.equal(run('--N 10').err, "goal train: unknown option '--N'\n(Did you mean -N (--n-rec)?)\n(see goal train --help)\n", '--N');
  t.equal(goal(['sweep', '--o', 'x']).err, "goal sweep: unknown option '--o'\n(see goal sweep --help)\n", '--o: not -O (--out is as likely)');
  // What the message quotes of the command line keeps it on its lines: control characters escaped.
  t.equal(goal(['train', '--bo\ngus\u0007']).err, "goal train: unknown option '--bo\\ngus\\u0007'\n(see goal train --help)\n");
  t.equal(goal(['help', 'x\u200by']).err, "goal: unknown command 'x\\u200by'\n(see goal --help)\n");
  t.equal(goal(['train', "--bo'g\nus"]).err, "goal train: unknown option '--bo'g\\nus'\n(see goal train --help)\n", 'a quote in it too');
  t.equal(goal(['train', '-N', '1\u200b']).err, 'goal train: -N/--n-rec expects an integer in [1, 1048576] (got "1\\u200b")\n', 'a value that would look right');
  t.match(goal(['train', '-N', '10', '-savepath', '/no\u202egoal/x']).err, /^goal train: -savepath "\/no\\u202egoal\/x": folder "\/no\\u202egoal" does not exist\n$/, 'a bidirectional override');
  // Our own options take one value: a second is refused. The paper's -savepath repeats, each checked.
  for (const [args, message] of [
    ['-N 10 -E 1 1 --backend bogus --backend cpu', /^goal train: --backend is given twice \("bogus" and "cpu"\): give it once\n$/],
    ['-N 10 -E 1 1 --savepath /nonexistent-goal-dir/x.pkl --savepath ok.pkl', /^goal train: -savepath "\/nonexistent-goal-dir\/x.pkl": folder \/nonexistent-goal-dir does not exist\n$/],
  ] as [string, RegExp][]) {
    const r = run(args);
    t.equal(r.code, 2, args);
    t.match(r.err, message, args);
  }
  const twice = goal(['sweep', '-N', '10', '-T', '20', '-E', '1', '1', '--taus', '2', '--ranks', 'bogus', '--ranks', '3', '--seeds', '1', '--backend', 'cpu']);
  t.equal(twice.code, 2);
  t.equal(twice.err, 'goal sweep: --ranks is given twice ("bogus" and "3"): give it once\n');
});

t.test("a legacy flag with its value stuck to it (-Tm7) is refused, as argparse does, naming the fix", async (t) => {
  for (const [token, fix] of [['-Tm7', '-Tm 7'], ['-Rlr0.5', '-Rlr 0.5'], ['-Olr.01', '-Olr .01'], ['-n_rec30', '-n_rec 30'], ['-tau_m-1', '-tau_m -1'], ['-savepathx.pkl', '-savepath x.pkl']]) {
    t.throws(() => rewriteLegacy(['-N', '20', token]), { code: 'GOAL_USAGE', message: `${token}: write ${fix} (a space between the flag and its value)` }, token);
  }
  // -T 7 is a short flag with its value, and -Tx no flag at all.
  t.strictSame(rewriteLegacy(['-T7']), ['-T7']);
  t.throws(() => rewriteLegacy(['-Tx']), { message: "unknown option '-Tx'" });
  const r = goal(['train', '-N', '20', '-Tm7', '-T', '20']);
  t.equal(r.code, 2);
  t.equal(r.err, 'goal train: -Tm7: write -Tm 7 (a space between the flag and its value)\n(see goal train --help)\n');
});

t.test('a one-letter flag with a word stuck to it (-Fout, -Rltts) is taken, as argparse does', async (t) => {
  t.strictSame(rewriteLegacy(['-Fout', '-Rltts', '-Rnone']), ['-F', 'out', '-R', 'ltts', '-R', 'none']);
  t.throws(() => rewriteLegacy(['-Fx']), { message: "unknown option '-Fx' (did you mean -F?)" });
  t.strictSame(rewriteLegacy(['-Fout=spk']), ['-F', 'out=spk'], 'with "=", the rest is one value (a bad one), as argparse has it');
  t.equal(goal(['train', '-N', '20', '-Fout=spk']).err, 'goal train: -F/--feedback must be one of spk, out (got "out=spk")\n');
  t.match(goal(['info', '-Fout']).err, /^goal info: unknown option '-Fout': an option of goal train and goal sweep\n/, 'named as typed where it is no flag');
  t.match(goal(['train', '-N', '20', '-Rlr', '0.1', '--rec-lr']).err, /^goal train: option '--rec-lr <x>' argument missing: recurrent learning rate \(default: 5\/√N\)\n/, 'the spelling that lacks its value, and what it takes');
  t.match(goal(['train', '-n_rec']).err, /^goal train: option '-n_rec <n>' argument missing: recurrent units N \(default: required\)\n/, 'a legacy flag of an option with a short one, as typed');
  t.match(goal(['train', '-N']).err, /^goal train: option '-N, --n-rec <n>' argument missing: recurrent units N/, 'the short one itself: commander\'s words');
  t.match(goal(['sweep', '-N', '20', '--ranks']).err, /^goal sweep: option '--ranks <list>' argument missing: feedback ranks, e\.g\. 3,19,150,ltts/, 'a sweep flag: its help\'s words');
  t.match(goal(['sweep', 'merge', '--out']).err, /^goal sweep merge: option '--out <file>' argument missing: merged JSON Lines file/, 'and merge\'s own');
  const glued = goal(['train', '-N', '20', '-T', '20', '-E', '2', '2', '-Fout', '-R3', '--seed', '1', '--json']);
  const spaced = goal(['train', '-N', '20', '-T', '20', '-E', '2', '2', '-F', 'out', '-R', '3', '--seed', '1', '--json']);
  t.equal(glued.code, 0, glued.err);
  t.strictSame(JSON.parse(glued.out).params, JSON.parse(spaced.out).params);
  t.equal(JSON.parse(glued.out).params.feedback, 'out');
});

t.test('an unknown single-dash flag: the nearest one when there is one, and where to look', async (t) => {
  const r = goal(['train', '-N', '20', '-n_recc', '30']);
  t.equal(r.code, 2);
  t.equal(r.err, "goal train: unknown option '-n_recc' (did you mean -n_rec?)\n(see goal train --help)\n");
  t.equal(goal(['train', '-N', '20', '-bogus']).err, "goal train: unknown option '-bogus'\n(see goal train --help)\n", 'no guess when none is near');
  // A flag cut short means the one it begins (--resample), not the nearest by letters (--reset,
  // which takes a value: following that guess would swallow the next argument).
  t.equal(goal(['train', '-N', '20', '--resam']).err, "goal train: unknown option '--resam'\n(Did you mean --resample?)\n(see goal train --help)\n");
  t.equal(goal(['train', '-N', '20', '-resam']).err, "goal train: unknown option '-resam' (did you mean --resample?)\n(see goal train --help)\n");
});

t.test('a command\'s flag without the command or with another, and help as a word: where to put it', async (t) => {
  for (const [args, err] of [
    [['-N', '20', '-E', '1', '1'], "goal: unknown option '-N': an option of goal train and goal sweep (goal train -N …)\n(see goal --help)\n"],
    [['-n_rec', '20'], "goal: unknown option '-n_rec': an option of goal train and goal sweep (goal train -n_rec …)\n(see goal --help)\n"],
    [['--seeds', '3'], "goal: unknown option '--seeds': an option of goal sweep (goal sweep --seeds …)\n(see goal --help)\n"],
    [['--bogus'], "goal: unknown option '--bogus'\n(see goal --help)\n"],
    // The command it belongs to, and commander's one guess at a misspelling, which may be what was meant.
    [['train', '-N', '20', '--seeds', '3'], "goal train: unknown option '--seeds': an option of goal sweep (or did you mean --seed?)\n(see goal train --help)\n"],
    [['train', '-N', '20', '--out', 'f'], "goal train: unknown option '--out': an option of goal sweep and goal sweep merge (or did you mean --n-out?)\n(see goal train --help)\n"],
    [['train', '-N', '20', '--resume'], "goal train: unknown option '--resume': an option of goal sweep\n(see goal train --help)\n"],
    [['sweep', '-N', '20', '--replay', 'f'], "goal sweep: unknown option '--replay': an option of goal train\n(see goal sweep --help)\n"],
    [['info', '-N', '20'], "goal info: unknown option '-N': an option of goal train and goal sweep\n(see goal info --help)\n"],
    [['train', 'help'], 'goal train: unexpected argument "help": for help, goal train --help\n'],
    [['sweep', 'help', 'merge'], 'goal sweep: unexpected argument "help": for help, goal sweep --help\n'],
  ] as [string[], string][]) {
    const r = goal(args);
    t.equal(r.code, 2, args.join(' '));
    t.equal(r.err, err);
  }
});

t.test('feedback out without a rank: one warning, then the run with spk', async (t) => {
  const r = goal(['train', '-N', '30', '-T', '40', '-E', '5', '2', '-F', 'out', '--seed', '1', '--json']);
  t.equal(r.code, 0, r.err);
  t.match(r.err, /^goal: warning: -F\/--feedback out needs a rank \(-R\/--rank\); using spk \(LTTS\) instead\n$/);
  t.equal(JSON.parse(r.out).params.feedback, 'spk');
});

t.test('a warning of the params is said once', async (t) => {
  const r = goal(['train', '-N', '10', '-I', '40', '-T', '30', '-E', '2', '1']);
  t.equal(r.code, 0, r.err);
  t.match(r.err, /^goal: warning: -I\/--n-inp=40 clock units for -T\/--t-seq=30: .* no input\n$/);
});

t.test('help, version, info', async (t) => {
  const h = goal(['train', '--help']);
  t.equal(h.code, 0);
  // Followed by its value or a space: --dtype must not stand in for --dt.
  const listed = (d: (typeof paramDocs)[number]) => new RegExp(`^ .*${d.long}[ ,]`, 'm');
  for (const d of paramDocs) t.match(h.out, listed(d), `--help lists ${d.long}`);
  // Every option but --help: the parameters, then --savepath --backend --gpu --replay --json --verbose.
  t.equal((h.out.match(/\(default:\s/g) ?? []).length, paramDocs.length + 6, 'each with its default');
  const s = goal(['sweep', '--help']);
  // The parameters but rank, tau_o, seed (the grid's), then --out --resume --shard --threads
  // --backend --gpu --batch --conv --curves --json --verbose; --ranks --taus --seeds are required.
  t.equal((s.out.match(/\(default:\s/g) ?? []).length, paramDocs.length - 3 + 11, 'sweep: each with its default');
  t.match(goal(['info', '--help']).out, /--json .*\(default: off\)/, 'info: --json with its default');
  t.match(h.out, /-N, --n-rec <n> .*\(default: required\)/);
  const v = goal(['--version']);
  t.equal(v.out.trim(), version());
  const i = goal(['info', '--json']);
  t.equal(i.code, 0);
  const info = JSON.parse(i.out);
  t.equal(typeof info.cuda.compiled, 'boolean');
  t.equal(typeof info.cuda.available, 'boolean');
  t.equal(info.version, version());
  t.ok(info.cpu.threads >= 1);
  t.strictSame(goal([]), { code: 2, out: '', err: 'goal: a command is needed: train, sweep or info\n(see goal --help)\n' }, 'no command: exit 2, two lines');
  // The root's help: the commands, then every flag of train with its default.
  const root = goal(['--help']);
  t.equal(root.code, 0);
  t.match(root.out, /^Commands:\n  train /m);
  for (const d of paramDocs) t.match(root.out, listed(d), `goal --help lists ${d.long}`);
  const defaultsIn = (text: string) => text.match(/\(default:\s[^)]*\)/g) ?? [];
  t.strictSame(defaultsIn(root.out), defaultsIn(h.out), 'goal --help: every default goal train --help gives');
  t.strictSame(goal(['help', 'help']), root, 'goal help help: the help of help, goal --help');
  const unknown = goal(['bogus']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /^goal: unknown command 'bogus'\n\(see goal --help\)\n$/);
  const help = goal(['help', 'bogus']);
  t.equal(help.code, 2, 'goal help bogus: exit 2');
  t.equal(help.err, "goal: unknown command 'bogus'\n(see goal --help)\n");
  t.match(goal(['help', 'train']).out, /Usage: goal train/, 'goal help train: its help');
});

t.test('bad command lines: exit 2, a short message, no stack, no file', async (t) => {
  const dir = tmpdir();
  const malformed = path.join(dir, 'malformed.json');
  fs.writeFileSync(malformed, '{"dtype": "float64", ');
  const incomplete = path.join(dir, 'incomplete.json');
  const fx = loadFixture('rank3-n40.json') as unknown as { params: Record<string, unknown> };
  delete fx.params.n_rec;
  delete (fx as unknown as { init: Record<string, unknown> }).init.W_hh;
  fs.writeFileSync(incomplete, JSON.stringify(fx));
  const wrongShape = path.join(dir, 'shape.json');
  const fx2 = loadFixture('rank3-n40.json');
  fx2.init.W_hh.pop();
  fs.writeFileSync(wrongShape, JSON.stringify(fx2));
  const badExpect = path.join(dir, 'expect.json');
  const fx3 = loadFixture('rank3-n40.json') as unknown as { expect: Record<string, unknown> };
  fx3.expect.z_targ = 5;
  fs.writeFileSync(badExpect, JSON.stringify(fx3));
  const noInit = path.join(dir, 'noinit.json');
  const fx4 = loadFixture('rank3-n40.json') as unknown as Record<string, unknown>;
  delete fx4.init;
  fs.writeFileSync(noInit, JSON.stringify(fx4));
  spawnSync('mkfifo', [path.join(dir, 'fifo')]);
  fs.symlinkSync('/dev/stdout', path.join(dir, 'to-stdout'));
  const huge = path.join(dir, 'huge.json');
  const fx5 = loadFixture('rank3-n40.json') as unknown as { params: Record<string, unknown>; init?: unknown };
  fx5.params.n_rec = 1000000; // while its matrices are 40×40
  fs.writeFileSync(huge, JSON.stringify(fx5));
  const paramsArray = path.join(dir, 'array.json');
  fs.writeFileSync(paramsArray, JSON.stringify({ ...loadFixture('rank3-n40.json'), params: [1, 2] }));
  // Incomplete in what the run or its check needs: a model parameter, the expect section, a field of it.
  const noTauO = path.join(dir, 'notauo.json');
  const fx6 = loadFixture('ltts-n40-tau1.json') as unknown as { params: Record<string, unknown> };
  delete fx6.params.tau_o;
  fs.writeFileSync(noTauO, JSON.stringify(fx6));
  const noExpect = path.join(dir, 'noexpect.json');
  const fx7 = loadFixture('rank3-n40.json') as unknown as Record<string, unknown>;
  delete fx7.expect;
  fs.writeFileSync(noExpect, JSON.stringify(fx7));
  const partExpect = path.join(dir, 'partexpect.json');
  const fx8 = loadFixture('rank3-n40.json') as unknown as { expect: Record<string, unknown> };
  delete fx8.expect.W_hh_final;
  fx8.expect.dz = null;
  fs.writeFileSync(partExpect, JSON.stringify(fx8));
  const onlyB = path.join(dir, 'onlyb.json');
  const fx9 = loadFixture('rank3-n40.json') as unknown as { expect: Record<string, unknown> };
  fx9.expect.B = fx9.expect.D;
  delete fx9.expect.D;
  fs.writeFileSync(onlyB, JSON.stringify(fx9));
  const degenerateSeed = firstDegenerateSeed();
  const cases: [string, RegExp][] = [
    ['-N abc', /-N\/--n-rec expects an integer in \[1, \d+\] \(got "abc"\)/],
    ['-N -3', /-N\/--n-rec must be an integer in \[1, 1048576\] \(got -3\)/],
    ['-N 0', /-N\/--n-rec must be an integer in \[1, 1048576\] \(got 0\)/],
    ['-N 2.5', /-N\/--n-rec must be an integer in \[1, 1048576\] \(got 2.5\)/],
    ['-N 1e999', /^goal train: -N\/--n-rec expects an integer in \[1, \d+\] \(got "1e999", past a double's range, ±1\.8e308\)\n$/],
    ['-N 10 -Rlr -1e400', /^goal train: -Rlr\/--rec-lr expects a finite number ≥ 0 \(got "-1e400", past a double's range, ±1\.8e308\)\n$/],
    ['-N 10 -R 1e999', /^goal train: -R\/--rank expects a number, or ltts \(or none\) for LTTS \(got "1e999", past a double's range, ±1\.8e308\)\n$/],
    ['-N 10 -Rlr 1e-400', /^goal train: -Rlr\/--rec-lr expects a finite number ≥ 0 \(got "1e-400", below a double's smallest, 4\.9e-324: it would read as 0\)\n$/],
    ['-N 0.0e-400', /^goal train: -N\/--n-rec must be an integer in \[1, 1048576\] \(got 0\)\n$/], // a zero, typed as one
    ['-N 10 -T 1', /-T\/--t-seq must be an integer in \[2, 1048576\] \(got 1\)/],
    ['-N 10 -T 5', /^goal train: -T\/--t-seq=5: the target is degenerate: .*zeroed when -T\/--t-seq ≤ 8\); use -T\/--t-seq ≥ 9\n$/],
    ['-N 150 -R 2', /-R\/--rank must be an integer in \[3, 150\] \(got 2\)/],
    ['-N 150 -R 151', /-R\/--rank must be an integer in \[3, 150\] \(got 151\)/],
    ['-N 10 -F err', /-F\/--feedback must be one of spk, out \(got "err"\)/],
    ['-N 40 -Si 3e38', /^goal train: -Si\/--sigma-inp must be at most 2\.8333e\+37 with dtype float32, so that its normals \(\|g\| < 12\.01\) stay within float32's range \(got 3e\+38\)\n$/],
    ['-N 10 -R abc', /^goal train: -R\/--rank expects a number, or ltts \(or none\) for LTTS \(got "abc"\)\n$/],
    [`-N 10 -E 1 1 -savepath ${dir}/r.pkl -Rlr`, /^goal train: option '-Rlr <x>' argument missing: recurrent learning rate \(default: 5\/√N\)\n/], // as typed
    ['-N 10 -E 1 1 -savepath', /^goal train: option '-savepath <file>' argument missing: write the stats pickle \(mse_out, \[mse_rec\], \[dz\]\) at exactly this path \(default: none\)\n/],
    ['-N 10 -savepath /dev/stdout', /^goal train: -savepath "\/dev\/stdout": is an open stream of a process \(standard output or error\?\), not a file: give a file name\n$/],
    ['-N 10 -savepath /proc/self/fd/2', /is an open stream of a process/],
    [`-N 10 -savepath ${path.join(dir, 'to-stdout')}`, /to-stdout": is an open stream of a process/], // a link to /dev/stdout
    ['-N 10 --foo', /unknown option '--foo'/],
    ['-N 10 -Tx 3', /unknown option '-Tx'/],
    ['-T 10', /-N\/--n-rec is required/],
    // Sizes past any machine's memory (terabytes), so that no machine tries to run them.
    ['-N 1048577', /-N\/--n-rec must be an integer in \[1, 1048576\] \(got 1048577\)/],
    [`-N 10 -T 9 --seed ${degenerateSeed}`, new RegExp(`-T/--t-seq=9 and seed ${degenerateSeed}: the target is degenerate: .*another seed`)],
    // The same with flags that warn (-F out without a rank, -I > T, --resample, --gpu here): the
    // error alone, no warning before it.
    [`-N 20 -T 9 --seed ${degenerateSeed} -F out --gpu --resample -I 200 -E 1 1`,
      new RegExp(`^goal train: -T/--t-seq=9 and seed ${degenerateSeed}: the target is degenerate: [^\n]*another seed\n$`)],
    ['-N 10 -E 5', /-E\/--epochs takes two integers/],
    ['-N 10 -E 5 x', /-E\/--epochs expects two integers: readout epochs in \[0, \d+\], recurrent epochs in \[0, \d+\] \(got "x"\)/],
    ['-N -E 1 1', /-N\/--n-rec expects an integer in \[1, \d+\] \(got "-E"\)/], // as typed, not as rewritten
    ['-N 10 --V=1', /^goal train: option '--V' is a switch and takes no value \(got '--V=1'\)\n/],
    ['-N 10 --json=yes', /^goal train: option '--json' is a switch and takes no value \(got '--json=yes'\)\n/],
    ['-N 10 --resample=1', /^goal train: option '--resample' is a switch and takes no value/],
    ['-N -0', /-N\/--n-rec must be an integer in \[1, 1048576\] \(got -0\)/],
    // Past 2^53 the digits typed are not the number read: quoted as typed.
    ['-N 10 --seed 9007199254740993', /^goal train: --seed expects an integer in \[0, 9007199254740991\] \(got "9007199254740993", past 9007199254740991: it would read as 9007199254740992\)\n$/],
    ['-N 10 --seed 9007199254740992', /^goal train: --seed expects an integer in \[0, 9007199254740991\] \(got "9007199254740992", past 9007199254740991\)\n$/],
    [`-N 10 -savepath ${dir}/new\nline/x.pkl`, /^goal train: -savepath ".*\\nline\/x.pkl": folder ".*\/new\\nline" does not exist\n$/],
    [`--replay ${dir}/new\nline.json`, /^goal train: --replay ".*\/new\\nline.json": cannot read it \(ENOENT\)\n$/],
    ['--replay /dev/zero', /^goal train: --replay \/dev\/zero: is a device, not a fixture file\n$/],
    [`--replay ${dir}`, /^goal train: --replay .*: is a folder, not a fixture file\n$/],
    // Read, a named pipe without a writer would block Node's main thread past every signal.
    [`--replay ${path.join(dir, 'fifo')}`, /^goal train: --replay .*fifo: is a named pipe or a socket, not a fixture file \(redirect it: --replay - < PIPE\)\n$/],
    ['--replay=', /^goal train: --replay needs a file name \(or -, standard input\)\n$/],
    [`--replay ${huge}`, /--replay .*huge.json: fixture.init.W_hh must be a 1000000×1000000 matrix of finite numbers \(got 40 rows\)/],
    [`--replay ${paramsArray}`, /--replay .*array.json: fixture.params must be an object \(got \[1, 2\]\)/],
    ['-N 10 7', /unexpected argument "7": a value without its flag/],
    ['-N 10 -Tm 0', /-Tm\/--tau-m must be a finite number > 0 \(got 0\)/],
    ['-N 10 -Rlr nan', /-Rlr\/--rec-lr expects a finite number ≥ 0 \(got "nan", which is not finite\)/],
    ['-N 10 -B -Infinity', /^goal train: -B\/--bias expects a finite number \(got "-Infinity", which is not finite\)\n$/],
    ['-N 10 --dtype float16', /--dtype must be one of float32, float64/],
    ['-N 10 --backend tpu', /--backend must be one of auto, cpu, cuda/],
    // A choice flag that took the next flag as its value is named, not the values left over.
    ['-N 10 -F -E 1 1', /^goal train: -F\/--feedback must be one of spk, out \(got "-E"\)\n$/],
    ['-N 10 --dtype -T 150', /^goal train: --dtype must be one of float32, float64 \(got "-T"\)\n$/],
    ['-N 10 --backend -E 1 1', /^goal train: --backend must be one of auto, cpu, cuda \(got "-E"\)\n$/],
    ['-N 10 --seed -1', /--seed must be an integer in \[0, /],
    ['-N 10 -savepath /nonexistent-goal-dir/x.pkl', /-savepath .*does not exist/],
    [`-N 10 -savepath ${dir}`, /is a folder/],
    [`-N 10 -savepath=${dir}`, /is a folder/],
    ['-N 10 -savepath=', /-savepath "": needs a file name/],
    ['-N 10 -E 1 1 -savepath -', /^goal train: -savepath -: not standard output \(the stats are a binary pickle\); give a file name \(\.\/- for a file named "-"\)\n$/],
    [`-N 10 -savepath ${path.join(dir, 'x.pkl')}/`, /ends with a slash, so it names a folder/],
    ['-N 10 -savepath /dev/null', /-savepath "\/dev\/null": is not a regular file/],
    [`-N 10 -savepath ${path.join(dir, 'fifo')}`, /is not a regular file/],
    [`--replay ${badExpect}`, /--replay .*expect.json: fixture.expect.z_targ must be a \d+×40 matrix/],
    [`--replay ${noInit}`, /--replay .*noinit.json: fixture.init is missing/],
    [`--replay ${path.join(dir, 'missing.json')}`, /--replay .*missing.json: cannot read it \(ENOENT\)/],
    [`--replay ${malformed}`, /--replay .*malformed.json: not valid JSON/],
    [`--replay ${incomplete}`, /--replay .*incomplete.json: fixture.params lacks n_rec \(and there is no fixture.init.W_hh to read it off\)/],
    [`--replay ${wrongShape}`, /W_hh must be a 40×40 matrix/],
    [`--replay ${noTauO}`, /^goal train: --replay .*notauo.json: fixture.params lacks tau_o: a replay takes every model parameter from its fixture, none from the defaults\n$/],
    [`--replay ${noExpect}`, /^goal train: --replay .*noexpect.json: fixture.expect is missing: nothing to check the replay against/],
    [`--replay ${partExpect}`, /^goal train: --replay .*partexpect.json: fixture.expect lacks dz, W_hh_final: --replay checks the run against every field SPEC.md lists/],
    [`--replay ${onlyB}`, /^goal train: --replay .*onlyb.json: fixture.expect lacks D \(it holds B, feedback out's matrix: is fixture.params.feedback right\?\): --replay checks/],
    [`--replay ${path.join(FIXTURE_DIR, 'rank3-n40.json')} -N 5`, /--replay takes every parameter from its file; drop -N\/--n-rec$/m],
  ];
  if (!gpu) {
    cases.push(['-N 10 --backend cuda', /backend cuda is not available: .*; choose the cpu backend, or auto, which falls back to it$/m], ['-N 10 --gpu --backend cuda', /backend cuda is not available/]);
    // --resample without a rank is a warning, but a refused run says why and nothing else.
    cases.push(['-N 10 --resample --backend cuda', /^goal train: backend cuda is not available: [^\n]*\n$/]);
  }
  cases.push(['-N 10 --gpu --backend cpu', /--gpu asks for the GPU; it contradicts --backend cpu/]);
  // Past one typed array (2³² entries up to Node 21) whatever the memory, else past any machine's memory (8 TB).
  cases.push(MAX_ARRAY === 2 ** 32
    ? ['-N 1000000', /-N\/--n-rec=1000000: the recurrent matrix \(N×N\) would have 1\.00e\+12 entries; a JavaScript typed array holds at most 4294967296/]
    : ['-N 1000000', /-N\/--n-rec=1000000: the network needs .* GiB of memory/]);
  for (const [k, [args, message]] of cases.entries()) {
    const out = path.join(dir, `stats-${k}.pkl`);
    const r = goal(['train', ...args.split(' '), ...(/savepath/.test(args) ? [] : ['--savepath', out])]);
    const lines = r.err.trim().split('\n');
    t.equal(r.code, 2, `${args}: exit 2`);
    t.match(r.err, message, `${args}: ${lines[0]}`);
    t.ok(lines.length <= 3, `${args}: at most 3 lines`);
    t.notMatch(r.err, /^\s+at /m, `${args}: no stack trace`);
    t.equal(r.out, '', `${args}: nothing on stdout`);
    t.notOk(fs.existsSync(out), `${args}: no file written`);
  }
  t.equal(goal(['train', '-N', '10', '-E', '1', '1', '-savepath', '-'], dir).code, 2);
  t.notOk(fs.existsSync(path.join(dir, '-')), '-savepath -: no file named "-" either');
  fs.rmSync(dir, { recursive: true });
});

t.test('--replay FILE --json replays a reference run', async (t) => {
  for (const name of ['rank3-n40.json', 'ltts-n40-f32.json']) {
    const r = goal(['train', '--replay', path.join(FIXTURE_DIR, name), '--json']);
    t.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    const fx = loadFixture(name);
    t.strictSame(j.dz, fx.expect!.dz, `${name}: dz`);
    t.equal(j.dtype, fx.dtype);
    t.ok(replayMatches(j.replay_check), `${name}: every field matches`);
    t.equal(j.replay_match, true, `${name}: and says so in one field`);
    // The final matrices and rasters too, under the fixture's names, for checks of its own.
    t.strictSame(j.z_targ, fx.expect!.z_targ, `${name}: z_targ`);
    t.strictSame(j.Z_last, fx.expect!.Z_last, `${name}: Z_last`);
    const tol = fx.dtype === 'float64' ? 1e-9 : 1e-4;
    for (const k of ['W_ho_trained', 'D', 'W_hh_final'] as const) {
      t.ok(relDiff((j[k] as number[][]).flat(), fx.expect![k]!.flat()) <= tol, `${name}: ${k}`);
    }
  }
});

t.test('Ctrl-C stops after the epochs in progress, keeps the stats so far, exits 130', async (t) => {
  // A name with a newline is quoted: the closing line stays one line.
  for (const [name, shown] of [['out.pkl', 'out.pkl'], ['a\nb.pkl', '"a\\nb.pkl"']]) {
    const dir = tmpdir();
    const child = spawn(process.execPath, [BIN, 'train', '-N', '150', '-E', '50', '100000', '--seed', '1', '-savepath', name, '--verbose'], { cwd: dir });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (/recurrent /.test(err) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
    t.equal(code, 130, 'exit 130');
    t.match(err, new RegExp(`\ngoal: interrupted after \\d+ of 100000 recurrent epochs; the stats so far are in ${shown.replace(/[\\.]/g, '\\$&')}\n$`));
    t.match(err, /[^\n]\ngoal: stopping after the epochs in progress/, 'not a terminal: no blank line before the notice');
    const stats = new Parser().parse(fs.readFileSync(path.join(dir, name))) as [number, number[], number[]];
    t.ok(stats[1].length > 0 && stats[1].length < 100000, `${stats[1].length} epochs saved`);
    t.equal(stats[2].length, stats[1].length);
    t.strictSame(fs.readdirSync(dir), [name], 'no temporary file left');
    fs.rmSync(dir, { recursive: true });
  }
});

t.test('stopped before any readout epoch (the target run): said so, not as in the readout phase', async (t) => {
  let out = '', err = '';
  // A Ctrl-C heard as the run subscribes: it stops before its first native call ends.
  const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s), stderr: process.stderr, exitCode: 0, onInterrupt: (stop) => (stop(), () => {}) };
  t.equal(await main(['train', '-N', '30', '-E', '5', '5', '--seed', '1'], io), 130);
  t.match(out, /\nTarget readout MSE: none \(stopped before the readout phase\)\nModel readout MSE: none \(stopped before the recurrent phase\)\n/);
  t.equal(err, 'goal: interrupted before the readout phase\n');
});

t.test('a Ctrl-C during the last epoch: the run is whole, and the status still 130 (a shell loop stops), unless it failed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goal-last-'));
  let out = '', err = '', stop = () => {};
  // --verbose's plain lines name each epoch; the last one's line is the moment of the Ctrl-C.
  const stderr = Object.assign(new (require('node:stream').Writable)({
    write(chunk: Buffer, _enc: string, done: () => void) {
      if (/^recurrent +4\/4 /m.test(String(chunk))) stop();
      done();
    },
  }), { isTTY: false }) as NodeJS.WriteStream;
  const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s), stderr, exitCode: 0, onInterrupt: (s) => ((stop = s), () => {}) };
  const args = ['train', '-N', '30', '-T', '40', '-E', '3', '4', '--seed', '2', '--json', '-savepath', path.join(dir, 'r.pkl')];
  t.equal(await main([...args, '--verbose'], io), 130);
  t.match(err, /^goal: interrupted as the last epochs ran, which ran to their end: the results are complete\n$/m);
  const got = JSON.parse(out);
  t.equal(got.aborted, false);
  t.equal(got.mse_rec.length, 4, 'every epoch');
  const whole = spawnSync(process.execPath, [BIN, ...args.slice(0, -2), '-savepath', path.join(dir, 'full.pkl')], { encoding: 'utf8' });
  t.equal(whole.status, 0, whole.stderr);
  t.strictSame(got.mse_rec, JSON.parse(whole.stdout).mse_rec, 'the same numbers as a run left alone');
  t.ok(fs.readFileSync(path.join(dir, 'r.pkl')).equals(fs.readFileSync(path.join(dir, 'full.pkl'))), 'and the same stats file');
  // The save's folder removed at the Ctrl-C: the failure is the status, and nothing says complete.
  const gone = path.join(dir, 'gone');
  fs.mkdirSync(gone);
  out = err = '';
  const failing = Object.assign(new (require('node:stream').Writable)({
    write(chunk: Buffer, _enc: string, done: () => void) {
      if (/^recurrent +4\/4 /m.test(String(chunk))) {
        stop();
        fs.rmSync(gone, { recursive: true });
      }
      done();
    },
  }), { isTTY: false }) as NodeJS.WriteStream;
  t.equal(await main([...args.slice(0, -1), path.join(gone, 'r.pkl'), '--verbose'], { ...io, stderr: failing }), 1);
  t.match(err, /the results above are not saved\n$/);
  t.notMatch(err, /complete/);
  fs.rmSync(dir, { recursive: true });
});

t.test('stopped in the readout phase, by Ctrl-C or SIGTERM: mse_out is NaN (no readout trained), said in words', async (t) => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', null]] as [NodeJS.Signals, number | null][]) {
    const dir = tmpdir();
    const child = spawn(process.execPath, [BIN, 'train', '-N', '60', '-T', '100', '-E', '10000000', '5', '--seed', '1', '-savepath', 'r.pkl', '--verbose'], { cwd: dir });
    let err = '', out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => {
      err += d;
      if (/readout +\d+\/10000000/.test(err) && !child.killed) child.kill(signal);
    });
    const ended = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)));
    t.equal(ended, code ?? signal, `${signal}: ended`);
    const stats = new Parser().parse(fs.readFileSync(path.join(dir, 'r.pkl'))) as [number, number[], number[]];
    t.ok(Number.isNaN(stats[0]), `${signal}: the pickled mse_out is NaN, not a partly trained readout's (${stats[0]})`);
    t.strictSame([stats[1], stats[2]], [[], []]);
    if (signal === 'SIGINT') {
      t.match(out, /\nTarget readout MSE: none \(stopped in the readout phase\)\nModel readout MSE: none \(stopped before the recurrent phase\)\n/);
      t.match(err, /\ngoal: interrupted in the readout phase; the stats so far are in r\.pkl\n$/);
    }
    fs.rmSync(dir, { recursive: true });
  }
});

t.test('two signals at once (timeout -s INT signals the process, then its group) are one Ctrl-C', async (t) => {
  const dir = tmpdir();
  const child = spawn(process.execPath, [BIN, 'train', '-N', '150', '-E', '50', '20000', '--seed', '1', '-savepath', 'out.pkl', '--verbose'], { cwd: dir });
  let err = '';
  let sent = false;
  child.stderr.on('data', (d) => {
    err += d;
    if (/recurrent /.test(err) && !sent) {
      sent = true;
      child.kill('SIGINT');
      child.kill('SIGINT');
    }
  });
  const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
  t.equal(code, 130, 'exit 130');
  t.match(err, /the stats so far are in out.pkl/, 'the run stopped cleanly');
  t.ok(fs.existsSync(path.join(dir, 'out.pkl')), 'stats written');
  fs.rmSync(dir, { recursive: true });
});

t.test('a second Ctrl-C, a moment after the first, says its last words and ends the process by SIGINT', async (t) => {
  // A process whose run never stops by itself: only the second Ctrl-C can end it.
  const io = path.join(__dirname, '..', 'dist', 'src', 'cli', 'io.js');
  const script = `require(${JSON.stringify(io)}).processIo().onInterrupt(() => console.log('first'), () => console.log('quit')); setInterval(() => {}, 1000); console.log('ready');`;
  const child = spawn(process.execPath, ['-e', script]);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const lines = async (n: number) => {
    while (out.split('\n').length <= n) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await lines(1);
  child.kill('SIGINT');
  await lines(2);
  t.equal(out, 'ready\nfirst\n', 'the first Ctrl-C asks the run to stop');
  await new Promise((resolve) => setTimeout(resolve, 400));
  child.kill('SIGINT');
  t.strictSame(await exited, { code: null, signal: 'SIGINT' }, 'the second one ends it as SIGINT does (a shell sees 130)');
  t.equal(out, 'ready\nfirst\nquit\n', 'after its last words');
});

t.test('a signal while no run listens ends the process between two synchronous steps, not inside one', async (t) => {
  // As in a write check's probe or an atomic write: a file begun, the signal, the step that
  // removes it. Ended inside the step, the process would leave the file behind.
  const io = path.join(__dirname, '..', 'dist', 'src', 'cli', 'io.js');
  const dir = tmpdir();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // tap's coverage preload (injected into every child) listens to these signals itself.
    const script = `for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(s);
      const fs = require('fs'); require(${JSON.stringify(io)}).processIo();
      fs.writeFileSync('begun', ''); process.kill(process.pid, '${signal}'); fs.renameSync('begun', 'done');
      setTimeout(() => fs.writeFileSync('not-ended', ''), 2000);`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' });
    t.equal(r.signal, signal, `${signal}: ended by the signal, as its default action would`);
    t.strictSame(fs.readdirSync(dir), ['done'], `${signal}: the step in progress finished; nothing after it ran`);
    t.equal(r.stderr, '', 'nothing said');
    fs.rmSync(path.join(dir, 'done'));
  }
  fs.rmSync(dir, { recursive: true });
});

t.test('a signal during a command\'s last synchronous stretch still ends the process by it, the work complete', async (t) => {
  // goal info's output is written in one synchronous stretch at its end; the signal comes there.
  const dist = path.join(__dirname, '..', 'dist', 'src', 'cli');
  const script = `for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(s);
    const io = require(${JSON.stringify(path.join(dist, 'io.js'))}).processIo();
    const out = io.out;
    io.out = (text) => { out(text); process.kill(process.pid, 'SIGTERM'); };
    require(${JSON.stringify(path.join(dist, 'main.js'))}).main(['info'], io).then((code) => { process.exitCode = code; });`;
  // Without tap's coverage preload, which it injects into every child's NODE_OPTIONS: under it,
  // signals to a process about to end are not heard at all.
  const r = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', script], { encoding: 'utf8' });
  t.equal(r.signal, 'SIGTERM', 'ended by the signal (status 143 in a shell), not with status 0 as if never signalled');
  t.match(r.stdout, /^goal-snn /, 'after the output it was writing');
});

t.test('a signal after the command returned waits for a slow reader to take all of its output', async (t) => {
  // A long run's --json object (220 KB for 10000 epochs) is past a pipe's 64 KiB: libuv holds
  // the rest while the reader is slow. Ended at once, the process would leave a torn object.
  const io = path.join(__dirname, '..', 'dist', 'src', 'cli', 'io.js');
  const slowReader = (then: string) => {
    const script = `const { commandDone, processIo } = require(${JSON.stringify(io)}); const io = processIo();
      io.out('x'.repeat(300000) + '\\n'); commandDone(); process.kill(process.pid, 'SIGINT'); ${then}`;
    // Without tap's coverage preload, which listens to signals itself.
    const r = spawnSync('bash', ['-c', 'env -u NODE_OPTIONS "$0" -e "$1" | (sleep 1; wc -c); echo "status ${PIPESTATUS[0]}"', process.execPath, script], { encoding: 'utf8' });
    const [bytes, , status] = r.stdout.trim().split(/\s+/);
    return { bytes: Number(bytes), status: Number(status) };
  };
  t.strictSame(slowReader(''), { bytes: 300001, status: 130 }, 'every byte, then the end the signal asks for');
  // The echo of the signal (timeout's to the process, then to its group) is the same one.
  t.strictSame(slowReader("process.kill(process.pid, 'SIGINT');"), { bytes: 300001, status: 130 }, 'a signal right after it is its echo');
  const hurried = slowReader("setTimeout(() => process.kill(process.pid, 'SIGTERM'), 300);");
  t.equal(hurried.status, 143, 'another signal, later, ends the process at once');
  t.ok(hurried.bytes < 300001, `before the reader took it all (${hurried.bytes} bytes)`);
});

/** goal train --verbose, signalled once its first recurrent epoch is reported. */
const afterFirstEpoch = (args: string[], dir: string, signals: [number, NodeJS.Signals, RegExp?][]) =>
  signalled([...args, '--verbose'], dir, /^recurrent 1\//m, signals);

t.test('a second Ctrl-C does not wait for the epoch in progress, and saves the epochs done', async (t) => {
  const dir = tmpdir();
  // Epochs of about 3 s on a free 2-core machine, long enough for a host five times as fast (a
  // process.exit() would wait for the one in progress). The first Ctrl-C as the second epoch
  // starts; the second 300 ms after the first is acknowledged (two within 200 ms are one
  // interrupt), well inside that epoch. No readout epochs: the wait for the first is shorter.
  const { ended, err, out } = await afterFirstEpoch(['train', '-N', '1200', '-T', '15000', '-E', '0', '1000', '--seed', '1', '-savepath', 's.pkl'], dir,
    [[0, 'SIGINT'], [300, 'SIGINT', /stopping after the epochs in progress/]]);
  t.strictSame(ended, { code: null, signal: 'SIGINT' }, 'ended by the signal, not by a finished epoch');
  const said = /\ngoal: quit after (\d+) of 1000 recurrent epochs; the stats so far are in s\.pkl\n$/.exec(err);
  t.ok(said, err);
  const stats = new Parser().parse(fs.readFileSync(path.join(dir, 's.pkl'))) as [number, number[], number[]];
  t.equal(stats[1].length, Number(said?.[1]), 'the file holds the epochs it says');
  t.equal(stats[2].length, stats[1].length);
  // The summary of the epochs done, as a run stopped by one Ctrl-C prints it.
  const last = (xs: number[]) => String(xs[xs.length - 1]);
  const lines = out.split('\n');
  t.match(lines[0], /^Training time: \d+\.\d\d s \(.*, float32, seed 1\)$/);
  t.strictSame(lines.slice(1), [`Target readout MSE: ${stats[0]}`, `Model readout MSE: ${last(stats[1])}`, `Model spike error: ${last(stats[2])}`, ''], out);
  t.strictSame(fs.readdirSync(dir), ['s.pkl'], 'no temporary file left');
  fs.rmSync(dir, { recursive: true });
});

t.test('without recurrent epochs the summary says so, not NaN (which a diverged run prints)', async (t) => {
  const r = goal(['train', '-N', '10', '-E', '3', '0', '--seed', '1']);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /\nTarget readout MSE: \d[^\n]*\nModel readout MSE: none \(no recurrent epoch\)\nModel spike error: none \(no recurrent epoch\)\n$/);
});

t.test('SIGTERM (a batch system\'s time limit) and SIGHUP save the epochs done and end the process at once', async (t) => {
  for (const [signal, words] of [['SIGTERM', 'terminated'], ['SIGHUP', 'hung up']] as [NodeJS.Signals, string][]) {
    const dir = tmpdir();
    // No readout epochs: mse_out is the initial readout's error, known before the first
    // recurrent epoch (a fifth of a second on a free machine) ends.
    const { ended, err, out } = await afterFirstEpoch(['train', '-N', '1200', '-T', '1500', '-E', '0', '100000', '--seed', '1', '-savepath', 's.pkl', '--json'], dir,
      [[300, signal]]);
    t.strictSame(ended, { code: null, signal });
    const said = new RegExp(`\ngoal: ${words} after (\\d+) of 100000 recurrent epochs; the stats so far are in s\\.pkl\n$`).exec(err);
    t.ok(said, err);
    const stats = new Parser().parse(fs.readFileSync(path.join(dir, 's.pkl'))) as [number, number[], number[]];
    t.equal(stats[1].length, Number(said?.[1]), 'the file holds the epochs it says');
    // --json's promise holds to the end: one object, the file's numbers, marked stopped.
    t.match(out, /^\{[^\n]*\}\n$/, 'one line on stdout');
    const json = JSON.parse(out) as Record<string, unknown>;
    t.strictSame([json.mse_out, json.mse_rec, json.dz], stats, 'the stats the file holds');
    t.match(json, { aborted: true, seed: 1, backend: 'cpu', dtype: 'float32', params: { n_rec: 1200 } });
    t.ok(Number.isFinite(stats[0]) && stats[0] > 0, `mse_out is the initial readout's error (${stats[0]}), not NaN`);
    fs.rmSync(dir, { recursive: true });
  }
});

t.test('last words larger than a pipe holds (64 KiB) reach its reader whole before the signal ends the process', async (t) => {
  // --json's object holds every epoch's numbers: 20000 epochs are ≈ 400 KB. The signal is sent
  // once the progress line of epoch 20000 is heard (the run has 200000).
  const dir = tmpdir();
  const { ended, out } = await signalled(['train', '-N', '30', '-T', '50', '-E', '0', '200000', '--seed', '1', '--json', '--verbose'], dir,
    /^recurrent 20000\/200000/m, [[0, 'SIGTERM']]);
  t.strictSame(ended, { code: null, signal: 'SIGTERM' });
  t.ok(out.length > 4 * 65536, `${out.length} bytes on stdout`);
  const json = JSON.parse(out) as { aborted: boolean; mse_rec: number[]; dz: number[] };
  t.equal(json.aborted, true);
  t.ok(json.mse_rec.length >= 20000 && json.mse_rec.length === json.dz.length, `${json.mse_rec.length} epochs, whole`);
  fs.rmSync(dir, { recursive: true });
});

t.test('a replay stopped by SIGTERM prints the object a stopped replay prints, its matrices named', async (t) => {
  const dir = tmpdir();
  const f = structuredClone(loadFixture('rank3-n40.json')) as unknown as Record<string, any>;
  const R = 1_000_000; // far more epochs than the test waits for
  f.params.epochs = [f.params.epochs[0], R];
  f.expect.mse_rec = new Array(R).fill(0.1);
  f.expect.dz = new Array(R).fill(0);
  fs.writeFileSync(path.join(dir, 'long.json'), JSON.stringify(f));
  const keys = async (signals: [number, NodeJS.Signals][]) => {
    const { ended, out } = await afterFirstEpoch(['train', '--replay', 'long.json', '--json'], dir, signals);
    const json = JSON.parse(out) as Record<string, unknown>;
    t.equal(json.aborted, true, `${signals.map(([, s]) => s).join(' ')}: stopped`);
    t.equal((json.mse_rec as number[]).length, (json.dz as number[]).length);
    return { ended, keys: Object.keys(json).sort() };
  };
  const soft = await keys([[300, 'SIGINT']]);
  const hard = await keys([[300, 'SIGTERM']]);
  t.strictSame(soft.ended, { code: 130, signal: null });
  t.strictSame(hard.ended, { code: null, signal: 'SIGTERM' });
  t.strictSame(hard.keys, soft.keys, 'the same fields');
  t.ok(['z_targ', 'Z_last', 'W_ho_trained', 'D', 'W_hh_final', 'min_margin'].every((k) => hard.keys.includes(k)), hard.keys.join(' '));
});

// The ulimit must be what binds: a machine (or cgroup) with less memory is named instead.
const machineMemory = Math.min(os.totalmem(), (process.constrainedMemory?.() || Infinity));
const ulimitSkip = !fs.existsSync('/proc/self/limits') ? 'no /proc here'
  : machineMemory < 8 * 2 ** 30 ? `this machine's ${(machineMemory / 2 ** 30).toFixed(1)} GiB, not a 5.7 GiB ulimit, would bind` : false;
t.test('an address-space limit (ulimit -v) is counted before anything is drawn', { skip: ulimitSkip }, async (t) => {
  // About 10 GiB for N = 20000: under the machine's memory (checked apart), over a 5.7 GiB limit.
  const r = spawnSync('bash', ['-c', `ulimit -v 6000000 && "${process.execPath}" "${BIN}" train -N 20000 -T 20 -E 0 1`], { encoding: 'utf8' });
  t.equal(r.status, 2, r.stderr);
  t.match(r.stderr, /^goal train: -N\/--n-rec=20000: the network needs \d+\.\d GiB of memory; this process may use \d+\.\d GiB\n$/);
  t.notMatch(r.stderr, /allocation failed/, 'refused up front, not when an array fails to allocate');
});

t.test('a closed pipe (goal … | head -1) is not an error, and the stats are still written', async (t) => {
  const dir = tmpdir();
  // `true` reads nothing and is gone long before the summary is written.
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" train -N 40 -T 50 -E 10 40 --seed 1 -savepath s.pkl 2>err.txt | true; echo "\${PIPESTATUS[0]}"`],
    { cwd: dir, encoding: 'utf8' });
  t.equal(r.stdout.trim(), '0', 'exit status 0');
  t.notMatch(fs.readFileSync(path.join(dir, 'err.txt'), 'utf8'), /EPIPE|Unhandled|^\s+at /m, 'no stack trace');
  t.ok(fs.existsSync(path.join(dir, 's.pkl')), 'stats written');
  fs.rmSync(dir, { recursive: true });
});

t.test('-savepath through a symbolic link writes its target and keeps the link', async (t) => {
  const dir = tmpdir();
  fs.writeFileSync(path.join(dir, 'target.pkl'), 'old');
  fs.symlinkSync('target.pkl', path.join(dir, 'link.pkl'));
  const r = goal(['train', '-N', '20', '-T', '30', '-E', '5', '3', '--seed', '1', '-savepath', 'link.pkl'], dir);
  t.equal(r.code, 0, r.err);
  t.ok(fs.lstatSync(path.join(dir, 'link.pkl')).isSymbolicLink(), 'still a link');
  const stats = new Parser().parse(fs.readFileSync(path.join(dir, 'target.pkl'))) as [number, number[], number[]];
  t.equal(stats[1].length, 3, 'the target holds the stats');
  t.strictSame(fs.readdirSync(dir).sort(), ['link.pkl', 'target.pkl'], 'no temporary file left');
  fs.rmSync(dir, { recursive: true });
});

t.test('-savepath over a file with another name (a hard link): FILE is a new file, the other name keeps the old contents', async (t) => {
  const dir = tmpdir();
  fs.writeFileSync(path.join(dir, 'old.pkl'), 'old');
  fs.linkSync(path.join(dir, 'old.pkl'), path.join(dir, 'other.pkl'));
  const r = goal(['train', '-N', '20', '-T', '30', '-E', '5', '3', '--seed', '1', '-savepath', 'old.pkl'], dir);
  t.equal(r.code, 0, r.err);
  const stats = new Parser().parse(fs.readFileSync(path.join(dir, 'old.pkl'))) as [number, number[], number[]];
  t.equal(stats[1].length, 3, 'FILE holds the stats');
  t.equal(fs.readFileSync(path.join(dir, 'other.pkl'), 'utf8'), 'old', 'the other name, the old contents');
  t.equal(fs.statSync(path.join(dir, 'other.pkl')).nlink, 1, 'no longer linked');
  fs.rmSync(dir, { recursive: true });
});

t.test('-savepath on a disk without room for the stats is refused before the run', { skip: process.platform === 'win32' ? 'needs ulimit -f' : false }, async (t) => {
  // A file-size limit (ulimit -f: 512-byte blocks in sh) fails writes past it as a full disk
  // or a quota would; an empty file, all an earlier check wrote, still fits.
  const dir = tmpdir();
  const r = spawnSync('sh', ['-c', 'ulimit -f 4 && trap "" XFSZ && exec "$0" "$1" train -N 10 -E 1 2000 -savepath x.pkl', process.execPath, BIN], { cwd: dir, encoding: 'utf8' });
  t.equal(r.status, 2, 'exit 2');
  t.equal(r.stdout, '', 'nothing trained');
  t.match(r.stderr, /^goal train: -savepath "x.pkl": cannot write 35\.2 KiB in folder .* \(EFBIG\)\n$/, 'the stats of 2000 epochs: 36,023 bytes');
  t.strictSame(fs.readdirSync(dir), [], 'no file left');
  fs.rmSync(dir, { recursive: true });
});

t.test('--replay - reads the fixture from standard input', async (t) => {
  const file = path.join(FIXTURE_DIR, 'rank3-n40.json');
  const piped = spawnSync(process.execPath, [BIN, 'train', '--replay', '-', '--json'], { input: fs.readFileSync(file), encoding: 'utf8' });
  t.equal(piped.status, 0, piped.stderr);
  const named = goal(['train', '--replay', file, '--json']);
  const drop = (o: Record<string, unknown>) => ({ ...o, seconds: 0 });
  t.strictSame(drop(JSON.parse(piped.stdout)), drop(JSON.parse(named.out)), 'the same run as from the file');
  t.ok(replayMatches(JSON.parse(piped.stdout).replay_check), 'and it matches the reference');
  // A device would never end (/dev/zero): refused before it is read.
  const zero = fs.openSync('/dev/zero', 'r');
  const device = spawnSync(process.execPath, [BIN, 'train', '--replay', '-'], { stdio: [zero, 'pipe', 'pipe'], encoding: 'utf8' });
  fs.closeSync(zero);
  t.equal(device.status, 2);
  t.equal(device.stderr, 'goal train: --replay -: standard input is a device, not a fixture; pipe or redirect a file into it\n');
  const empty = spawnSync(process.execPath, [BIN, 'train', '--replay', '-'], { input: '', encoding: 'utf8' });
  t.equal(empty.status, 2);
  t.match(empty.stderr, /^goal train: --replay -: not valid JSON/);
  // A writer that takes its time (a generator, a download): the pipe is empty when goal starts.
  const slow = spawnSync('sh', ['-c', `(sleep 0.3; cat "$0") | "${process.execPath}" "${BIN}" train --replay - --json`, file], { encoding: 'utf8' });
  t.equal(slow.status, 0, `a slow writer is waited for ${slow.stderr}`);
  t.strictSame(drop(JSON.parse(slow.stdout)), drop(JSON.parse(named.out)), 'and read whole');
});

t.test('a flag after -savepath or --replay is a forgotten file name (as argparse has it); ./-name is a file', async (t) => {
  const dir = tmpdir();
  for (const args of [['-savepath', '--json'], ['--savepath', '-Tm'], ['--replay', '-N', '20']]) {
    const r = goal(['train', '-N', '20', '-T', '30', '-E', '5', '3', ...args], dir);
    t.equal(r.code, 2, args.join(' '));
    t.equal(r.err, `goal train: ${args[0]} needs a file name, not the flag "${args[1]}" (a file whose name starts with "-": write ./${args[1]})\n(see goal train --help)\n`);
    t.equal(r.out, '', 'nothing on stdout');
  }
  t.strictSame(fs.readdirSync(dir), [], 'no file named after a flag');
  const r = goal(['train', '-N', '20', '-T', '30', '-E', '5', '3', '-savepath', './-Tm'], dir);
  t.equal(r.code, 0, r.err);
  t.strictSame(fs.readdirSync(dir), ['-Tm']);
  fs.rmSync(dir, { recursive: true });
});

t.test('a negative word after a flag that takes a number is a bad value of that flag, not an unknown flag', async (t) => {
  for (const [flag, value, label, accepts] of [['-rst', '-inf', '-rst/--reset', 'a finite number'], ['--bias', '-nan', '-B/--bias', 'a finite number'], ['-Tm', '-Infinity', '-Tm/--tau-m', 'a finite number > 0']]) {
    const r = goal(['train', '-N', '20', '-T', '30', '-E', '5', '3', flag, value]);
    t.equal(r.code, 2, `${flag} ${value}`);
    t.equal(r.err, `goal train: ${label} expects ${accepts} (got "${value}", which is not finite)\n`);
  }
});

t.test('stdout that cannot be written (a full disk): one line, exit 1, no stack', { skip: fs.existsSync('/dev/full') ? false : 'no /dev/full here' }, async (t) => {
  const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" train -N 20 -T 30 -E 5 3 > /dev/full`], { encoding: 'utf8' });
  t.equal(r.status, 1);
  t.match(r.stderr, /^goal: cannot write to stdout: ENOSPC/);
  t.notMatch(r.stderr, /^\s+at /m, 'no stack trace');
});

t.test('a stderr that cannot be written loses messages, not the run\'s status', { skip: fs.existsSync('/dev/full') ? false : 'no /dev/full here' }, async (t) => {
  const ok = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" train -N 20 -T 30 -E 5 3 -I 40 2>/dev/full`], { encoding: 'utf8' });
  t.equal(ok.status, 0, 'a run with a warning: still 0');
  const bad = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" train -N 20 --bogus 2>/dev/full`], { encoding: 'utf8' });
  t.equal(bad.status, 2, 'bad input: still 2');
});

t.test('--replay of a fixture without recurrent epochs: no last raster or final feedback is asked of it', async (t) => {
  const dir = tmpdir();
  const fx = loadFixture('rank3-n40.json') as unknown as Record<string, any>;
  fx.params.epochs = [fx.params.epochs[0], 0];
  fx.expect = { z_targ: fx.expect.z_targ, W_ho_trained: fx.expect.W_ho_trained, mse_out: fx.expect.mse_out, mse_rec: [], dz: [], W_hh_final: fx.init.W_hh };
  fs.writeFileSync(path.join(dir, 'readout.json'), JSON.stringify(fx));
  const r = goal(['train', '--replay', 'readout.json'], dir);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^Replay matches the reference \(z_targ, dz, mse_out, mse_rec, W_ho_trained, W_hh_final\)$/m);
  fs.rmSync(dir, { recursive: true });
});

t.test('a replay that differs from its reference exits 1 (--json: the object, and one line on stderr)', async (t) => {
  const dir = tmpdir();
  const fx = loadFixture('rank3-n40.json');
  fx.expect!.mse_out = fx.expect!.mse_out! * 1.5; // a reference we cannot reproduce
  fs.writeFileSync(path.join(dir, 'off.json'), JSON.stringify(fx));
  const r = goal(['train', '--replay', 'off.json'], dir);
  t.equal(r.code, 1, 'exit 1');
  t.match(r.out, /Replay DIFFERS from the reference in mse_out \(max rel 3\.33e-1\)/);
  const j = goal(['train', '--replay', 'off.json', '--json'], dir);
  t.equal(j.code, 1, '--json: exit 1');
  t.equal(JSON.parse(j.out).replay_match, false, 'the object says it differs');
  t.equal(JSON.parse(j.out).replay_check.mse_out.ok, false, 'the object says which field');
  // The run gives the true m, the edited reference says 1.5·m: off by 0.5·m, a third of 1.5·m.
  const m = loadFixture('rank3-n40.json').expect!.mse_out!;
  const off = JSON.parse(j.out).replay_check.mse_out;
  t.ok(Math.abs(off.max_abs - m / 2) <= 1e-9 * m && Math.abs(off.max_rel - 1 / 3) <= 1e-9, `and by how much (${off.max_abs}, ${off.max_rel})`);
  t.equal(JSON.parse(j.out).replay_check.dz.ok, true);
  t.equal(j.err, 'goal train: the replay differs from the reference in mse_out\n');
  // A reference NaN against a finite run is no distance: said in words, null in --json.
  fx.expect!.mse_out = NaN;
  fs.writeFileSync(path.join(dir, 'nan.json'), JSON.stringify(fx).replace('"mse_out":null', '"mse_out":NaN'));
  const nan = goal(['train', '--replay', 'nan.json'], dir);
  t.equal(nan.code, 1, 'a NaN reference: exit 1');
  t.match(nan.out, /Replay DIFFERS from the reference in mse_out \(NaN or ∞ where the other side is finite\)\n/);
  t.equal(JSON.parse(goal(['train', '--replay', 'nan.json', '--json'], dir).out).replay_check.mse_out.max_rel, null);
  fs.rmSync(dir, { recursive: true });
});

t.test('-savepath naming the --replay file is refused: the fixture stays', async (t) => {
  const dir = tmpdir();
  fs.copyFileSync(path.join(FIXTURE_DIR, 'rank3-n40.json'), path.join(dir, 'fx.json'));
  fs.symlinkSync('fx.json', path.join(dir, 'link.json'));
  const before = fs.readFileSync(path.join(dir, 'fx.json'), 'utf8');
  const under = goal(['train', '--replay', 'fx.json', '-savepath', 'fx.json/x.pkl'], dir);
  t.equal(under.code, 2, 'a savepath under the fixture file: exit 2');
  t.match(under.err, /^goal train: -savepath "fx.json\/x.pkl": .*ENOTDIR/);
  for (const save of ['fx.json', './fx.json', 'link.json']) {
    const r = goal(['train', '--replay', 'fx.json', '-savepath', save], dir);
    t.equal(r.code, 2, `${save}: exit 2`);
    t.match(r.err, /is the --replay file: the stats would overwrite the fixture/);
  }
  // Read from standard input (--replay -), redirected from that very file.
  const fd = fs.openSync(path.join(dir, 'fx.json'), 'r');
  const piped = spawnSync(process.execPath, [BIN, 'train', '--replay', '-', '-savepath', 'fx.json'], { cwd: dir, encoding: 'utf8', stdio: [fd, 'pipe', 'pipe'] });
  fs.closeSync(fd);
  t.equal(piped.status, 2, '--replay - < fx.json -savepath fx.json: exit 2');
  t.equal(piped.stderr, 'goal train: -savepath fx.json is the --replay file (standard input): the stats would overwrite the fixture; choose another name\n');
  t.equal(fs.readFileSync(path.join(dir, 'fx.json'), 'utf8'), before, 'the fixture is untouched');
  fs.rmSync(dir, { recursive: true });
});

t.test('a --replay file that is not JSON: one line, control characters escaped', async (t) => {
  const dir = tmpdir();
  fs.writeFileSync(path.join(dir, 'bad.json'), 'x\n\n\n\n\n\u0007\n');
  const r = goal(['train', '--replay', 'bad.json'], dir);
  t.equal(r.code, 2);
  t.equal(r.err.split('\n').length, 2, 'one line');
  t.match(r.err, /^goal train: --replay bad.json: not valid JSON \(.*\\n\\n.*\)$/m);
  t.notMatch(r.err, /\u0007/, 'no raw control character');
  fs.writeFileSync(path.join(dir, 'bom.json'), '\ufeffx\u2028');
  const b = goal(['train', '--replay', 'bom.json'], dir);
  t.equal(b.code, 2);
  t.notMatch(b.err, /[\ufeff\u2028]/, 'no invisible character in the message');
  fs.rmSync(dir, { recursive: true });
});

t.test('a --replay file whose JSON would not fit the heap left is refused in one line, not with V8\'s crash report', async (t) => {
  const dir = tmpdir();
  const fx = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'reference', 'rank3-n40.json'), 'utf8'));
  // A generator's stray field: millions of short lists (about 72 bytes of heap each), in a
  // 64 MiB heap; a tenth of it fits, and replays.
  const run = (pairs: number) => {
    fs.writeFileSync(path.join(dir, 'f.json'), JSON.stringify({ ...fx, junk: new Array(pairs).fill([1, 2]) }));
    return spawnSync(process.execPath, [BIN, 'train', '--replay', 'f.json', '--json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=64' } });
  };
  const big = run(2_000_000);
  t.equal(big.status, 2, 'exit 2, not a crash');
  t.match(big.stderr, /^goal train: --replay f\.json: too large to read: its JSON would take about [\d.]+ MiB of memory, and Node's heap has [\d.]+ MiB left \(NODE_OPTIONS=--max-old-space-size=MiB raises it\)\n$/);
  t.equal(big.stdout, '');
  const fits = run(200_000);
  t.equal(fits.status, 0, fits.stderr);
  t.equal(JSON.parse(fits.stdout).replay_match, true, 'what fits replays');
  fs.rmSync(dir, { recursive: true });
});

t.test('a --replay of the stats pickle (binary, not a fixture) says so, without quoting its bytes', async (t) => {
  const dir = tmpdir();
  const saved = goal(['train', '-N', '10', '-E', '2', '2', '-savepath', 'stats.pkl'], dir);
  t.equal(saved.code, 0, saved.err);
  const r = goal(['train', '--replay', 'stats.pkl'], dir);
  t.equal(r.code, 2);
  t.equal(r.err, 'goal train: --replay stats.pkl: binary data, not UTF-8 JSON (the stats pickle that -savepath writes cannot be replayed: it holds no draws)\n');
  fs.rmSync(dir, { recursive: true });
});

t.test('float32 spikes that differ where the reference came close to the threshold: the replay says why (SPEC.md, Fixtures)', async (t) => {
  const dir = tmpdir();
  const fx = loadFixture('ltts-n40-f32.json') as unknown as { expect: { Z_last: number[][]; min_margin: number } };
  fx.expect.Z_last[0][0] = 1 - fx.expect.Z_last[0][0]; // one spike the replay cannot match
  fs.writeFileSync(path.join(dir, 'safe.json'), JSON.stringify(fx));
  fx.expect.min_margin = 1.2e-4;
  fs.writeFileSync(path.join(dir, 'close.json'), JSON.stringify(fx));
  const close = goal(['train', '--replay', 'close.json'], dir);
  t.equal(close.code, 1, 'it still differs');
  t.match(close.out, /Replay DIFFERS from the reference in Z_last/);
  t.match(close.err, /^goal train: note: the reference came within 1\.2e-4 of the spike threshold; in float32 a spike that close can flip/m);
  const json = JSON.parse(goal(['train', '--replay', 'close.json', '--json'], dir).out);
  t.match(json.replay_note, /came within 1\.2e-4/);
  const safe = goal(['train', '--replay', 'safe.json'], dir);
  t.equal(safe.code, 1);
  t.notMatch(safe.err, /note:/, 'a margin of 2.9e-3 is well above float32 rounding: no excuse');
  fs.rmSync(dir, { recursive: true });
});

t.test('a --replay file with a byte-order mark replays', async (t) => {
  const dir = tmpdir();
  const text = fs.readFileSync(path.join(__dirname, 'fixtures', 'reference', 'rank3-n40.json'), 'utf8');
  fs.writeFileSync(path.join(dir, 'fx.json'), `\ufeff${text}`);
  const r = goal(['train', '--replay', 'fx.json'], dir);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /Replay matches the reference/);
  fs.rmSync(dir, { recursive: true });
});

t.test('stats that cannot be saved after the run (its folder removed): results printed, one line, exit 1', async (t) => {
  const dir = tmpdir();
  fs.mkdirSync(path.join(dir, 'gone'));
  const child = spawn(process.execPath, [BIN, 'train', '-N', '40', '-T', '50', '-E', '10', '200000', '--seed', '1', '-savepath', 'gone/s.pkl', '--verbose'], { cwd: dir });
  let err = '';
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => {
    err += d;
    if (/recurrent /.test(err) && fs.existsSync(path.join(dir, 'gone'))) fs.rmSync(path.join(dir, 'gone'), { recursive: true });
  });
  const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
  t.equal(code, 1, 'exit 1');
  t.match(out, /Model spike error: \d+/, 'the results are printed');
  t.match(err, /goal train: -savepath gone\/s.pkl: cannot write it \(ENOENT\); the results above are not saved\n$/);
  t.notMatch(err, /unexpected|^\s+at /m, 'no stack trace');
  t.strictSame(fs.readdirSync(dir), [], 'nothing left behind');
  fs.rmSync(dir, { recursive: true });
});

t.test('symbolic links resolved as the kernel does; a loop is a bad path', async (t) => {
  const dir = tmpdir();
  fs.mkdirSync(path.join(dir, 'real', 'deep'), { recursive: true });
  fs.symlinkSync('real/deep', path.join(dir, 'dlink'));
  fs.symlinkSync('../x.pkl', path.join(dir, 'real', 'deep', 'l.pkl')); // relative to real/deep
  const r = goal(['train', '-N', '20', '-T', '30', '-E', '5', '3', '-savepath', 'dlink/l.pkl'], dir);
  t.equal(r.code, 0, r.err);
  t.ok(fs.existsSync(path.join(dir, 'real', 'x.pkl')), 'written where the link points: real/x.pkl');
  t.notOk(fs.existsSync(path.join(dir, 'x.pkl')), 'not beside dlink');
  fs.symlinkSync('b', path.join(dir, 'a'));
  fs.symlinkSync('a', path.join(dir, 'b'));
  const loop = goal(['train', '-N', '20', '-T', '30', '-E', '5', '3', '-savepath', 'a'], dir);
  t.equal(loop.code, 2);
  t.match(loop.err, /^goal train: -savepath "a": is a loop of symbolic links\n$/);
  fs.rmSync(dir, { recursive: true });
});

// Another user (nobody, 65534) must be able to run this checkout's goal: not so in a private home.
const asNobody = (args: string[], cwd: string) =>
  // Through env -i: tap's hooks, which it passes on to child processes, write where that user may not.
  spawnSync('env', ['-i', process.execPath, ...args], { encoding: 'utf8', uid: 65534, gid: 65534, cwd });
const nobodyRuns = process.getuid?.() === 0 && asNobody([BIN, '--version'], os.tmpdir()).status === 0;

t.test("another user's file in a sticky folder (/tmp) is refused before the run: the rename would fail after it",
  { skip: nobodyRuns ? false : 'needs root, and a checkout that another user can read, to run goal as another user' }, async (t) => {
    const dir = tmpdir();
    fs.chmodSync(dir, 0o1777);
    const file = path.join(dir, 'r.pkl');
    fs.writeFileSync(file, 'theirs');
    fs.chmodSync(file, 0o666); // writable by all, yet only its owner may replace it
    const r = asNobody([BIN, 'train', '-N', '10', '-E', '2', '2', '-savepath', file], dir);
    t.equal(r.status, 2, r.stderr);
    t.equal(r.stderr, `goal train: -savepath ${JSON.stringify(file)}: is another user's file in the sticky folder ${dir}: it cannot be replaced; choose another name\n`);
    t.equal(fs.readFileSync(file, 'utf8'), 'theirs');
    fs.rmSync(dir, { recursive: true });
  });

t.test('messages name the subcommand by the first word that no flag takes as its value', async (t) => {
  t.equal(firstWord(['--out', 'F', 'merge', 'a']), 'merge');
  t.equal(firstWord(['-N', '30', '--out', 'merge']), undefined, 'a file named merge is a value');
  t.equal(firstWord(['-E', '5', '5', 'merge']), 'merge', 'the epochs flag takes two');
  const r = goal(['sweep', '-N', '30', '--ranks', '3', '--taus', '0', '--seeds', '1', '--out', 'merge']);
  t.equal(r.err, 'goal sweep: --taus must be a finite number > 0 (got 0)\n');
});

t.test('-dt only labels: time constants are in units of dt (SPEC.md), so a run\'s numbers do not move', async (t) => {
  const run = (dt: string[]) => {
    const r = goal(['train', '-N', '30', '-T', '40', '-E', '20', '10', '--seed', '4', '--json', ...dt]);
    t.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as { mse_out: number; mse_rec: number[]; dz: number[]; params: { dt: number } };
  };
  const base = run([]), other = run(['-dt', '0.0005']);
  t.equal(other.params.dt, 0.0005, 'the dt given is recorded');
  t.strictSame([other.mse_out, other.mse_rec, other.dz], [base.mse_out, base.mse_rec, base.dz]);
});

const scriptCmd = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;
t.test('--verbose on a terminal draws a bar per phase, ends at its total, and shows the cursor again', { skip: scriptCmd ? false : 'needs util-linux script (a terminal for the child)' }, async (t) => {
  // script(1) gives the child a pseudo-terminal: stderr is a TTY there; stdout goes to a file.
  const dir = tmpdir();
  const r = spawnSync('script', ['-qec', `"${process.execPath}" "${BIN}" train -N 20 -T 30 -E 5 10 --seed 1 --verbose >out.txt`, '/dev/null'], { cwd: dir, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const screen = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '');
  t.match(screen, /readout +\|=+\| 5\/5 \| [\d.]+ ep\/s \| ETA 0\.0 s \| mse \d/, 'the readout bar, full');
  t.match(screen, /recurrent \|=+\| 10\/10 \| [\d.]+ ep\/s \| ETA 0\.0 s \| mse \d[^|]*\| ΔZ \d+/, 'the recurrent bar, full, with ΔZ');
  t.notMatch(screen, /recurrent \d+\/10 \(\d+%\)/, 'no plain lines, which are for logs');
  t.match(r.stdout, /\x1b\[\?25h[^]*$/, 'the cursor shown again');
  t.match(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8'), /^Training time: [^\n]*\nTarget readout MSE: [^\n]*\nModel readout MSE: [^\n]*\nModel spike error: \d+\n$/, 'the summary on stdout');
  fs.rmSync(dir, { recursive: true });
});
