// The generator behind every draw, against its algorithms' published reference values (the
// fixtures give every draw themselves, so they cannot catch a wrong generator) and against
// the distributions it promises, with bounds of five standard errors on a fixed seed.
import t from 'tap';
import { Rng } from '../src/index';
import { MAX_NORMAL } from '../src/rng';

type State = { s0: number; s1: number; s2: number; s3: number };
const state = (rng: Rng) => rng as unknown as State;

t.test('seeding: SplitMix64 of the seed, its first two outputs split into four 32-bit words', async (t) => {
  // SplitMix64 (Steele, Lea & Flood; Vigna's splitmix64.c) from 1234567 begins
  // 6457827717110365317, 3203168211198807973 (the published test vector, e.g. Rosetta Code's).
  const words = (x: bigint) => [Number(x & 0xffffffffn) | 0, Number(x >> 32n) | 0];
  const [s0, s1] = words(6457827717110365317n), [s2, s3] = words(3203168211198807973n);
  const st = state(new Rng(1234567));
  t.strictSame([st.s0, st.s1, st.s2, st.s3], [s0, s1, s2, s3]);
});

t.test('uint32 is xoshiro128** (Blackman & Vigna)', async (t) => {
  // From the state {1, 2, 3, 4}: the reference C implementation's first ten outputs (the test
  // vector the rand_xoshiro crate checks its port against).
  const rng = new Rng(0);
  Object.assign(rng, { s0: 1, s1: 2, s2: 3, s3: 4 });
  const got = Array.from({ length: 10 }, () => rng.uint32());
  t.strictSame(got, [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
});

t.test('uniform: 53 bits from two outputs, on [0, 1), mean 1/2 and variance 1/12', async (t) => {
  const rng = new Rng(7), twin = new Rng(7);
  for (let k = 0; k < 100; k++) {
    const a = twin.uint32() >>> 5, b = twin.uint32() >>> 6;
    const want = (a * 2 ** 26 + b) / 2 ** 53;
    if (rng.uniform() !== want) t.fail(`draw ${k}: not (a·2²⁶ + b)/2⁵³ of the next two outputs`);
  }
  const n = 1_000_000;
  let sum = 0, sq = 0, lo = 1, hi = 0;
  for (let k = 0; k < n; k++) {
    const u = rng.uniform();
    sum += u;
    sq += (u - 0.5) ** 2;
    lo = Math.min(lo, u);
    hi = Math.max(hi, u);
  }
  t.ok(lo >= 0 && hi < 1, `every draw in [0, 1) (${lo} … ${hi})`);
  t.ok(lo < 1e-4 && hi > 1 - 1e-4, 'and the whole interval is reached');
  t.ok(Math.abs(sum / n - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${sum / n}`);
  // Var((u − ½)²) = 1/80 − 1/144 for a uniform u.
  t.ok(Math.abs(sq / n - 1 / 12) < 5 * Math.sqrt((1 / 80 - 1 / 144) / n), `variance ${sq / n}`);
});

t.test('normal: standard normal moments and tails, bounded by MAX_NORMAL', async (t) => {
  const n = 1_000_000;
  const g = new Rng(11).normals(n);
  let sum = 0, sq = 0, fourth = 0, tail = 0, big = 0;
  for (const x of g) {
    sum += x;
    sq += x * x;
    fourth += x ** 4;
    if (Math.abs(x) > 1.959963984540054) tail++;
    big = Math.max(big, Math.abs(x));
  }
  t.ok(Math.abs(sum / n) < 5 / Math.sqrt(n), `mean ${sum / n}`);
  t.ok(Math.abs(sq / n - 1) < 5 * Math.sqrt(2 / n), `variance ${sq / n}`); // Var(g²) = 2
  t.ok(Math.abs(fourth / n - 3) < 5 * Math.sqrt(96 / n), `fourth moment ${fourth / n}`); // Var(g⁴) = 105 − 9
  t.ok(Math.abs(tail / n - 0.05) < 5 * Math.sqrt((0.05 * 0.95) / n), `P(|g| > 1.96) = ${tail / n}`);
  t.ok(big > 4 && big <= MAX_NORMAL, `largest |g| ${big}: tails reached, within MAX_NORMAL`);
  // Successive draws are uncorrelated (the polar method's pairs included).
  let lag = 0;
  for (let k = 1; k < n; k++) lag += g[k] * g[k - 1];
  t.ok(Math.abs(lag / n) < 5 / Math.sqrt(n), `lag-1 correlation ${lag / n}`);
});

t.test('normals(count, scale) is count draws of normal(), each times scale, in order', async (t) => {
  const a = new Rng(3), b = new Rng(3);
  const got = a.normals(9, 0.5);
  t.strictSame(Array.from(got), Array.from({ length: 9 }, () => 0.5 * b.normal()));
  t.equal(a.normal(), b.normal(), 'and both streams go on alike (the spare of a pair kept)');
});
