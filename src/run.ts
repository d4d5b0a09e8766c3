// The phases of SPEC.md "Training", one native call per chunk of epochs: target run →
// readout epochs → feedback → recurrent epochs. Shared by train(), replay() and sweep().
import { constants as bufferConstants } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type { Batch, NetConfig, NetSizes, NativeBackend } from '../binding';
import { BACKENDS, type Backend } from './backend';
import { readoutLambda } from './bound';
import { asGoalError, GoalError } from './errors';
import { availableMemory, GiB, heldBytes, hold, limitText, memoryLimit } from './memory';
import { addon, nativeInfo } from './native';
import { defaults, nearest, notOneOf, show, showName, takeProperties, type Labeller, type ParamName, type ResolvedParams } from './params';

/** Progress of one epoch, reported after it ran. */
export interface EpochInfo {
  phase: 'readout' | 'recurrent';
  /** 1-based index within the phase. */
  epoch: number;
  epochs: number;
  /** The epoch's MSE (the median over the networks of a batch). */
  mse: number;
  /** Spike error ΔZ = Σ|Z* − Z| (recurrent phase only; the median over a batch). */
  dz?: number;
  /**
   * Seconds since the phase began, at the end of this epoch. The epochs of one native call
   * share its time evenly (they finish together), so epoch/seconds is the phase's rate.
   */
  seconds: number;
}

export interface RunOptions {
  /**
   * Called after each epoch (a batch of epochs runs in one native call, then each is told).
   * A returned promise is awaited: its rejection rejects the run.
   */
  onEpoch?: (info: EpochInfo) => unknown;
  /**
   * Called once the readout phase is over (also without readout epochs, the initial readout
   * evaluated), with mse_out (the median over a batch). Awaited as onEpoch is.
   */
  onReadout?: (mseOut: number) => unknown;
  /**
   * Stops the run between epochs; the result then holds the epochs done and `aborted: true`.
   * Aborted from onEpoch, the run ends at that epoch.
   */
  signal?: AbortSignal;
}

/** One network: its params, initial matrices, task and feedback draws. */
export interface NetInput {
  params: ResolvedParams;
  W_ih: Float64Array;
  W_hh: Float64Array;
  W_ho: Float64Array;
  W_trg: Float64Array;
  targ: Float64Array;
  clock: Float64Array;
  /**
   * Standard normals for the feedback (N×N spk, N×R out): once, or every epoch with resample.
   * A draw still running when `signal` aborts stops and rejects (its numbers are not needed).
   */
  noise: (signal?: AbortSignal) => Float64Array | Promise<Float64Array>;
}

export interface RunPlan {
  backend: NativeBackend;
  /** CPU batches: threads that share the networks (default 1). */
  threads?: number;
  /** Read the final matrices and rasters back (replay). */
  keep?: boolean;
  warn: (message: string) => void;
  /** How parameters are named in warnings (the CLI names its flags). */
  label?: Labeller;
  /** Warnings without a network's own numbers: a sweep tells each kind once, whatever its points. */
  anonymous?: boolean;
}

export interface Kept {
  zTarg: Uint8Array;
  zLast: Uint8Array | null;
  wHo: Float64Array;
  wHh: Float64Array;
  /** spk: D = B_R B_Rᵀ (or m·I); out: B (N×R). */
  feedback: Float64Array;
}

export interface RunOutput {
  mseOut: number;
  mseRec: number[];
  dz: number[];
  aborted: boolean;
  seconds: number;
  device: string;
  minMargin: number;
  /** The readout training diverged (mse_out grew, or is not finite; with one epoch, its step raised the error): mse_out is no baseline. */
  readoutDiverged: boolean;
  kept?: Kept;
}

/** The engine's view of the params (SPEC symbols). */
export function netSizes(p: ResolvedParams): NetSizes {
  return {
    N: p.nRec, I: p.nInp, O: p.nOut, T: p.tSeq, R: p.rank ?? 0,
    feedback: p.feedback, dtype: p.dtype,
    tau_m: p.tauM, tau_s: p.tauS, tau_o: p.tauO,
    v_init: p.vInit, bias: p.bias, reset: p.reset, thr: p.thr,
    rec_lr: p.recLr, out_lr: p.outLr,
  };
}

/** What the engine takes for one network: its sizes, constants, matrices and task. */
export function netConfig(n: NetInput): NetConfig {
  return {
    ...netSizes(n.params),
    W_ih: n.W_ih, W_hh: n.W_hh, W_ho: n.W_ho, W_trg: n.W_trg, targ: n.targ, clock: n.clock,
  };
}

/** Entries of the feedback noise matrix: N×N for spk, N×R for out. */
export function noiseCount(p: ResolvedParams): number {
  return p.nRec * (p.feedback === 'out' ? (p.rank as number) : p.nRec);
}

/**
 * Most entries of one Float64Array: Node's limit is 2³² elements up to Node 21, and from Node 22
 * on 64-bit machines a byte length of 2⁵³ − 1.
 */
export const MAX_ARRAY = bufferConstants.MAX_LENGTH > 2 ** 32 ? Math.floor(bufferConstants.MAX_LENGTH / 8) : bufferConstants.MAX_LENGTH;

/**
 * Bytes a network takes: the engine's allocation, the float64 arrays the library draws, and
 * the per-epoch results (two JavaScript arrays, with room to grow).
 */
export function networkBytes(p: ResolvedParams): number {
  // The noise twice: drawn, and the binding's copy while the feedback is built.
  const drawn = 8 * (p.nRec * p.nRec + 2 * noiseCount(p) + (p.nInp + 2 * p.nOut) * p.nRec + p.tSeq * (p.nInp + p.nOut));
  return addon().bytesNeeded(netSizes(p)) + drawn + 24 * p.epochs[1];
}

/**
 * checkMemory, then holds the memory checked until the returned release is called, so that
 * runs started together (several train() calls at once) are checked against each other.
 * Networks this process may hold, but not in the memory available now (other programs hold
 * the rest), are warned of: the system may then swap, or end the process.
 */
export function reserveMemory(p: ResolvedParams, label: Labeller | undefined, warn: (message: string) => void, networks = 1, fewer?: string): () => void {
  const need = checkMemory(p, label, networks, fewer), available = availableMemory();
  if (need > available) {
    // Rounded so that what is needed never looks like what is there.
    const size = (bytes: number, round: (x: number) => number) =>
      bytes < GiB ? `${round(bytes / 2 ** 20)} MiB` : `${(round((bytes / GiB) * 10) / 10).toFixed(1)} GiB`;
    warn(`${networks === 1 ? 'the network needs' : `${networks} networks at once need`} ${size(need, Math.ceil)} of memory, and ${size(available, Math.floor)} ` +
      'are available now: the system may swap, or end this process for want of memory');
  }
  return hold(need);
}

/**
 * Refuses, before anything is drawn or allocated, networks this machine cannot hold —
 * `networks` of them at once (a sweep's threads or batch) — naming what makes one large: N
 * (the N×N matrices) or T with N or I (rasters, clock). Returns the bytes they need.
 */
export function checkMemory(p: ResolvedParams, label: Labeller = (n) => n, networks = 1, fewer = 'run fewer networks at once'): number {
  // Every matrix the library draws is one typed array, which Node caps (MAX_ARRAY) whatever the
  // memory (the feedback noise is at most N×N): the largest, with the sizes that make it.
  const drawn: [string, number, ParamName[]][] = [
    ['the recurrent matrix (N×N)', p.nRec * p.nRec, ['nRec']],
    ['the input matrix (N×I)', p.nRec * p.nInp, ['nRec', 'nInp']],
    ['the input (T×I)', p.tSeq * p.nInp, ['tSeq', 'nInp']],
    ['the target (T×O)', p.tSeq * p.nOut, ['tSeq', 'nOut']],
  ];
  const [matrix, entries, sizes] = drawn.reduce((a, b) => (b[1] > a[1] ? b : a));
  if (entries > MAX_ARRAY) {
    throw new GoalError('GOAL_ENOMEM', `${sizes.map((n) => `${label(n)}=${p[n]}`).join(', ')}: ${matrix} would have ${entries.toExponential(2)} ` +
      `entries; a JavaScript typed array holds at most ${MAX_ARRAY} in this Node.js (${process.version})`, sizes[0]);
  }
  const one = networkBytes(p), need = networks * one, have = memoryLimit();
  if (need + heldBytes() <= 0.9 * have) return need;
  const what = networks === 1 ? 'the network needs' : `${networks} networks at once need`;
  if (need <= 0.9 * have) {
    // It would fit alone: the runs of this process already in progress hold the rest.
    throw new GoalError('GOAL_ENOMEM', `${what} ${(need / GiB).toFixed(1)} GiB of memory, and the runs in progress in this ` +
      `process hold ${(heldBytes() / GiB).toFixed(1)} GiB of the ${(have / GiB).toFixed(1)} GiB it may use: wait for them to end`);
  }
  // Name the sizes behind the largest share: N alone (N×N), N with I (N×I), or T with N or I.
  const byN = networkBytes({ ...p, tSeq: 2, nInp: 1 });
  const byNI = networkBytes({ ...p, tSeq: 2 }) - byN;
  const byT = one - byN - byNI;
  const culprits: ParamName[] =
    byN >= byNI && byN >= byT ? ['nRec'] : byNI >= byT ? ['nRec', 'nInp'] : ['tSeq', p.nInp > p.nRec ? 'nInp' : 'nRec'];
  throw new GoalError(
    'GOAL_ENOMEM',
    `${culprits.map((n) => `${label(n)}=${p[n]}`).join(', ')}: ${what} ${(need / GiB).toFixed(1)} GiB of memory; ` +
      `${limitText(have)}` +
      `${need <= have ? `, of which a run may take 90%` : ''}` +
      `${networks > 1 && one <= 0.9 * have ? ` (${fewer})` : ''}`,
    culprits[0],
  );
}

/**
 * Checks the callbacks and signal of run options (a wrong type would fail mid-run), and returns
 * the copy the run uses (takeProperties'), so that what is checked is what is used.
 */
export function checkRunOptions<T extends object>(options: T | undefined, known: readonly string[]): T {
  const fail = (message: string, option?: string): never => {
    throw new GoalError('GOAL_INVALID_OPTION', message, option);
  };
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) fail(`options must be an object (got ${show(options)})`);
  const o = takeProperties(options, known);
  // A misspelt option would be ignored: a misspelt signal, a run that cannot be stopped.
  const unknown = Object.keys(o).find((k) => o[k] !== undefined && !known.includes(k));
  if (unknown !== undefined) fail(`unknown option ${showName(unknown)}${nearest(unknown, known)}; the options are ${known.join(', ')}`, unknown);
  // One rule for every option: left out (or undefined) is its default; null is not a value.
  const nulled = Object.keys(o).find((k) => o[k] === null);
  if (nulled !== undefined) fail(`options.${nulled} is null: leave it out for its default`, nulled);
  for (const name of ['onEpoch', 'onReadout', 'onWarning', 'onStart', 'onRow', 'label', 'optionLabel']) {
    if (o[name] !== undefined && typeof o[name] !== 'function') fail(`options.${name} must be a function (got ${show(o[name])})`, name);
  }
  if (o.signal !== undefined && !isAbortSignal(o.signal)) fail(`options.signal must be an AbortSignal (got ${show(o.signal)})`, 'signal');
  // Its value here, with the other options, before any param or task check; whether the
  // machine offers it is chooseBackend's, later.
  if (o.backend !== undefined && !BACKENDS.includes(o.backend as Backend)) fail(notOneOf('options.backend', BACKENDS, o.backend), 'backend');
  return o as T;
}

/** A real AbortSignal: Object.create(AbortSignal.prototype) passes instanceof, not its getters. */
function isAbortSignal(x: unknown): x is AbortSignal {
  if (!(x instanceof AbortSignal)) return false;
  try {
    return typeof x.aborted === 'boolean';
  } catch {
    return false;
  }
}

/** An error the caller's own code threw (a callback): it comes back as it was, never recoded. */
class FromCaller {
  constructor(readonly error: unknown) {}
}

/**
 * A call's warn: the caller's onWarning, else process.emitWarning. A warning is said from
 * synchronous code, so onWarning is not awaited there; a promise it returns is kept instead, and
 * its rejection rejects the call at settle() (never an unhandled rejection that ends the process).
 */
export function warnVia(onWarning: ((message: string) => unknown) | undefined): { warn: (message: string) => void; settle: () => Promise<void> } {
  const pending: Promise<unknown>[] = [];
  const warn = (message: string) => {
    if (!onWarning) {
      process.emitWarning(message, { code: 'GOAL_WARNING' });
      return;
    }
    const r = onWarning(message) as { then?: unknown } | undefined;
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
      const p = Promise.resolve(r);
      p.catch(() => {}); // handled: settle() rethrows it, or the call failed first
      pending.push(p);
    }
  };
  return { warn, settle: async () => void (await Promise.all(pending)) };
}

/** `say`, but each message only the first time: warnings that several steps (or points) give alike. */
export function onceEach(say: (message: string) => void): (message: string) => void {
  const said = new Set<string>();
  return (message) => {
    if (said.has(message)) return;
    said.add(message);
    say(message);
  };
}

/** Runs the caller's callback; what it throws is marked as the caller's. */
async function callerCode<T>(callback: () => T | Promise<T>): Promise<T> {
  try {
    return await callback();
  } catch (err) {
    throw new FromCaller(err);
  }
}

/** Aim of each native call, so progress and abort stay responsive at every size. */
const CALL_MS = 50;

/**
 * Runs `total` epochs as native calls of adaptive size (each about CALL_MS long, at least one
 * epoch, at most `most`). `run` gets the call's size and `elapsed(e)`: EpochInfo.seconds of its
 * epoch e, the call's time (up to the first ask) shared evenly among its epochs. Returns true
 * when stopped by the signal.
 */
async function inChunks(total: number, most: number, signal: AbortSignal | undefined, fixed1: boolean,
  run: (n: number, elapsed: (e: number) => number) => Promise<boolean>): Promise<boolean> {
  const start = performance.now();
  let done = 0, chunk = 1;
  while (done < total) {
    if (signal?.aborted) return true;
    const n = Math.min(chunk, total - done);
    const t0 = performance.now();
    let t1 = NaN;
    const elapsed = (e: number) => {
      if (Number.isNaN(t1)) t1 = performance.now();
      return (t0 - start + ((e + 1) / n) * (t1 - t0)) / 1000;
    };
    if (await run(n, elapsed)) return true; // aborted from onEpoch within the call: its later epochs left out
    const ms = performance.now() - t0;
    done += n;
    if (!fixed1) chunk = Math.max(1, Math.min(4 * n, most, Math.floor((n * CALL_MS) / Math.max(ms, 0.01))));
  }
  return false;
}

/**
 * Records the n epochs of one native call, each (`record`) then told (onEpoch with `info` of
 * it; a promise it returns is awaited). When onEpoch aborts the run, the run ends at that
 * epoch: the later ones of the call are left out, as if they had not run, and it returns true.
 * (An abort during the native call, or at its last epoch, keeps all n: the caller sees it
 * before the next call, and a run with none to come has not been stopped.)
 */
async function deliver(n: number, options: RunOptions, record: (e: number) => void, info: (e: number) => EpochInfo): Promise<boolean> {
  if (!options.onEpoch) {
    for (let e = 0; e < n; e++) record(e);
    return false;
  }
  const before = options.signal?.aborted;
  for (let e = 0; e < n; e++) {
    record(e);
    let back: unknown;
    try {
      back = options.onEpoch(info(e));
    } catch (err) {
      throw new FromCaller(err);
    }
    // Awaited only when it returns a promise: an await per epoch costs more than a small
    // network's epoch.
    if (typeof (back as PromiseLike<unknown> | null)?.then === 'function') await callerCode(() => back);
    // At the call's last epoch, inChunks decides: the run stops only if epochs remain.
    if (!before && e < n - 1 && options.signal?.aborted) return true;
  }
  return false;
}

/** How much the readout's error may rise by rounding alone (relative) before it counts as grown. */
const GROWN = 1e-3;

/** The median, NaN (a diverged run) counting as the worst value: the same whatever the order. */
export function median(xs: ArrayLike<number>): number {
  const all = Array.from(xs);
  const s = all.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  while (s.length < all.length) s.push(NaN);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A number in a message: six digits, in exponent form when it is large or small. */
const approx = (x: number, digits = 6): string =>
  Math.abs(x) >= 1e6 || (x !== 0 && Math.abs(x) < 1e-4) ? x.toExponential(digits - 1).replace(/\.?0+e/, 'e') : String(+x.toPrecision(digits));

/**
 * The warning for readouts that diverged. One network says the stable bound on out_lr of its
 * target (bound.ts, from its raster) and a step that converges: half the bound, which clears
 * the fastest-growing component in one epoch. A batch (a sweep's points, told once for all)
 * names none: one point run alone says its own. `after` is each readout's error after its
 * training (mse_out, or with `oneEpoch` the error the one step left).
 */
function divergedReadout(eng: Batch, nets: NetInput[], diverged: number[], after: number[], firstMse: number[], plan: RunPlan, oneEpoch: boolean): string {
  const [k0] = diverged;
  const { nRec: N, tSeq: T, tauO, outLr, dtype } = nets[k0].params;
  const label = plan.label ?? ((n: ParamName) => n);
  const lr = `${label('outLr')}=${outLr}`;
  const LAMBDA = 'λ: the largest eigenvalue of r*ᵀr*';
  if (plan.anonymous || nets.length > 1) {
    // One epoch's mse_out is measured before its step: it does not show the step's harm.
    const which = !plan.anonymous ? `in ${diverged.length} of ${nets.length} networks`
      : oneEpoch ? 'the one readout epoch raised the error, which the mse_out of the points, measured before its step, does not show' : 'see the mse_out of the points';
    return `the readout training diverged (${which}): ${lr} may be past the stable bound of their targets, 2/λ (${LAMBDA}); ` +
      `try a smaller ${label('outLr')} (a point run alone, with train or goal train, tells its bound)`;
  }
  const from = approx(firstMse[k0]), to = approx(after[k0]);
  const which = oneEpoch ? `the one readout epoch raised the mse from ${from} (mse_out, measured before its step) to ${to}`
    : `mse_out = ${to}${Number.isFinite(after[k0]) ? `, up from ${from} at the first epoch` : ''}`;
  let bound: number;
  try {
    bound = 2 / readoutLambda(eng.read(k0, 'Z_targ'), T, N, Math.exp(-1 / tauO));
  } catch {
    // A raster too large to read back (past a typed array's length): the run's results stand.
    return `the readout training diverged (${which}): try a smaller ${label('outLr')} than ${outLr}`;
  }
  // Below the bound the error cannot grow by the step: an ∞ came from the numbers themselves.
  if (!(bound < outLr)) return `the readout training diverged (${which}), though ${lr} is within this target's stable bound, 2/λ = ${approx(bound, 3)}: a value overflows ${dtype}`;
  // As many digits as it takes to show the bound below out_lr (0.00246 past 0.002458, not 0.00246).
  let digits = 3;
  while (digits < 17 && !(Number(approx(bound, digits)) < outLr)) digits++;
  return `the readout training diverged (${which}): ${lr} is past this target's stable bound, 2/λ = ${approx(bound, digits)} (${LAMBDA}); try ${label('outLr')} ≈ ${approx(bound / 2, 2)}`;
}

/** The device as an engine names it, known without one. */
export function deviceName(backend: NativeBackend): string {
  const { cpu, cuda } = nativeInfo();
  return backend === 'cpu' ? cpu.device : cuda.device ?? 'cuda';
}

/**
 * Runs SPEC.md's phases for one network, or for several in lockstep (one Batch, one native
 * call per chunk of epochs for all of them). The networks must share N, I, O, T, dtype, epochs
 * and learning rates.
 */
export async function runPhases(nets: NetInput[], plan: RunPlan, options: RunOptions = {}): Promise<RunOutput[]> {
  const t0 = performance.now();
  const K = nets.length;
  const p0 = nets[0].params;
  const [nReadout, nRecurrent] = p0.epochs;
  // A batch may mix networks that redraw their feedback every epoch with ones that keep their
  // one draw (a resampled sweep's LTTS points): each keeps to its own params.
  const redraw = nets.map((n) => n.params.resample);
  const resample = redraw.some(Boolean);
  // Epoch e of a call of n epochs (network-major), as progress tells it: the batch's median.
  const ofBatch = (values: ArrayLike<number>, n: number, e: number): number =>
    (K === 1 ? values[e] : median(nets.map((_, k) => values[k * n + e])));
  // A run stopped before its first epoch: nothing to report but where and how long.
  const nothing = (device: string, seconds: number): RunOutput[] =>
    nets.map(() => ({ mseOut: NaN, mseRec: [], dz: [], aborted: true, seconds, device, minMargin: NaN, readoutDiverged: false }));
  if (options.signal?.aborted) {
    // Aborted before it started: nothing is allocated, nothing runs.
    return nothing(deviceName(plan.backend), 0);
  }
  let eng: Batch;
  // Ends, with the run, a feedback draw for an epoch that will not run (stopped, or failed).
  const drawing = new AbortController();
  try {
    eng = new (addon().Batch)({ backend: plan.backend, threads: plan.threads, nets: nets.map(netConfig) });
  } catch (err) {
    throw asGoalError(err);
  }
  // The signal also reaches into a long native call that is not an epoch (a target run of many
  // steps, a D of N²R): the engine ends it early, and the call rejects with GOAL_ABORTED. Heard
  // only during such a call, so that an abort in the last readout call leaves the feedback a
  // replay reads; and through a signal of the run's own, as a sweep's threads share the caller's
  // (ten listeners on one signal make Node warn of a leak).
  const own = options.signal && AbortSignal.any([options.signal]);
  const stopEngine = () => eng.stop();
  const stoppedBy = async (start: () => Promise<void>): Promise<boolean> => {
    own?.addEventListener('abort', stopEngine, { once: true });
    try {
      await start();
      return false;
    } catch (err) {
      if (own?.aborted && (err as { code?: unknown } | null)?.code === 'GOAL_ABORTED') return true;
      throw err;
    } finally {
      own?.removeEventListener('abort', stopEngine);
    }
  };
  try {
    if (await stoppedBy(() => eng.targetRun())) return nothing(eng.device, (performance.now() - t0) / 1000);
    // With no readout epochs, mse_out is the error of the initial readout.
    const mseOut = nets.map((_, k) => (nReadout === 0 ? eng.readoutMse(k) : NaN));
    let readoutDone = 0;
    const firstMse = nets.map(() => NaN);
    let aborted = await inChunks(nReadout, eng.maxEpochs, options.signal, false, async (n, elapsed) => {
      const mse = await eng.readout(n);
      return deliver(n, options, (e) => {
        for (let k = 0; k < K; k++) {
          mseOut[k] = mse[k * n + e];
          if (readoutDone === 0) firstMse[k] = mseOut[k];
        }
        readoutDone++;
      }, (e) => ({ phase: 'readout', epoch: readoutDone, epochs: nReadout, mse: ofBatch(mse, n, e), seconds: elapsed(e) }));
    });
    // Stopped before the readout phase ended: the MSE so far is not mse_out, the trained readout's.
    if (readoutDone < nReadout) mseOut.fill(NaN);
    // Gradient descent on the readout's quadratic error only ever lowers it while out_lr is small
    // enough, and past that bound the error grows geometrically: one that grew by more than
    // rounding (or went to ∞ or NaN) is a step past the bound.
    // One epoch's mse is measured before its step: the error of the readout it left is the one to compare.
    const last = nReadout === 1 && !aborted ? nets.map((_, k) => eng.readoutMse(k)) : mseOut;
    const grown = (k: number) => last[k] > firstMse[k] * (1 + GROWN);
    const diverged = aborted ? [] : [...mseOut.keys()].filter((k) => !Number.isFinite(last[k]) || grown(k));
    if (diverged.length) {
      // Said by the engine's numbers (a failure to read them is the engine's), told by the caller's warn.
      const message = divergedReadout(eng, nets, diverged, last, firstMse, plan, nReadout === 1);
      await callerCode(() => plan.warn(message));
    }
    if (!aborted) await callerCode(() => options.onReadout?.(median(mseOut)));
    const mseRec: number[][] = nets.map(() => []), dz: number[][] = nets.map(() => []);
    // Stopped during the last readout call: no feedback is drawn (N² normals) for nothing.
    if (!aborted && nRecurrent > 0 && options.signal?.aborted) aborted = true;
    // Without recurrent epochs the feedback is built only for a caller that reads it (replay):
    // a dense D costs N²·R.
    if (!aborted && (nRecurrent > 0 || plan.keep)) {
      // An abort heard while the noise is drawn (N² normals, seconds at large N) stops the draw
      // and ends a run with epochs to come; a replay without any still builds the feedback it
      // reads.
      const until = nRecurrent > 0 ? options.signal : undefined;
      let noise = await Promise.all(nets.map((n) => n.noise(until))).catch((err: unknown) => {
        if (until?.aborted && (err as { code?: unknown } | null)?.code === 'GOAL_ABORTED') return [];
        throw err;
      });
      aborted = until?.aborted === true || await stoppedBy(() => eng.feedback(noise));
      if (!resample) noise = []; // no longer needed: let it go
      // With resample, the next epoch's noise (the first epoch's feedback is the one just built).
      let next: Promise<Float64Array[]> | null = null;
      if (!aborted) aborted = await inChunks(nRecurrent, eng.maxEpochs, options.signal, resample, async (n, elapsed) => {
        if (next) {
          noise = await next;
          next = null;
          if (options.signal?.aborted || await stoppedBy(() => eng.feedback(noise))) return true;
        }
        const running = eng.recurrent(n);
        if (resample && mseRec[0].length + n < nRecurrent) {
          // The next epoch's noise, drawn here while this epoch runs on a worker thread (the
          // same numbers in the same order: nothing else draws from these generators now).
          next = Promise.all(nets.map((net, k) => (redraw[k] ? net.noise(drawing.signal) : noise[k])));
          next.catch(() => {}); // a failure is met where it is awaited, not as an unhandled rejection
        }
        const r = await running;
        return deliver(n, options, (e) => {
          for (let k = 0; k < K; k++) {
            mseRec[k].push(r.mseRec[k * n + e]);
            dz[k].push(r.dz[k * n + e]);
          }
        }, (e) => ({
          phase: 'recurrent', epoch: mseRec[0].length, epochs: nRecurrent,
          mse: ofBatch(r.mseRec, n, e), dz: ofBatch(r.dz, n, e),
          seconds: elapsed(e),
        }));
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    return nets.map((net, k) => {
      const out: RunOutput = {
        mseOut: mseOut[k], mseRec: mseRec[k], dz: dz[k], aborted, seconds, device: eng.device, minMargin: eng.minMargin(k),
        readoutDiverged: diverged.includes(k),
      };
      if (plan.keep && !aborted) {
        out.kept = {
          zTarg: eng.read(k, 'Z_targ'),
          zLast: mseRec[k].length > 0 ? eng.read(k, 'Z_last') : null,
          wHo: eng.read(k, 'W_ho'),
          wHh: eng.read(k, 'W_hh'),
          feedback: eng.read(k, net.params.feedback === 'out' ? 'B' : 'D'),
        };
      }
      return out;
    });
  } catch (err) {
    throw err instanceof FromCaller ? err.error : asGoalError(err);
  } finally {
    drawing.abort();
    eng.dispose();
  }
}
