// Closed-form checks on one neuron with constant input (no recurrence, no drive): the
// membrane, spike times, readout filter and readout update computed by hand.
import t from 'tap';
import { buildClock, buildTarget, replay, Rng, type Fixture } from '../src/index';

const a_m = Math.exp(-1 / 8), a_o = Math.exp(-1 / 5);
const V0 = -4, BIAS = -4, RESET = -20;

/** A one-unit fixture: x = 1 at every step, input weight w, targ y* given, W_ho = [[1]]. */
function oneNeuron(T: number, w: number, targ: number[], epochs: [number, number]): Fixture {
  return {
    dtype: 'float64',
    params: {
      n_rec: 1, n_inp: 1, n_out: 1, t_seq: T, epochs, rank: null, feedback: 'spk',
      tau_m: 8, tau_s: 2, tau_o: 5, Vo: V0, bias: BIAS, reset: RESET, thr: 0, rec_lr: 0, out_lr: 0.01, resample: false,
    },
    init: { W_ih: [[w]], W_hh: [[0]], W_ho: [[1]], W_trg: [[0]], B_noise: [[0]] },
    task: { targ: targ.map((y) => [y]), clock: Array.from({ length: T - 1 }, () => [1]) },
  };
}

t.test('subthreshold membrane: v_t = c + (v0 − c)·a_m^t', async (t) => {
  // c = w + bias = −2 < thr: v rises monotonically towards −2, so the smallest |v − thr|
  // of a run of T steps is |v_{T−1}|.
  for (const T of [2, 3, 5, 10, 20, 40]) {
    const r = await replay(oneNeuron(T, 2, new Array(T).fill(0), [0, 0]));
    const c = 2 + BIAS;
    const vLast = c + (V0 - c) * a_m ** (T - 1);
    t.ok(Math.abs(r.minMargin - Math.abs(vLast)) < 1e-12, `T=${T}: margin ${r.minMargin} = |v_${T - 1}| = ${Math.abs(vLast)}`);
    t.ok(r.zTarg.every((row) => row[0] === 0), `T=${T}: no spike`);
  }
});

t.test('the margin is |v − thr|, never −0', async (t) => {
  // No input, bias 0 and v0 = 0 hold v at exactly +0; under thr = −0 (the threshold as a JSON
  // fixture may give it) +0 > −0 is false, so no spike, and the margin |+0 − (−0)| is +0.
  for (const dtype of ['float64', 'float32'] as const) {
    const f = oneNeuron(6, 0, new Array(6).fill(0), [0, 0]);
    Object.assign(f.params, { Vo: 0, bias: 0, thr: -0 });
    f.dtype = dtype;
    const r = await replay(f);
    t.ok(Object.is(r.minMargin, 0), `${dtype}: margin +0 (got ${Object.is(r.minMargin, -0) ? '-0' : r.minMargin})`);
    t.ok(r.zTarg.every((row) => row[0] === 0), `${dtype}: no spike`);
  }
});

// Spike times from the piecewise solution: between spikes v_{s+k} = c + (v_s − c)·a_m^k;
// the step after a spike adds the reset.
function spikeTimes(T: number, c: number): number[] {
  const times: number[] = [];
  let anchorT = 0, anchorV = V0;
  for (let t = 1; t < T; t++) {
    const v = c + (anchorV - c) * a_m ** (t - anchorT);
    if (v > 0) {
      times.push(t);
      anchorT = t + 1;
      anchorV = a_m * v + (1 - a_m) * c + RESET;
      if (anchorV > 0) throw new Error('the reset must silence the step after a spike');
      t = anchorT;
    }
  }
  return times;
}

t.test('spike times and the readout filter of a regularly firing neuron', async (t) => {
  const T = 80, w = 6, c = w + BIAS;
  const times = spikeTimes(T, c);
  t.equal(times[0], Math.floor(8 * Math.log(3)) + 1, 'first spike where 2 − 6·a_m^t crosses 0');
  t.ok(times.length >= 3, 'fires repeatedly');
  const r = await replay(oneNeuron(T, w, new Array(T).fill(0), [1, 0]));
  const got = r.zTarg.flatMap((row, i) => (row[0] ? [i] : []));
  t.same(got, times, 'Z* spikes exactly at the hand-computed times');
  // r_t = Σ_{spikes s ≤ t} (1 − a_o)·a_o^{t−s}; with y* = 0 and W_ho = 1, mse = mean(r²).
  let ss = 0;
  for (let k = 0; k < T; k++) {
    const rk = times.filter((s) => s <= k).reduce((acc, s) => acc + (1 - a_o) * a_o ** (k - s), 0);
    ss += rk * rk;
  }
  t.ok(Math.abs(r.mseOut - ss / T) < 1e-12 * (ss / T), `readout mse ${r.mseOut} = mean(r*²) ${ss / T}`);
});

t.test('one readout update: w\' = w + out_lr·Σ r_t (y*_t − r_t w)', async (t) => {
  const T = 60, c = 2;
  const times = spikeTimes(T, c);
  const rt = Array.from({ length: T }, (_, k) =>
    times.filter((s) => s <= k).reduce((acc, s) => acc + (1 - a_o) * a_o ** (k - s), 0));
  const y = Array.from({ length: T }, (_, k) => (k < 8 ? 0 : 0.5));
  const w1 = 1 + 0.01 * rt.reduce((acc, r, k) => acc + r * (y[k] - r * 1), 0);
  const mse2 = rt.reduce((acc, r, k) => acc + (y[k] - r * w1) ** 2, 0) / T;
  const res = await replay(oneNeuron(T, 6, y, [2, 0]));
  t.ok(Math.abs(res.mseOut - mse2) < 1e-12 * mse2, `second epoch mse ${res.mseOut} = ${mse2}`);
  t.ok(Math.abs(res.wHoTrained[0][0] - (w1 + 0.01 * rt.reduce((acc, r, k) => acc + r * (y[k] - r * w1), 0))) < 1e-12,
    'W_ho after two updates');
});

t.test('clock: unit k is on for steps [k·span, (k+1)·span)', async (t) => {
  const x = buildClock(150, 5);
  t.equal(x.rows, 149);
  t.equal(x.cols, 5);
  const span = Math.floor(149 / 5);
  for (let step = 0; step < 149; step++) {
    const on = [0, 1, 2, 3, 4].filter((k) => x.data[step * 5 + k] === 1);
    const want = step < 5 * span ? [Math.floor(step / span)] : [];
    if (JSON.stringify(on) !== JSON.stringify(want)) t.fail(`step ${step}: ${on} ≠ ${want}`);
  }
  t.equal(x.data.reduce((a, b) => a + b, 0), 5 * span, 'each unit on for span steps');
});

t.test('target: zero for 8 steps, four sines per output, divided by the signed maximum', async (t) => {
  const T = 150, O = 3;
  // Re-derived from SPEC.md with the same draws: output by output, A_1..4 ~ U(0,1) then
  // P_1..4 ~ U(0,2π); the first 8 steps zeroed; the whole array divided by its largest value.
  const derive = (seed: number) => {
    const rng = new Rng(seed);
    const raw = new Float64Array(T * O);
    for (let o = 0; o < O; o++) {
      const A = [1, 2, 3, 5].map(() => rng.uniform());
      const P = [1, 2, 3, 5].map(() => 2 * Math.PI * rng.uniform());
      for (let n = 8; n < T; n++) {
        const tn = (2 * Math.PI * n) / (T - 1);
        raw[n * O + o] = [1, 2, 3, 5].reduce((acc, f, q) => acc + A[q] * Math.sin(f * tn + P[q]), 0);
      }
    }
    return raw;
  };
  // A draw whose most negative entry outweighs its largest: there the signed maximum and the
  // largest magnitude give different arrays, so the test tells them apart.
  let seed = 1, raw = derive(seed);
  while (-Math.min(...raw) <= 1.2 * Math.max(...raw)) raw = derive(++seed);
  const top = Math.max(...raw);
  const y = buildTarget(T, O, new Rng(seed));
  t.equal(y.rows, T);
  t.equal(y.cols, O);
  t.equal(Math.max(...y.data), 1, 'its largest entry is 1');
  t.ok(Math.min(...y.data) < -1.2, `its most negative entry (${Math.min(...y.data)}) is not rescaled to -1`);
  t.ok(y.data.slice(0, 8 * O).every((v) => v === 0), 'first 8 steps zeroed');
  let worst = 0;
  for (let k = 0; k < T * O; k++) worst = Math.max(worst, Math.abs(y.data[k] - raw[k] / top));
  t.ok(worst < 1e-12, `every entry of every output is its sine sum over the signed maximum (max |Δ| ${worst})`);
  t.throws(() => buildTarget(8, 3, new Rng(1)), { code: 'GOAL_DEGENERATE_TASK' }, 'T ≤ 8 is degenerate');
});
