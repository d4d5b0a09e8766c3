// The ND-trajectory task of SPEC.md "The task": a smooth target y* and a clock input x.
import { GoalError } from './errors';
import { checkInteger, MAX_SIZE, show, type ParamName } from './params';
import { allocate, drain, Rng, SLICE } from './rng';

/** A row-major matrix. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Frequencies of the four sine components of every target trace. */
export const TARGET_FREQUENCIES = Object.freeze([1, 2, 3, 5] as const);
/** Leading steps of the target set to zero. */
export const TARGET_SILENT_STEPS = 8;

/** A size argument of the exported task builders, checked as resolveParams checks the param. */
const size = (name: ParamName, value: unknown, lo: number): number => checkInteger(name, value, lo, MAX_SIZE);

/**
 * y* (T × O): for each output, amplitudes A_q ~ U(0,1) then phases P_q ~ U(0,2π) (drawn in
 * that order, output by output), y*_o(n) = Σ_q A_q sin(F_q t_n + P_q) on t_n = 2πn/(T−1);
 * the first 8 steps zeroed; the whole array divided by its (signed) maximum.
 */
export function buildTarget(tSeq: number, nOut: number, rng: Rng): Matrix {
  return drain(targetInSlices(tSeq, nOut, rng));
}

/** Target entries between two pauses of targetInSlices (four sines each). */
const TARGET_SLICE = SLICE / 4;

/** buildTarget as a sliced draw (drainAsync): a long task leaves the event loop free. */
export function* targetInSlices(tSeq: number, nOut: number, rng: Rng): Generator<void, Matrix> {
  const T = size('tSeq', tSeq, 2), O = size('nOut', nOut, 1);
  if (!(rng instanceof Rng)) throw new GoalError('GOAL_INVALID_PARAM', `buildTarget(tSeq, nOut, rng): rng must be an Rng (got ${show(rng)})`);
  const data = allocate(T * O);
  let work = 0;
  for (let o = 0; o < O; o++) {
    const A = TARGET_FREQUENCIES.map(() => rng.uniform());
    const P = TARGET_FREQUENCIES.map(() => 2 * Math.PI * rng.uniform());
    for (let n = TARGET_SILENT_STEPS; n < T; n++) {
      const t = (2 * Math.PI * n) / (T - 1);
      let y = 0;
      for (let q = 0; q < TARGET_FREQUENCIES.length; q++) y += A[q] * Math.sin(TARGET_FREQUENCIES[q] * t + P[q]);
      data[n * O + o] = y;
      if (++work % TARGET_SLICE === 0) yield;
    }
  }
  let max = -Infinity;
  for (const y of data) max = Math.max(max, y);
  if (!(max > 0)) {
    const why = T <= TARGET_SILENT_STEPS
      ? `every step is zeroed when tSeq ≤ ${TARGET_SILENT_STEPS}`
      : `the first ${TARGET_SILENT_STEPS} of its ${T} steps are zeroed and this draw stays ≤ 0 on the rest`;
    throw new GoalError(
      'GOAL_DEGENERATE_TASK',
      `the target is degenerate: its largest value is ${max}, not positive (${why}); ${T <= TARGET_SILENT_STEPS ? `use tSeq ≥ ${TARGET_SILENT_STEPS + 1}` : 'use a longer tSeq or another seed'}`,
      'tSeq',
    );
  }
  for (let k = 0; k < data.length; k++) data[k] /= max;
  return { rows: T, cols: O, data };
}

/** x ((T−1) × I): unit k is 1 on steps [k·span, (k+1)·span), span = floor((T−1)/I). */
export function buildClock(tSeq: number, nInp: number): Matrix {
  const rows = size('tSeq', tSeq, 2) - 1, I = size('nInp', nInp, 1);
  const span = Math.floor(rows / I);
  const data = allocate(rows * I);
  for (let k = 0; k < I; k++) {
    for (let t = k * span; t < (k + 1) * span; t++) data[t * I + k] = 1;
  }
  return { rows, cols: I, data };
}
