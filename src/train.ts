// train(): draw a network and its task from one seeded generator, then run SPEC.md's phases.
import { chooseBackend, DEFAULT_BACKEND, type Backend } from './backend';
import { asGoalError, GoalError } from './errors';
import { resolveParams, type Labeller, type Params, type ResolvedParams } from './params';
import { drain, drainAsync, Rng, randomSeed } from './rng';
import { checkRunOptions, noiseCount, reserveMemory, runPhases, warnVia, type NetInput, type RunOptions, type RunOutput } from './run';
import { buildClock, buildTarget, TARGET_SILENT_STEPS, targetInSlices } from './tasks';

export interface TrainOptions extends RunOptions {
  /** 'cpu' (default), 'cuda', or 'auto' (CUDA when available, else the CPU with one warning). */
  backend?: Backend;
  /** Where warnings go (default: process.emitWarning). */
  onWarning?: (message: string) => void;
  /** How parameters are named in messages (default: their library names; the CLI names its flags). */
  label?: Labeller;
}

/** Every option train() takes (a Record: the compiler holds it to TrainOptions). */
const TRAIN_OPTIONS = Object.keys({ onEpoch: 1, onReadout: 1, signal: 1, backend: 1, onWarning: 1, label: 1 } satisfies Record<keyof TrainOptions, 1>);

export interface TrainResult {
  /** Readout MSE of the last readout epoch (before its update). */
  mseOut: number;
  /** Readout MSE of the network after each recurrent epoch. */
  mseRec: number[];
  /** Spike error ΔZ = Σ|Z* − Z| of each recurrent epoch. */
  dz: number[];
  /** The seed every draw came from: pass it back to repeat the run bit for bit. */
  seed: number;
  backend: 'cpu' | 'cuda';
  /** e.g. "cpu:avx2". */
  device: string;
  dtype: ResolvedParams['dtype'];
  seconds: number;
  /** The params the run used, its seed included (drawn when none was given). */
  params: SeededParams;
  /** True when options.signal stopped the run; the lists then hold the epochs done. */
  aborted: boolean;
}

/** Everything a seed decides, in the order it is drawn: task, then W_ih, W_hh, W_ho, W_trg. */
export function drawNetwork(p: ResolvedParams, rng: Rng): Drawn {
  return drain(drawing(p, rng));
}

export interface Drawn {
  targ: Float64Array;
  clock: Float64Array;
  W_ih: Float64Array;
  W_hh: Float64Array;
  W_ho: Float64Array;
  W_trg: Float64Array;
}

/** drawNetwork's draws, the one place their order is written, pausing within large matrices. */
function* drawing(p: ResolvedParams, rng: Rng): Generator<void, Drawn> {
  const targ = (yield* targetInSlices(p.tSeq, p.nOut, rng)).data;
  const clock = buildClock(p.tSeq, p.nInp).data;
  const N = p.nRec;
  const W_ih = yield* rng.normalsInSlices(p.nInp * N, p.sigmaInp);
  const W_hh = yield* rng.normalsInSlices(N * N, p.sigmaRec);
  const W_ho = yield* rng.normalsInSlices(N * p.nOut);
  // SPEC's g/√N, divided as written: g·(1/√N) differs in the last bit for about a third of entries.
  const root = Math.sqrt(N);
  for (let k = 0; k < W_ho.length; k++) W_ho[k] /= root;
  const W_trg = yield* rng.normalsInSlices(p.nOut * N, p.sigmaTrg);
  return { targ, clock, W_ih, W_hh, W_ho, W_trg };
}

/** Params whose seed is fixed: everything a run's draws depend on. */
export type SeededParams = ResolvedParams & { seed: number };

/**
 * One network with its seed's draws and a source of feedback noise from the same stream. A
 * large network's draws leave the event loop free; when `signal` aborts meanwhile they stop,
 * and the matrices are left empty: runPhases, given the same signal, then runs nothing.
 */
export async function drawInput(p: SeededParams, label: Labeller = (n) => n, signal?: AbortSignal): Promise<NetInput> {
  const rng = new Rng(p.seed);
  let drawn: Drawn | null;
  try {
    drawn = await drainAsync(drawing(p, rng), signal);
  } catch (err) {
    throw seedError(err, p, label);
  }
  const none = new Float64Array(0);
  return {
    params: p,
    ...(drawn ?? { targ: none, clock: none, W_ih: none, W_hh: none, W_ho: none, W_trg: none }),
    noise: async (signal) => {
      const drawn = await drainAsync(rng.normalsInSlices(noiseCount(p)), signal);
      if (!drawn) throw new GoalError('GOAL_ABORTED', 'the feedback draw was stopped');
      return drawn;
    },
  };
}

/**
 * Rejects with GOAL_DEGENERATE_TASK when this seed's target is degenerate: drawn first, it is
 * cheap to check for every seed of a sweep, or before a run's warnings, before any network
 * trains. Resolves early (nothing checked) when `signal` aborts meanwhile.
 */
export async function checkTarget(p: SeededParams, label: Labeller = (n) => n, signal?: AbortSignal): Promise<void> {
  try {
    await drainAsync(targetInSlices(p.tSeq, p.nOut, new Rng(p.seed)), signal);
  } catch (err) {
    throw seedError(err, p, label);
  }
}

/** Too short a target fails with every seed: callers say so before any warning about the rest. */
export function checkTaskLength(p: ResolvedParams, label: Labeller = (n) => n): void {
  try {
    if (p.tSeq <= TARGET_SILENT_STEPS) buildTarget(p.tSeq, p.nOut, new Rng(0));
  } catch (err) {
    throw seedError(err, { ...p, seed: 0 }, label);
  }
}

/**
 * A failed draw as a GoalError; a degenerate target names T in the caller's terms, and the seed
 * as the seed it is (in a sweep, one of --seeds: "--seeds=4" would read as a count of 4).
 */
function seedError(err: unknown, p: SeededParams, label: Labeller): unknown {
  if (err instanceof GoalError && err.code === 'GOAL_DEGENERATE_TASK') {
    const seed = p.tSeq > TARGET_SILENT_STEPS ? ` and seed ${p.seed}` : ''; // short ones fail for every seed
    // buildTarget names its argument, tSeq; the caller's name for it may be a flag.
    return new GoalError(err.code, `${label('tSeq')}=${p.tSeq}${seed}: ${err.message.replace(/\btSeq\b/g, label('tSeq'))}`, err.param);
  }
  return asGoalError(err);
}

/** What train() takes: any of the params, N required; the others default (see `defaults`). */
export type TrainParams = Partial<Params> & Pick<Params, 'nRec'>;

/**
 * Trains one network as the paper does: readout epochs on the target spikes, then recurrent
 * epochs with the GOAL feedback. Rejects with a GoalError on bad params before any work.
 */
export async function train(params: TrainParams, options: TrainOptions = {}): Promise<TrainResult> {
  const o = checkRunOptions(options, TRAIN_OPTIONS);
  const { warn, settle } = warnVia(o.onWarning);
  const { params: p, warnings } = resolveParams(params, o.label);
  checkTaskLength(p, o.label);
  // Warnings are told once every check has passed: a run refused says why, and nothing else.
  const backend = chooseBackend(o.backend ?? DEFAULT_BACKEND.train, (m) => warnings.push(m));
  const seed = p.seed ?? randomSeed();
  const resolved = { ...p, seed };
  const release = reserveMemory(p, o.label, (m) => warnings.push(m));
  let out: RunOutput;
  try {
    const net = await drawInput(resolved, o.label, o.signal); // a degenerate target fails here
    warnings.forEach(warn);
    [out] = await runPhases([net], { backend, warn, label: o.label }, o);
  } finally {
    release();
  }
  await settle();
  return {
    mseOut: out.mseOut,
    mseRec: out.mseRec,
    dz: out.dz,
    seed,
    backend,
    device: out.device,
    dtype: resolved.dtype,
    seconds: out.seconds,
    params: resolved,
    aborted: out.aborted,
  };
}
