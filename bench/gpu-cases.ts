// What bench/gpu.ts and the device check (bench/gpu-check.ts) run on a GPU: parity cases that
// put the CUDA backend beside the CPU engine (the oracle) on the same inputs, and the timings.
// Shared so the numbers in a report and in `npm run bench:gpu` come from the same code.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NativeBackend } from '../binding';
import { REPLAY_TOLERANCE, replay, train, type JsonFixture, type TrainParams } from '../src/index';
import { packageRoot } from '../src/native';
import { drawMember, readyBatch, readyNet, scaledOutLr, timeRecurrent } from './common';

/**
 * The engine under test: CUDA; `GOAL_REHEARSE=1` puts the CPU in its place, to rehearse the
 * device check's whole path (every case, table and report) on a machine without a GPU.
 */
export const GPU: NativeBackend = process.env.GOAL_REHEARSE === '1' ? 'cpu' : 'cuda';

/**
 * Whether a network runs on the CUDA block path, one block per network (cuda_kernels.cuh's
 * block_max_n): the device check leaves these cases out when its first run hung there.
 */
export const onBlockPath = (p: TrainParams): boolean => (p.nRec ?? 0) <= (p.dtype === 'float64' ? 160 : 224);

/** One GPU-vs-CPU comparison: the largest difference over the compared fields. */
export interface ParityRow {
  name: string;
  /** Compared fields, e.g. "mse_rec, W_hh". */
  fields: string;
  maxAbs: number;
  maxRel: number;
  tolerance: number;
  /** Whether every compared raster (or dz, the spike-count difference) is identical. */
  spikesEqual: boolean;
  ok: boolean;
}

/**
 * The largest difference over the fields (array pairs), and the largest relative one, each field
 * relative to its own largest value (an MSE of 0.1 is not judged on the scale of a weight of 5).
 * A diverged network is NaN on both engines (with other NaN bits: the GPU's canonical NaN is not
 * x86's): NaN where both are NaN agrees, NaN on one side only is an infinite difference.
 */
function diff(pairs: [ArrayLike<number>, ArrayLike<number>][]): { maxAbs: number; maxRel: number } {
  let maxAbs = 0, maxRel = 0;
  for (const [a, b] of pairs) {
    if (a.length !== b.length) return { maxAbs: Infinity, maxRel: Infinity };
    let d = 0, s = 0;
    for (let i = 0; i < a.length; i++) {
      if (Number.isNaN(a[i]) || Number.isNaN(b[i])) {
        if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return { maxAbs: Infinity, maxRel: Infinity };
        continue;
      }
      d = Math.max(d, Math.abs(a[i] - b[i]));
      s = Math.max(s, Math.abs(b[i]));
    }
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d === 0 ? 0 : d / s);
  }
  return { maxAbs, maxRel };
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i]) || x === b[i]);

function row(name: string, fields: string, pairs: [ArrayLike<number>, ArrayLike<number>][], tolerance: number,
  spikesEqual: boolean): ParityRow {
  const { maxAbs, maxRel } = diff(pairs);
  return { name, fields, maxAbs, maxRel, tolerance, spikesEqual, ok: spikesEqual && maxRel <= tolerance };
}

/**
 * Tolerances against the CPU (test/gpu.test.ts says why). Block path (N ≤ 224 float32, ≤ 160
 * float64): the CPU's operations in the CPU's order (exp included: goal_math.h's own), so the
 * fixtures' own contract holds: spikes exact, float64 1e-9, float32 1e-4. Grid path: sums over
 * rows in 8 ranges; float64 keeps that contract; float32 may flip a spike with |v' − thr| ~ 1e-6,
 * so there dz may differ by 0.2% of T·N, and statistics by 1e-3 while dz is equal, 1e-2 once it
 * is not ("close"). Measured on the CPU, other roundings standing in for the GPU's other order
 * (W_hh nudged by one float32 ulp at random): of 25 nudges of the N=4000 rank-20 case below, 5
 * flipped one spike of the target raster, which moved mse_out by 1.5e-3 and mse_rec by 3.2e-3
 * (dz by 0.01% of T·N); the N=300 and N=500 cases flipped none.
 */
export const GPU_TOLERANCE = REPLAY_TOLERANCE;
export const CLOSE = { rel: 1e-3, flipped: 1e-2, dzFraction: 0.002 };
/** The "close" bound on the statistics: looser once a flipped spike shows in dz. */
export const closeRel = (dzEqual: boolean): number => (dzEqual ? CLOSE.rel : CLOSE.flipped);

/** Every reference fixture replayed on both backends: rasters, statistics and matrices. */
export async function fixtureParity(names: string[]): Promise<ParityRow[]> {
  const dir = path.join(packageRoot(), 'test', 'fixtures', 'reference');
  const rows: ParityRow[] = [];
  for (const name of names) {
    const fx = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as JsonFixture;
    const quiet = { onWarning: () => {} };
    const g = await replay(fx, { ...quiet, backend: GPU }), c = await replay(fx, { ...quiet, backend: 'cpu' });
    const spikes = same(g.zTarg.flat(), c.zTarg.flat()) && same((g.zLast ?? []).flat(), (c.zLast ?? []).flat()) &&
      same(g.dz, c.dz);
    const fb: [number[], number[]] = g.D ? [g.D.flat(), c.D!.flat()] : [g.B!.flat(), c.B!.flat()];
    rows.push(row(`fixture ${name} (${fx.dtype})`, 'mse_out, mse_rec, W_ho, D or B, W_hh',
      [[[g.mseOut], [c.mseOut]], [g.mseRec, c.mseRec], [g.wHoTrained.flat(), c.wHoTrained.flat()], fb,
        [g.wHhFinal.flat(), c.wHhFinal.flat()]],
      GPU_TOLERANCE[fx.dtype], spikes));
  }
  return rows;
}

/** train() with the same seed on both backends: dz per epoch and the MSE curves. */
export async function seedParity(name: string, params: TrainParams, exact = true): Promise<ParityRow> {
  const quiet = { onWarning: () => {} };
  const g = await train(params, { ...quiet, backend: GPU }), c = await train(params, { ...quiet, backend: 'cpu' });
  const pairs: [ArrayLike<number>, ArrayLike<number>][] = [[[g.mseOut], [c.mseOut]], [g.mseRec, c.mseRec]];
  if (exact) return row(name, 'mse_out, mse_rec', pairs, GPU_TOLERANCE[g.dtype], same(g.dz, c.dz));
  const dzEqual = same(g.dz, c.dz);
  const r = row(name, 'mse_out, mse_rec (close)', pairs, closeRel(dzEqual), dzEqual);
  const TN = g.params.tSeq * g.params.nRec;
  r.ok = r.maxRel <= r.tolerance && g.dz.every((d, k) => Math.abs(d - c.dz[k]) <= CLOSE.dzFraction * TN);
  return r;
}

/** The parity cases of the device check and of bench:gpu, both paths, both dtypes: [name, params, exact]. */
export const SEED_CASES: [string, TrainParams, boolean][] = [
  ['block path: N=150 LTTS float32', { nRec: 150, epochs: [200, 10], dtype: 'float32', seed: 1 }, true],
  ['block path: N=150 rank 5 float32', { nRec: 150, epochs: [200, 10], dtype: 'float32', rank: 5, seed: 2 }, true],
  ['block path: N=150 rank 150 (u@D) float32', { nRec: 150, epochs: [200, 10], dtype: 'float32', rank: 150, seed: 3 }, true],
  ['block path: N=150 out rank 10 float32', { nRec: 150, epochs: [200, 10], dtype: 'float32', rank: 10, feedback: 'out', seed: 4 }, true],
  ['block path: N=100 rank 20 float64', { nRec: 100, epochs: [200, 10], dtype: 'float64', rank: 20, seed: 5 }, true],
  ['grid path: N=300 LTTS float64', { nRec: 300, epochs: [200, 3], dtype: 'float64', outLr: scaledOutLr(300), seed: 6 }, true],
  ['grid path: N=300 rank 30 float64', { nRec: 300, epochs: [200, 3], dtype: 'float64', rank: 30, outLr: scaledOutLr(300), seed: 7 }, true],
  ['grid path: N=300 rank 200 (u@D) float64', { nRec: 300, epochs: [200, 3], dtype: 'float64', rank: 200, outLr: scaledOutLr(300), seed: 8 }, true],
  ['grid path: N=300 out rank 12 float64', { nRec: 300, epochs: [200, 3], dtype: 'float64', rank: 12, feedback: 'out', outLr: scaledOutLr(300), seed: 9 }, true],
  ['grid path: N=500 LTTS float32', { nRec: 500, epochs: [200, 3], dtype: 'float32', outLr: scaledOutLr(500), seed: 10 }, false],
  ['grid path: N=500 rank 400 (u@D) float32', { nRec: 500, epochs: [200, 3], dtype: 'float32', rank: 400, outLr: scaledOutLr(500), seed: 11 }, false],
  // W_hh past the chip (an H200 keeps ≈ 30 MB of tiles on chip): the kernels the N=4000 and
  // N=8192 timings run.
  ['grid path, W_hh off chip: N=4000 LTTS float64', { nRec: 4000, tSeq: 50, epochs: [10, 2], dtype: 'float64', outLr: scaledOutLr(4000), seed: 12 }, true],
  ['grid path, W_hh off chip: N=4000 rank 20 float32', { nRec: 4000, tSeq: 50, epochs: [10, 2], dtype: 'float32', rank: 20, outLr: scaledOutLr(4000), seed: 13 }, false],
];

/** A CUDA batch against its networks run alone on CUDA: must be equal bit for bit. */
export async function batchParity(name: string, members: TrainParams[], epochs: number): Promise<ParityRow> {
  const nets = await Promise.all(members.map(drawMember));
  const b = await readyBatch(nets, GPU, 20);
  const r = await b.recurrent(epochs);
  const pairs: [ArrayLike<number>, ArrayLike<number>][] = [];
  let spikes = true;
  for (let k = 0; k < nets.length; k++) {
    const alone = await readyBatch([nets[k]], GPU, 20);
    const r1 = await alone.recurrent(epochs);
    pairs.push([r.mseRec.subarray(k * epochs, (k + 1) * epochs), r1.mseRec], [b.read(k, 'W_hh'), alone.read(0, 'W_hh')]);
    spikes &&= same(r.dz.subarray(k * epochs, (k + 1) * epochs), r1.dz) && same(b.read(k, 'Z_last'), alone.read(0, 'Z_last'));
    alone.dispose();
  }
  b.dispose();
  return row(name, 'mse_rec, W_hh (batch vs alone)', pairs, 0, spikes);
}

export const BATCH_CASES: [string, TrainParams[], number][] = [
  ['batch vs alone, block path N=150 (LTTS, rank 5, rank 150, out 10; τ⋆ 2..20)', [
    { nRec: 150, seed: 11, tauO: 2 }, { nRec: 150, seed: 12, rank: 5, tauO: 5 },
    { nRec: 150, seed: 13, rank: 150, tauO: 10 }, { nRec: 150, seed: 14, rank: 10, feedback: 'out', tauO: 20 },
  ], 5],
  ['batch vs alone, grid path N=400 (LTTS, rank 30, rank 300)', [
    { nRec: 400, seed: 21, outLr: scaledOutLr(400) }, { nRec: 400, seed: 22, rank: 30, outLr: scaledOutLr(400) },
    { nRec: 400, seed: 23, rank: 300, outLr: scaledOutLr(400) },
  ], 3],
];

/** Milliseconds per recurrent epoch of one network of N units (T=150, float32, LTTS). */
export async function msPerEpoch(N: number, backend: NativeBackend, epochs: number): Promise<number> {
  const net = await readyNet({ nRec: N, tSeq: 150, seed: 1, dtype: 'float32', outLr: scaledOutLr(N) }, backend);
  try {
    return await timeRecurrent(net, epochs);
  } finally {
    net.dispose();
  }
}

/** Epochs per timed call, so that a call lasts roughly 50–200 ms on each engine. */
export const SINGLE_SIZES: { N: number; gpuEpochs: number; cpuEpochs: number | null }[] = [
  { N: 150, gpuEpochs: 500, cpuEpochs: 200 },
  { N: 500, gpuEpochs: 200, cpuEpochs: 40 },
  { N: 1000, gpuEpochs: 100, cpuEpochs: 8 },
  { N: 2000, gpuEpochs: 40, cpuEpochs: 2 },
  { N: 4000, gpuEpochs: 10, cpuEpochs: null },
  { N: 8192, gpuEpochs: 4, cpuEpochs: null },
];

/**
 * The paper's Figure 2 grid: 11 ranks (LTTS and 3…150) × 10 values of τ⋆ (1…10 dt) × 10 seeds
 * = 1100 networks of N=150, T=150, float32.
 */
export function paperGrid(): TrainParams[] {
  const ranks: (number | null)[] = [null, 3, 19, 34, 49, 64, 79, 94, 109, 124, 150];
  const nets: TrainParams[] = [];
  for (const rank of ranks)
    for (let tauO = 1; tauO <= 10; tauO++)
      for (let seed = 1; seed <= 10; seed++) nets.push({ nRec: 150, tSeq: 150, dtype: 'float32', rank, tauO, seed });
  return nets;
}

/** Network-epochs per second of a lockstep batch (recurrent epochs only, after a warm-up). */
export async function batchThroughput(members: TrainParams[], backend: NativeBackend, epochs: number,
  rounds = 3): Promise<number> {
  const nets = await Promise.all(members.map(drawMember));
  const b = await readyBatch(nets, backend, 50, backend === 'cpu' ? os.availableParallelism() : 1);
  try {
    await b.recurrent(1);
    let best = Infinity;
    for (let k = 0; k < rounds; k++) {
      const t0 = process.hrtime.bigint();
      await b.recurrent(epochs);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return (members.length * epochs) / best;
  } finally {
    b.dispose();
  }
}

/** Formats a number for the tables. */
export const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : String(x));
