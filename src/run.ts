// The phases of SPEC.md "Training" on one network, one native call per chunk of epochs:
// target run → readout epochs → feedback → recurrent epochs. Shared by train() and replay().
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Net, NetSizes, NativeBackend } from '../binding';
import { asGoalError, GoalError } from './errors';
import { addon } from './native';
import type { ResolvedParams } from './params';

/** Progress of one epoch, reported after it ran. */
export interface EpochInfo {
  phase: 'readout' | 'recurrent';
  /** 1-based index within the phase. */
  epoch: number;
  epochs: number;
  mse: number;
  /** Spike error ΔZ = Σ|Z* − Z| (recurrent phase only). */
  dz?: number;
}

export interface RunOptions {
  onEpoch?: (info: EpochInfo) => void;
  /** Stops the run between epochs; the result then holds the epochs done and `aborted: true`. */
  signal?: AbortSignal;
}

export interface RunInput {
  params: ResolvedParams;
  backend: NativeBackend;
  W_ih: Float64Array;
  W_hh: Float64Array;
  W_ho: Float64Array;
  W_trg: Float64Array;
  targ: Float64Array;
  clock: Float64Array;
  /** Standard normals for the feedback (N×N spk, N×R out): once, or every epoch with resample. */
  noise: () => Float64Array;
  /** Read the final matrices and rasters back (replay). */
  keep?: boolean;
  warn: (message: string) => void;
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

/** Entries of the feedback noise matrix: N×N for spk, N×R for out. */
export function noiseCount(p: ResolvedParams): number {
  return p.nRec * (p.feedback === 'out' ? (p.rank as number) : p.nRec);
}

const GiB = 1024 ** 3;

/**
 * Refuses, before anything is drawn or allocated, a network this machine cannot hold: the
 * engine's allocation plus the float64 matrices and noise the library draws for it.
 */
export function checkMemory(p: ResolvedParams): void {
  const engine = addon().bytesNeeded(netSizes(p));
  const drawn = 8 * (p.nRec * p.nRec + noiseCount(p) + (p.nInp + 2 * p.nOut) * p.nRec);
  const need = engine + drawn, have = os.totalmem();
  if (need > 0.9 * have) {
    throw new GoalError(
      'GOAL_ENOMEM',
      `a network of nRec=${p.nRec} needs ${(need / GiB).toFixed(1)} GiB of memory; this machine has ${(have / GiB).toFixed(1)} GiB`,
      'nRec',
    );
  }
}

/** Aim of each native call, so progress and abort stay responsive at every size. */
const CALL_MS = 50;

/**
 * Runs `total` epochs as native calls of adaptive size (each about CALL_MS long, at least one
 * epoch). Returns true when stopped by the signal.
 */
async function inChunks(total: number, signal: AbortSignal | undefined, fixed1: boolean,
  run: (n: number) => Promise<void>): Promise<boolean> {
  let done = 0, chunk = 1;
  while (done < total) {
    if (signal?.aborted) return true;
    const n = Math.min(chunk, total - done);
    const t0 = performance.now();
    await run(n);
    const ms = performance.now() - t0;
    done += n;
    if (!fixed1) chunk = Math.max(1, Math.min(4 * n, Math.floor((n * CALL_MS) / Math.max(ms, 0.01))));
  }
  return false;
}

export async function runPhases(input: RunInput, options: RunOptions = {}): Promise<RunOutput> {
  const p = input.params;
  const [nReadout, nRecurrent] = p.epochs;
  const t0 = performance.now();
  let net: Net;
  try {
    net = new (addon().Net)({
      ...netSizes(p), backend: input.backend,
      W_ih: input.W_ih, W_hh: input.W_hh, W_ho: input.W_ho, W_trg: input.W_trg, targ: input.targ, clock: input.clock,
    });
  } catch (err) {
    throw asGoalError(err);
  }
  try {
    await net.targetRun();
    // With no readout epochs, mse_out is the error of the initial readout.
    let mseOut = nReadout === 0 ? net.readoutMse() : NaN;
    let readoutDone = 0;
    let aborted = await inChunks(nReadout, options.signal, false, async (n) => {
      for (const m of await net.readout(n)) {
        mseOut = m;
        options.onEpoch?.({ phase: 'readout', epoch: ++readoutDone, epochs: nReadout, mse: m });
      }
    });
    if (!Number.isFinite(mseOut)) {
      input.warn(`the readout training diverged (mse_out = ${mseOut}): outLr=${p.outLr} is too large for nRec=${p.nRec}; ` +
        `try outLr ≈ ${+(0.375 / p.nRec).toPrecision(2)} (0.0025·150/N)`);
    }
    const mseRec: number[] = [], dz: number[] = [];
    if (!aborted) {
      if (!p.resample) await net.feedback(input.noise());
      aborted = await inChunks(nRecurrent, options.signal, p.resample, async (n) => {
        if (p.resample) await net.feedback(input.noise());
        const r = await net.recurrent(n);
        for (let k = 0; k < n; k++) {
          mseRec.push(r.mseRec[k]);
          dz.push(r.dz[k]);
          options.onEpoch?.({ phase: 'recurrent', epoch: mseRec.length, epochs: nRecurrent, mse: r.mseRec[k], dz: r.dz[k] });
        }
      });
    }
    const out: RunOutput = {
      mseOut, mseRec, dz, aborted,
      seconds: (performance.now() - t0) / 1000,
      device: net.device,
      minMargin: net.minMargin,
    };
    if (input.keep && !aborted) {
      out.kept = {
        zTarg: net.read('Z_targ'),
        zLast: mseRec.length > 0 ? net.read('Z_last') : null,
        wHo: net.read('W_ho'),
        wHh: net.read('W_hh'),
        feedback: net.read(p.feedback === 'out' ? 'B' : 'D'),
      };
    }
    return out;
  } catch (err) {
    throw asGoalError(err);
  } finally {
    net.dispose();
  }
}
