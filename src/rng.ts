// The one seeded generator behind every random draw (tasks, matrices, feedback noise):
// xoshiro128** (Blackman & Vigna) seeded through SplitMix64, uniform doubles from 53 bits,
// standard normals by Marsaglia's polar method. Pure integer arithmetic plus Math.log and
// Math.sqrt, so a seed gives the same stream on every machine running the same Node.js.
import { randomInt } from 'node:crypto';
import { GoalError } from './errors';
import { GiB, limitText, memoryLimit } from './memory';
import { checkInteger, MAX_SEED, show } from './params';

/**
 * No normal() exceeds this: the polar method's |u·f| ≤ √s·√(−2 ln s / s) = √(−2 ln s), and
 * with 53-bit uniforms u and v are multiples of 2⁻⁵², so s ≥ 2⁻¹⁰⁴ and |g| ≤ √(208 ln 2)
 * ≈ 12.0075. A scale is checked against it, once, for every seed.
 */
export const MAX_NORMAL = 12.01;

const MASK64 = (1n << 64n) - 1n;

function splitmix64(state: { s: bigint }): bigint {
  state.s = (state.s + 0x9e3779b97f4a7c15n) & MASK64;
  let z = state.s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

export class Rng {
  readonly seed: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  constructor(seed: number) {
    checkInteger('seed', seed, 0, MAX_SEED);
    this.seed = seed;
    const st = { s: BigInt(seed) };
    const a = splitmix64(st), b = splitmix64(st);
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
  }

  /** Next 32 random bits, as an unsigned integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform on [0, 1), 53 random bits. */
  uniform(): number {
    const hi = this.uint32() >>> 5, lo = this.uint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal, |g| < MAX_NORMAL. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1, v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        this.spare = v * f;
        return u * f;
      }
    }
  }

  /** `count` standard normals times `scale` (row-major fill of a matrix). */
  normals(count: number, scale = 1): Float64Array {
    return drain(this.normalsInSlices(count, scale));
  }

  /**
   * normals() as a generator that pauses after every SLICE numbers (the same numbers, in the
   * same order): a large matrix is then drawn without holding the event loop (drainAsync).
   */
  *normalsInSlices(count: number, scale = 1): Generator<void, Float64Array> {
    // A public method: a bad count is a coded error, not V8's RangeError or an empty draw.
    if (!Number.isSafeInteger(count) || count < 0) throw new GoalError('GOAL_INVALID_OPTION', `normals: count must be an integer ≥ 0 (got ${show(count)})`);
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new GoalError('GOAL_INVALID_OPTION', `normals: scale must be a finite number (got ${show(scale)})`);
    const out = allocate(count);
    for (let start = 0; start < count; start += SLICE) {
      const end = Math.min(count, start + SLICE);
      for (let k = start; k < end; k++) out[k] = scale * this.normal();
      if (end < count) yield;
    }
    return out;
  }
}

/** A Float64Array of `count` entries; one too large for memory is GOAL_ENOMEM. */
export function allocate(count: number): Float64Array {
  // Zeroed lazily, such an array is granted, and the process killed as it is filled (the OOM
  // killer): refused as a network that large is (checkMemory). A network's own arrays pass,
  // each a part of what was checked for it.
  const bytes = 8 * count, have = memoryLimit();
  if (bytes > 0.9 * have) {
    throw new GoalError('GOAL_ENOMEM', `not enough memory for an array of ${count} numbers (${(bytes / GiB).toFixed(1)} GiB; ` +
      `${limitText(have)}, of which an array may take 90%); try a smaller N or T`);
  }
  try {
    return new Float64Array(count);
  } catch (err) {
    // Said with the array's size: the public draws and task builders allocate for no network.
    if (!(err instanceof RangeError)) throw err;
    throw new GoalError('GOAL_ENOMEM', `not enough memory for an array of ${count} numbers (${((8 * count) / 2 ** 30).toFixed(1)} GiB; ` +
      `${err.message}); try a smaller N or T, or raise the memory limit`);
  }
}

/** Normals drawn between two pauses of a sliced draw: about 20 ms of work. */
export const SLICE = 1 << 19;

/** Runs a sliced draw to its end at once. */
export function drain<T>(draw: Generator<void, T>): T {
  for (;;) {
    const r = draw.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs a sliced draw, letting the event loop run (timers, signals, I/O) at every pause. With a
 * signal that aborts meanwhile, it stops there and resolves to null.
 */
export function drainAsync<T>(draw: Generator<void, T>): Promise<T>;
export function drainAsync<T>(draw: Generator<void, T>, signal?: AbortSignal): Promise<T | null>;
export async function drainAsync<T>(draw: Generator<void, T>, signal?: AbortSignal): Promise<T | null> {
  for (;;) {
    const r = draw.next();
    if (r.done) return r.value;
    await new Promise((resolve) => setImmediate(resolve));
    if (signal?.aborted) return null;
  }
}

/** A fresh seed for a run that was given none (reported back so it can be repeated). */
export function randomSeed(): number {
  return randomInt(0, 2 ** 32);
}
