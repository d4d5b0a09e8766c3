// sweep(): the paper's grid over feedback rank R and target timescale τ⋆ (tau_o), several seeds
// per point (Capone et al. 2022, Fig. 2). Points run in parallel — concurrent networks on the
// CPU, one lockstep batch on a GPU — and each finished point is appended to a JSON Lines file
// at once, so a crash or Ctrl-C loses only the points in flight and --resume skips the rest.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chooseBackend, DEFAULT_BACKEND, type Backend } from './backend';
import { GoalError } from './errors';
import { appendLine, checkWritable, errnoCode, fileLines, isOpenStream, shownPath, writeFileAtomic } from './io/files';
import { lockFile, writerOf } from './io/lock';
import { checkInteger, defaultRecLr, defaults, epochsOnce, MAX_SEED, paramBySpec, resolveParams, show, showName, specParams, takeProperties, type Labeller, type ParamName, type Params, type ResolvedParams } from './params';
import { checkRunOptions, median, networkBytes, onceEach, reserveMemory, runPhases, warnVia, type RunOptions, type RunOutput } from './run';
import { checkTarget, drawInput, type SeededParams } from './train';

export type SweepRank = number | 'ltts';

/** One finished point: a JSON Lines row. */
export interface SweepRow {
  rank: SweepRank;
  tau_o: number;
  seed: number;
  mse_out: number;
  /** Readout MSE after the last recurrent epoch. */
  mse_final: number;
  /** Spike error ΔZ (ΔS in the paper) after the last recurrent epoch. */
  dz_final: number;
  /** First recurrent epoch (1-based) with mse_rec ≤ conv·mse_out; null when none, or when the readout diverged. */
  t_conv: number | null;
  /** Wall time of the point; in a lockstep batch, the batch's time shared evenly. */
  seconds: number;
  device: string;
  /**
   * Fingerprint of everything fixed across the grid (every parameter but rank, τ⋆ and seed,
   * and the T_conv threshold): --resume and merge refuse rows of another configuration.
   */
  config: string;
  /**
   * What `config` fingerprints, in SPEC.md's names: every parameter but rank, tau_o and seed
   * (feedback and resample as asked, before an LTTS point's own), and conv. Absent in rows of
   * files written before it was kept.
   */
  fixed?: Record<string, unknown>;
  /**
   * Fingerprint of the whole grid (its ranks, τ⋆ and seeds, before --shard) and its number of
   * points: merge tells from them which points its shards lack.
   */
  grid?: string;
  grid_points?: number;
  mse_rec?: number[];
  dz?: number[];
}

export interface SweepOptions {
  /**
   * Feedback ranks; 'ltts' (or 'LTTS', as the tables write it; any case is taken; or null, as
   * train() has it) for the diagonal (LTTS) feedback.
   */
  ranks: readonly (SweepRank | 'LTTS' | null)[];
  /** τ⋆ values (tau_o, in units of dt). */
  taus: readonly number[];
  seeds: readonly number[];
  /** Every other parameter, fixed for all points (rank, tauO and seed come from the grid). */
  base: Partial<Params>;
  /** JSON Lines file; each finished point is appended as it finishes. */
  out?: string;
  /** Skip the points already in `out`. */
  resume?: boolean;
  /** Run only the points i with i mod n = k − 1 (k in 1..n), e.g. one job of a Slurm array. */
  shard?: { k: number; n: number };
  /** CPU networks run at once (default: all cores). */
  threads?: number;
  /** 'auto' (default): the CUDA batch when available, else the CPU with one warning. */
  backend?: Backend;
  /** T_conv threshold as a multiple of mse_out (default 2). */
  conv?: number;
  /** Keep the mse_rec and dz curves in each row. */
  curves?: boolean;
  /**
   * Networks per lockstep batch: on a GPU 1100 unless set; on the CPU, setting it trains that
   * many points in lockstep over `threads` threads instead of point by point.
   */
  batch?: number;
  signal?: AbortSignal;
  /**
   * Hears the plan once, before the first point runs: the points to compute, those `out` has
   * already (resume) and those of it outside this grid or shard; `resumed`, the rows of `out`
   * in this grid (the result's first rows). A promise it returns is awaited.
   */
  onStart?: (plan: SweepPlan, resumed: readonly SweepRow[]) => void | Promise<void>;
  /** Hears each finished point (written to `out` already), one call at a time; a promise it returns is awaited. */
  onRow?: (row: SweepRow, done: number, total: number) => void | Promise<void>;
  /** Progress of a GPU batch (median over its networks). */
  onEpoch?: RunOptions['onEpoch'];
  onWarning?: (message: string) => void;
  /** How parameters are named in messages (the CLI names its flags). */
  label?: Labeller;
  /** How the sweep's own options are named in messages (default: their names here). */
  optionLabel?: (option: SweepOptionName) => string;
}

/** Every option sweep() takes (a Record: the compiler holds it to SweepOptions). */
const SWEEP_OPTIONS = Object.keys({
  ranks: 1, taus: 1, seeds: 1, base: 1, out: 1, resume: 1, shard: 1, threads: 1, backend: 1, conv: 1, curves: 1, batch: 1,
  signal: 1, onStart: 1, onRow: 1, onEpoch: 1, onWarning: 1, label: 1, optionLabel: 1,
} satisfies Record<keyof SweepOptions, 1>);

export type SweepOptionName = 'out' | 'resume' | 'shard' | 'threads' | 'conv' | 'batch' | 'curves';

/** What a sweep is about to do (onStart), and did (its result). */
export interface SweepPlan {
  /** Points this run was to compute (after shard and resume). */
  planned: number;
  /** Points skipped because `out` already had them. */
  skipped: number;
  /** Points of `out` outside this sweep's grid or shard (an earlier sweep's): kept there, not in `rows`. */
  outside: number;
  backend: 'cpu' | 'cuda';
}

export interface SweepResult extends SweepPlan {
  /** The grid's rows: those already in `out` (when resuming) first, then this run's in grid order. */
  rows: SweepRow[];
  /** Points this run finished. */
  completed: number;
  aborted: boolean;
  seconds: number;
}

export const DEFAULT_CONV = 2;
/** The most CPU threads a sweep takes: libuv's largest worker pool. */
export const MAX_THREADS = 1024;

/** What the sweep's one-number options accept, for their messages (the library's and the CLI's). */
export const SWEEP_ACCEPTS = Object.freeze({ threads: `an integer in [1, ${MAX_THREADS}]`, batch: 'an integer ≥ 1', conv: 'a finite number > 0' });
/** Networks per lockstep batch on a GPU (the paper's 11 ranks × 10 τ⋆ × 10 seeds). */
export const DEFAULT_GPU_BATCH = 1100;

/** `1 seed`, `3 seeds`. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** An exported helper's refusal of what it was given, named by `where` ("summarize(rows)"). */
function refuse(where: string, why: string): never {
  throw new GoalError('GOAL_INVALID_OPTION', `${where}: ${why}`);
}

export function rowKey(r: { rank: SweepRank; tau_o: number; seed: number }): string {
  return `${r.rank}|${r.tau_o}|${r.seed}`;
}

/** T_conv: the first recurrent epoch (1-based) whose mse_rec ≤ conv·mse_out, or null (a sweep's row: null too when the readout diverged). */
export function convergenceEpoch(mseRec: readonly number[], mseOut: number, conv: number): number | null {
  const fail = (why: string) => refuse('convergenceEpoch(mseRec, mseOut, conv)', why);
  if (!Array.isArray(mseRec) || typeof mseOut !== 'number' || typeof conv !== 'number') {
    fail(`expects an array and two numbers (got ${show(mseRec)}, ${show(mseOut)}, ${show(conv)})`);
  }
  // NaN is a diverged run's MSE (never converged); anything else that no run gives is a mistake.
  const mse = (x: unknown) => typeof x === 'number' && !(x < 0);
  if (!(conv > 0) || !Number.isFinite(conv)) fail(`conv must be ${SWEEP_ACCEPTS.conv} (got ${show(conv)})`);
  if (!mse(mseOut)) fail(`mseOut must be an MSE, a number ≥ 0 or NaN (got ${show(mseOut)})`);
  const bad = mseRec.findIndex((m) => !mse(m));
  if (bad >= 0) fail(`mseRec[${bad}] must be an MSE, a number ≥ 0 or NaN (got ${show(mseRec[bad])})`);
  const k = mseRec.findIndex((m) => m <= conv * mseOut);
  return k < 0 ? null : k + 1;
}

function badRow(file: string, line: number, why: string): never {
  throw new GoalError('GOAL_BAD_RESULTS', `${shownPath(file)}: line ${line} ${why}; not a goal sweep results file?`);
}

/** A rank a row may hold: 'ltts' or a whole number ≥ 1 (rowProblem's, and a summary grid's). */
const isRank = (x: unknown): boolean => x === 'ltts' || (Number.isSafeInteger(x) && (x as number) >= 1);
/** A τ⋆ a row may hold: a finite number > 0. */
const isTau = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;

/**
 * What makes `value` no sweep row, or null: the fields that identify a point and that the
 * summary reads, with values a run can give (NaN, or the null JSON writes for it, where a run
 * diverged).
 */
function rowProblem(value: unknown, object = 'a JSON object'): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `is not ${object}`;
  const r = value as Record<string, unknown>;
  const num = (x: unknown) => typeof x === 'number' || x === null;
  const count = (least: number) => (x: unknown) => Number.isSafeInteger(x) && (x as number) >= least;
  const nan = (x: unknown) => x === null || Number.isNaN(x);
  const mse = (x: unknown) => nan(x) || (typeof x === 'number' && x >= 0);
  const fields: [string, (x: unknown) => boolean][] = [
    ['rank', isRank],
    ['tau_o', isTau],
    ['seed', count(0)],
    ['config', (x) => typeof x === 'string'],
    ['mse_out', mse], ['mse_final', mse], ['dz_final', (x) => nan(x) || count(0)(x)], ['t_conv', (x) => x === null || count(1)(x)],
  ];
  const missing = fields.filter(([k]) => !(k in r)).map(([k]) => k);
  if (missing.includes('config') && missing.length === 1) return 'has no config fingerprint (written by a goal-snn before 0.1.0?)';
  if (missing.length === fields.length) return `lacks the fields of a sweep row (${missing.join(', ')})`;
  if (missing.length) return `lacks a sweep row's ${missing.join(', ')}`;
  for (const [k, valid] of fields) if (!valid(r[k])) return `has a bad ${k} (${show(r[k])})`;
  // Not needed to tell a point or summarize it; merge counts missing points by the grid's.
  const optional: [string, (x: unknown) => boolean][] = [
    ['seconds', (x) => typeof x === 'number' && x >= 0], ['grid', (x) => typeof x === 'string'], ['grid_points', count(1)],
    ['fixed', (x) => typeof x === 'object' && x !== null && !Array.isArray(x)],
  ];
  for (const [k, valid] of optional) if (k in r && !valid(r[k])) return `has a bad ${k} (${show(r[k])})`;
  for (const k of ['mse_rec', 'dz']) {
    if (k in r && !(Array.isArray(r[k]) && (r[k] as unknown[]).every(num))) return `has a bad ${k} (not a list of numbers)`;
  }
  return 'fixed' in r ? fixedProblem(r) : null;
}

/**
 * What makes a row's `fixed` disagree with the row, or null: `fixed` must be what its `config`
 * fingerprints (an edited one is not), and the point must fit it (a rank in [O, N], a T_conv
 * and curves within its recurrent epochs).
 */
function fixedProblem(r: Record<string, unknown>): string | null {
  const fixed = r.fixed as Record<string, unknown>;
  if (configId(fixed) !== r.config) return `has a fixed that its config ${show(r.config)} does not fingerprint (edited by hand?)`;
  const { n_rec: n, n_out: o, epochs } = fixed;
  const recurrent = Array.isArray(epochs) ? epochs[1] : undefined;
  if (typeof r.rank === 'number' && typeof n === 'number' && typeof o === 'number' && (r.rank < o || r.rank > n)) {
    return `has rank ${r.rank}, outside its fixed n_out ${o} to n_rec ${n}`;
  }
  if (typeof recurrent !== 'number') return null;
  if (typeof r.t_conv === 'number' && r.t_conv > recurrent) return `has t_conv ${r.t_conv}, after its fixed ${recurrent} recurrent epochs`;
  for (const k of ['mse_rec', 'dz']) {
    const curve = r[k] as unknown[] | undefined;
    if (curve && curve.length !== recurrent) return `has ${curve.length} values of ${k}, not one per recurrent epoch (${recurrent})`;
  }
  return null;
}

/**
 * The first row without a `fixed` of its own (stripped by hand) that does not fit its
 * configuration's, known from the sweep or from another row: held to it as a row that keeps
 * its own is. Rows all of that configuration.
 */
function unfitRow(rows: readonly SweepRow[], fixed: Record<string, unknown> | undefined): { index: number; why: string } | null {
  if (fixed === undefined) return null;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].fixed !== undefined) continue;
    const why = fixedProblem({ ...rows[i], fixed });
    if (why !== null) return { index: i, why: `(without a fixed of its own, held to its config's) ${why}` };
  }
  return null;
}

/** Checks that a parsed line is a row this program wrote, and gives back JSON's nulls as NaN. */
function checkRow(value: unknown, file: string, line: number): SweepRow {
  const why = rowProblem(value);
  if (why !== null) badRow(file, line, why);
  const r = value as Record<string, unknown>;
  // JSON has no NaN (a diverged readout, no recurrent epochs): JSON.stringify wrote null.
  const nan = (x: unknown) => (x === null ? NaN : x);
  for (const k of ['mse_out', 'mse_final', 'dz_final']) r[k] = nan(r[k]);
  for (const k of ['mse_rec', 'dz']) if (Array.isArray(r[k])) r[k] = (r[k] as unknown[]).map(nan);
  return r as unknown as SweepRow;
}

/** Rows handed to an exported function: an array of sweep rows (as sweep() or readRows() give them). */
function checkRowsArg(rows: unknown, where: string): asserts rows is readonly SweepRow[] {
  const fail = (why: string) => refuse(where, why);
  if (!Array.isArray(rows)) fail(`rows must be an array of sweep rows (got ${show(rows)})`);
  const arr = rows as unknown[];
  for (let i = 0; i < arr.length; i++) {
    const why = rowProblem(arr[i], 'an object');
    if (why !== null) fail(`rows[${i}] ${why}`);
  }
}

/** The start of every row this program writes (JSON.stringify keeps SweepRow's field order). */
const ROW_START = '{"rank":';

/**
 * Reads a JSON Lines results file, every row checked. A torn last line (a crash mid-append:
 * the start of a row, no newline, or zero bytes where it should be) is dropped (`torn`); a last
 * row without its newline is kept (`unterminated`: the file needs rewriting before an append).
 * Anything else that is not a row is an error, so that --resume never rewrites a file it did
 * not write.
 */
export function readRows(file: string): { rows: SweepRow[]; torn: boolean; unterminated: boolean } {
  if (typeof file !== 'string' || file === '') throw new GoalError('GOAL_INVALID_OPTION', `readRows(file): file must be a file name (got ${show(file)})`);
  const rows: SweepRow[] = [];
  // Each line is checked when the next one comes: only the last may be torn.
  let line: string | undefined;
  let number = 0;
  const take = () => {
    if (line === undefined || line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      badRow(file, number, 'is not JSON');
    }
    rows.push(checkRow(value, file, number));
  };
  try {
    // A device may never end, and a named pipe without a writer never answers: results are
    // files, or the pipe a shell opened for them (process substitution, /dev/fd/N).
    const st = fs.statSync(file);
    if (!st.isFile() && !(st.isFIFO() && isOpenStream(file))) {
      throw new GoalError('GOAL_BAD_RESULTS', `${shownPath(file)}: is ${st.isDirectory() ? 'a folder' : 'a device, a pipe or a socket'}, not a results file`);
    }
    for (const next of fileLines(file)) {
      take();
      line = next;
      number++;
    }
  } catch (err) {
    if (err instanceof GoalError) throw err;
    const why = errnoCode(err) === 'ERR_STRING_TOO_LONG' ? `line ${number + 1} is longer than any row (over 512 MiB): not a results file` : `cannot read it (${errnoCode(err)})`;
    throw new GoalError('GOAL_BAD_RESULTS', `${shownPath(file)}: ${why}`);
  }
  // A machine that crashed mid-append may leave the file's new length filled with zero bytes.
  const tail = line!.replace(/\0+$/, '');
  const zeros = tail.length < line!.length;
  let torn = zeros && tail === '';
  if (tail !== '' && (tail.startsWith(ROW_START) || ROW_START.startsWith(tail))) {
    try {
      JSON.parse(tail);
    } catch {
      torn = true;
    }
  }
  line = tail;
  if (!torn) take();
  return { rows, torn, unterminated: !torn && (zeros || tail.trim() !== '') };
}

function tornLine(file: string): string {
  return `${shownPath(file)}: dropping a torn last line (a run stopped while writing it)`;
}

/** Writes a whole results file at once (atomically), one row per line; with `fresh`, a new file only. */
export function writeRows(file: string, rows: readonly SweepRow[], fresh = false): void {
  writeFileAtomic(file, rows.map((r) => `${JSON.stringify(r)}\n`), { fresh });
}

/** The fingerprint of a grid (a row's `grid`), whatever the order of its lists. */
export function gridId(ranks: readonly SweepRank[], taus: readonly number[], seeds: readonly number[]): string {
  const sorted = (xs: readonly (number | string)[]) => xs.map(String).sort();
  return createHash('sha256').update(JSON.stringify([sorted(ranks), sorted(taus), sorted(seeds)])).digest('hex').slice(0, 12);
}

/** A sweep's fixed settings (a row's `fixed`) and their fingerprint (its `config`). */
export function sweepConfig(p: ResolvedParams, conv: number): { fixed: Record<string, unknown>; config: string } {
  const fixed: Record<string, unknown> = specParams(p);
  for (const k of ['rank', 'tau_o', 'seed']) delete fixed[k];
  fixed.conv = conv;
  Object.freeze(fixed); // every row of the sweep holds this one object
  return { fixed, config: configId(fixed) };
}

/** A row's `config`: the fingerprint of its `fixed`, as written (JSON keeps the keys' order). */
const configId = (fixed: Record<string, unknown>): string => createHash('sha256').update(JSON.stringify(fixed)).digest('hex').slice(0, 12);

/** What a row says of its configuration (and a sweep of its own). */
type Configured = Pick<SweepRow, 'config' | 'fixed'>;

/**
 * Where two rows' configurations part, each side named by `what` ("-N/--n-rec 40 in its
 * row 1, 41 in this sweep"), when both keep their `fixed`; else their fingerprints.
 */
function configDifference(a: Configured, b: Configured, what: [string, string], label?: Labeller, conv = 'conv'): string {
  const [inA, inB] = what;
  const fa = a.fixed, fb = b.fixed;
  const fingerprints = `config ${a.config} ${inA}, ${b.config} ${inB}`;
  if (!fa || !fb) return fingerprints;
  // Without a label, the names the rows themselves hold.
  const shown = (k: string) => (k === 'conv' ? conv : label && paramBySpec.has(k) ? label(paramBySpec.get(k)!) : k);
  const value = (x: unknown) => JSON.stringify(x) ?? 'absent';
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].filter((k) => value(fa[k]) !== value(fb[k]));
  // rec_lr follows N when not given: said, lest it be taken for a second flag to change.
  const derived = (k: string) => k === 'rec_lr' && [fa, fb].every((f) => f.rec_lr === defaultRecLr(f.n_rec as number)) ? ' (5/√N in both)' : '';
  return keys.length ? keys.map((k) => `${shown(k)} ${value(fa[k])} ${inA}, ${value(fb[k])} ${inB}${derived(k)}`).join('; ') : fingerprints;
}

function noDuplicates<T>(values: readonly T[], what: string, param: string): void {
  const seen = new Set<T>();
  for (const v of values) {
    if (seen.has(v)) {
      const first = values[values.indexOf(v)]; // as first listed: 0 and -0 are one seed
      throw new GoalError('GOAL_USAGE', `${what} lists ${typeof first === 'string' ? showName(first) : show(first)} twice`, param);
    }
    seen.add(v);
  }
}

/** One point of the grid; the params of a (rank, τ⋆) cell are shared by its seeds. */
class Point {
  constructor(readonly rank: SweepRank, readonly tau_o: number, readonly seed: number, private readonly cell: ResolvedParams) {}

  get params(): SeededParams {
    return { ...this.cell, seed: this.seed };
  }
}

/** The most points one sweep (or one shard of it) plans: past it, split the grid. */
export const MAX_SWEEP_POINTS = 1_000_000;

/** A grid as planned: its size, the params of each (rank, τ⋆) cell, and the points to run. */
interface Plan {
  size: number;
  cells: ResolvedParams[];
  /** The shard's points (all of them without a shard), in grid order. */
  points: Point[];
}

/** The grid's order: ranks ascending (LTTS last), τ⋆ and seeds ascending. */
const rankOrder = (r: SweepRank): number => (r === 'ltts' ? Infinity : r);
const byRank = (a: SweepRank, b: SweepRank): number => rankOrder(a) - rankOrder(b);
const byNumber = (a: number, b: number): number => a - b;

/**
 * The grid in a fixed order (rank, then τ⋆, then seed, each ascending whatever the order of the
 * lists, so that a shard k/n runs the same points however they were written), every point
 * checked; of a shard k/n only the points it runs (every n-th, from the k-th) are made.
 * `warn` is the caller's to hold until its own checks have passed.
 */
function plan(o: SweepOptions & { ranks: readonly SweepRank[] }, label: Labeller, warn: (message: string) => void,
  shard = { k: 1, n: 1 }, shardName = 'shard'): Plan {
  for (const key of ['rank', 'tauO', 'seed'] as const) {
    if ((o.base as Record<string, unknown> | undefined)?.[key] !== undefined) {
      throw new GoalError('GOAL_USAGE', `${label(key)} is set by the sweep's grid; give it with the grid instead`, key);
    }
  }
  const empty = (['ranks', 'taus', 'seeds'] as const).find((key) => !o[key].length);
  if (empty) throw new GoalError('GOAL_USAGE', 'a sweep needs at least one rank, one τ⋆ and one seed', empty);
  const size = o.ranks.length * o.taus.length * o.seeds.length;
  const { k, n } = shard;
  const share = size >= k ? Math.floor((size - k) / n) + 1 : 0;
  if (share > MAX_SWEEP_POINTS) {
    const grid = `${size} points (${plural(o.ranks.length, 'rank')} × ${o.taus.length} τ⋆ × ${plural(o.seeds.length, 'seed')})`;
    throw new GoalError('GOAL_USAGE', n === 1
      ? `a grid of ${grid} is more than one sweep plans (${MAX_SWEEP_POINTS}): split it with ${shardName} k/n, or into several sweeps`
      : `${shardName} ${k}/${n} of a grid of ${grid} holds ${share} points, more than one sweep plans (${MAX_SWEEP_POINTS}): use more shards`);
  }
  // A seed's validity does not depend on the cell: a bad one gets resolveParams' own message
  // (but null, a random seed to train(), is no point of a grid).
  const first = { ...o.base, rank: o.ranks[0] === 'ltts' ? null : o.ranks[0], tauO: o.taus[0] };
  for (const seed of o.seeds) {
    if (Number.isSafeInteger(seed) && seed >= 0) continue;
    resolveParams({ ...first, seed }, label); // its message for the params it checks first
    checkInteger('seed', seed, 0, MAX_SEED, label);
  }
  const points: Point[] = [], cells: ResolvedParams[] = [];
  let index = 0;
  const seeds = [...o.seeds].sort(byNumber);
  for (const rank of [...o.ranks].sort(byRank))
    for (const tau_o of [...o.taus].sort(byNumber)) {
      const r = resolveParams({ ...o.base, rank: rank === 'ltts' ? null : rank, tauO: tau_o, seed: o.seeds[0] }, label);
      for (const m of r.warnings) warn(rank === 'ltts' ? `LTTS points: ${m}` : m);
      cells.push(r.params);
      for (const seed of seeds) if (index++ % n === k - 1) points.push(new Point(rank, tau_o, seed, r.params));
    }
  // After every value is checked: a bad value listed twice is named as bad, not as repeated.
  noDuplicates(o.ranks, label('rank'), 'ranks');
  noDuplicates(o.taus, label('tauO'), 'taus');
  noDuplicates(o.seeds, label('seed'), 'seeds');
  const [readout, recurrent] = cells[0].epochs;
  if (recurrent === 0) {
    // A row is the end of the recurrent phase (mse_final, dz_final, t_conv): none without it.
    throw new GoalError('GOAL_INVALID_PARAM', `${label('epochs')} must give a sweep at least one recurrent epoch (got ${readout} ${recurrent})`, 'epochs');
  }
  return { size, cells, points };
}

/** Whether a row keeps its curves (written with --curves). */
const hasCurves = (r: SweepRow): boolean => Array.isArray(r.mse_rec);

function toRow(p: Point, r: RunOutput, conv: number, curves: boolean, { config, fixed }: Configured, grid: { id: string; points: number }): SweepRow {
  const last = (xs: number[]) => (xs.length ? xs[xs.length - 1] : NaN);
  const row: SweepRow = {
    rank: p.rank, tau_o: p.tau_o, seed: p.seed,
    mse_out: r.mseOut, mse_final: last(r.mseRec), dz_final: last(r.dz),
    // A diverged readout's mse_out is no baseline (any error is within twice a huge one).
    t_conv: r.readoutDiverged ? null : convergenceEpoch(r.mseRec, r.mseOut, conv),
    seconds: r.seconds, device: r.device, config, fixed, grid: grid.id, grid_points: grid.points,
  };
  if (curves) {
    row.mse_rec = r.mseRec;
    row.dz = r.dz;
  }
  return row;
}

export async function sweep(options: SweepOptions): Promise<SweepResult> {
  const t0 = Date.now();
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new GoalError('GOAL_INVALID_OPTION', `sweep(options): options must be an object with ranks, taus and seeds (got ${show(options)})`);
  }
  // As train() takes its params (takeProperties): what is checked is what is planned.
  const o = checkRunOptions(options, SWEEP_OPTIONS);
  // Each names the option at fault (its library name) in the error's param. (Typed as a
  // whole, so that code after a call knows it returned nothing.)
  type Refusal = (option: keyof SweepOptions, message: string) => never;
  const usage: Refusal = (option, message) => {
    throw new GoalError('GOAL_USAGE', message, option);
  };
  const badOption: Refusal = (option, message) => {
    throw new GoalError('GOAL_INVALID_OPTION', message, option);
  };
  if (o.out !== undefined && typeof o.out !== 'string') badOption('out', `sweep options.out must be a file name (got ${show(o.out)})`);
  // The shard, the lists and the base are copied too, each value read once (the lists by index:
  // no iterator of the caller's runs), so that every cell plans with what was checked.
  if (o.shard !== undefined) {
    const shard: unknown = o.shard;
    const object = typeof shard === 'object' && shard !== null;
    const { k, n } = object ? (shard as { k?: unknown; n?: unknown }) : { k: undefined, n: undefined };
    if (!object || typeof k !== 'number' || typeof n !== 'number') {
      badOption('shard', `sweep options.shard must be { k, n }, two integers with 1 ≤ k ≤ n (got ${show(shard)}${object ? ` with k ${show(k)}, n ${show(n)}` : ''})`);
    }
    o.shard = { k, n };
  }
  for (const key of ['ranks', 'taus', 'seeds'] as const) {
    const list: unknown = o[key];
    if (!Array.isArray(list)) badOption(key, `sweep options.${key} must be an array (got ${show(list)})`);
    const length = list.length;
    if (length > MAX_SWEEP_POINTS) usage(key, `sweep options.${key} holds ${length} values, more than the points one sweep plans (${MAX_SWEEP_POINTS})`);
    (o as unknown as Record<string, unknown>)[key] = Array.from({ length }, (_, i) => list[i]);
  }
  if (o.base !== undefined) {
    if (typeof o.base !== 'object' || o.base === null || Array.isArray(o.base)) {
      badOption('base', `sweep options.base must be an object of params (got ${show(o.base)})`);
    }
    const base = takeProperties(o.base, Object.keys(defaults));
    if (base.epochs !== undefined) base.epochs = epochsOnce(base.epochs);
    o.base = base;
  }
  const { warn: warnEach, settle } = warnVia(o.onWarning);
  // A grid's points say the same things (a readout that diverges at every seed): each once.
  const warn = onceEach(warnEach);
  const name = o.optionLabel ?? ((x: SweepOptionName) => x);
  const conv = o.conv ?? DEFAULT_CONV;
  if (typeof conv !== 'number' || !(conv > 0) || !Number.isFinite(conv)) badOption('conv', `${name('conv')} must be ${SWEEP_ACCEPTS.conv} (got ${show(conv)})`);
  const threads = o.threads ?? Math.min(os.availableParallelism(), MAX_THREADS);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    badOption('threads', `${name('threads')} must be ${SWEEP_ACCEPTS.threads} (got ${show(threads)})`);
  }
  if (o.batch !== undefined && (!Number.isInteger(o.batch) || o.batch < 1)) {
    badOption('batch', `${name('batch')} must be ${SWEEP_ACCEPTS.batch} (got ${show(o.batch)})`);
  }
  const label = o.label ?? ((n: ParamName) => n);
  // Checked here: resolveParams would take an undefined (or a hole) for the default.
  // 'LTTS' too, as the CLI and the tables write it.
  const isLtts = (r: unknown): r is 'ltts' | 'LTTS' | null => r === null || (typeof r === 'string' && r.toLowerCase() === 'ltts');
  for (const r of o.ranks) {
    if (!isLtts(r) && typeof r !== 'number') throw new GoalError('GOAL_INVALID_PARAM', `${label('rank')} values must be numbers or 'ltts' (got ${show(r)})`, 'rank');
  }
  for (const x of o.taus) if (typeof x !== 'number') throw new GoalError('GOAL_INVALID_PARAM', `${label('tauO')} values must be numbers (got ${show(x)})`, 'tauO');
  for (const key of ['resume', 'curves'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') badOption(key, `${name(key)} must be true or false (got ${show(o[key])})`);
  }
  // One name for LTTS in rows, keys and tables: null is train()'s, 'ltts' the sweep's.
  const ranks = o.ranks.map((r): SweepRank => (isLtts(r) ? 'ltts' : r));
  if (o.shard) {
    const { k, n } = o.shard;
    if (!Number.isSafeInteger(n) || n < 1 || !Number.isSafeInteger(k) || k < 1 || k > n) {
      badOption('shard', `${name('shard')} must be k/n with 1 ≤ k ≤ n (got ${k}/${n})`);
    }
  }
  // Warnings wait for every check (the memory's last): a sweep refused says why, and nothing else.
  const held: string[] = [];
  const later = (message: string) => void held.push(message);
  const grid = plan({ ...o, ranks }, label, later, o.shard, name('shard'));
  // A seed whose target is degenerate fails now, before any warning and before any point trains
  // (the target depends on the seed and the sizes alone: the first cell stands for all).
  for (const seed of o.seeds) {
    if (o.signal?.aborted) break; // the sweep then stops before its first point
    await checkTarget({ ...grid.cells[0], seed }, label, o.signal);
  }
  const points = grid.points;
  if (o.shard && !points.length) {
    later(`${name('shard')} ${o.shard.k}/${o.shard.n} holds none of this grid's ${plural(grid.size, 'point')} (its ${name('out')}, if any, is left empty)`);
  }
  // LTTS points turn feedback out into spk (SPEC's soft case) and drop resample: fingerprint
  // what was asked, so that the order of --ranks does not change it.
  const asked = { feedback: o.base?.feedback ?? defaults.feedback, resample: o.base?.resample ?? defaults.resample };
  const { fixed, config } = sweepConfig({ ...grid.cells[0], ...asked }, conv);
  const gridOf = { id: gridId(ranks, o.taus, o.seeds), points: grid.size };

  // Room for a row at least (its curves, two numbers of up to ~24 characters per epoch).
  if (o.out !== undefined) checkWritable(o.out, name('out'), 512 + JSON.stringify(fixed).length + (o.curves ? 48 * grid.cells[0].epochs[1] : 0), 'out');
  else if (o.resume) badOption('resume', `${name('resume')} needs an output file (${name('out')})`);
  // One writer per results file, from before it is read (--resume) to its last row.
  const unlock = o.out !== undefined ? lockFile(o.out, name('out'), 'out') : () => {};
  try {
    let previous: SweepRow[] = [];
    let read: ReturnType<typeof readRows> | undefined;
    if (o.out !== undefined && fs.existsSync(o.out)) {
      // An empty file holds nothing to lose (a job script's mktemp): taken as it is.
      if (!o.resume && fs.statSync(o.out).size > 0) usage('out', `${name('out')} ${shownPath(o.out)} exists: add ${name('resume')} to finish it, or choose another file`);
      read = readRows(o.out);
      // The lock is beside a name: a sweep writing another name of this file goes unseen.
      const { nlink } = fs.statSync(o.out);
      if (nlink > 1) later(`${name('out')} ${shownPath(o.out)} has ${nlink} names (hard links): its lock covers this one only, so a sweep writing the file under another would not be refused`);
      const rows = read.rows;
      const other = rows.findIndex((r) => r.config !== config);
      if (other >= 0) {
        const why = configDifference(rows[other], { config, fixed }, [`in its row ${other + 1}`, 'in this sweep'], label, name('conv'));
        usage('out', `${name('out')} ${shownPath(o.out!)} holds points of another configuration (${why}): resume with the settings that wrote it, or choose another file`);
      }
      const curved = rows.findIndex((r) => hasCurves(r) !== (o.curves === true));
      if (curved >= 0) {
        const has = hasCurves(rows[curved]);
        usage('out', `${name('out')} ${shownPath(o.out!)} holds rows ${has ? 'with' : 'without'} curves (row ${curved + 1}): resume ${has ? 'with' : 'without'} ` +
          `${name('curves')}, or choose another file`);
      }
      const unfit = unfitRow(rows, fixed);
      if (unfit !== null) {
        throw new GoalError('GOAL_BAD_RESULTS', `${shownPath(o.out!)}: row ${unfit.index + 1} ${unfit.why}: edited by hand? Mend or remove the row, or choose another file`);
      }
      // A row that names this grid is one of its points: another (rank, τ⋆, seed) or count was edited.
      const lists = [new Set<SweepRank>(ranks), new Set(o.taus), new Set(o.seeds)] as const;
      const ofGrid = (r: SweepRow) => lists[0].has(r.rank) && lists[1].has(r.tau_o) && lists[2].has(r.seed);
      const stray = rows.findIndex((r) => r.grid === gridOf.id && (r.grid_points !== gridOf.points || !ofGrid(r)));
      if (stray >= 0) {
        const r = rows[stray];
        const why = ofGrid(r) ? `counts ${r.grid_points ?? 'no'} points in it, not ${gridOf.points}` : `is no point of it (rank ${r.rank}, τ⋆ ${r.tau_o}, seed ${r.seed})`;
        throw new GoalError('GOAL_BAD_RESULTS', `${shownPath(o.out!)}: row ${stray + 1} names this sweep's grid but ${why}: edited by hand? ` +
          'Mend or remove the row, or choose another file');
      }
      previous = firstCopies(rows.map((row) => ({ row, file: o.out! })), later);
    }
    const have = new Set(previous.map(rowKey));
    const todo = points.filter((p) => !have.has(rowKey(p)));
    const skipped = points.length - todo.length;
    const backend = todo.length ? chooseBackend(o.backend ?? DEFAULT_BACKEND.sweep, later) : 'cpu';
    const lockstep = backend === 'cuda' || o.batch !== undefined;
    // No more networks at once than Node's worker pool runs: one queued behind the others would
    // count its wait in its row's seconds.
    const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    const inFlight = Math.max(1, Math.min(todo.length, lockstep ? (o.batch ?? DEFAULT_GPU_BATCH) : Math.min(threads, pool)));
    const largest = grid.cells.reduce((a, b) => (networkBytes(b) > networkBytes(a) ? b : a));
    const release = reserveMemory(largest, label, later, inFlight, lockstep ? `use a smaller ${name('batch')}` : `use fewer ${name('threads')}`);
    try {
      held.forEach(warn);
      if (read && (read.torn || read.unterminated)) { // only now, when everything has been checked, is the file touched
        if (read.torn) warn(tornLine(o.out!));
        writeRows(o.out!, previous);
      }
      const order = new Map(points.map((p, i) => [rowKey(p), i]));
      const inGrid = previous.filter((r) => order.has(rowKey(r)));
      const outside = previous.length - inGrid.length;
      await o.onStart?.({ planned: todo.length, skipped, outside, backend }, inGrid.slice());

      const fresh = new Map<string, SweepRow>();
      let aborted = false;
      // onRow calls one at a time, in the order of `done`, though the workers finish at once.
      let heard: Promise<unknown> = Promise.resolve();
      let deaf = false; // after a call failed, none follows
      const finish = async (p: Point, r: RunOutput) => {
        const row = toRow(p, r, conv, o.curves === true, { config, fixed }, gridOf);
        if (o.out !== undefined) appendLine(o.out, JSON.stringify(row));
        fresh.set(rowKey(p), row);
        const done = fresh.size;
        const call = heard.then(() => (deaf ? undefined : o.onRow?.(row, done, todo.length)));
        heard = call.catch(() => {
          deaf = true; // the failure is this call's to report
        });
        await call;
      };

      if (lockstep) {
        // Lockstep batches: every native call advances all the batch's networks (the GPU path).
        const size = o.batch ?? DEFAULT_GPU_BATCH;
        for (let i = 0; i < todo.length && !aborted; i += size) {
          const group = todo.slice(i, i + size);
          const nets = await Promise.all(group.map((p) => drawInput(p.params, label, o.signal)));
          const outs = await runPhases(nets, { backend, warn, threads, label, anonymous: true }, { signal: o.signal, onEpoch: o.onEpoch });
          if (outs[0].aborted) aborted = true;
          else for (const [k, p] of group.entries()) await finish(p, { ...outs[k], seconds: outs[k].seconds / group.length });
        }
      } else {
        // `threads` networks at once, each on its own libuv worker; a point is written as it ends.
        if (Math.min(threads, todo.length) > pool) {
          warn(`${name('threads')} ${threads}, but Node's worker pool has ${plural(pool, 'thread')}: ${pool === 1 ? 'one network runs' : `${pool} networks run`} at once (UV_THREADPOOL_SIZE=${threads} set before node starts raises that)`);
        }
        // The first failure stops the other workers (after the epochs in progress) before the
        // sweep rejects, so nothing runs or is written after the rejection.
        const stop = new AbortController();
        const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
        let next = 0;
        const worker = async () => {
          while (next < todo.length && !aborted && !signal.aborted) {
            const p = todo[next++];
            const [r] = await runPhases([await drawInput(p.params, label, signal)], { backend, warn, label, anonymous: true }, { signal });
            if (r.aborted) aborted = true;
            else await finish(p, r);
          }
        };
        const settled = await Promise.allSettled(Array.from({ length: inFlight }, () => worker().catch((err) => {
          stop.abort();
          throw err;
        })));
        const failure = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
        if (failure) throw failure.reason;
        if (o.signal?.aborted && fresh.size < todo.length) aborted = true;
      }

      // A finished sweep leaves its file, empty when its shard held no point: the merge of a job
      // array lists every shard's file.
      if (o.out !== undefined && !aborted && !fs.existsSync(o.out)) writeFileAtomic(o.out, '');
      const rows = [...inGrid, ...[...fresh.values()].sort((a, b) => order.get(rowKey(a))! - order.get(rowKey(b))!)];
      await settle();
      return { rows, planned: todo.length, completed: fresh.size, skipped, outside, aborted, seconds: (Date.now() - t0) / 1000, backend };
    } finally {
      release();
    }
  } finally {
    unlock();
  }
}

/**
 * What a set of rows lacks of its grid, or null. Rows of one sweep name their grid and its size;
 * rows of several grids (a sweep resumed with more seeds) are held to the grid they span (every
 * rank × τ⋆ × seed they hold). Shards that did not finish, or a file left out of a merge, show here.
 */
export function gridGap(rows: readonly SweepRow[]): string | null {
  checkRowsArg(rows, 'gridGap(rows)');
  const ids = new Set(rows.map((r) => r.grid));
  const held = new Set(rows.map(rowKey)).size; // a point written twice counts once
  if (rows.length && ids.size === 1 && rows[0].grid !== undefined && Number.isSafeInteger(rows[0].grid_points)) {
    const points = rows[0].grid_points!;
    if (held > points) return `these rows hold ${held} points, more than their grid's ${points}: rows of another grid under its name?`;
    const missing = points - held;
    return missing === 0 ? null : `${missing} of the grid's ${points} points ${missing === 1 ? 'is' : 'are'} missing: a shard that did not finish, or a file left out?`;
  }
  // Rows of several grids: complete, they would hold every point of the largest at least.
  const largest = Math.max(0, ...rows.map((r) => (Number.isSafeInteger(r.grid_points) ? r.grid_points! : 0)));
  if (held < largest) {
    return `these rows hold ${held} points, fewer than the largest of their ${ids.size} grids has (${largest}): a shard that did not finish, or a file left out?`;
  }
  const distinct = (key: 'rank' | 'tau_o' | 'seed') => new Set(rows.map((r) => r[key])).size;
  const [ranks, taus, seeds] = [distinct('rank'), distinct('tau_o'), distinct('seed')];
  const spans = ranks * taus * seeds;
  if (held >= spans) return null;
  const missing = spans - held;
  return `${missing} of the ${spans} points of the grid these rows span (${plural(ranks, 'rank')} × ${taus} τ⋆ × ${plural(seeds, 'seed')}) ${missing === 1 ? 'is' : 'are'} missing: ` +
    'a shard that did not finish, or a file left out?';
}

/**
 * Joins shard files into one, each point once (the first file holding it wins; a later copy
 * with other numbers is reported); all must share one configuration.
 */
export function mergeRows(files: readonly string[], warn: (message: string) => void = () => {}): SweepRow[] {
  if (!Array.isArray(files) || !files.every((f) => typeof f === 'string' && f !== '')) {
    throw new GoalError('GOAL_INVALID_OPTION', `mergeRows(files): files must be an array of file names (got ${show(files)})`);
  }
  if (typeof warn !== 'function') throw new GoalError('GOAL_INVALID_OPTION', `mergeRows(files, warn): warn must be a function (got ${show(warn)})`);
  const all: Copy[] = [];
  let first: { row: SweepRow; file: string } | undefined;
  const named = new Map<string, string>(); // a file's real path → the name it was first given as
  for (const f of files) {
    // A shard named twice is most likely a typo for another one: merged once, and said so.
    const id = realPath(f);
    const earlier = named.get(id);
    if (earlier !== undefined) {
      warn(`${shownPath(f)} is named twice${earlier === f ? '' : ` (also as ${shownPath(earlier)})`}: merged once`);
      continue;
    }
    named.set(id, f);
    const read = readRows(f);
    if (read.torn) warn(tornLine(f));
    const writer = writerOf(f);
    if (writer !== null) warn(`${shownPath(f)} is still being written (by ${writer}): merged as it stands, without the points still to come`);
    for (const r of read.rows) {
      const curves = hasCurves(r);
      first ??= { row: r, file: f };
      if (r.config !== first.row.config) {
        const one = f === first.file; // both in one file: not the file against itself
        const why = configDifference(first.row, r, one ? ['in its first row', 'in a later one'] : [`in ${shownPath(first.file)}`, `in ${shownPath(f)}`]);
        throw new GoalError('GOAL_BAD_RESULTS', one
          ? `${shownPath(f)} holds points of two configurations (${why}): not the rows of one sweep`
          : `${shownPath(f)} holds points of another configuration than ${shownPath(first.file)} (${why}): they are not shards of one sweep`);
      }
      // A file of both kinds could be resumed neither with curves nor without.
      if (curves !== hasCurves(first.row)) {
        const kind = (c: boolean) => (c ? 'with curves (mse_rec, dz)' : 'without curves');
        throw new GoalError('GOAL_BAD_RESULTS', f === first.file
          ? `${shownPath(f)} holds rows ${kind(hasCurves(first.row))} and rows ${kind(curves)}: not the rows of one sweep`
          : `${shownPath(f)} holds rows ${kind(curves)}, ${shownPath(first.file)} rows ${kind(hasCurves(first.row))}: merge shards that all kept their curves (--curves) or none did`);
      }
      all.push({ row: r, file: f });
    }
  }
  const unfit = unfitRow(all.map((c) => c.row), all.find((c) => c.row.fixed !== undefined)?.row.fixed);
  if (unfit !== null) {
    const { file } = all[unfit.index];
    const row = all.slice(0, unfit.index).filter((c) => c.file === file).length + 1;
    throw new GoalError('GOAL_BAD_RESULTS', `${shownPath(file)}: row ${row} ${unfit.why}: edited by hand? Mend or remove the row`);
  }
  const rows = firstCopies(all, warn);
  const gap = gridGap(all.map((c) => c.row)); // a later copy's grid counts too
  if (gap !== null) warn(gap);
  return rows;
}

/** The file's real path (links and `./` resolved), else its absolute name (readRows says why it cannot be read). */
export function realPath(f: string): string {
  try {
    return fs.realpathSync(f);
  } catch {
    return path.resolve(f);
  }
}

/** Whether two copies of a point hold the same results (a point appended twice), not another run's. */
const sameNumbers = (a: SweepRow, b: SweepRow): boolean => (['mse_out', 'mse_final', 'dz_final'] as const).every((k) => Object.is(a[k], b[k]));

/** A row and the file it was read from (mergeRows reads each file once). */
interface Copy {
  row: SweepRow;
  file: string;
}

/**
 * Each point once, the first copy kept. A copy with other numbers is reported; identical
 * copies within one file (rows appended twice) are counted in one warning per file.
 */
function firstCopies(rows: readonly Copy[], warn: (message: string) => void): SweepRow[] {
  const seen = new Map<string, Copy>();
  const twice = new Map<string, number>();
  // Disagreements are said in one line, however many (two backends' shards of a large grid).
  let differ: string | undefined;
  let others = 0;
  for (const copy of rows) {
    const { row: r, file: f } = copy;
    const had = seen.get(rowKey(r));
    if (!had) seen.set(rowKey(r), copy);
    else if (!sameNumbers(had.row, r)) {
      if (differ === undefined) differ = `rank ${r.rank}, τ⋆ ${r.tau_o}, seed ${r.seed}: ${shownPath(f)} holds other numbers than ${had.file === f ? 'its earlier row' : shownPath(had.file)}`;
      else others++;
    } else if (had.file === f) twice.set(f, (twice.get(f) ?? 0) + 1);
  }
  if (differ !== undefined) warn(`${differ}${others ? ` (and so for ${plural(others, 'more point')})` : ''}; keeping the first copy of each`);
  for (const [f, n] of twice) warn(`${shownPath(f)} holds ${plural(n, 'point')} twice; each counts once`);
  return [...seen.values()].map((x) => x.row);
}

export interface SummaryCell {
  rank: SweepRank;
  tau_o: number;
  seeds: number;
  mse_final: number;
  dz_final: number;
  /** Median over seeds, a run that never converged counting as +∞; null when that median is. */
  t_conv: number | null;
}

/** A planned grid given to summarize or summaryTables: its lists (and the seed count) as arrays and a number. */
function checkGrid(grid: unknown, fn: string, seeds: boolean): void {
  if (grid === undefined) return;
  const p = grid as { ranks?: unknown; taus?: unknown; seeds?: unknown } | null;
  if (p === null || typeof p !== 'object' || !Array.isArray(p.ranks) || !Array.isArray(p.taus) || (seeds && !Number.isSafeInteger(p.seeds))) {
    throw new GoalError('GOAL_INVALID_OPTION', `${fn}(rows, grid): grid must be { ranks, taus${seeds ? ', seeds' : ''} } ` +
      `(arrays${seeds ? ' and a count' : ''}) (got ${show(grid)})`);
  }
  // What a row may hold (rowProblem's), so that no cell of the tables is of a point no sweep has.
  const where = `${fn}(rows, grid)`;
  const rank = p.ranks.findIndex((r) => !isRank(r));
  if (rank >= 0) refuse(where, `grid.ranks[${rank}] must be 'ltts' or a whole number ≥ 1 (got ${show(p.ranks[rank])})`);
  const tau = p.taus.findIndex((t) => !isTau(t));
  if (tau >= 0) refuse(where, `grid.taus[${tau}] must be a number > 0 (got ${show(p.taus[tau])})`);
  if (seeds && (p.seeds as number) < 0) refuse(where, `grid.seeds must be a count ≥ 0 (got ${show(p.seeds)})`);
}

/**
 * The rows, each point once, as --resume and merge count them (a point appended twice is one
 * seed, not two); rows of two configurations, or two copies of a point with other numbers,
 * are no one sweep's and have no one median: refused, as mergeRows refuses the former and
 * says the latter.
 */
function distinctPoints(rows: readonly SweepRow[], where: string): readonly SweepRow[] {
  const fail = (why: string) => refuse(where, why);
  const seen = new Map<string, number>();
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (r.config !== rows[0].config) {
      fail(`rows[${i}] is of another configuration than rows[0] (${configDifference(rows[0], r, ['in rows[0]', `in rows[${i}]`])}): not the rows of one sweep`);
    }
    const j = seen.get(rowKey(r));
    if (j === undefined) seen.set(rowKey(r), i);
    else if (!sameNumbers(rows[j], r)) {
      fail(`rows[${j}] and rows[${i}] are one point (rank ${r.rank}, τ⋆ ${r.tau_o}, seed ${r.seed}) with other numbers: ` +
        'mergeRows keeps the first copy of each point');
    }
  }
  return seen.size === rows.length ? rows : [...seen.values()].map((i) => rows[i]);
}

/**
 * Medians over seeds per (rank, τ⋆), in the grid's order: by rank (LTTS last), then τ⋆. With
 * the grid that was planned, its cells without a point too (`seeds: 0`, NaN medians).
 */
export function summarize(rows: readonly SweepRow[], grid?: { ranks: readonly SweepRank[]; taus: readonly number[] }): SummaryCell[] {
  checkRowsArg(rows, 'summarize(rows)');
  checkGrid(grid, 'summarize', false);
  return cellsOf(distinctPoints(rows, 'summarize(rows)'), grid);
}

/** summarize's cells of rows already checked, each point once. */
function cellsOf(rows: readonly SweepRow[], grid?: { ranks: readonly SweepRank[]; taus: readonly number[] }): SummaryCell[] {
  const groups = new Map<string, { rank: SweepRank; tau_o: number; rows: SweepRow[] }>();
  const cell = (rank: SweepRank, tau_o: number) => {
    const key = `${rank}|${tau_o}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { rank, tau_o, rows: [] }));
    return g;
  };
  for (const rank of grid?.ranks ?? []) for (const tau_o of grid!.taus) cell(rank, tau_o);
  for (const r of rows) cell(r.rank, r.tau_o).rows.push(r); // not a copy per row: a cell may have 10⁵ seeds
  // A diverged value is NaN as readRows gives it, null as the file holds it (rows parsed by hand).
  const value = (x: number | null) => (x === null ? NaN : x);
  return [...groups.values()].map(({ rank, tau_o, rows: g }) => {
    const t = median(g.map((r) => r.t_conv ?? Infinity));
    return {
      rank, tau_o, seeds: g.length,
      mse_final: median(g.map((r) => value(r.mse_final))),
      dz_final: median(g.map((r) => value(r.dz_final))),
      t_conv: Number.isFinite(t) ? t : null,
    };
  }).sort((a, b) => byRank(a.rank, b.rank) || a.tau_o - b.tau_o);
}

/**
 * The summary laid out like the paper's Figure 2 D–F: one table per measure, ranks × τ⋆. With
 * the grid that was planned (a sweep stopped early), its missing cells and seeds show too.
 */
export function summaryTables(rows: readonly SweepRow[], grid?: { ranks: readonly SweepRank[]; taus: readonly number[]; seeds: number }): string {
  checkRowsArg(rows, 'summaryTables(rows)');
  checkGrid(grid, 'summaryTables', true);
  const cells = cellsOf(distinctPoints(rows, 'summaryTables(rows)'));
  const ranks = [...new Set([...cells.map((c) => c.rank), ...(grid?.ranks ?? [])])].sort(byRank);
  const taus = [...new Set([...cells.map((c) => c.tau_o), ...(grid?.taus ?? [])])].sort(byNumber);
  const at = new Map(cells.map((c) => [`${c.rank}|${c.tau_o}`, c]));
  // no spread: a grid may have 10⁵ cells
  const seeds = cells.reduce((m, c) => Math.max(m, c.seeds), grid?.seeds ?? 0);
  // A cell of fewer seeds (a partial or interrupted grid) says how many its median is over.
  const few = cells.some((c) => c.seeds < seeds) || cells.length < ranks.length * taus.length;
  const table = (title: string, value: (c: SummaryCell) => string) => {
    const head = ['rank \\ τ⋆', ...taus.map(String)];
    const body = ranks.map((r) => [r === 'ltts' ? 'LTTS' : String(r), ...taus.map((t) => {
      const c = at.get(`${r}|${t}`);
      return c ? `${value(c)}${c.seeds < seeds ? ` (${c.seeds})` : ''}` : '(0)';
    })]);
    const width = head.map((_, j) => Math.max(...[head, ...body].map((row) => row[j].length)));
    const line = (row: string[]) => row.map((x, j) => (j === 0 ? x.padEnd(width[j]) : x.padStart(width[j]))).join('  ');
    return [title, line(head), ...body.map(line)].join('\n');
  };
  return [
    table(`final readout MSE (median over ${plural(seeds, 'seed')}${few ? '; (k): a cell with only k' : ''})`, (c) => c.mse_final.toPrecision(3)),
    table('final spike error ΔS', (c) => String(Math.round(c.dz_final))),
    table('T_conv (epochs; — = not reached)', (c) => (c.t_conv === null ? '—' : String(Math.round(c.t_conv)))),
  ].join('\n\n');
}
