// options.signal stops a run cleanly between epochs; onEpoch reports every epoch in order.
import t from 'tap';
import { replay, resolveParams, train, type EpochInfo } from '../src/index';
import { runPhases, type NetInput } from '../src/run';
import { drawInput } from '../src/train';
import { loadFixture } from './helpers';

t.test('progress is reported for every epoch, in order', async (t) => {
  const seen: EpochInfo[] = [];
  const r = await train({ nRec: 30, tSeq: 40, epochs: [7, 5], seed: 2 }, { onEpoch: (e) => seen.push(e) });
  t.strictSame(seen.map((e) => `${e.phase}${e.epoch}/${e.epochs}`),
    ['readout1/7', 'readout2/7', 'readout3/7', 'readout4/7', 'readout5/7', 'readout6/7', 'readout7/7',
      'recurrent1/5', 'recurrent2/5', 'recurrent3/5', 'recurrent4/5', 'recurrent5/5']);
  t.strictSame(seen.filter((e) => e.phase === 'recurrent').map((e) => e.dz), r.dz);
  t.equal(seen[6].mse, r.mseOut);
});

t.test('each epoch carries the seconds since its phase began: positive, in order, within the run', async (t) => {
  const seen: EpochInfo[] = [];
  const start = performance.now();
  await train({ nRec: 60, tSeq: 60, epochs: [300, 300], seed: 2 }, { onEpoch: (e) => seen.push(e) });
  const wall = (performance.now() - start) / 1000;
  for (const phase of ['readout', 'recurrent']) {
    const s = seen.filter((e) => e.phase === phase).map((e) => e.seconds);
    t.equal(s.length, 300);
    t.ok(s[0] > 0, `${phase}: the first epoch took time (${s[0]} s)`);
    t.ok(s.every((x, i) => i === 0 || x >= s[i - 1]), `${phase}: never decreasing`);
    t.ok(s[s.length - 1] <= wall, `${phase}: within the run's ${wall} s (${s[s.length - 1]} s)`);
  }
});

t.test('abort during the recurrent phase keeps the epochs done', async (t) => {
  const ac = new AbortController();
  const full = await train({ nRec: 40, tSeq: 50, epochs: [10, 200], seed: 4 });
  const r = await train({ nRec: 40, tSeq: 50, epochs: [10, 200], seed: 4 }, {
    signal: ac.signal,
    onEpoch: (e) => { if (e.phase === 'recurrent' && e.epoch === 3) ac.abort(); },
  });
  t.equal(r.aborted, true);
  t.equal(r.mseRec.length, 3, 'aborted from onEpoch, the run ends at that epoch');
  t.equal(r.dz.length, r.mseRec.length);
  t.strictSame(r.mseRec, full.mseRec.slice(0, r.mseRec.length), 'the epochs done are the same as in a full run');
  t.equal(full.aborted, false);
});

t.test('an abort during the target run (one native call of T steps) ends that call: nothing after it ran', async (t) => {
  const p = { ...resolveParams({ nRec: 60, tSeq: 200000, epochs: [1, 1] }).params, seed: 1 };
  const input = await drawInput(p);
  const ac = new AbortController();
  // runPhases runs up to its first await, the target run's native call, before returning.
  const running = runPhases([input], { backend: 'cpu', warn: () => {} }, { signal: ac.signal });
  ac.abort();
  const [r] = await running;
  t.match(r, { aborted: true, mseRec: [], dz: [] });
  // A target run that ended would have met membrane potentials: its margin would be a number.
  t.ok(Number.isNaN(r.minMargin), 'stopped within the target run: no margin met at its end');
  t.ok(Number.isNaN(r.mseOut), 'no readout was trained');
});

t.test('an abort after the last epoch leaves a replay whole: the feedback it reads is still built', async (t) => {
  // rank40-n40: 2R > N, the feedback is D (N²R), a call the signal could cut short.
  const fx = loadFixture('rank40-n40.json');
  const ac = new AbortController();
  const r = await replay({ ...fx, params: { ...fx.params, epochs: [3, 0] }, expect: undefined }, { signal: ac.signal, onReadout: () => ac.abort() });
  t.equal(r.aborted, false, 'every epoch ran');
  t.equal(r.D?.length, 40, 'and D was built');
});

t.test('an abort from onEpoch at the last epoch of the run stops nothing: the run is whole', async (t) => {
  const full = await train({ nRec: 30, tSeq: 40, epochs: [4, 5], seed: 3 });
  let ac = new AbortController();
  const r = await train({ nRec: 30, tSeq: 40, epochs: [4, 5], seed: 3 }, {
    signal: ac.signal, onEpoch: (e) => { if (e.phase === 'recurrent' && e.epoch === e.epochs) ac.abort(); },
  });
  t.equal(r.aborted, false, 'the last recurrent epoch: none left to stop');
  t.strictSame([r.mseOut, r.mseRec, r.dz], [full.mseOut, full.mseRec, full.dz], 'and the result is the full run\'s');
  ac = new AbortController();
  const told: number[] = [];
  const o = await train({ nRec: 30, tSeq: 40, epochs: [5, 0], seed: 3 }, {
    signal: ac.signal, onReadout: (m) => told.push(m), onEpoch: (e) => { if (e.epoch === e.epochs) ac.abort(); },
  });
  t.equal(o.aborted, false, 'the last readout epoch of a run without recurrent ones');
  t.strictSame(told, [o.mseOut], 'onReadout told, as the readout phase is over');
  t.ok(Number.isFinite(o.mseOut));
  ac = new AbortController();
  const heard: number[] = [];
  const cut = await train({ nRec: 30, tSeq: 40, epochs: [5, 2], seed: 3 }, {
    signal: ac.signal, onReadout: (m) => heard.push(m), onEpoch: (e) => { if (e.phase === 'readout' && e.epoch === e.epochs) ac.abort(); },
  });
  t.equal(cut.aborted, true, 'the last readout epoch with recurrent ones to come stops the run');
  t.strictSame(cut.mseRec, []);
  t.strictSame(heard, [cut.mseOut], 'after the readout phase, which was over: onReadout told, mse_out kept');
});

t.test('an already aborted signal runs no epoch', async (t) => {
  const warnings: string[] = [];
  const r = await train({ nRec: 20, tSeq: 30, epochs: [10, 10], seed: 1 }, { signal: AbortSignal.abort(), onWarning: (m) => warnings.push(m) });
  t.equal(r.aborted, true);
  t.strictSame(r.mseRec, []);
  t.strictSame(warnings, [], 'no readout epoch ran, so nothing is said about one diverging');
  const ran = await train({ nRec: 20, tSeq: 30, epochs: [1, 0], seed: 1 });
  t.equal(r.device, ran.device, 'the device named as a run names it');
});

t.test('an error thrown by onEpoch propagates unchanged', async (t) => {
  const boom = new Error('callback failed');
  await t.rejects(train({ nRec: 20, tSeq: 30, epochs: [3, 3], seed: 1 }, { onEpoch: () => { throw boom; } }), boom);
});

t.test('aborted from onEpoch at a readout epoch: the run ends there, mse_out is NaN (the readout was not trained to the end)', async (t) => {
  const ac = new AbortController();
  const seen: EpochInfo[] = [];
  const r = await train({ nRec: 20, tSeq: 30, epochs: [100000, 10], seed: 3 }, {
    signal: ac.signal,
    onEpoch: (e) => {
      seen.push(e);
      if (e.epoch === 40) ac.abort();
    },
  });
  t.equal(r.aborted, true);
  t.equal(seen.length, 40, 'no epoch told after the abort');
  t.ok(Number.isFinite(seen[39].mse), 'the epoch told had a finite MSE');
  t.ok(Number.isNaN(r.mseOut), `mse_out is NaN, not that epoch's ${seen[39].mse}`);
  t.strictSame(r.mseRec, []);
});

t.test('an async onEpoch is awaited: its rejection rejects the run', async (t) => {
  const boom = new Error('async callback failed');
  await t.rejects(train({ nRec: 20, tSeq: 30, epochs: [3, 3], seed: 1 }, { onEpoch: async () => { throw boom; } }), boom);
  const order: string[] = [];
  await train({ nRec: 20, tSeq: 30, epochs: [2, 0], seed: 1 }, {
    onEpoch: async (e) => {
      order.push(`start ${e.epoch}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(`end ${e.epoch}`);
    },
  });
  t.strictSame(order, ['start 1', 'end 1', 'start 2', 'end 2'], 'one epoch told at a time');
});

t.test('aborted from onEpoch within the last native call: still reported as aborted', async (t) => {
  // Three recurrent epochs run as native calls of 1, then 2: an abort at epoch 2 falls in the last.
  for (const epochs of [[0, 3], [3, 0]] as [number, number][]) {
    const ac = new AbortController();
    const r = await train({ nRec: 30, tSeq: 40, epochs, seed: 1 }, { signal: ac.signal, onEpoch: (e) => { if (e.epoch === 2) ac.abort(); } });
    t.equal(r.aborted, true, `epochs ${epochs}: aborted`);
    if (epochs[1]) t.equal(r.mseRec.length, 2, 'two recurrent epochs kept');
    if (epochs[1]) t.ok(Number.isFinite(r.mseOut), 'a readout phase that ended keeps its mse_out');
    else t.ok(Number.isNaN(r.mseOut), 'stopped at readout epoch 2 of 3: no mse_out');
  }
});

t.test('an abort while a large network is being drawn stops the draw: nothing runs', async (t) => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 5); // W_hh alone is 4 million normals: several slices
  const r = await train({ nRec: 2000, tSeq: 20, epochs: [5, 5], seed: 1 }, { signal: ac.signal });
  t.equal(r.aborted, true);
  t.strictSame(r.mseRec, []);
  t.ok(Number.isNaN(r.mseOut), 'no readout epoch ran');
  // The draw itself stops (a 4-million-normal draw takes tens of ms on any host): what it
  // leaves is empty, where a draw run to its end holds N² weights.
  const p = { ...resolveParams({ nRec: 2000, tSeq: 20 }).params, seed: 1 };
  const stopped = new AbortController();
  setTimeout(() => stopped.abort(), 5);
  t.equal((await drawInput(p, undefined, stopped.signal)).W_hh.length, 0, 'the draw stopped part way');
  t.equal((await drawInput(p)).W_hh.length, 2000 * 2000, 'unlike one left to run');
});

t.test('onReadout tells mse_out once the readout phase is over, with or without readout epochs', async (t) => {
  for (const epochs of [[4, 2], [0, 2]] as [number, number][]) {
    const told: number[] = [];
    const order: string[] = [];
    const r = await train({ nRec: 30, tSeq: 40, epochs, seed: 2 }, {
      onReadout: (m) => { told.push(m); order.push('readout done'); },
      onEpoch: (e) => { order.push(e.phase); },
    });
    t.strictSame(told, [r.mseOut], `epochs ${epochs}: once, the result's mse_out`);
    t.equal(order.indexOf('readout done'), epochs[0], 'after the last readout epoch, before the first recurrent one');
  }
  const ac = new AbortController();
  const told: number[] = [];
  await train({ nRec: 30, tSeq: 40, epochs: [5, 2], seed: 2 }, { signal: ac.signal, onReadout: (m) => told.push(m), onEpoch: (e) => { if (e.epoch === 2) ac.abort(); } });
  t.strictSame(told, [], 'not told when the readout phase was cut short');
  await t.rejects(train({ nRec: 20, tSeq: 30, epochs: [1, 1], seed: 1 }, { onReadout: 5 as never }), { code: 'GOAL_INVALID_OPTION', message: /options.onReadout must be a function/ });
});

t.test('an error thrown by a callback comes back as it was, even with a GOAL_ code of its own', async (t) => {
  const mine = Object.assign(new Error('mine'), { code: 'GOAL_X', extra: 42 });
  const p = { nRec: 20, tSeq: 40, epochs: [3, 3] as [number, number], seed: 1 };
  for (const options of [{ onEpoch: () => { throw mine; } }, { onReadout: async () => { throw mine; } }]) {
    const err = await train(p, options).catch((e: unknown) => e);
    t.equal(err, mine, Object.keys(options)[0]);
  }
  // The warning of a diverging readout goes to onWarning, which may throw too.
  const err = await train({ ...p, outLr: 1e30 }, { onWarning: () => { throw mine; } }).catch((e: unknown) => e);
  t.equal(err, mine, 'onWarning');
});

t.test('an async onWarning that rejects rejects the call with its error (not an unhandled rejection)', async (t) => {
  const mine = new Error('async warning handler failed');
  const told: string[] = [];
  const err = await train({ nRec: 20, tSeq: 40, epochs: [2, 2], seed: 1, feedback: 'out' }, {
    onWarning: async (m) => { told.push(m); throw mine; },
  }).catch((e: unknown) => e);
  t.equal(err, mine);
  t.match(told, [/feedback out needs a rank/]);
});

t.test('resample: a feedback draw for an epoch that will not run is stopped with the run', async (t) => {
  // N² = 4 million normals: a draw of eight slices, still running when a short epoch ends.
  const p = { ...resolveParams({ nRec: 2000, tSeq: 10, rank: 5, resample: true, epochs: [0, 5] }).params, seed: 1 };
  const input = await drawInput(p);
  const signals: (AbortSignal | undefined)[] = [];
  const draws: Promise<unknown>[] = [];
  const watched: NetInput = {
    ...input,
    noise: (signal) => {
      signals.push(signal);
      const drawn = Promise.resolve(input.noise(signal));
      draws.push(drawn.catch((err) => err));
      return drawn;
    },
  };
  const ac = new AbortController();
  const [out] = await runPhases([watched], { backend: 'cpu', warn: () => {} }, {
    signal: ac.signal, onEpoch: (e) => { if (e.phase === 'recurrent' && e.epoch === 1) ac.abort(); },
  });
  t.equal(out.mseRec.length, 1, 'stopped after its first recurrent epoch');
  t.equal(signals.length, 2, 'the first draw, and the one for epoch 2 made while epoch 1 ran');
  t.ok(signals[1]?.aborted, 'whose signal is aborted once the run is over');
  t.equal(((await draws[1]) as { code?: string }).code, 'GOAL_ABORTED', 'so that draw stops instead of running on');
});

t.test('an abort while the first feedback is drawn stops that draw: no recurrent epoch runs', async (t) => {
  // N² = 4 million normals for spk's noise: eight slices, an abort 5 ms in lands among them.
  const p = { ...resolveParams({ nRec: 2000, tSeq: 10, rank: 5, epochs: [1, 5] }).params, seed: 1 };
  const input = await drawInput(p);
  const draws: Promise<unknown>[] = [];
  const watched: NetInput = {
    ...input,
    noise: (signal) => {
      const drawn = Promise.resolve(input.noise(signal));
      draws.push(drawn.catch((err) => err));
      return drawn;
    },
  };
  const ac = new AbortController();
  const [out] = await runPhases([watched], { backend: 'cpu', warn: () => {} }, {
    signal: ac.signal, onReadout: () => { setTimeout(() => ac.abort(), 5); },
  });
  t.equal(out.aborted, true);
  t.strictSame(out.mseRec, [], 'no recurrent epoch ran');
  t.ok(Number.isFinite(out.mseOut), 'the readout phase had ended: its mse_out is kept');
  t.equal(draws.length, 1, 'one draw');
  t.equal(((await draws[0]) as { code?: string }).code, 'GOAL_ABORTED', 'stopped, not run to its end');
});
