// sweep(): rows equal single train() runs bit for bit, whatever the threads or batching;
// resume, shards and merge give each point exactly once; the summary is the median per cell.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { convergenceEpoch, DEFAULT_CONV, gridGap, mergeRows, readRows, resolveParams, summarize, summaryTables, sweep, train, type SweepRow } from '../src/index';
import { firstDegenerateSeed, scratchDir } from './helpers';
import { MAX_SWEEP_POINTS, writeRows } from '../src/sweep';
import { addon } from '../src/native';
import { netSizes } from '../src/run';

const base = { nRec: 40, tSeq: 50, epochs: [30, 12] as [number, number] };
const grid = { ranks: [3, 10, 'ltts'] as (number | 'ltts')[], taus: [2, 5], seeds: [1, 2], base, backend: 'cpu' as const, onWarning: () => {} };
const strip = (rows: SweepRow[]) => rows.map(({ seconds: _s, device: _d, ...r }) => r);
const tmp = () => scratchDir('goal-sweep-');

t.test('a row equals goal train with the same params and seed', async (t) => {
  const r = await sweep({ ...grid, ranks: [3, 'ltts'], taus: [5], seeds: [7], curves: true });
  for (const row of r.rows) {
    const alone = await train({ ...base, rank: row.rank === 'ltts' ? null : row.rank, tauO: 5, seed: 7 });
    t.strictSame(row.mse_rec, alone.mseRec, `rank ${row.rank}: mse_rec curve`);
    t.strictSame(row.dz, alone.dz, `rank ${row.rank}: dz curve`);
    t.equal(row.mse_out, alone.mseOut);
    t.equal(row.mse_final, alone.mseRec.at(-1));
  }
});

t.test('threads and lockstep batches do not change a bit', async (t) => {
  const one = await sweep({ ...grid, threads: 1 });
  const two = await sweep({ ...grid, threads: 2 });
  const batched = await sweep({ ...grid, threads: 2, batch: 5 });
  t.equal(one.rows.length, 12);
  t.strictSame(strip(two.rows), strip(one.rows), '2 threads = 1 thread');
  t.strictSame(strip(batched.rows), strip(one.rows), 'lockstep CPU batches = one by one');
});

t.test('a resampled sweep in lockstep: the LTTS points of a batch keep their one feedback draw', async (t) => {
  const resampled = { ...grid, base: { ...base, resample: true }, taus: [5], curves: true };
  const batched = await sweep({ ...resampled, batch: 6 });
  t.equal(batched.rows.length, 6);
  for (const row of batched.rows) {
    const alone = await train({ ...base, resample: true, rank: row.rank === 'ltts' ? null : row.rank, tauO: 5, seed: row.seed }, { onWarning: () => {} });
    t.strictSame(row.mse_rec, alone.mseRec, `rank ${row.rank}, seed ${row.seed}: mse_rec curve`);
    t.strictSame(row.dz, alone.dz, `rank ${row.rank}, seed ${row.seed}: dz curve`);
  }
  const oneByOne = await sweep({ ...resampled, threads: 2 });
  t.strictSame(strip(batched.rows), strip(oneByOne.rows), 'the batch = one by one');
});

t.test('interrupted, then resumed: every point exactly once, same numbers', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const ac = new AbortController();
  const first = await sweep({ ...grid, threads: 2, out, signal: ac.signal, onRow: (_r, done) => { if (done === 3) ac.abort(); } });
  t.equal(first.aborted, true);
  const partial = readRows(out).rows.length;
  t.ok(partial >= 3 && partial < 12, `${partial} rows before the interrupt`);
  fs.appendFileSync(out, '{"rank":3,"tau_o":'); // a torn line, as from a crash mid-write
  const warnings: string[] = [];
  const second = await sweep({ ...grid, threads: 2, out, resume: true, onWarning: (m) => warnings.push(m) });
  t.match(warnings, [/torn last line/]);
  t.equal(second.skipped, partial);
  t.equal(second.completed, 12 - partial);
  const rows = readRows(out).rows;
  t.equal(rows.length, 12);
  t.equal(new Set(rows.map((r) => `${r.rank}|${r.tau_o}|${r.seed}`)).size, 12, 'no point twice');
  const full = await sweep(grid);
  const key = (r: SweepRow) => `${r.rank}|${r.tau_o}|${r.seed}`;
  const sorted = (rs: SweepRow[]) => strip([...rs].sort((a, b) => key(a).localeCompare(key(b))));
  t.strictSame(sorted(rows), sorted(full.rows), 'resumed rows = an uninterrupted sweep');
  await t.rejects(sweep({ ...grid, out }), { code: 'GOAL_USAGE', message: /exists/ }, 'no silent append without resume');
  fs.rmSync(dir, { recursive: true });
});

t.test('shards split the grid; merge joins them', async (t) => {
  const dir = tmp();
  const files = [1, 2, 3].map((k) => path.join(dir, `shard${k}.jsonl`));
  for (const [i, f] of files.entries()) await sweep({ ...grid, out: f, shard: { k: i + 1, n: 3 } });
  const parts = files.map((f) => readRows(f).rows.length);
  t.strictSame(parts, [4, 4, 4], 'every third point');
  const warnings: string[] = [];
  const again = path.join(dir, 'link.jsonl'); // the same file by another name
  fs.symlinkSync(files[0], again);
  const merged = mergeRows([...files, files[0], again], (m) => warnings.push(m));
  t.equal(merged.length, 12, 'each point once, even when a file is given twice');
  t.strictSame(warnings, [`${files[0]} is named twice: merged once`, `${again} is named twice (also as ${files[0]}): merged once`]);
  const full = await sweep(grid);
  t.strictSame(summarize(merged).map(({ rank, tau_o, mse_final }) => [rank, tau_o, mse_final]).sort(),
    summarize(full.rows).map(({ rank, tau_o, mse_final }) => [rank, tau_o, mse_final]).sort(), 'same summary');
  await t.rejects(sweep({ ...grid, shard: { k: 4, n: 3 } }), { code: 'GOAL_INVALID_OPTION' });
  await t.rejects(sweep({ ...grid, shard: { k: 2 ** 53, n: 2 ** 53 } }), { code: 'GOAL_INVALID_OPTION', message: /shard must be k\/n with 1 ≤ k ≤ n \(got 9007199254740992\/9007199254740992\)/, param: 'shard' }, 'numbers past 2^53 are not integers one can trust');
  fs.rmSync(dir, { recursive: true });
});

t.test('bad grids are refused before any work', async (t) => {
  await t.rejects(sweep({ ...grid, ranks: [200] }), { param: 'rank', message: /rank must be an integer in \[3, 40\], or null for LTTS \(got 200\)/ });
  await t.rejects(sweep({ ...grid, taus: [0] }), { param: 'tauO', message: /^tauO must be/ });
  await t.rejects(sweep({ ...grid, seeds: [] }), { code: 'GOAL_USAGE', param: 'seeds' });
  await t.rejects(sweep({ ...grid, base: { ...base, epochs: [3, 0] } }), { code: 'GOAL_INVALID_PARAM', param: 'epochs', message: /^epochs must give a sweep at least one recurrent epoch \(got 3 0\)$/ });
  await t.rejects(sweep({ ...grid, base: { ...base, rank: 3 } }), { code: 'GOAL_USAGE', message: /set by the sweep's grid/ });
  await t.rejects(sweep({ ...grid, resume: true }), { code: 'GOAL_INVALID_OPTION', message: /resume needs an output file/, param: 'resume' });
  await t.rejects(sweep({ ...grid, seeds: [1, 2, 1] }), { code: 'GOAL_USAGE', message: /^seed lists 1 twice$/ });
  await t.rejects(sweep({ ...grid, seeds: [0, -0] }), { code: 'GOAL_USAGE', message: /^seed lists 0 twice$/ }, '-0 is seed 0, named as first listed');
  await t.rejects(sweep({ ...grid, taus: [5, 5.0] }), { code: 'GOAL_USAGE', message: /^tauO lists 5 twice$/ });
  await t.rejects(sweep({ ...grid, ranks: ['ltts', 3, 'ltts'] }), { code: 'GOAL_USAGE', message: /^rank lists ltts twice$/, param: 'ranks' });
  await t.rejects(sweep({ ...grid, ranks: ['LTTS', 3, 'ltts'] }), { code: 'GOAL_USAGE', message: /^rank lists ltts twice$/ }, 'LTTS is ltts');
  await t.rejects(sweep({ ...grid, threads: 1025 }), { code: 'GOAL_INVALID_OPTION', message: /threads must be an integer in \[1, 1024\]/, param: 'threads' });
  const seeds = Array.from({ length: MAX_SWEEP_POINTS / 10 + 1 }, (_, i) => i);
  const ranks = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  await t.rejects(sweep({ ...grid, ranks, taus: [5], seeds }),
    { code: 'GOAL_USAGE', message: `a grid of ${MAX_SWEEP_POINTS + 10} points (10 ranks × 1 τ⋆ × ${seeds.length} seeds) is more than one sweep plans (${MAX_SWEEP_POINTS}): split it with shard k/n, or into several sweeps` });
  await t.rejects(sweep({ ...grid, ranks, taus: [2, 5, 7], seeds, shard: { k: 2, n: 2 } }),
    { code: 'GOAL_USAGE', message: /^shard 2\/2 of a grid of \d+ points .* holds 1500015 points, more than one sweep plans \(1000000\): use more shards$/ });
  // Split in two, each half is within the bound (planned, then stopped before any point runs).
  const stopped = new AbortController();
  stopped.abort();
  const half = await sweep({ ...grid, ranks, taus: [5], seeds, shard: { k: 1, n: 2 }, signal: stopped.signal });
  t.match(half, { planned: (MAX_SWEEP_POINTS + 10) / 2, completed: 0, aborted: true }, 'a shard of it is planned');
});

t.test('a shard with none of the grid\'s points says so', async (t) => {
  const warnings: string[] = [];
  const r = await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1], shard: { k: 2, n: 2 }, onWarning: (m) => warnings.push(m) });
  t.equal(r.planned, 0);
  t.match(warnings, [/shard 2\/2 holds none of this grid's 1 point \(its out, if any, is left empty\)/]);
  const dir = tmp();
  const out = path.join(dir, 'shard2.jsonl');
  await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1], shard: { k: 2, n: 2 }, out });
  t.equal(fs.readFileSync(out, 'utf8'), '', 'its file is there, empty: a job array\'s merge lists every shard');
  t.strictSame(mergeRows([out]), [], 'and merges as no rows');
  fs.rmSync(dir, { recursive: true });
});

t.test('resume and merge take only results of this sweep\'s configuration', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const small = { ...grid, ranks: [3], taus: [5], seeds: [1, 2] };
  const first = await sweep({ ...small, out });
  t.equal(new Set(first.rows.map((r) => r.config)).size, 1, 'one config for the sweep');
  t.match(first.rows[0].config, /^[0-9a-f]{12}$/);
  const other = { ...small, base: { ...base, nRec: 30 } };
  const before = fs.readFileSync(out, 'utf8');
  // A row keeps what its config fingerprints: the parameters the grid holds fixed, and conv.
  t.match(first.rows[0].fixed, { n_rec: 40, t_seq: 50, epochs: [30, 12], rec_lr: 5 / Math.sqrt(40), feedback: 'spk', dtype: 'float32', conv: DEFAULT_CONV });
  for (const k of ['rank', 'tau_o', 'seed']) t.notOk(k in first.rows[0].fixed!, `fixed holds no ${k}: the grid's`);
  // The message says what differs: N, and the learning rate that follows it (5/√N).
  await t.rejects(sweep({ ...other, out, resume: true }), { code: 'GOAL_USAGE',
    message: `out ${out} holds points of another configuration (nRec 40 in its row 1, 30 in this sweep; recLr ${5 / Math.sqrt(40)} in its row 1, ${5 / Math.sqrt(30)} in this sweep (5/√N in both)): resume with the settings that wrote it, or choose another file`, param: 'out' }, 'another N');
  await t.rejects(sweep({ ...small, conv: 3, out, resume: true }), { code: 'GOAL_USAGE', message: new RegExp(`another configuration \\(conv ${DEFAULT_CONV} in its row 1, 3 in this sweep\\)`) }, 'another T_conv threshold');
  t.equal(fs.readFileSync(out, 'utf8'), before, 'the file is untouched');
  // Rows without it (files of an earlier version): their fingerprints.
  const bare = path.join(dir, 'bare.jsonl');
  fs.writeFileSync(bare, before.split('\n').filter(Boolean).map((l) => { const { fixed: _, ...r } = JSON.parse(l); return `${JSON.stringify(r)}\n`; }).join(''));
  await t.rejects(sweep({ ...other, out: bare, resume: true }), { code: 'GOAL_USAGE', message: /another configuration \(config [0-9a-f]{12} in its row 1, [0-9a-f]{12} in this sweep\)/ });
  t.equal((await sweep({ ...small, out: bare, resume: true })).skipped, 2, 'and resume as before');
  // config is fixed's fingerprint, as the README has it (so a row's fixed tells what its config holds).
  t.equal(first.rows[0].config, createHash('sha256').update(JSON.stringify(first.rows[0].fixed)).digest('hex').slice(0, 12));
  const resumed = await sweep({ ...small, out, resume: true });
  t.equal(resumed.skipped, 2, 'the same configuration resumes');

  const otherOut = path.join(dir, 'other.jsonl');
  await sweep({ ...other, out: otherOut });
  t.throws(() => mergeRows([out, otherOut]), { code: 'GOAL_BAD_RESULTS', message: new RegExp(`another configuration than .*rows.jsonl \\(n_rec 40 in .*rows.jsonl, 30 in .*other.jsonl; rec_lr `) }, 'merge refuses a mix, saying where they part');
  // Both configurations in one file: said as such, not as the file against itself.
  const mixed = path.join(dir, 'mixed.jsonl');
  fs.writeFileSync(mixed, before + fs.readFileSync(otherOut, 'utf8'));
  t.throws(() => mergeRows([mixed]), { code: 'GOAL_BAD_RESULTS', message: /mixed\.jsonl holds points of two configurations \(n_rec 40 in its first row, 30 in a later one; rec_lr .*\): not the rows of one sweep$/ });
  fs.rmSync(dir, { recursive: true });
});

t.test('a row whose fixed was edited, or whose point does not fit its fixed, is refused', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const small = { ...grid, ranks: [3], taus: [5], seeds: [1], curves: true };
  await sweep({ ...small, out });
  const row = JSON.parse(fs.readFileSync(out, 'utf8'));
  const cases: [string, Record<string, unknown>, RegExp][] = [
    // config fingerprints fixed (sha256 of its JSON): any edit of fixed breaks it.
    ['fixed emptied', { fixed: {} }, /line 1 has a fixed that its config "[0-9a-f]{12}" does not fingerprint \(edited by hand\?\)/],
    ['n_rec a string', { fixed: { ...row.fixed, n_rec: 'x' } }, /does not fingerprint/],
    ['a key added', { fixed: { ...row.fixed, extra: 1 } }, /does not fingerprint/],
    // fixed as written, the point outside it: base has N = 40, O = 3, 12 recurrent epochs.
    ['rank above N', { rank: 41 }, /line 1 has rank 41, outside its fixed n_out 3 to n_rec 40/],
    ['rank below O', { rank: 2 }, /line 1 has rank 2, outside its fixed n_out 3 to n_rec 40/],
    ['t_conv after the last epoch', { t_conv: 13 }, /line 1 has t_conv 13, after its fixed 12 recurrent epochs/],
    ['a curve too short', { dz: row.dz.slice(1) }, /line 1 has 11 values of dz, not one per recurrent epoch \(12\)/],
  ];
  for (const [what, change, message] of cases) {
    const text = `${JSON.stringify({ ...row, ...change })}\n`;
    fs.writeFileSync(out, text);
    await t.rejects(sweep({ ...small, out, resume: true }), { code: 'GOAL_BAD_RESULTS', message }, `resume: ${what}`);
    t.equal(fs.readFileSync(out, 'utf8'), text, 'left as it was');
    t.throws(() => mergeRows([out]), { code: 'GOAL_BAD_RESULTS', message }, `merge: ${what}`);
  }
  // A row without its fixed (stripped by hand) is held to its config's: the sweep's on resume,
  // another row's in a merge (a file of such rows alone has none to be held to).
  const { fixed: _, ...bare } = row;
  for (const [what, change, message] of cases.slice(3)) {
    const edited = JSON.stringify({ ...bare, ...change, seed: 2 });
    const held = `\\(without a fixed of its own, held to its config's\\) ${message.source.replace(/^line 1 /, '')}: edited by hand\\?`;
    fs.writeFileSync(out, `${edited}\n`);
    await t.rejects(sweep({ ...small, out, resume: true }), { code: 'GOAL_BAD_RESULTS', message: new RegExp(`rows\\.jsonl: row 1 ${held} Mend or remove the row, or choose another file$`) },
      `resume, no fixed: ${what}`);
    fs.writeFileSync(out, `${JSON.stringify(row)}\n${edited}\n`);
    t.throws(() => mergeRows([out]), { code: 'GOAL_BAD_RESULTS', message: new RegExp(`rows\\.jsonl: row 2 ${held} Mend or remove the row$`) }, `merge, no fixed: ${what}`);
  }
  fs.writeFileSync(out, `${JSON.stringify({ ...bare, seed: 2 })}\n`);
  t.equal(mergeRows([out]).length, 1, 'a bare row that fits is merged');
  // The row as written still resumes: the checks hold every row sweep() writes.
  fs.writeFileSync(out, `${JSON.stringify(row)}\n`);
  t.equal((await sweep({ ...small, out, resume: true })).skipped, 1);
  fs.rmSync(dir, { recursive: true });
});

t.test("a row that names this sweep's grid but is none of its points was edited: resume refuses it", async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const small = { ...grid, ranks: [3], taus: [5], seeds: [1, 2] };
  await sweep({ ...small, out });
  // Rows are written as their points finish: seed 1's first here, whatever the order there.
  const [row, second] = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).sort((a, b) => a.seed - b.seed);
  // The grid is [3] × [5] × [1, 2]: each edit below leaves it, or miscounts it.
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['tau_o 5 → 3', { tau_o: 3 }, /row 2 names this sweep's grid but is no point of it \(rank 3, τ⋆ 3, seed 2\): edited by hand\?/],
    ['seed 2 → 7', { seed: 7 }, /row 2 .* \(rank 3, τ⋆ 5, seed 7\)/],
    ['rank 3 → 4', { rank: 4 }, /row 2 .* \(rank 4, τ⋆ 5, seed 2\)/],
    ['rank 3 → ltts', { rank: 'ltts' }, /row 2 .* \(rank ltts, τ⋆ 5, seed 2\)/],
    ['grid_points 2 → 3', { grid_points: 3 }, /row 2 names this sweep's grid but counts 3 points in it, not 2: edited by hand\?/],
  ];
  for (const [what, change, message] of cases) {
    const text = `${JSON.stringify(row)}\n${JSON.stringify({ ...second, ...change })}\n`;
    fs.writeFileSync(out, text);
    await t.rejects(sweep({ ...small, out, resume: true }), { code: 'GOAL_BAD_RESULTS', message }, what);
    t.equal(fs.readFileSync(out, 'utf8'), text, 'left as it was');
  }
  // A point of another grid under its own name is kept, as before; the rows as written resume.
  fs.writeFileSync(out, `${JSON.stringify(row)}\n${JSON.stringify({ ...second, tau_o: 3, grid: 'another-grid' })}\n`);
  const other = await sweep({ ...small, out, resume: true });
  t.match(other, { skipped: 1, outside: 1, completed: 1 });
  fs.writeFileSync(out, `${JSON.stringify(row)}\n${JSON.stringify(second)}\n`);
  t.equal((await sweep({ ...small, out, resume: true })).skipped, 2);
  fs.rmSync(dir, { recursive: true });
});

t.test('files that are not sweep results are refused, never rewritten', async (t) => {
  const dir = tmp();
  const cases: [string, RegExp][] = [
    ['this is my thesis notes', /line 1 is not JSON/],
    ['null\n', /line 1 is not a JSON object/],
    ['{"x":1}\n', /line 1 lacks the fields of a sweep row/],
    ['5\n', /line 1 is not a JSON object/],
    ['{"rank":3,"tau_o":5,"seed":1}\n', /line 1 lacks a sweep row's config, mse_out, mse_final, dz_final, t_conv;/],
    ['{"rank":3,"tau_o":5,"seed":1,"config":"c","mse_out":0.1,"mse_final":"0.2","dz_final":3,"t_conv":null}\n', /line 1 has a bad mse_final \("0.2"\); not a goal sweep results file\?$/],
    ['{"rank":3,"tau_o":-5,"seed":1,"config":"c","mse_out":0.1,"mse_final":0.2,"dz_final":3,"t_conv":null}\n', /line 1 has a bad tau_o \(-5\)/],
    ['{"rank":3,"tau_o":5,"seed":-1,"config":"c","mse_out":0.1,"mse_final":0.2,"dz_final":3,"t_conv":null}\n', /line 1 has a bad seed \(-1\)/],
    ['{"rank":3,"tau_o":5,"seed":1,"config":"c","mse_out":0.1,"mse_final":0.2,"dz_final":3,"t_conv":null,"dz":[1,"x"]}\n', /line 1 has a bad dz \(not a list of numbers\)/],
    // Hand-edited rows: values no run gives.
    ...([['mse_out', -1, '-1'], ['dz_final', -5, '-5'], ['dz_final', 2.5, '2.5'], ['t_conv', 'x', '"x"'], ['t_conv', 0, '0'],
      ['seconds', -1, '-1'], ['grid', null, 'null'], ['grid_points', 0, '0'], ['grid_points', 1e300, '1e\\+300']] as const).map(([k, v, shown]): [string, RegExp] => [
      `${JSON.stringify({ rank: 3, tau_o: 5, seed: 1, config: 'c', mse_out: 0.1, mse_final: 0.2, dz_final: 3, t_conv: null, [k]: v })}\n`,
      new RegExp(`line 1 has a bad ${k} \\(${shown}\\)`),
    ]),
  ];
  for (const [k, [text, message]] of cases.entries()) {
    const file = path.join(dir, `junk${k}.jsonl`);
    fs.writeFileSync(file, text);
    await t.rejects(sweep({ ...grid, out: file, resume: true }), { code: 'GOAL_BAD_RESULTS', message }, `resume: ${JSON.stringify(text)}`);
    t.equal(fs.readFileSync(file, 'utf8'), text, 'left as it was');
    t.throws(() => mergeRows([file]), { code: 'GOAL_BAD_RESULTS', message }, `merge: ${JSON.stringify(text)}`);
  }
  // Not files: a folder; a pipe without a writer, whose read would block this process for good.
  t.throws(() => readRows(dir), { code: 'GOAL_BAD_RESULTS', message: /: is a folder, not a results file$/ });
  const { spawnSync } = await import('node:child_process');
  const fifo = path.join(dir, 'fifo');
  if (spawnSync('mkfifo', [fifo]).status === 0) {
    t.throws(() => mergeRows([fifo]), { code: 'GOAL_BAD_RESULTS', message: /fifo: is a device, a pipe or a socket, not a results file$/ });
  } else t.test('a named pipe is refused', { skip: 'mkfifo not found' }, async () => {});
  // A path with a newline is quoted: the message stays one line.
  t.throws(() => readRows(path.join(dir, 'a\nb.jsonl')), { code: 'GOAL_BAD_RESULTS', message: /^"[^\n]*a\\nb\.jsonl": cannot read it \(ENOENT\)$/ });
  for (const bad of [null, 5, '']) t.throws(() => readRows(bad as never), { code: 'GOAL_INVALID_OPTION' }, `readRows(${JSON.stringify(bad)})`);
  fs.rmSync(dir, { recursive: true });
});

t.test('T_conv and the medians, by hand', async (t) => {
  t.equal(convergenceEpoch([0.5, 0.3, 0.2, 0.1], 0.1, 2), 3, 'first epoch with mse ≤ 2·mse_out (1-based)');
  t.equal(convergenceEpoch([0.5, 0.3], 0.1, 2), null);
  t.equal(convergenceEpoch([NaN, 0.2], 0.1, 2), 2, 'a diverged epoch (NaN) is not converged');
  t.equal(convergenceEpoch([0.5], NaN, 2), null, 'nor is anything against a diverged readout');
  const row = (seed: number, mse: number, dz: number, tc: number | null): SweepRow =>
    ({ rank: 3, tau_o: 5, seed, mse_out: 0.1, mse_final: mse, dz_final: dz, t_conv: tc, seconds: 0, device: 'x', config: 'c' });
  const [cell] = summarize([row(1, 0.3, 10, 5), row(2, 0.1, 30, null), row(3, 0.2, 20, 7)]);
  t.match(cell, { seeds: 3, mse_final: 0.2, dz_final: 20, t_conv: 7 });
  const [never] = summarize([row(1, 0.3, 10, null), row(2, 0.1, 30, null), row(3, 0.2, 20, 7)]);
  t.equal(never.t_conv, null, 'most seeds never converged: the median is never');
  // A diverged seed (NaN) is the worst value: one median whatever order the rows come in.
  const rows = [row(1, NaN, NaN, null), row(2, 0.1, 10, 4), row(3, 0.2, 30, 6)];
  for (const order of [[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0]]) {
    t.match(summarize(order.map((i) => rows[i]))[0], { mse_final: 0.2, dz_final: 30, t_conv: 6 }, `order ${order}`);
  }
  t.ok(Number.isNaN(summarize([rows[0], rows[1]])[0].mse_final), 'two seeds, one diverged: the mean of the middle two is NaN');
  // The file holds such a value as null (JSON has no NaN): rows parsed by hand summarise the same.
  const parsed = JSON.parse(JSON.stringify(rows)) as SweepRow[];
  t.equal(parsed[0].mse_final, null);
  t.match(summarize(parsed)[0], { mse_final: 0.2, dz_final: 30, t_conv: 6 }, 'null is the worst value too');
  t.match(summaryTables([parsed[0]]), /final readout MSE .*\n.*\n3 +NaN\n/, 'and a cell of only diverged seeds is a table cell, NaN');
  // With the planned grid, the cells without a point too, in the grid's order (LTTS last).
  const cells = summarize([row(1, 0.3, 10, 5)], { ranks: ['ltts', 3], taus: [5, 2.5] });
  t.strictSame(cells.map((c) => [c.rank, c.tau_o, c.seeds]), [[3, 2.5, 0], [3, 5, 1], ['ltts', 2.5, 0], ['ltts', 5, 0]]);
  t.match(cells[0], { mse_final: NaN, dz_final: NaN, t_conv: null });
  t.throws(() => summarize([], { ranks: [3] } as never), { code: 'GOAL_INVALID_OPTION', message: /^summarize\(rows, grid\): grid must be \{ ranks, taus \}/ });
  // A grid's lists hold what a row may: no cell of a point no sweep has.
  const refused: [unknown, RegExp][] = [
    [{ ranks: [{}], taus: [1] }, /^summarize\(rows, grid\): grid\.ranks\[0\] must be 'ltts' or a whole number ≥ 1 \(got object\)$/],
    [{ ranks: [3, 0], taus: [1] }, /grid\.ranks\[1\] must be .* \(got 0\)$/],
    [{ ranks: [null], taus: [1] }, /grid\.ranks\[0\] must be/],
    [{ ranks: [3], taus: [null] }, /^summarize\(rows, grid\): grid\.taus\[0\] must be a number > 0 \(got null\)$/],
    [{ ranks: [3], taus: [2, -1] }, /grid\.taus\[1\] must be a number > 0 \(got -1\)$/],
    [{ ranks: [3], taus: [Infinity] }, /grid\.taus\[0\]/],
  ];
  for (const [grid, message] of refused) t.throws(() => summarize([], grid as never), { code: 'GOAL_INVALID_OPTION', message }, JSON.stringify(grid));
  t.throws(() => summaryTables([], { ranks: [3], taus: [2], seeds: -5 }), {
    code: 'GOAL_INVALID_OPTION', message: /^summaryTables\(rows, grid\): grid\.seeds must be a count ≥ 0 \(got -5\)$/,
  });
  t.throws(() => summaryTables([], { ranks: ['ltts', 0.5], taus: [2], seeds: 1 } as never), { code: 'GOAL_INVALID_OPTION', message: /grid\.ranks\[1\]/ });
});

t.test('the tables mark a cell of fewer seeds; merge names the points missing from the grid', async (t) => {
  const row = (rank: number, tau_o: number, seed: number): SweepRow =>
    ({ rank, tau_o, seed, mse_out: 0.1, mse_final: 0.25, dz_final: 7, t_conv: 3, seconds: 0, device: 'x', config: 'c' });
  const full = [row(3, 1, 1), row(3, 1, 2), row(3, 2, 1), row(3, 2, 2)];
  t.notMatch(summaryTables(full), /\(1\)|only/, 'a complete grid: no marks');
  const partial = summaryTables(full.slice(0, 3));
  t.match(partial, /median over 2 seeds; \(k\): a cell with only k\)/);
  t.match(partial, /final readout MSE.*\n.*\n3 +0\.250 +0\.250 \(1\)\n/);
  t.match(partial, /ΔS\n.*\n3 +7 +7 \(1\)\n/);
  // A stopped sweep knows its grid: the cells and seeds it lacks show.
  const stopped = summaryTables(full.slice(0, 2), { ranks: [3, 'ltts'], taus: [1, 2], seeds: 3 });
  t.match(stopped, /median over 3 seeds; \(k\): a cell with only k\)\nrank \\ τ⋆ +1 +2\n3 +0\.250 \(2\) +\(0\)\nLTTS +\(0\) +\(0\)\n/);
  t.equal(gridGap(full), null);
  t.match(gridGap([...full.slice(1), full[1]]), /^1 of the 4 points/, 'a row given twice counts once');
  // So do the summaries: a point appended twice is one seed, its median its own.
  const twice = [full[0], { ...full[1], mse_final: 0.5 }, { ...full[1], mse_final: 0.5 }];
  t.match(summarize(twice)[0], { seeds: 2, mse_final: 0.375 }, 'the median of 0.25 and 0.5, the copy counting once');
  t.match(summaryTables(twice), /median over 2 seeds\)\nrank \\ τ⋆ +1\n3 +0\.375\n/);
  t.throws(() => summarize([full[0], full[1], { ...full[1], mse_final: 0.5 }]), {
    code: 'GOAL_INVALID_OPTION',
    message: /^summarize\(rows\): rows\[1\] and rows\[2\] are one point \(rank 3, τ⋆ 1, seed 2\) with other numbers: mergeRows keeps the first copy of each point$/,
  });
  t.throws(() => summaryTables([full[0], { ...full[1], config: 'd' }]), {
    code: 'GOAL_INVALID_OPTION', message: /^summaryTables\(rows\): rows\[1\] is of another configuration than rows\[0\] \(config c in rows\[0\], d in rows\[1\]\): not the rows of one sweep$/,
  });
  t.equal(gridGap(full.slice(1)), '1 of the 4 points of the grid these rows span (1 rank × 2 τ⋆ × 2 seeds) is missing: a shard that did not finish, or a file left out?');
  const dir = tmp();
  const files = [0, 1].map((k) => path.join(dir, `s${k}.jsonl`));
  writeRows(files[0], [full[0], full[2]]);
  writeRows(files[1], [full[1]]);
  const warnings: string[] = [];
  t.equal(mergeRows(files, (m) => warnings.push(m)).length, 3);
  t.match(warnings, [/^1 of the 4 points .* is missing/], 'rows without their grid: held to the grid they span');
  // Rows of one sweep name its grid: a shard holding every row of one seed shows its gap too.
  const dir2 = path.join(dir, 'sharded');
  fs.mkdirSync(dir2);
  const shardFiles = [1, 2, 3].map((k) => path.join(dir2, `s${k}.jsonl`));
  for (const [k, out] of shardFiles.entries()) await sweep({ ...grid, out, shard: { k: k + 1, n: 3 } });
  const gaps: string[] = [];
  const merged = mergeRows([shardFiles[0], shardFiles[2]], (m) => gaps.push(m));
  t.equal(merged.length, 8);
  t.strictSame(gaps, ["4 of the grid's 12 points are missing: a shard that did not finish, or a file left out?"]);
  t.ok(merged.every((r) => r.grid_points === 12 && r.grid === merged[0].grid), 'every row names the grid and its size');
  t.match(gridGap([...merged, ...merged.slice(0, 4)]), /^4 of the grid's 12 points are missing/, 'rows given twice count once');
  const stranger = { ...merged[0], seed: 99 }; // a point of another grid, under this one's name
  t.equal(gridGap([...merged, ...merged.slice(0, 4).map((r) => ({ ...r, seed: r.seed + 90 })), stranger]),
    "these rows hold 13 points, more than their grid's 12: rows of another grid under its name?", 'more points than the grid has');
  const all: string[] = [];
  t.equal(mergeRows(shardFiles, (m) => all.push(m)).length, 12);
  t.strictSame(all, [], 'all shards: no gap');
  const reordered = await sweep({ ...grid, ranks: ['ltts', 10, 3], taus: [5, 2], seeds: [2, 1] });
  t.equal(reordered.rows[0].grid, merged[0].grid, 'the grid\'s fingerprint does not depend on the order of its lists');
  fs.rmSync(dir, { recursive: true });
});

t.test('feedback out with an LTTS point warns once and runs it with spk', async (t) => {
  const seen: string[] = [];
  const r = await sweep({ ...grid, ranks: [3, 'ltts'], taus: [5], seeds: [1, 2], base: { ...base, feedback: 'out' }, onWarning: (m) => seen.push(m) });
  t.equal(r.rows.length, 4);
  t.match(seen, [/^LTTS points: feedback out needs a rank/]);
  t.equal(seen.length, 1, 'once, not once per point');
});

t.test('a diverging readout in a batch is one warning, not one per network', async (t) => {
  const seen: string[] = [];
  await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1, 2, 3], base: { ...base, outLr: 5 }, batch: 3, onWarning: (m) => seen.push(m) });
  t.match(seen, [/readout training diverged \(see the mse_out of the points\)/]);
  t.equal(seen.length, 1);
});

t.test('sweep options of the wrong type are refused', async (t) => {
  await t.rejects(sweep({} as never), { code: 'GOAL_INVALID_OPTION', message: /options.ranks must be an array/, param: 'ranks' });
  await t.rejects(sweep({ ...grid, base: 5 } as never), { code: 'GOAL_INVALID_OPTION', message: /options.base must be an object/ });
  await t.rejects(sweep({ ...grid, onRow: 'x' } as never), { code: 'GOAL_INVALID_OPTION', message: /options.onRow must be a function/ });
  await t.rejects(sweep({ ...grid, conv: '2' } as never), { code: 'GOAL_INVALID_OPTION', message: 'conv must be a finite number > 0 (got "2")' });
  // Every option of the call, whatever is wrong with it, is GOAL_INVALID_OPTION (README).
  for (const bad of [{ threads: 0 }, { threads: '2' }, { batch: '2' }, { batch: 0 }, { shard: { k: NaN, n: NaN } }, { shard: { k: 1, n: Infinity } }, { shard: { k: '1', n: '2' } }]) {
    await t.rejects(sweep({ ...grid, ...bad } as never), { code: 'GOAL_INVALID_OPTION' }, JSON.stringify(bad));
  }
});

t.test('a failing point stops the sweep: nothing runs or is written after it rejects', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const boom = new Error('onRow failed');
  let calls = 0;
  await t.rejects(sweep({ ...grid, threads: 2, out, onRow: () => { calls++; throw boom; } }), boom);
  const written = readRows(out).rows.length;
  const callsThen = calls;
  await new Promise((resolve) => setTimeout(resolve, 300)); // longer than a point takes here
  t.equal(readRows(out).rows.length, written, 'no row written after the rejection');
  t.equal(calls, callsThen, 'no onRow after the rejection');
  t.ok(written <= 2, `at most one point per thread finished (${written})`);
  fs.rmSync(dir, { recursive: true });
});

t.test('onRow calls come one at a time, in order, though the points finish at once', async (t) => {
  let inside = 0, most = 0;
  const dones: number[] = [];
  await sweep({ ...grid, threads: 4, onRow: async (_r, done) => {
    most = Math.max(most, ++inside);
    await new Promise((resolve) => setTimeout(resolve, 20)); // longer than a point takes here
    dones.push(done);
    inside--;
  } });
  t.equal(most, 1, 'never two at once');
  t.strictSame(dones, Array.from({ length: 12 }, (_, i) => i + 1));
});

t.test('an async onRow is awaited: its rejection rejects the sweep, which removes its lock', async (t) => {
  const dir = tmp();
  for (const batch of [undefined, 2]) {
    const out = path.join(dir, `rows-${batch}.jsonl`);
    const boom = new Error('upload failed');
    const seen: number[] = [];
    await t.rejects(sweep({ ...grid, threads: 2, batch, out, onRow: async (_r, done) => {
      seen.push(done);
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (done === 2) throw boom;
    } }), boom, `batch ${batch}`);
    t.notOk(fs.existsSync(`${out}.lock`), 'the lock is gone');
    t.ok(seen.length >= 2 && seen.length < 12, `the sweep stopped early (${seen.length} rows heard)`);
  }
  fs.rmSync(dir, { recursive: true });
});

t.test("library ranks: 'LTTS' in any case is LTTS, as on the command line", async (t) => {
  const r = await sweep({ ...grid, ranks: ['Ltts' as 'ltts'], taus: [5], seeds: [1] });
  t.strictSame(r.rows.map((row) => row.rank), ['ltts']);
  const alone = await train({ ...base, rank: null, tauO: 5, seed: 1 });
  t.equal(r.rows[0].dz_final, alone.dz.at(-1), 'the LTTS run');
});

t.test("more threads than Node's worker pool: a warning only when the pool is what limits the sweep", async (t) => {
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const warned = async (seeds: number[]) => {
    const seen: string[] = [];
    await sweep({ ...grid, ranks: [3], taus: [5], seeds, threads: pool + 1, onWarning: (m) => seen.push(m) });
    return seen.filter((m) => /worker pool/.test(m));
  };
  t.strictSame(await warned(Array.from({ length: pool }, (_, i) => i + 1)), [], `${pool} points: the pool runs them all at once`);
  t.match(await warned(Array.from({ length: pool + 1 }, (_, i) => i + 1)), [new RegExp(`^threads ${pool + 1}, but Node's worker pool has ${pool} threads`)]);
});

t.test('sweep options of the wrong type are refused, not taken for defaults', async (t) => {
  await t.rejects(sweep({ ...grid, ranks: [undefined as never] }), { code: 'GOAL_INVALID_PARAM', param: 'rank', message: /^rank values must be numbers or 'ltts' \(got undefined\)$/ });
  // eslint-disable-next-line no-sparse-arrays
  await t.rejects(sweep({ ...grid, ranks: [3, , 'ltts'] as never }), { code: 'GOAL_INVALID_PARAM', param: 'rank' });
  await t.rejects(sweep({ ...grid, taus: [5, undefined as never] }), { code: 'GOAL_INVALID_PARAM', param: 'tauO', message: /^tauO values must be numbers \(got undefined\)$/ });
  await t.rejects(sweep({ ...grid, resume: 'false' as never }), { code: 'GOAL_INVALID_OPTION', message: /^resume must be true or false \(got "false"\)$/ });
  await t.rejects(sweep({ ...grid, curves: 1 as never }), { code: 'GOAL_INVALID_OPTION', message: /^curves must be true or false \(got 1\)$/ });
  t.throws(() => readRows(path.join(tmp(), 'none.jsonl')), { code: 'GOAL_BAD_RESULTS', message: /none.jsonl: cannot read it \(ENOENT\)$/ });
  t.throws(() => readRows(os.tmpdir()), { code: 'GOAL_BAD_RESULTS', message: /is a folder, not a results file$/ });
  t.throws(() => mergeRows('rows.jsonl' as never), { code: 'GOAL_INVALID_OPTION', message: /^mergeRows\(files\): files must be an array of file names \(got "rows.jsonl"\)$/ });
  // null is train()'s random seed, no point of a grid; a bad value listed twice is a bad value.
  await t.rejects(sweep({ ...grid, seeds: [null as never] }), { code: 'GOAL_INVALID_PARAM', param: 'seed', message: /^seed must be an integer in \[0, 9007199254740991\] \(got null\)$/ });
  await t.rejects(sweep({ ...grid, seeds: ['x', 'x'] as never }), { code: 'GOAL_INVALID_PARAM', param: 'seed' });
  await t.rejects(sweep({ ...grid, taus: [NaN, NaN] }), { code: 'GOAL_INVALID_PARAM', param: 'tauO' });
  await t.rejects(sweep({ ...grid, ranks: ['x', 'x'] as never }), { code: 'GOAL_INVALID_PARAM', param: 'rank' });
  // An option is given or left out: null is neither, for every option alike.
  for (const key of ['threads', 'batch', 'backend', 'signal', 'onRow']) {
    await t.rejects(sweep({ ...grid, [key]: null }), { code: 'GOAL_INVALID_OPTION', message: `options.${key} is null: leave it out for its default` });
  }
  await t.rejects(train({ nRec: 10, epochs: [1, 1] }, { backend: null } as never), { code: 'GOAL_INVALID_OPTION', message: 'options.backend is null: leave it out for its default' });
});

t.test('the exported helpers check what they are given', async (t) => {
  const row: SweepRow = { rank: 3, tau_o: 5, seed: 1, mse_out: 0.1, mse_final: NaN, dz_final: NaN, t_conv: null, seconds: 0, device: 'x', config: 'c' };
  t.equal(summarize([row]).length, 1, 'a diverged row (NaN) is a row');
  const cases: [string, () => unknown, RegExp][] = [
    ['summaryTables(null)', () => summaryTables(null as never), /^summaryTables\(rows\): rows must be an array of sweep rows \(got null\)$/],
    ['summaryTables("abc")', () => summaryTables('abc' as never), /rows must be an array of sweep rows \(got "abc"\)$/],
    ['summaryTables([{}])', () => summaryTables([{}] as never), /^summaryTables\(rows\): rows\[0\] lacks the fields of a sweep row/],
    ['summaryTables([row, 5])', () => summaryTables([row, 5] as never), /^summaryTables\(rows\): rows\[1\] is not an object$/],
    ['summaryTables([], {ranks: 5})', () => summaryTables([], { ranks: 5 } as never), /^summaryTables\(rows, grid\): grid must be \{ ranks, taus, seeds \}/],
    ['summarize(null)', () => summarize(null as never), /^summarize\(rows\): rows must be an array/],
    ['summarize([{...row, mse_out: -1}])', () => summarize([{ ...row, mse_out: -1 }]), /rows\[0\] has a bad mse_out \(-1\)$/],
    ['gridGap(null)', () => gridGap(null as never), /^gridGap\(rows\): rows must be an array/],
    ['convergenceEpoch(null, 1, 2)', () => convergenceEpoch(null as never, 1, 2), /^convergenceEpoch\(mseRec, mseOut, conv\): expects an array and two numbers \(got null, 1, 2\)$/],
    // The threshold as sweep's conv is checked; an MSE is ≥ 0, or NaN where a run diverged.
    ...[0, -1, NaN, Infinity].map((conv): [string, () => unknown, RegExp] =>
      [`convergenceEpoch([1, 2], 1, ${conv})`, () => convergenceEpoch([1, 2], 1, conv), new RegExp(`: conv must be a finite number > 0 \\(got ${conv}\\)$`)]),
    ['convergenceEpoch([1, 2], -1, 2)', () => convergenceEpoch([1, 2], -1, 2), /: mseOut must be an MSE, a number ≥ 0 or NaN \(got -1\)$/],
    ['convergenceEpoch(["0"], 1, 2)', () => convergenceEpoch(['0'] as never, 1, 2), /: mseRec\[0\] must be an MSE, a number ≥ 0 or NaN \(got "0"\)$/],
    ['convergenceEpoch([1, null], 1, 2)', () => convergenceEpoch([1, null] as never, 1, 2), /: mseRec\[1\] must be an MSE/],
  ];
  for (const [what, call, message] of cases) t.throws(call, { code: 'GOAL_INVALID_OPTION', message }, what);
});

t.test('a shard runs the same points whatever the order of the lists', async (t) => {
  const points = async (ranks: (number | 'ltts')[], taus: number[], seeds: number[]) =>
    (await sweep({ ...grid, ranks, taus, seeds, shard: { k: 1, n: 3 } })).rows.map((r) => `${r.rank}/${r.tau_o}/${r.seed}`);
  const a = await points([3, 10, 'ltts'], [2, 5], [1, 2]);
  t.equal(a.length, 4, 'a third of the 12 points');
  t.strictSame(await points(['ltts', 10, 3], [5, 2], [2, 1]), a);
});

t.test('a warning every point gives is told once', async (t) => {
  // outLr 20: every readout goes to NaN; 0.5: each grows to its own finite value.
  for (const outLr of [20, 0.5]) {
    const told: string[] = [];
    const r = await sweep({ ...grid, ranks: [3], taus: [2, 5], seeds: [1, 2, 3], base: { ...base, outLr, epochs: [20, 1] }, onWarning: (m) => told.push(m) });
    t.ok(r.rows.every((row) => !(row.mse_out < 0.3)), `outLr ${outLr}: every point's readout diverged`);
    t.strictSame(told, [`the readout training diverged (see the mse_out of the points): outLr=${outLr} may be past the stable bound of their targets, 2/λ ` +
      '(λ: the largest eigenvalue of r*ᵀr*); try a smaller outLr (a point run alone, with train or goal train, tells its bound)']);
  }
  // One readout epoch: the rows' mse_out, measured before its step, look fine; the warning says so.
  const told: string[] = [];
  const r = await sweep({ ...grid, ranks: [3], taus: [2], seeds: [1, 2], base: { ...base, outLr: 20, epochs: [1, 1] }, onWarning: (m) => told.push(m) });
  t.ok(r.rows.every((row) => Number.isFinite(row.mse_out) && row.t_conv === null), 'finite mse_out, and no T_conv against it');
  t.match(told, [/^the readout training diverged \(the one readout epoch raised the error, which the mse_out of the points, measured before its step, does not show\): outLr=20 /]);
});

t.test('no T_conv against the mse_out of a diverged readout', async (t) => {
  // outLr 10 at N = 20: each readout grows to a finite 1e50 or more, and the recurrent phase's
  // errors (≈ 0.1) are all within twice that. README: T_conv is then null, not 1.
  const r = await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1, 2], curves: true, base: { nRec: 20, tSeq: 40, epochs: [20, 5], outLr: 10 } });
  t.ok(r.rows.every((row) => row.mse_out > 1e30 && row.mse_final < 1), 'every readout diverged to a finite value, the recurrent errors did not');
  t.strictSame(r.rows.map((row) => row.t_conv), [null, null]);
  t.strictSame(r.rows.map((row) => convergenceEpoch(row.mse_rec ?? [], row.mse_out, DEFAULT_CONV)), [1, 1], 'by the formula alone');
});

t.test('the memory check counts the networks in flight: as many as the threads, up to the worker pool', async (t) => {
  // N such that the pool's worth of networks cannot fit, though one alone would.
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  if (pool < 2) return t.skip(`UV_THREADPOOL_SIZE=${pool}: one network at a time, nothing to count`, () => {});
  const limit = Math.min(os.totalmem(), process.constrainedMemory?.() || Infinity);
  const need = (n: number) => addon().bytesNeeded({ ...netSizes(resolveParams({ nRec: n, dtype: 'float64' }).params) }) + 16 * n * n;
  let n = 1000;
  while (need(n) < limit / (pool - 1)) n = Math.ceil(n * 1.05);
  t.ok(need(n) < limit, 'one network alone fits');
  await t.rejects(
    // The aborted signal: should the check ever not fire, nothing is allocated either.
    sweep({ ranks: ['ltts'], taus: [5], seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], threads: 10, backend: 'cpu', signal: AbortSignal.abort(), base: { nRec: n, dtype: 'float64', epochs: [0, 1] } }),
    { code: 'GOAL_ENOMEM', message: new RegExp(`${pool} networks at once need .* \\(use fewer threads\\)$`) },
  );
});

t.test('the end of a results file: a last row without its newline is kept, a torn one dropped', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const small = { ...grid, ranks: [3], taus: [5], seeds: [1, 2, 3] };
  await sweep({ ...small, seeds: [1, 2], out });
  const two = fs.readFileSync(out, 'utf8');
  fs.writeFileSync(out, two.slice(0, -1)); // as after an editor dropped the final newline
  t.match(readRows(out), { torn: false, unterminated: true });
  const r = await sweep({ ...small, out, resume: true });
  t.equal(r.skipped, 2, 'both rows kept');
  t.equal(readRows(out).rows.length, 3, 'the new row on a line of its own');
  fs.writeFileSync(out, `${two}{"ra`); // torn within the first bytes of a row
  t.match(readRows(out), { torn: true, unterminated: false });
  t.equal(readRows(out).rows.length, 2);
  // A crash can leave the appended length as zero bytes, after a row's start or instead of it.
  const [first, second] = two.split('\n');
  for (const [text, what] of [[`${two}\0\0\0\0`, 'zeros alone'], [`${first}\n${second.slice(0, 30)}\0\0\0`, 'zeros after a torn row']]) {
    fs.writeFileSync(out, text);
    t.match(readRows(out), { torn: true, unterminated: false }, what);
    t.equal(readRows(out).rows.length, what === 'zeros alone' ? 2 : 1, `${what}: the whole rows read`);
  }
  // Zeros over several of the reader's 1 MiB chunks, and past the 2 GiB where a Buffer's text
  // comes back empty (a sparse file: no disk taken), are the same torn tail.
  for (const zeros of [3 << 20, 3 * 2 ** 30]) {
    fs.writeFileSync(out, two);
    fs.truncateSync(out, two.length + zeros);
    if (fs.statSync(out).blocks * 512 > 2 ** 30) {
      t.test('3 GiB of zeros after two rows', { skip: 'this file system writes the zeros of a sparse file out' }, async () => {});
      break;
    }
    t.match(readRows(out), { torn: true, unterminated: false, rows: { length: 2 } }, `${zeros} zero bytes after two rows`);
  }
  // A line past the longest string is no row (and no 2 GiB of text read as '').
  fs.writeFileSync(out, `${two}{"rank":`);
  fs.truncateSync(out, 2 ** 31 + 2 ** 20);
  if (fs.statSync(out).blocks * 512 < 2 ** 30) {
    t.throws(() => readRows(out), { code: 'GOAL_BAD_RESULTS', message: /rows.jsonl: line 3 is longer than any row \(over 512 MiB\): not a results file$/ });
  } else t.test('a line past the longest string', { skip: 'this file system writes the zeros of a sparse file out' }, async () => {});
  fs.writeFileSync(out, `${two.slice(0, -1)}\0\0`); // a whole row, then zeros: kept, the file rewritten
  t.match(readRows(out), { torn: false, unterminated: true });
  const resumed = await sweep({ ...small, out, resume: true });
  t.equal(resumed.skipped, 2, 'both rows kept');
  t.notMatch(fs.readFileSync(out, 'latin1'), /\0/, 'and the zeros gone');
  t.equal(readRows(out).rows.length, 3);
  fs.rmSync(dir, { recursive: true });
});

t.test('the config fingerprint does not depend on the order of the grid', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  // LTTS points drop both feedback out and resample: the fingerprint keeps what was asked.
  const outBase = { ...base, feedback: 'out' as const, resample: true };
  await sweep({ ...grid, ranks: ['ltts', 3], taus: [5], seeds: [1], base: outBase, out });
  const r = await sweep({ ...grid, ranks: [3, 'ltts', 5], taus: [5], seeds: [1], base: outBase, out, resume: true });
  t.equal(r.skipped, 2, 'resumed with the ranks reordered and extended');
  t.equal(new Set(readRows(out).rows.map((x) => x.config)).size, 1);
  fs.rmSync(dir, { recursive: true });
});

t.test('NaN (written as null) reads back as NaN: resumed and merged summaries equal a fresh one', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  // A readout learning rate far too large: the readout diverges to NaN, and so does every MSE.
  const diverged = { ...grid, ranks: [3], taus: [5], seeds: [1, 2], base: { ...base, outLr: 20, epochs: [300, 2] as [number, number] } };
  const fresh = await sweep({ ...diverged, out });
  t.match(fs.readFileSync(out, 'utf8'), /"mse_out":null,"mse_final":null/, 'JSON writes NaN as null');
  const read = readRows(out).rows;
  t.ok(read.length === 2 && read.every((r) => Number.isNaN(r.mse_out) && Number.isNaN(r.mse_final)), 'and it reads back as NaN');
  const resumed = await sweep({ ...diverged, out, resume: true });
  t.strictSame(summarize(resumed.rows), summarize(fresh.rows));
  t.strictSame(summarize(mergeRows([out])), summarize(fresh.rows));
  fs.rmSync(dir, { recursive: true });
});

t.test('onStart hears the plan once, before the first point; an error it throws stops the sweep before any point', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const small = { ...grid, ranks: [3], taus: [5], threads: 1, out };
  await sweep({ ...small, seeds: [1, 2] });
  const heard: string[] = [];
  let resumed: readonly SweepRow[] = [];
  const r = await sweep({
    ...small, seeds: [1, 2, 3, 4], resume: true,
    onStart: (p, rows) => {
      heard.push(JSON.stringify(p));
      resumed = rows;
    },
    onRow: (row) => void heard.push(`row ${row.seed}`),
  });
  t.strictSame(heard, [JSON.stringify({ planned: 2, skipped: 2, outside: 0, backend: 'cpu' }), 'row 3', 'row 4']);
  t.match(r, { planned: 2, skipped: 2, outside: 0, completed: 2 }, 'what the result says too');
  t.strictSame(resumed.map((row) => row.seed), [1, 2], 'and the rows it resumes from');
  t.strictSame(r.rows.slice(0, 2), resumed, 'the first of the result\'s');
  const narrow: string[] = [];
  await sweep({ ...small, seeds: [4], resume: true, onStart: (p) => void narrow.push(JSON.stringify(p)) });
  t.strictSame(narrow, [JSON.stringify({ planned: 0, skipped: 1, outside: 3, backend: 'cpu' })], 'rows of the wider grid: outside this one');
  const before = fs.readFileSync(out, 'utf8');
  const boom = new Error('boom');
  await t.rejects(sweep({ ...small, seeds: [5], resume: true, onStart: () => { throw boom; } }), boom, 'its own error, as it was');
  t.equal(fs.readFileSync(out, 'utf8'), before, 'no point ran');
  t.notOk(fs.existsSync(`${out}.lock`), 'the lock is released');
  await t.rejects(sweep({ ...small, onStart: 5 as never }), { code: 'GOAL_INVALID_OPTION', message: /options.onStart must be a function \(got 5\)/ });
  fs.rmSync(dir, { recursive: true });
});

t.test('merge says when two files disagree on a point, and when it drops a torn line', async (t) => {
  const dir = tmp();
  const a = path.join(dir, 'a.jsonl'), b = path.join(dir, 'b.jsonl');
  await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1], out: a });
  const row = readRows(a).rows[0];
  fs.writeFileSync(b, `${JSON.stringify({ ...row, mse_final: 0.5 })}\n{"rank":3,"ta`);
  const warnings: string[] = [];
  const merged = mergeRows([a, b], (m) => warnings.push(m));
  t.equal(merged.length, 1);
  t.equal(merged[0].mse_final, row.mse_final, 'the first file wins');
  t.match(warnings.sort(), [/b.jsonl: dropping a torn last line/, /rank 3, τ⋆ 5, seed 1: .*b.jsonl holds other numbers than .*a.jsonl; keeping/]);
  // The same numbers in two files (overlapping shards): nothing to say.
  const c = path.join(dir, 'c.jsonl');
  fs.copyFileSync(a, c);
  const quiet: string[] = [];
  t.equal(mergeRows([a, c], (m) => quiet.push(m)).length, 1);
  t.strictSame(quiet, [], 'the same numbers twice: nothing to say');
  // Many disagreements: one line, however many points.
  const d = path.join(dir, 'd.jsonl'), e = path.join(dir, 'e.jsonl');
  await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1, 2, 3], out: d });
  fs.writeFileSync(e, readRows(d).rows.map((r) => `${JSON.stringify({ ...r, dz_final: r.dz_final + 1 })}\n`).join(''));
  const loud: string[] = [];
  t.strictSame(mergeRows([d, e], (m) => loud.push(m)).map((r) => r.dz_final), readRows(d).rows.map((r) => r.dz_final), 'the first file wins');
  // Rows are written as points finish, in any order: the first one met is named.
  t.match(loud, [/^rank 3, τ⋆ 5, seed [123]: .*e.jsonl holds other numbers than .*d.jsonl \(and so for 2 more points\); keeping the first copy of each$/]);
  t.equal(loud.length, 1);
  fs.rmSync(dir, { recursive: true });
});

t.test('a seed with a degenerate target fails the sweep before any point is trained or written', async (t) => {
  // At T = 9 only the last step of the target is free: find a seed whose draw stays ≤ 0 there.
  const bad = firstDegenerateSeed(1)!;
  t.ok(bad > 1, `seed ${bad} is degenerate, seed 1 is not`);
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const seeds = Array.from({ length: bad }, (_, k) => k + 1);
  await t.rejects(sweep({ ...grid, ranks: [3], taus: [5], seeds, base: { ...base, tSeq: 9 }, out }),
    { code: 'GOAL_DEGENERATE_TASK', message: new RegExp(`tSeq=9 and seed ${bad}: the target is degenerate`) });
  t.notOk(fs.existsSync(out), 'no file written');
  fs.rmSync(dir, { recursive: true });
});

t.test('resume counts a point written twice once, and refuses a file whose rows differ in curves', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const small = { ...grid, ranks: [3], taus: [5], seeds: [1, 2] };
  const fresh = await sweep({ ...small, out });
  const text = fs.readFileSync(out, 'utf8');
  fs.writeFileSync(out, text + text.split('\n')[0] + '\n'); // seed 1 appended again
  const warnings: string[] = [];
  const r = await sweep({ ...small, out, resume: true, onWarning: (m) => warnings.push(m) });
  t.equal(r.rows.length, 2, 'two points, not three');
  t.equal(summarize(r.rows)[0].seeds, 2);
  t.strictSame(summarize(r.rows), summarize(fresh.rows));
  t.match(warnings, [/rows.jsonl holds 1 point twice; each counts once/]);
  const before = fs.readFileSync(out, 'utf8');
  await t.rejects(sweep({ ...small, seeds: [1, 2, 3], out, resume: true, curves: true }),
    { code: 'GOAL_USAGE', message: /holds rows without curves \(row 1\): resume without curves, or choose another file/ });
  t.equal(fs.readFileSync(out, 'utf8'), before, 'the file is untouched');
  fs.rmSync(dir, { recursive: true });
});

t.test('sweep options of the wrong kind are GoalErrors that say what is expected', async (t) => {
  await t.rejects(sweep(undefined as never), { code: 'GOAL_INVALID_OPTION', message: /options must be an object with ranks, taus and seeds/ });
  await t.rejects(sweep({ ...grid, out: 5 as never }), { code: 'GOAL_INVALID_OPTION', message: /options.out must be a file name \(got 5\)/ });
  await t.rejects(sweep({ ...grid, shard: { k: '1', n: '2' } as never }), { code: 'GOAL_INVALID_OPTION', message: /options.shard must be \{ k, n \}.*with k "1", n "2"/ });
  await t.rejects(sweep({ ...grid, shard: 5 as never }), { code: 'GOAL_INVALID_OPTION', message: /options.shard must be \{ k, n \}/ });
  await t.rejects(sweep({ ...grid, label: 5 as never }), { code: 'GOAL_INVALID_OPTION', message: /options.label must be a function/ });
  // Inherited options are taken, as train()'s params are (a class's getters): not ignored.
  t.match(await sweep(Object.create({ ...grid, ranks: [3], taus: [5], seeds: [1] })), { completed: 1, rows: [{ rank: 3, tau_o: 5, seed: 1 }] });
  class Base {
    get nRec() { return 30; }
    get epochs(): [number, number] { return [2, 3]; }
  }
  const { rows: [row] } = await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1], base: new Base() });
  t.match(row.fixed, { n_rec: 30, epochs: [2, 3] }, 'and so are the params of base');
  t.throws(() => mergeRows([__filename], 5 as never), { code: 'GOAL_INVALID_OPTION', message: /warn must be a function \(got 5\)/ }, 'before any file is read');
});

t.test('merge refuses shards of which some have curves and some not (the result could not be resumed)', async (t) => {
  const dir = tmp();
  const a = path.join(dir, 'a.jsonl'), b = path.join(dir, 'b.jsonl');
  await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1], out: a });
  await sweep({ ...grid, ranks: [3], taus: [5], seeds: [2], out: b, curves: true });
  t.throws(() => mergeRows([a, b]), { code: 'GOAL_BAD_RESULTS', message: /b\.jsonl holds rows with curves \(mse_rec, dz\), .*a\.jsonl rows without curves: merge shards that all kept their curves \(--curves\) or none did/ });
  // Both kinds in one file: said as such, not as the file against itself.
  const both = path.join(dir, 'both.jsonl');
  fs.writeFileSync(both, fs.readFileSync(a, 'utf8') + fs.readFileSync(b, 'utf8'));
  t.throws(() => mergeRows([both]), { code: 'GOAL_BAD_RESULTS', message: /both\.jsonl holds rows without curves and rows with curves \(mse_rec, dz\): not the rows of one sweep$/ });
  fs.rmSync(dir, { recursive: true });
});

t.test("null in ranks is LTTS, as in train(): rows say 'ltts', and it is one rank with 'ltts'", async (t) => {
  const r = await sweep({ ...grid, ranks: [null], taus: [5], seeds: [1] });
  t.equal(r.rows[0].rank, 'ltts');
  await t.rejects(sweep({ ...grid, ranks: [null, 'ltts'], taus: [5], seeds: [1] }), { code: 'GOAL_USAGE', message: /^rank lists ltts twice$/ });
});

t.test('one writer per results file: a second sweep on it is refused; a dead writer\'s lock is taken over', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl'), lock = `${out}.lock`;
  const small = { ...grid, ranks: [3], taus: [5], seeds: [1, 2], out };
  const ac = new AbortController();
  let seenLock = '';
  const first = sweep({ ...small, threads: 1, signal: ac.signal, onRow: () => { seenLock = fs.readFileSync(lock, 'utf8'); ac.abort(); } });
  await t.rejects(sweep({ ...small, resume: true }),
    { code: 'GOAL_LOCKED', param: 'out', message: new RegExp(`rows\\.jsonl" is being written by process ${process.pid} on ${os.hostname()} \\(lock .*rows\\.jsonl\\.lock\\): wait for it to end, or delete the lock if it is not running$`) });
  t.equal((await first).completed, 1, 'the first sweep went on');
  await t.rejects(sweep({ ...small, out: path.join(dir, 'missing', 'rows.jsonl') }), { code: 'GOAL_BAD_PATH', param: 'out', message: /folder .* does not exist/ }, 'a bad path names the option');
  // 252 bytes: a name the folder takes (up to 255), but not with ".lock" added.
  const long = path.join(dir, `${'x'.repeat(250)}.j`);
  await t.rejects(sweep({ ...small, out: long }), {
    code: 'GOAL_BAD_PATH', param: 'out', message: /x\.j": cannot create its lock file .*x\.j\.lock \(ENAMETOOLONG\): the name is too long for it; choose a shorter one$/,
  }, 'a name too long for its lock says so');
  t.notOk(fs.existsSync(long), 'and nothing is written');
  t.match(seenLock, new RegExp(`^${os.hostname()} ${process.pid} (\\d+|-)\n$`), 'the lock names the writer (host, pid, start) while it runs');
  t.notOk(fs.existsSync(lock), 'and is gone when the sweep ends');
  // A process that has ended: its pid is free (a child's, reaped).
  const { spawnSync } = await import('node:child_process');
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  // 247 bytes: its .lock (252) fits, not the .lock.break (258) that takes a stale lock over.
  const middling = path.join(dir, `${'y'.repeat(245)}.j`);
  fs.writeFileSync(`${middling}.lock`, `${os.hostname()} ${gone}\n`);
  await t.rejects(sweep({ ...small, out: middling }), {
    code: 'GOAL_BAD_PATH', param: 'out', message: /y\.j": cannot create .*y\.j\.lock\.break \(ENAMETOOLONG\): the name is too long for it; choose a shorter one$/,
  });
  fs.rmSync(`${middling}.lock`);
  fs.writeFileSync(lock, `${os.hostname()} ${gone}\n`);
  const resumed = await sweep({ ...small, resume: true });
  t.equal(resumed.rows.length, 2, 'a stale lock is taken over');
  t.notOk(fs.existsSync(lock));
  fs.writeFileSync(lock, `${os.hostname()} ${process.pid} 1\n`);
  t.equal((await sweep({ ...small, resume: true })).skipped, 2, 'our own pid, started at another time (a container restarted), is stale too');
  fs.writeFileSync(lock, '');
  await t.rejects(sweep({ ...small, resume: true }), { code: 'GOAL_LOCKED', message: /being written by another process/ }, 'an empty lock is one being written');
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(lock, past, past);
  t.equal((await sweep({ ...small, resume: true })).skipped, 2, 'unless it has been empty for long: its writer died');
  fs.writeFileSync(lock, `${os.hostname()} ${gone}\n`);
  fs.writeFileSync(`${lock}.break`, 'x');
  await t.rejects(sweep({ ...small, resume: true }), { code: 'GOAL_LOCKED', message: /or another process is taking its lock over/ }, 'one process at a time breaks a stale lock');
  fs.utimesSync(`${lock}.break`, past, past);
  t.equal((await sweep({ ...small, resume: true })).skipped, 2, 'a .break abandoned long ago does not block for good');
  t.notOk(fs.existsSync(`${lock}.break`));
  fs.writeFileSync(lock, `another-host.example 12345\n`);
  await t.rejects(sweep({ ...small, resume: true }), { code: 'GOAL_LOCKED', message: /process 12345 on another-host\.example/ }, 'another host\'s lock is not judged from here');
  t.equal(fs.readFileSync(lock, 'utf8'), 'another-host.example 12345\n', 'and left alone');
  // What the library says is one visible line, without the CLI's help: a lock's host escaped.
  fs.writeFileSync(lock, `evil\u202ehost 12345\n`);
  await t.rejects(sweep({ ...small, resume: true }), { code: 'GOAL_LOCKED', message: /process 12345 on evil\\u202ehost/ }, 'a host name with a bidirectional override');
  // The lock is beside the name: a hard link is another name, unseen by it, and said.
  fs.rmSync(lock);
  fs.linkSync(out, path.join(dir, 'another-name.jsonl'));
  const warnings: string[] = [];
  t.equal((await sweep({ ...small, resume: true, onWarning: (m) => void warnings.push(m) })).skipped, 2);
  t.match(warnings, [/rows\.jsonl"? has 2 names \(hard links\): its lock covers this one only, so a sweep writing the file under another would not be refused$/]);
  fs.rmSync(dir, { recursive: true });
});

t.test('a killed writer not yet reaped (a zombie) holds no lock', { skip: fs.existsSync('/proc/self/stat') ? false : 'no /proc: zombies cannot be told from the living' }, async (t) => {
  const dir = tmp();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'rows.jsonl');
  // A child that ends once its parent, sh, has become `sleep 10` (exec), which never reaps it
  // (ended sooner, sh could reap it first).
  const { spawn } = await import('node:child_process');
  const parent = spawn('sh', ['-c', '(until [ "$(cat /proc/$$/comm)" = sleep ]; do sleep 0.01; done) & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => parent.kill());
  const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(String(d).trim()))));
  const stat = () => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  for (let i = 0; i < 500 && stat()[0] !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(stat()[0], 'Z', `process ${pid} is a zombie`);
  fs.writeFileSync(`${out}.lock`, `${os.hostname()} ${pid} ${stat()[19]}\n`);
  const r = await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1], out, base: { ...base, epochs: [2, 1] } });
  t.equal(r.completed, 1, 'its lock was taken over');
  t.notOk(fs.existsSync(`${out}.lock`));
});

t.test('the lock is released when a sweep fails', async (t) => {
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  fs.writeFileSync(out, 'not a row\n');
  await t.rejects(sweep({ ...grid, out, resume: true }), { code: 'GOAL_BAD_RESULTS' });
  t.strictSame(fs.readdirSync(dir), ['rows.jsonl'], 'no lock left behind');
  fs.rmSync(dir, { recursive: true });
});

t.test('the lock is the process\'s: a worker thread (its own copy of the module) is refused too', async (t) => {
  const { Worker } = await import('node:worker_threads');
  const { lockFile } = await import('../src/io/lock');
  const dir = tmp();
  const out = path.join(dir, 'rows.jsonl');
  const release = lockFile(out, 'out');
  const files = path.join(__dirname, '..', 'dist', 'src', 'io', 'lock.js');
  const code = `const { parentPort, workerData } = require('node:worker_threads');
    try { require(workerData.files).lockFile(workerData.out, 'out'); parentPort.postMessage('took it'); }
    catch (e) { parentPort.postMessage(e.code); }`;
  const said = await new Promise((resolve) => new Worker(code, { eval: true, workerData: { files, out } }).once('message', resolve));
  t.equal(said, 'GOAL_LOCKED');
  release();
  t.notOk(fs.existsSync(`${out}.lock`));
  fs.rmSync(dir, { recursive: true });
});

t.test('merge says when a shard is still being written (its lock is there)', async (t) => {
  const dir = tmp();
  const a = path.join(dir, 'a.jsonl');
  await sweep({ ...grid, ranks: [3], taus: [5], seeds: [1], out: a });
  fs.writeFileSync(`${a}.lock`, 'node-7 4242 99\n');
  const warnings: string[] = [];
  t.equal(mergeRows([a], (m) => warnings.push(m)).length, 1);
  t.match(warnings, [/a\.jsonl is still being written \(by process 4242 on node-7\): merged as it stands/]);
  const { spawnSync } = await import('node:child_process');
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  fs.writeFileSync(`${a}.lock`, `${os.hostname()} ${gone}\n`);
  const later: string[] = [];
  mergeRows([a], (m) => later.push(m));
  t.strictSame(later, [], 'a lock its writer left behind (the process is gone) is no warning');
  fs.rmSync(dir, { recursive: true });
});
