// The same seed, backend and dtype give bit-identical results; so does every CPU variant.
import t from 'tap';
import { buildTarget, info, replay, resolveParams, Rng, sweep, train } from '../src/index';
import { loadFixture } from './helpers';
import { drawInput, drawNetwork } from '../src/train';
import { netConfig } from '../src/run';
import { addon } from '../src/native';

const small = { nRec: 60, tSeq: 60, epochs: [40, 12] as [number, number] };

t.test('same seed twice: identical', async (t) => {
  for (const dtype of ['float32', 'float64'] as const) {
    const a = await train({ ...small, seed: 11, dtype });
    const b = await train({ ...small, seed: 11, dtype });
    t.strictSame(b.mseRec, a.mseRec, `${dtype}: mse_rec`);
    t.strictSame(b.dz, a.dz, `${dtype}: dz`);
    t.equal(b.mseOut, a.mseOut, `${dtype}: mse_out`);
  }
});

t.test("mse_out is one number whichever call measures it: the initial readout's error is the first readout epoch's", async (t) => {
  // Without readout epochs mse_out is the initial readout's error; a readout epoch measures
  // its mse before its step: the same readout, so the same sum, bit for bit (O = 3 outputs).
  for (const dtype of ['float32', 'float64'] as const) {
    for (const seed of [1, 2, 3]) {
      const p = { nRec: 50, tSeq: 70, nOut: 3, seed, dtype };
      const none = await train({ ...p, epochs: [0, 0] });
      const first: number[] = [];
      await train({ ...p, epochs: [2, 0] }, { onEpoch: (e) => void first.push(e.mse) });
      t.equal(none.mseOut, first[0], `${dtype}, seed ${seed}`);
    }
  }
});

t.test('different seeds, different networks', async (t) => {
  const a = await train({ ...small, seed: 1 });
  const b = await train({ ...small, seed: 2 });
  t.not(a.mseOut, b.mseOut);
});

t.test('without a seed one is drawn, reported, and repeats the run', async (t) => {
  const a = await train(small);
  t.ok(Number.isInteger(a.seed) && a.seed >= 0, `seed ${a.seed} reported`);
  t.equal(a.params.seed, a.seed);
  const b = await train({ ...small, seed: a.seed });
  t.strictSame(b.mseRec, a.mseRec);
});

t.test('every instruction-set variant gives the same bits', async (t) => {
  const isas = info().cpu.isas;
  t.ok(isas.includes('base'), `variants here: ${isas.join(', ')}`);
  const saved = process.env.GOAL_CPU_ISA;
  try {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const rank of [null, 5, 40]) { // LTTS, factored and dense rank-R feedback
        const runs = [];
        for (const isa of isas) {
          process.env.GOAL_CPU_ISA = isa;
          runs.push(await train({ ...small, seed: 5, dtype, rank }));
        }
        for (let k = 1; k < runs.length; k++) {
          t.equal(runs[k].device, `cpu:${isas[k]}`);
          t.strictSame(runs[k].mseRec, runs[0].mseRec, `${dtype} rank ${rank}: ${isas[k]} = ${isas[0]}`);
          t.strictSame(runs[k].dz, runs[0].dz);
          t.equal(runs[k].mseOut, runs[0].mseOut);
        }
      }
      // The trained matrices too, which the statistics only sum up.
      const fx = loadFixture(dtype === 'float32' ? 'rank12-n40-f32.json' : 'rank20-n40.json');
      const replays = [];
      for (const isa of isas) {
        process.env.GOAL_CPU_ISA = isa;
        replays.push(await replay(fx));
      }
      for (let k = 1; k < replays.length; k++) {
        t.strictSame([replays[k].wHhFinal, replays[k].wHoTrained], [replays[0].wHhFinal, replays[0].wHoTrained], `${dtype}: ${isas[k]}'s W_hh and W_ho = ${isas[0]}'s`);
      }
    }
    // What this host cannot run is said, not passed over.
    for (const isa of ['avx2', 'avx512'].filter((v) => !isas.includes(v))) {
      process.env.GOAL_CPU_ISA = isa;
      await t.rejects(train({ ...small, seed: 5 }), { code: 'GOAL_INVALID', message: `GOAL_CPU_ISA=${isa}: this processor does not support it` }, `${isa} forced on a CPU without it is refused`);
      t.test(`${isa} gives the bits the other variants give`, { skip: `this CPU does not run ${isa}` }, async () => {});
    }
    process.env.GOAL_CPU_ISA = 'sse9';
    await t.rejects(train({ ...small, seed: 5 }), { code: 'GOAL_INVALID' }, 'an unknown variant is refused');
    t.throws(() => info(), { name: 'GoalError', code: 'GOAL_INVALID', message: /GOAL_CPU_ISA must be base, avx2 or avx512 \(got sse9\)/ }, 'info() too');
    // sweep() asks the addon which backends it has before any network is built.
    await t.rejects(sweep({ ranks: [3], taus: [5], seeds: [1], base: small, onWarning: () => {} }), { name: 'GoalError', code: 'GOAL_INVALID' }, 'sweep() too');
  } finally {
    if (saved === undefined) delete process.env.GOAL_CPU_ISA;
    else process.env.GOAL_CPU_ISA = saved;
  }
});

t.test('float32 and float64 agree closely at the start of training', async (t) => {
  const a = await train({ ...small, seed: 9, dtype: 'float32', epochs: [40, 1] });
  const b = await train({ ...small, seed: 9, dtype: 'float64', epochs: [40, 1] });
  t.ok(Math.abs(a.mseOut - b.mseOut) <= 1e-4 * b.mseOut, `mse_out ${a.mseOut} vs ${b.mseOut}`);
});

t.test('a large network is drawn in slices that let the event loop run, the same numbers in the same order', async (t) => {
  const { params } = resolveParams({ nRec: 1100, tSeq: 20, epochs: [1, 1], seed: 5 }); // W_hh: 1.21 million normals, three slices
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const input = await drawInput({ ...params, seed: 5 });
  clearInterval(timer);
  t.ok(ticks > 0, `timers ran during the draw (${ticks} ticks)`);
  // The stream drawn one normal at a time, without slices: task, then W_ih, W_hh, W_ho, W_trg.
  const rng = new Rng(5);
  buildTarget(20, params.nOut, rng);
  const differ = (got: Float64Array, scale: number, divisor = 1) => {
    let n = 0;
    for (let k = 0; k < got.length; k++) if (got[k] !== (scale * rng.normal()) / divisor) n++;
    return n;
  };
  t.equal(differ(input.W_ih, params.sigmaInp), 0, 'W_ih');
  t.equal(differ(input.W_hh, params.sigmaRec), 0, 'W_hh, across its slices');
  t.equal(differ(input.W_ho, 1, Math.sqrt(params.nRec)), 0, 'W_ho, g/√N as SPEC.md writes it');
  t.equal(differ(input.W_trg, params.sigmaTrg), 0, 'W_trg');
  t.equal(differ(await input.noise(), 1), 0, 'then the feedback noise');
  const atOnce = drawNetwork(params, new Rng(5)).W_hh;
  t.ok(atOnce.every((x, k) => x === input.W_hh[k]), 'drawNetwork, at once, draws the same');
});

t.test('resample: every recurrent epoch builds its feedback from the next draw of the seed\'s stream', async (t) => {
  for (const feedback of ['spk', 'out'] as const) {
    const params = { nRec: 40, tSeq: 60, rank: 5, feedback, epochs: [20, 5] as [number, number], seed: 2 };
    const resampled = await train({ ...params, resample: true });
    // SPEC's procedure spelled out on the engine: after the matrices, the noise of epoch k is
    // the k-th draw of N×N (spk) or N×R (out) normals from the same stream.
    const input = await drawInput({ ...resolveParams({ ...params, resample: true }).params, seed: 2 });
    const b = new (addon().Batch)({ backend: 'cpu', threads: 1, nets: [netConfig(input)] });
    await b.targetRun();
    await b.readout(20);
    const dz: number[] = [], mse: number[] = [];
    for (let k = 0; k < 5; k++) {
      const noise = await input.noise();
      t.equal(noise.length, feedback === 'spk' ? 40 * 40 : 40 * 5);
      await b.feedback([noise]);
      const r = await b.recurrent(1);
      dz.push(r.dz[0]);
      mse.push(r.mseRec[0]);
    }
    b.dispose();
    t.strictSame(resampled.dz, dz, `${feedback}: dz, epoch by epoch`);
    t.strictSame(resampled.mseRec, mse, `${feedback}: mse_rec, epoch by epoch`);
    const once = await train(params);
    t.equal(once.dz[0], resampled.dz[0], `${feedback}: the first epoch uses the first draw, as without resample`);
    t.notSame(once.dz.slice(1), resampled.dz.slice(1), `${feedback}: the later ones do not`);
  }
});

t.test('Rng: a bad seed, count or scale is a coded error', async (t) => {
  t.throws(() => new Rng(-1), { code: 'GOAL_INVALID_PARAM', param: 'seed' });
  t.throws(() => new Rng(1.5), { code: 'GOAL_INVALID_PARAM' });
  for (const count of [-1, 1.5, NaN, Infinity]) {
    t.throws(() => new Rng(1).normals(count), { code: 'GOAL_INVALID_OPTION', message: /^normals: count must be an integer ≥ 0/ }, `count ${count}`);
  }
  t.throws(() => new Rng(1).normals(3, NaN), { code: 'GOAL_INVALID_OPTION', message: /^normals: scale must be a finite number \(got NaN\)$/ });
  t.throws(() => new Rng(1).normals(2 ** 52), { code: 'GOAL_ENOMEM' }, 'past any typed array: out of memory, not a RangeError');
  t.equal(new Rng(1).normals(0).length, 0);
});
