// replay(): run a fixture-format object (SPEC.md "Fixtures": params, every random draw, the
// task and the dtype of a reference run) and compare the outcome with its `expect`.
import { chooseBackend, DEFAULT_BACKEND, type Backend } from './backend';
import { GoalError } from './errors';
import { beyondFloat32, FLT_MAX, paramBySpec, paramDocs, resolveParams, SCALE_PARAMS, show, type Params, type ParamName, type ResolvedParams } from './params';
import { checkRunOptions, reserveMemory, runPhases, warnVia, type RunOptions, type RunOutput } from './run';

type Nested = number[][];

/** A matrix given to replay(): rows of numbers, each a list or a typed array. */
type Rows = readonly (readonly number[] | Float64Array | Float32Array)[];

/**
 * A fixture (SPEC.md "Fixtures"; `expect` is optional for replay). `M` is how its matrices
 * are held: lists of lists, as a fixture file parses, by default; replay() takes any Rows
 * (`Fixture<Rows>`), and its dtype here or as params.dtype (JsonFixture: here).
 */
export interface Fixture<M extends Rows = number[][]> {
  name?: string;
  /** Required here or as params.dtype (the two agreeing when both are given). */
  dtype?: 'float32' | 'float64';
  params: Record<string, unknown>;
  init: { W_ih: M; W_hh: M; W_ho: M; W_trg: M; B_noise: M };
  task: { targ: M; clock: M };
  expect?: {
    z_targ?: M;
    W_ho_trained?: M;
    mse_out?: number;
    D?: M;
    B?: M;
    mse_rec?: number[];
    dz?: number[];
    W_hh_final?: M;
    Z_last?: M;
    min_margin?: number;
  };
}

/** A fixture as a fixture file parses: lists of lists, its dtype at the top. */
export type JsonFixture = Fixture<number[][]> & { dtype: 'float32' | 'float64' };

export interface ReplayOptions extends RunOptions {
  backend?: Backend;
  onWarning?: (message: string) => void;
}

/** Every option replay() takes (a Record: the compiler holds it to ReplayOptions). */
const REPLAY_OPTIONS = Object.keys({ onEpoch: 1, onReadout: 1, signal: 1, backend: 1, onWarning: 1 } satisfies Record<keyof ReplayOptions, 1>);

/** What a replay computed, in the fixture's orientation (row-major nested arrays). */
export interface ReplayResult {
  mseOut: number;
  mseRec: number[];
  dz: number[];
  /** null: no seed, the fixture holds every draw (train() results name theirs here). */
  seed: null;
  dtype: 'float32' | 'float64';
  backend: 'cpu' | 'cuda';
  device: string;
  seconds: number;
  params: ResolvedParams;
  /** Smallest |v' − thr| met during the run. */
  minMargin: number;
  /** Z* (T×N). This and the other matrices are empty ([], null, no D or B) in a stopped run (`aborted`). */
  zTarg: Nested;
  /** Raster of the last recurrent epoch (T×N); null without recurrent epochs. */
  zLast: Nested | null;
  /** W_ho after the readout epochs (N×O). */
  wHoTrained: Nested;
  /** W_hh after the recurrent epochs (N×N). */
  wHhFinal: Nested;
  /** spk: D (N×N). */
  D?: Nested;
  /** out: B (N×R). */
  B?: Nested;
  aborted: boolean;
}

// Names of SPEC.md's table that are no parameter of the network: a fixture may hold them.
const NOT_MODEL = new Set(['gpu', 'savepath', 'verbose']);

// What a fixture may leave out: the sizes (read off its matrices), and what changes nothing once
// the matrices are given (the scales they were drawn with, dt, which cancels) or is the run's
// own (seed, dtype). Every other parameter is the reference's, never a default (SPEC: never a
// silent default), a parameter added to the table later included.
const OPTIONAL_PARAMS = new Set(['n_rec', 'n_inp', 'n_out', 't_seq', 'sigma_inp', 'sigma_trg', 'sigma_rec', 'dt', 'seed', 'dtype']);
const REQUIRED_PARAMS = paramDocs.map((d) => d.spec).filter((k) => !OPTIONAL_PARAMS.has(k));

/**
 * The sizes a fixture's params leave out, read off its matrices. Unchecked here: the
 * matrices' own checks come later.
 */
function sizesFromMatrices(fixture: Fixture<Rows>): Record<string, [number | undefined, string]> {
  const rows = (m: unknown) => (Array.isArray(m) ? m.length : undefined);
  const cols = (m: unknown) => (Array.isArray(m) && isRow(m[0]) ? m[0].length : undefined);
  const init: Record<string, unknown> = isObject(fixture.init) ? fixture.init : {};
  const task: Record<string, unknown> = isObject(fixture.task) ? fixture.task : {};
  return {
    n_rec: [rows(init.W_hh), 'fixture.init.W_hh has no rows'], n_inp: [rows(init.W_ih), 'fixture.init.W_ih has no rows'],
    n_out: [cols(init.W_ho), 'fixture.init.W_ho has no columns'], t_seq: [rows(task.targ), 'fixture.task.targ has no rows'],
  };
}

function bad(message: string): never {
  throw new GoalError('GOAL_BAD_FIXTURE', message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A matrix's row: a list, or a typed array (a library caller's own rows). */
function isRow(row: unknown): row is ArrayLike<unknown> {
  return Array.isArray(row) || (ArrayBuffer.isView(row) && !(row instanceof DataView));
}

/** Why `row` is not a row of `cols` entries. */
function rowProblem(row: unknown, i: number, cols: number): string | null {
  if (!isRow(row)) return `row ${i} is ${row === undefined ? 'missing' : `not a list (got ${show(row)})`}`;
  return row.length === cols ? null : `row ${i} has ${row.length} entries`;
}

/**
 * A rows×cols nested array of numbers, flattened row-major: finite ones (what a run starts
 * from; in float32's range for a float32 run), spikes (also true/false), or any (what a run
 * ended with: a diverged one has NaN).
 */
function matrix(value: unknown, rows: number, cols: number, where: string, kind: 'finite' | 'spikes' | 'any' = 'finite', dtype?: 'float32' | 'float64'): Float64Array {
  const want = matrixKind(rows, cols, kind);
  checkRows(value, rows, cols, where, kind);
  const out = new Float64Array(rows * cols);
  // Past float32's largest value the engine would start from ±∞, silently.
  const float32 = dtype === 'float32';
  // Index loops, not forEach: a hole in a sparse array is an error, not a silent 0.
  for (let i = 0; i < rows; i++) {
    const row: unknown = value[i];
    const problem = rowProblem(row, i, cols);
    if (problem) bad(`${where} must be ${want} (${problem})`);
    const r = row as ArrayLike<unknown>;
    for (let j = 0; j < cols; j++) {
      const x: unknown = kind === 'spikes' && typeof r[j] === 'boolean' ? Number(r[j]) : r[j];
      if (typeof x !== 'number' || (kind !== 'any' && !Number.isFinite(x)) || (kind === 'spikes' && x !== 0 && x !== 1)) {
        bad(`${where} must be ${want} (entry [${i}][${j}] is ${show(x)})`);
      }
      if (float32 && beyondFloat32(x)) bad(`${where}: entry [${i}][${j}] is ${show(x)}, beyond float32's range (|x| ≤ ${FLT_MAX.toPrecision(5)}) in a float32 fixture`);
      out[i * cols + j] = x;
    }
  }
  return out;
}

function matrixKind(rows: number, cols: number, kind: 'finite' | 'spikes' | 'any'): string {
  return `a ${rows}×${cols} matrix of ${kind === 'spikes' ? 'spikes, 0 or 1' : kind === 'any' ? 'numbers' : 'finite numbers'}`;
}

/** A matrix's row count, and its first row's length: checked without allocating anything. */
function checkRows(value: unknown, rows: number, cols: number, where: string, kind: 'finite' | 'spikes' | 'any' = 'finite'): asserts value is unknown[] {
  const want = matrixKind(rows, cols, kind);
  if (value == null) bad(`${where} is missing (${want})`);
  if (!Array.isArray(value) || value.length !== rows) {
    bad(`${where} must be ${want} (got ${Array.isArray(value) ? `${value.length} rows` : show(value)})`);
  }
  const problem = rows > 0 ? rowProblem(value[0], 0, cols) : null;
  if (problem) bad(`${where} must be ${want} (${problem})`);
}

/** The fixture's initial matrices and task, as its params size them. */
function inputs(fixture: Fixture<Rows>, p: ResolvedParams): [unknown, number, number, string][] {
  const init = fixture.init as Record<string, unknown>, task = fixture.task as Record<string, unknown>;
  const N = p.nRec, I = p.nInp, O = p.nOut, T = p.tSeq;
  return [
    [init.W_hh, N, N, 'fixture.init.W_hh'], // first: n_rec's matrix, where a wrong n_rec shows plainest
    [init.W_ih, I, N, 'fixture.init.W_ih'],
    [init.W_ho, N, O, 'fixture.init.W_ho'],
    [init.W_trg, O, N, 'fixture.init.W_trg'],
    [init.B_noise, N, p.feedback === 'out' ? (p.rank as number) : N,
      fellBack(fixture, p) ? 'fixture.init.B_noise (feedback out without a rank runs as spk, whose noise is N×N)' : 'fixture.init.B_noise'],
    [task.targ, T, O, 'fixture.task.targ'],
    [task.clock, T - 1, I, 'fixture.task.clock'],
  ];
}

/**
 * Checks that the fixture's matrices have the sizes its params give, before any memory is
 * counted or taken: a fixture whose n_rec contradicts its W_hh says so, not that N is too large.
 */
export function checkFixtureShapes(fixture: Fixture<Rows>, p: ResolvedParams): void {
  for (const part of ['init', 'task'] as const) {
    if (!isObject(fixture[part])) bad(`fixture.${part} ${fixture[part] === undefined ? 'is missing' : `must be an object of matrices (got ${show(fixture[part])})`}`);
  }
  for (const [value, rows, cols, where] of inputs(fixture, p)) checkRows(value, rows, cols, where);
}

function nested(data: ArrayLike<number>, rows: number, cols: number): Nested {
  const out: Nested = [];
  for (let i = 0; i < rows; i++) out.push(Array.from({ length: cols }, (_, j) => data[i * cols + j]));
  return out;
}

/** SPEC's top-level `dtype`; one given among the params instead is taken too, if they agree. */
function fixtureDtype(fixture: Fixture<Rows>): 'float32' | 'float64' {
  const inParams = isObject(fixture.params) ? fixture.params.dtype : undefined;
  const dtype = fixture.dtype ?? inParams;
  if (dtype === undefined) bad('fixture.dtype is missing (float32 or float64: the precision the reference ran in)');
  if (dtype !== 'float32' && dtype !== 'float64') bad(`fixture.dtype must be float32 or float64 (got ${show(dtype)})`);
  if (inParams !== undefined && inParams !== dtype) bad(`fixture.dtype is ${show(dtype)} but fixture.params.dtype is ${show(inParams)}`);
  return dtype;
}

const specName = new Map(paramDocs.map((d) => [d.name, d.spec]));
/** How messages name a parameter of a fixture: by its place in the file. */
export const fixtureLabel = (n: ParamName): string => `fixture.params.${specName.get(n)}`;

type Scale = (typeof SCALE_PARAMS)[number];
const SCALES: readonly string[] = SCALE_PARAMS;

/** The fixture's params as library params (SPEC names → camelCase), checked. */
export function fixtureParams(fixture: Fixture<Rows>): { params: ResolvedParams; warnings: string[] } {
  if (!isObject(fixture)) bad('a fixture must be a JSON object');
  if (!isObject(fixture.params)) bad(fixture.params === undefined ? 'fixture.params is missing' : `fixture.params must be an object (got ${show(fixture.params)})`);
  const dtype = fixtureDtype(fixture);
  const given = { ...fixture.params };
  for (const [key, [size, empty]] of Object.entries(sizesFromMatrices(fixture))) {
    if (given[key] !== undefined || size === undefined) continue;
    // The size is read off the matrix; an empty one is the matrix's fault, not a param's.
    if (size === 0) bad(`${empty}, and fixture.params has no ${key} to size it`);
    given[key] = size;
  }
  if (given.n_rec === undefined) bad('fixture.params lacks n_rec (and there is no fixture.init.W_hh to read it off)');
  // null is absent (resolveParams would take it for the default), but a null rank is LTTS.
  const lacking = REQUIRED_PARAMS.filter((key) => given[key] === undefined || (given[key] === null && key !== 'rank'));
  if (lacking.length) bad(`fixture.params lacks ${lacking.join(', ')}: a replay takes every model parameter from its fixture, none from the defaults`);
  if (given.resample === true && given.rank != null) {
    bad('fixture.params.resample is true with a rank: the reference redraws that feedback at every step, and a fixture holds one draw (B_noise), so it cannot be replayed');
  }
  const input: Record<string, unknown> = { dtype };
  const unknown: string[] = [];
  const scales: Partial<Pick<Params, Scale>> = {};
  for (const [key, value] of Object.entries(given)) {
    const name = paramBySpec.get(key);
    if (!name && !NOT_MODEL.has(key)) unknown.push(key);
    // A seed is the generator's own record, whatever its form (torch's 64-bit seeds are past a
    // JS number's integers, NumPy's may be lists): the draws are given, so it is never read.
    if (!name || name === 'seed' || name === 'dtype') continue;
    if (SCALES.includes(name)) {
      // Unused (the matrices are given, already scaled), so any finite scale the reference took
      // (a negative one too) is reported as it was.
      if (typeof value !== 'number' || !Number.isFinite(value)) bad(`fixture.params.${key} must be a finite number (got ${show(value)})`);
      scales[name as Scale] = value;
      continue;
    }
    input[name] = value;
  }
  try {
    const resolved = resolveParams(input as Partial<Params>, fixtureLabel);
    resolved.params = Object.freeze({ ...resolved.params, ...scales });
    // Told, not refused: a generator may store more than SPEC's table (a misspelt name shows here).
    if (unknown.length) resolved.warnings.push(`fixture.params ${unknown.map((k) => show(k)).join(', ')}: not among SPEC.md's parameters; ignored`);
    return resolved;
  } catch (err) {
    if (err instanceof GoalError) bad(err.message);
    throw err;
  }
}

/**
 * Replays a fixture: its params, initial matrices, feedback noise, task and dtype. Resolves
 * to the run's statistics plus its final matrices and rasters.
 */
export async function replay(fixture: Fixture<Rows>, options: ReplayOptions = {}): Promise<ReplayResult> {
  const o = checkRunOptions(options, REPLAY_OPTIONS);
  const { warn, settle } = warnVia(o.onWarning);
  const { params: p, warnings } = fixtureParams(fixture);
  checkFixtureShapes(fixture, p);
  const release = reserveMemory(p, fixtureLabel, (m) => warnings.push(m));
  let out: RunOutput, backend: ReplayResult['backend'];
  try {
    const [W_hh, W_ih, W_ho, W_trg, noise, targ, clock] = inputs(fixture, p).map(([value, rows, cols, where]) => matrix(value, rows, cols, where, 'finite', p.dtype));
    expected(fixture, p); // a malformed expect fails now, not after the run
    backend = chooseBackend(o.backend ?? DEFAULT_BACKEND.replay, (m) => warnings.push(m));
    warnings.forEach(warn); // once every check has passed
    [out] = await runPhases(
      [{ params: p, W_ih, W_hh, W_ho, W_trg, targ, clock, noise: () => noise }],
      { backend, keep: true, warn, label: fixtureLabel },
      o,
    );
  } finally {
    release();
  }
  await settle();
  const result: ReplayResult = {
    mseOut: out.mseOut,
    mseRec: out.mseRec,
    dz: out.dz,
    seed: null,
    dtype: p.dtype,
    backend,
    device: out.device,
    seconds: out.seconds,
    params: p,
    minMargin: out.minMargin,
    zTarg: [],
    zLast: null,
    wHoTrained: [],
    wHhFinal: [],
    aborted: out.aborted,
  };
  const k = out.kept;
  if (k) {
    const N = p.nRec, O = p.nOut, T = p.tSeq;
    result.zTarg = nested(k.zTarg, T, N);
    result.zLast = k.zLast && nested(k.zLast, T, N);
    result.wHoTrained = nested(k.wHo, N, O);
    result.wHhFinal = nested(k.wHh, N, N);
    if (p.feedback === 'out') result.B = nested(k.feedback, N, p.rank as number);
    else result.D = nested(k.feedback, N, N);
  }
  return result;
}

/** One field of a replay against the fixture's `expect`. */
export interface FieldCheck {
  field: string;
  /** max |got − expected|. */
  maxAbs: number;
  /** maxAbs / max |expected| (relative to the field's largest entry). */
  maxRel: number;
  /** 0 for fields that must match exactly (spikes, dz). */
  tolerance: number;
  ok: boolean;
}

/** Tolerances of the replay contract: spikes and ΔZ exact; the rest relative, by dtype. */
export const REPLAY_TOLERANCE = Object.freeze({ float64: 1e-9, float32: 1e-4 });

function vector(value: unknown, length: number, where: string, why = ''): Float64Array {
  if (!Array.isArray(value) || value.length !== length) {
    bad(`${where} must be a list of ${length} numbers${why} (got ${Array.isArray(value) ? `${value.length} entries` : show(value)})`);
  }
  const out = new Float64Array(length);
  // Index loops: a hole in a sparse array is an error, not a silent 0.
  for (let i = 0; i < length; i++) {
    const x: unknown = value[i];
    if (typeof x !== 'number') bad(`${where} must be a list of ${length} numbers${why} (entry ${i} is ${show(x)})`);
    out[i] = x;
  }
  return out;
}

/**
 * Whether the fixture asked for feedback out without a rank, which ran as spk (SPEC's soft
 * case): its N×N matrix may be filed under the feedback the params name, expect.B.
 */
function fellBack(fixture: Fixture<Rows>, p: ResolvedParams): boolean {
  return p.feedback === 'spk' && isObject(fixture.params) && fixture.params.feedback === 'out';
}

/**
 * Refuses a fixture whose `expect` lacks a field SPEC.md lists (min_margin, a note, aside), so
 * that a check which passes has compared everything; `goal train --replay` asks it. Without
 * recurrent epochs there is no last raster, and the feedback may not have been kept.
 */
export function requireExpect(fixture: Fixture<Rows>, p: ResolvedParams): void {
  const e = fixture.expect as unknown;
  if (e == null) bad("fixture.expect is missing: nothing to check the replay against (the library's replay() runs such a fixture)");
  if (!isObject(e)) bad('fixture.expect must be an object');
  const feedback = p.feedback === 'out' ? 'B' : 'D';
  const fields = ['z_targ', 'W_ho_trained', 'mse_out', 'mse_rec', 'dz', ...(p.epochs[1] > 0 ? [feedback, 'W_hh_final', 'Z_last'] : ['W_hh_final'])];
  const lacking = fields.filter((f) => e[f] == null && !(f === 'D' && fellBack(fixture, p) && e.B != null));
  // Only the other feedback's matrix: most likely the params name the wrong feedback.
  const other = feedback === 'B' ? 'D' : 'B';
  const mislabelled = lacking.includes(feedback) && e[other] != null ? ` (it holds ${other}, feedback ${other === 'B' ? 'out' : 'spk'}'s matrix: is fixture.params.feedback right?)` : '';
  if (lacking.length) bad(`fixture.expect lacks ${lacking.join(', ')}${mislabelled}: --replay checks the run against every field SPEC.md lists (the library's replay() runs a fixture without them)`);
}

/** The fixture's `expect` fields, each checked for shape and flattened; absent ones left out. */
function expected(fixture: Fixture<Rows>, p: ResolvedParams): Map<string, Float64Array> {
  const e = fixture.expect as unknown;
  const out = new Map<string, Float64Array>();
  if (e == null) return out; // null as absent, as for every field in it
  if (!isObject(e)) bad('fixture.expect must be an object');
  const N = p.nRec, O = p.nOut, T = p.tSeq, R = p.epochs[1];
  const shapes: [string, number, number][] = [
    ['z_targ', T, N], ['Z_last', T, N], ['W_ho_trained', N, O], ['W_hh_final', N, N],
    p.feedback === 'out' ? ['B', N, p.rank as number] : ['D', N, N],
  ];
  // null is absent (a generator may write every key, None where one does not apply). The other
  // feedback's matrix is not compared: the reference builds a B for spk too, and may store it.
  if (fellBack(fixture, p) && e.D == null && e.B != null) out.set('D', matrix(e.B, N, N, 'fixture.expect.B', 'any'));
  const noLastEpoch = R === 0 && Array.isArray(e.Z_last) && e.Z_last.length === 0;
  for (const [field, rows, cols] of shapes) {
    if (e[field] != null && !(field === 'Z_last' && noLastEpoch)) out.set(field, matrix(e[field], rows, cols, `fixture.expect.${field}`, field === 'z_targ' || field === 'Z_last' ? 'spikes' : 'any'));
  }
  // Not compared (the margin is the run's own), but read by marginNote: a number or absent.
  if (e.min_margin != null && typeof e.min_margin !== 'number') bad(`fixture.expect.min_margin must be a number (got ${show(e.min_margin)})`);
  if (e.mse_out != null) {
    if (typeof e.mse_out !== 'number') bad(`fixture.expect.mse_out must be a number (got ${show(e.mse_out)})`);
    out.set('mse_out', Float64Array.of(e.mse_out));
  }
  for (const field of ['mse_rec', 'dz']) {
    if (e[field] != null) out.set(field, vector(e[field], R, `fixture.expect.${field}`, ', one per recurrent epoch'));
  }
  // ΔZ counts spikes: any other value is a malformed fixture, not a replay that differs.
  const dz = out.get('dz');
  const k = dz ? dz.findIndex((x) => !(Number.isInteger(x) && x >= 0)) : -1;
  if (k >= 0) bad(`fixture.expect.dz must hold spike counts, whole numbers ≥ 0 (entry ${k} is ${show(dz![k])})`);
  return out;
}

function check(field: string, got: ArrayLike<number> | null | undefined, want: ArrayLike<number>, tolerance: number): FieldCheck {
  if (!got || got.length !== want.length) return { field, maxAbs: Infinity, maxRel: Infinity, tolerance, ok: false };
  let maxAbs = 0, scale = 0;
  for (let k = 0; k < want.length; k++) {
    const g = got[k], w = want[k];
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (!Object.is(g, w)) maxAbs = Infinity; // NaN matches NaN, ∞ the same ∞; nothing else does
      continue;
    }
    maxAbs = Math.max(maxAbs, Math.abs(g - w));
    scale = Math.max(scale, Math.abs(w));
  }
  const maxRel = maxAbs === 0 ? 0 : maxAbs / scale;
  return { field, maxAbs, maxRel, tolerance, ok: tolerance === 0 ? maxAbs === 0 : maxRel <= tolerance };
}

/**
 * Compares a replay with every field of the fixture's `expect` it holds (none: an empty list).
 * Throws GOAL_BAD_FIXTURE when a field has the wrong shape.
 */
export function compareReplay(fixture: Fixture<Rows>, result: ReplayResult): FieldCheck[] {
  if (!isObject(fixture)) bad('a fixture must be a JSON object');
  const dtype = fixtureDtype(fixture);
  const notOurs = (why: string): never => {
    throw new GoalError('GOAL_INVALID_OPTION', `compareReplay(fixture, result): result must be what replay() of this fixture resolved to (${why})`);
  };
  if (!isObject(result) || !isObject(result.params)) notOurs(`got ${show(result)}`);
  // The fixture's own params size what it expects; a result of another run is told apart.
  const { params } = fixtureParams(fixture);
  for (const key of ['nRec', 'nOut', 'tSeq', 'epochs', 'rank', 'feedback', 'dtype'] as const) {
    const mine = JSON.stringify(params[key]), theirs = JSON.stringify(result.params[key]);
    if (mine !== theirs) notOurs(`its ${key} is ${theirs ?? 'absent'}, the fixture's ${mine}`);
  }
  const want = expected(fixture, params);
  const tol = REPLAY_TOLERANCE[dtype];
  const got: Record<string, unknown> = expectFields(result, result.params.feedback);
  // Anything but numbers and arrays of them is no match (check() reports it so).
  const flat = (v: unknown): ArrayLike<number> | null =>
    typeof v === 'number' ? [v] : Array.isArray(v) ? (v as unknown[]).flat() as number[] : ArrayBuffer.isView(v) && !(v instanceof DataView) ? (v as unknown as ArrayLike<number>) : null;
  return Object.keys(got)
    .filter((field) => want.has(field))
    .map((field) => check(field, flat(got[field]), want.get(field)!, EXACT_FIELDS.includes(field) ? 0 : tol));
}

/** The fields a replay must reproduce exactly: spikes and the spike error. */
const EXACT_FIELDS: readonly string[] = ['z_targ', 'Z_last', 'dz'];

/** Below this margin to the threshold a float32 spike may flip with any change of rounding. */
const FLOAT32_SAFE_MARGIN = 1e-3;

/**
 * Why a replay's spikes may differ, when they do: SPEC.md ("Fixtures"), a float32 run
 * reproduces spikes exactly only where the reference's smallest margin to the threshold is well
 * above rounding. Undefined when that does not explain the checks.
 */
export function marginNote(fixture: Fixture<Rows>, result: ReplayResult, checks: readonly FieldCheck[]): string | undefined {
  const margin = isObject(fixture.expect) ? fixture.expect.min_margin : undefined;
  const spikes = checks.some((c) => !c.ok && EXACT_FIELDS.includes(c.field));
  if (result.dtype !== 'float32' || !spikes || typeof margin !== 'number' || !(margin < FLOAT32_SAFE_MARGIN)) return undefined;
  return `the reference came within ${margin.toExponential(1)} of the spike threshold; in float32 a spike that close ` +
    'can flip with any change of rounding, so its spikes cannot be expected to match (SPEC.md, "Fixtures")';
}

/** The parts of a replay's result that a fixture's `expect` names (a hard stop has only these). */
type Outcomes = Pick<ReplayResult, 'zTarg' | 'zLast' | 'dz' | 'mseOut' | 'mseRec' | 'wHoTrained' | 'B' | 'D' | 'wHhFinal' | 'minMargin'>;

/**
 * What a replay computed, under the names of a fixture's `expect` (and in its order). The
 * feedback's matrix is named as `feedback` has it (B for out, else D), null when a stopped run has none.
 */
export function expectFields(r: Outcomes, feedback: Params['feedback']) {
  return {
    z_targ: r.zTarg, Z_last: r.zLast, dz: r.dz, mse_out: r.mseOut, mse_rec: r.mseRec, W_ho_trained: r.wHoTrained,
    ...(feedback === 'out' ? { B: r.B ?? null } : { D: r.D ?? null }), W_hh_final: r.wHhFinal, min_margin: r.minMargin,
  };
}
