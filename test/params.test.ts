// Defaults are SPEC.md's; every bad value is refused with a message naming the parameter,
// what it accepts and what it got.
import * as os from 'node:os';
import t from 'tap';
import { MAX_ARRAY, networkBytes } from '../src/run';
import { MAX_NORMAL } from '../src/rng';
import { buildClock, buildTarget, defaults, GoalError, info, paramDocs, replay, resolveParams, Rng, sweep, train, type ParamDoc } from '../src/index';
import { firstDegenerateSeed, loadFixture } from './helpers';

t.test('defaults follow SPEC.md and are frozen', async (t) => {
  t.match(defaults, {
    nRec: null, nInp: 5, nOut: 3, tSeq: 150, rank: null, recLr: null, outLr: 0.0025, feedback: 'spk',
    resample: false, tauM: 8, tauS: 2, tauO: 5, sigmaInp: 22, sigmaTrg: 8, sigmaRec: 1, vInit: -4, bias: -4,
    reset: -20, thr: 0, dt: 0.001, seed: null, dtype: 'float32',
  });
  t.strictSame([...defaults.epochs], [5000, 10000]);
  t.ok(Object.isFrozen(defaults) && Object.isFrozen(defaults.epochs), 'frozen');
  // The library reads paramDocs too (flags, hints, a sweep's fingerprint): a caller's sort must fail.
  t.ok(Object.isFrozen(paramDocs) && paramDocs.every((d) => Object.isFrozen(d) && Object.isFrozen(d.legacy)), 'paramDocs frozen');
  t.throws(() => (paramDocs as ParamDoc[]).sort((a, b) => a.name.localeCompare(b.name)), TypeError);
  t.strictSame(paramDocs.map((d) => d.name).sort(), Object.keys(defaults).sort(), 'every default is documented');
});

t.test('resolution applies the defaults', async (t) => {
  const { params, warnings } = resolveParams({ nRec: 100 });
  t.equal(params.recLr, 5 / Math.sqrt(100), 'rec_lr = 5/√N');
  t.equal(params.nInp, 5);
  t.strictSame(warnings, []);
});

const bad: [Record<string, unknown>, RegExp][] = [
  [{ nRec: -3 }, /^nRec must be an integer in \[1, 1048576\] \(got -3\)$/],
  [{ nRec: 0 }, /^nRec must be an integer in \[1, 1048576\] \(got 0\)$/],
  [{ nRec: 2.5 }, /^nRec must be an integer in \[1, 1048576\] \(got 2\.5\)$/],
  [{ nRec: 'ten' }, /^nRec must be an integer in \[1, 1048576\] \(got "ten"\)$/],
  [{ nRec: 2 ** 20 + 1 }, /^nRec must be an integer in \[1, 1048576\] \(got 1048577\)$/],
  [{ nRec: 10, nInp: 1e9 }, /^nInp must be an integer in \[1, 1048576\] \(got 1000000000\)$/],
  [{}, /^nRec is required/],
  [{ nRec: 10, tSeq: 1 }, /^tSeq must be an integer in \[2, 1048576\] \(got 1\)$/],
  [{ nRec: 10, nOut: 11 }, /^nOut must be an integer in \[1, 10\] \(at most nRec\) \(got 11\)$/],
  [{ nRec: 1 }, /^nOut must be an integer in \[1, 1\] \(at most nRec\) \(got 3, its default\)$/], // not given: said so
  [{ nRec: 10, rank: 2 }, /^rank must be an integer in \[3, 10\], or null for LTTS \(got 2\)$/],
  [{ nRec: 10, rank: 11 }, /^rank must be an integer in \[3, 10\], or null for LTTS \(got 11\)$/],
  [{ nRec: 10, rank: 'ltts' as never }, /^rank must be an integer in \[3, 10\], or null for LTTS \(got "ltts"\)$/],
  [{ nRec: 10, rank: 3.5 }, /^rank must be an integer in \[3, 10\], or null for LTTS \(got 3.5\)$/],
  [{ nRec: 10, feedback: 'err' }, /^feedback must be one of spk, out \(got "err"\)$/],
  [{ nRec: 10, tauM: 0 }, /^tauM must be a finite number > 0 \(got 0\)$/],
  [{ nRec: 10, tauO: NaN }, /^tauO must be a finite number > 0 \(got NaN\)$/],
  [{ nRec: 10, bias: Infinity }, /^bias must be a finite number \(got Infinity\)$/],
  [{ nRec: 10, recLr: -1 }, /^recLr must be a finite number ≥ 0 \(got -1\)$/],
  [{ nRec: 10, epochs: [10] }, /^epochs must be two integers: readout epochs in \[0, 9007199254740991\], recurrent epochs in \[0, 10000000\] \(got \[10\]\)$/],
  [{ nRec: 10, epochs: [10, 10_000_001] }, /recurrent epochs in \[0, 10000000\] \(got \[10, 10000001\]\)$/],
  [{ nRec: 10, toString: 5 }, /^unknown parameter toString$/],
  [JSON.parse('{"nRec": 10, "__proto__": {"x": 1}}'), /^unknown parameter __proto__$/],
  [{ nRec: 10, epochs: [10, -1] }, /^epochs must be two integers: readout epochs in \[0, 9007199254740991\], recurrent epochs in \[0, 10000000\]/],
  [{ nRec: 10, dtype: 'float16' }, /^dtype must be one of float32, float64 \(got "float16"\)$/],
  [{ nRec: 10, seed: -1 }, /^seed must be an integer in \[0, /],
  [{ nRec: 10, resample: 'yes' }, /^resample must be true or false/],
  [{ nRec: 10n as never }, /^nRec must be an integer in \[1, 1048576\] \(got 10n\)$/],
  [{ nRec: 10, epochs: new Float64Array([1, 1]) as never }, /^epochs must be two integers: .* \(got a Float64Array\)$/],
  [{ nRec: 10, epochs: new Int32Array([1, 1]) as never }, /^epochs must be two integers: .* \(got an Int32Array\)$/],
  [{ nRec: 10, n_rec: 10 }, /^unknown parameter n_rec \(did you mean nRec\?\)$/],
  [{ nRec: 10, tau_m: 8 }, /^unknown parameter tau_m \(did you mean tauM\?\)$/],
  // A message is one short line whatever was passed: a name with a newline is quoted, a long string cut.
  [{ nRec: 10, 'a\nb': 1 }, /^unknown parameter "a\\nb"$/],
  [{ nRec: 'x'.repeat(1e6) as never }, /^nRec must be an integer in \[1, 1048576\] \(got "x{100}"… \(1000000 characters\)\)$/],
];

t.test('bad values', async (t) => {
  for (const [input, message] of bad) {
    t.throws(() => resolveParams(input), message, JSON.stringify(input, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  }
  const err = (() => { try { resolveParams({ nRec: 10, tauS: -2 }); } catch (e) { return e; } })() as GoalError;
  t.ok(err instanceof GoalError);
  t.equal(err.code, 'GOAL_INVALID_PARAM');
  t.equal(err.param, 'tauS');
});

t.test('resolveParams checks its label', async (t) => {
  t.throws(() => resolveParams({ nRec: -1 }, 'x' as never), { code: 'GOAL_INVALID_OPTION', message: /label must be a function \(got "x"\)/ });
});

t.test('params are read as a Web API reads its options: a known name own or inherited, an unknown one refused only among the own', async (t) => {
  t.equal(resolveParams(Object.create({ nRec: 20 })).params.nRec, 20, 'an inherited nRec is given');
  class Sized {
    get nRec() { return 20; }
    get tauM() { return 'bogus'; }
  }
  t.throws(() => resolveParams(new Sized() as never), { code: 'GOAL_INVALID_PARAM', param: 'tauM', message: /^tauM must be a finite number > 0 \(got "bogus"\)$/ },
    "a class's getters are read, and checked");
  t.equal(resolveParams(Object.assign(Object.create({ nRecc: 1 }), { nRec: 20 })).params.nRec, 20, 'an inherited unknown name (a class\'s method) is not refused');
  t.throws(() => resolveParams({ nRec: 20, nRecc: 1 } as never), { code: 'GOAL_INVALID_PARAM', param: 'nRecc' }, 'an own one is');
  t.ok(Object.is(resolveParams({ nRec: 20, epochs: [-0, 3] }).params.epochs[0], 0), '-0 epochs are 0');
});

t.test('a value that is a huge or self-containing array is shown in one short line', async (t) => {
  const cyclic: unknown[] = [1];
  cyclic.push(cyclic);
  t.throws(() => resolveParams({ nRec: 10, epochs: cyclic as never }), { code: 'GOAL_INVALID_PARAM', message: /\(got \[1, \[1, an array\]\]\)$/ });
  t.throws(() => resolveParams({ nRec: cyclic as never }), { code: 'GOAL_INVALID_PARAM', param: 'nRec' });
  const long = Array.from({ length: 1e6 }, (_, i) => i);
  const err = (() => { try { resolveParams({ nRec: 10, epochs: long as never }); } catch (e) { return e; } })() as GoalError;
  t.match(err.message, /\(got \[0, 1, 2, 3, 4, 5, 6, 7, … 1000000 items\]\)$/);
});

// The largest network whose arrays Node 20 can hold: about 942 GiB in float64.
const largest = { nRec: 65536, tSeq: 1 << 20, nInp: 4096, nOut: 4096, dtype: 'float64' as const };
t.test('a network past this machine\'s memory is refused before anything is drawn',
  { skip: networkBytes(resolveParams(largest).params) > os.totalmem() ? false : 'this machine has the memory for the largest network Node.js can hold' }, async (t) => {
    await t.rejects(train(largest), { code: 'GOAL_ENOMEM', message: /^tSeq=1048576, nRec=65536: the network needs .* GiB/ });
  });

// The N×I input matrix, not T, makes this one large: the error names the input size.
const wide = { nRec: 4000, nInp: 1 << 20, epochs: [1, 1] as [number, number], dtype: 'float64' as const };
t.test('a network too large by its input matrix names N and I, not T',
  { skip: networkBytes(resolveParams(wide).params) > os.totalmem() ? false : 'this machine has the memory for a 4000×2²⁰ input matrix' }, async (t) => {
    await t.rejects(train(wide), { code: 'GOAL_ENOMEM', param: 'nRec', message: /^nRec=4000, nInp=1048576: the network needs .* GiB/ });
  });

t.test('one typed array holds at most 2³² entries (Node ≤ 21): one more row is refused whatever the memory',
  { skip: MAX_ARRAY === 2 ** 32 ? false : `this Node.js (${process.version}) holds ${MAX_ARRAY} entries per typed array` }, async (t) => {
    await t.rejects(train({ nRec: 65537 }), { code: 'GOAL_ENOMEM', param: 'nRec', message: `nRec=65537: the recurrent matrix (N×N) would have 4.30e+9 entries; a JavaScript typed array holds at most 4294967296 in this Node.js (${process.version})` });
    await t.rejects(train({ nRec: 10, nInp: 1 << 20, tSeq: 1 << 20 }), { code: 'GOAL_ENOMEM', param: 'tSeq', message: /^tSeq=1048576, nInp=1048576: the input \(T×I\) would have 1\.10e\+12 entries/ });
  });

t.test('train rejects before doing any work', async (t) => {
  await t.rejects(train({ nRec: 10, rank: 1 }), { code: 'GOAL_INVALID_PARAM', param: 'rank' });
  await t.rejects(train({ nRec: 10, tSeq: 8, epochs: [1, 1] }), { code: 'GOAL_DEGENERATE_TASK' }, 'a target too short for any seed');
  const said: string[] = [];
  await t.rejects(train({ nRec: 10, tSeq: 5, nInp: 40, epochs: [1, 1] }, { onWarning: (m) => said.push(m) }),
    { code: 'GOAL_DEGENERATE_TASK', message: /^tSeq=5: the target is degenerate: .*every step is zeroed when tSeq ≤ 8\); use tSeq ≥ 9$/ });
  t.strictSame(said, [], 'refused before any warning about the other params');
  // At T = 9 only the last step counts: a seed whose O values there are all ≤ 0 (found by the
  // task's definition) is degenerate, and is refused before the warnings of the other params.
  const seed = firstDegenerateSeed();
  t.type(seed, 'number', 'a degenerate seed exists among the first 200');
  await t.rejects(train({ nRec: 10, tSeq: 9, seed, nInp: 40, epochs: [1, 1] }, { onWarning: (m) => said.push(m) }),
    { code: 'GOAL_DEGENERATE_TASK', message: new RegExp(`^tSeq=9 and seed ${seed}: the target is degenerate`) });
  t.strictSame(said, [], 'a seed-dependent refusal comes before any warning too');
  await t.rejects(train({ nRec: 10 }, { backend: 'gpu' as never }), { code: 'GOAL_INVALID_OPTION', message: /^options.backend must be one of auto, cpu, cuda \(got "gpu"\)$/, param: 'backend' });
  // An option's value is checked with the others, before the params and the task (T=5 is degenerate).
  await t.rejects(train({ nRec: 10, tSeq: 5 }, { backend: 'gpu' as never }), { code: 'GOAL_INVALID_OPTION' });
  await t.rejects(replay({} as never, { backend: 'gpu' as never }), { code: 'GOAL_INVALID_OPTION' });
  await t.rejects(train({ nRec: 10 }, { backend: 1n as never }), { code: 'GOAL_INVALID_OPTION', message: /\(got 1n\)$/ });
});

t.test('options of the wrong type are refused before any work', async (t) => {
  const p = { nRec: 10, tSeq: 20, epochs: [1, 1] as [number, number], seed: 1 };
  await t.rejects(train(p, null as never), { code: 'GOAL_INVALID_OPTION', message: 'options must be an object (got null)' });
  await t.rejects(train(p, { onEpoch: 5 as never }), { code: 'GOAL_INVALID_OPTION', message: 'options.onEpoch must be a function (got 5)', param: 'onEpoch' });
  await t.rejects(train(p, { signal: 'x' as never }), { code: 'GOAL_INVALID_OPTION', message: /options.signal must be an AbortSignal \(got "x"\)/, param: 'signal' });
  await t.rejects(train(p, { signal: { aborted: 1 } as never }), { code: 'GOAL_INVALID_OPTION' }, 'a look-alike is not a signal');
  t.ok(Object.is(resolveParams({ nRec: 10, seed: -0 }).params.seed, 0), 'seed -0 is seed 0');
});

t.test('more clock units than steps: a warning that the clock is silent', async (t) => {
  t.strictSame(resolveParams({ nRec: 10, nInp: 29, tSeq: 30 }).warnings, [], 'I = T − 1: one step each');
  t.match(resolveParams({ nRec: 10, nInp: 30, tSeq: 30 }).warnings, [/^nInp=30 clock units for tSeq=30: each is on for ⌊\(T−1\)\/I⌋ = 0 steps, so the network gets no input$/]);
});

t.test('feedback out without a rank warns and uses spk', async (t) => {
  const { params, warnings } = resolveParams({ nRec: 10, feedback: 'out' });
  t.equal(params.feedback, 'spk');
  t.match(warnings, [/out needs a rank/]);
  const seen: string[] = [];
  const r = await train({ nRec: 10, tSeq: 20, epochs: [1, 1], feedback: 'out', seed: 1 }, { onWarning: (m) => seen.push(m) });
  t.equal(r.params.feedback, 'spk');
  t.equal(seen.length, 1);
});

t.test('resample without a rank (LTTS) is off, with a warning; with a rank it stays on', async (t) => {
  const ltts = resolveParams({ nRec: 10, resample: true });
  t.equal(ltts.params.resample, false);
  t.strictSame(ltts.warnings, ["resample has no effect without a rank: LTTS's diagonal feedback is drawn once"]);
  const ranked = resolveParams({ nRec: 10, rank: 5, resample: true });
  t.equal(ranked.params.resample, true);
  t.strictSame(ranked.warnings, []);
});

t.test('a diverging readout is reported, not hidden', async (t) => {
  const seen: string[] = [];
  const r = await train({ nRec: 40, tSeq: 40, epochs: [200, 1], outLr: 5, seed: 1 }, { onWarning: (m) => seen.push(m) });
  t.notOk(Number.isFinite(r.mseOut), `mse_out ${r.mseOut}`);
  t.match(seen, [/^the readout training diverged \(mse_out = NaN\): outLr=5 is past this target's stable bound, 2\/λ = \S+ \(λ: the largest eigenvalue of r\*ᵀr\*\); try outLr ≈ \S+$/]);
  // The bound is the target's, not N's alone: a long T at N = 10 crosses it too.
  const small: string[] = [];
  await train({ nRec: 10, tSeq: 1000, epochs: [300, 0], outLr: 0.03, bias: 0, seed: 1 }, { onWarning: (m) => small.push(m) });
  t.match(small, [/outLr=0.03 is past this target's stable bound, 2\/λ = \S+ .*; try outLr ≈ \S+$/]);
  // Still finite, but growing: gradient descent on a quadratic error never raises it while
  // the step is small enough.
  const grew: string[] = [];
  const g = await train({ nRec: 150, epochs: [20, 0], outLr: 0.05, seed: 1, dtype: 'float64' }, { onWarning: (m) => grew.push(m) });
  t.ok(Number.isFinite(g.mseOut) && g.mseOut > 1, `mse_out ${g.mseOut}: finite and far above the target's scale`);
  t.match(grew, [/^the readout training diverged \(mse_out = \S+, up from \S+ at the first epoch\): outLr=0.05 is past this target's stable bound/]);
  t.equal(grew.length, 1);
  // One readout epoch: its mse (mse_out) is measured before its step, so the step's harm shows
  // only in the error it leaves, which a second epoch would measure.
  const once: string[] = [];
  const one = await train({ nRec: 50, tSeq: 50, epochs: [1, 0], outLr: 1, seed: 1 }, { onWarning: (m) => once.push(m) });
  const two = await train({ nRec: 50, tSeq: 50, epochs: [2, 0], outLr: 1, seed: 1 }, { onWarning: () => {} });
  t.ok(two.mseOut > one.mseOut, `two epochs: ${two.mseOut}, above the one epoch's ${one.mseOut}`);
  t.strictSame(once, [`the readout training diverged (the one readout epoch raised the mse from ${+one.mseOut.toPrecision(6)} (mse_out, measured before its step) ` +
    `to ${+two.mseOut.toPrecision(6)}): outLr=1 is past this target's stable bound, 2/λ = ${once[0]?.match(/2\/λ = (\S+)/)?.[1]} (λ: the largest eigenvalue of r*ᵀr*); ` +
    `try outLr ≈ ${once[0]?.match(/try outLr ≈ (\S+)$/)?.[1]}`]);
  const fine: string[] = [];
  await train({ nRec: 150, epochs: [1, 0], seed: 1 }, { onWarning: (m) => fine.push(m) });
  await train({ nRec: 150, epochs: [200, 0], seed: 1 }, { onWarning: (m) => fine.push(m) });
  t.strictSame(fine, [], 'the default out_lr at N = 150, one epoch or 200: no warning');
  // A readout that barely learns (a tiny out_lr) may move its error by rounding alone, either way.
  const still: string[] = [];
  for (let seed = 1; seed <= 40; seed++) {
    for (const n of [1, 5]) await train({ nRec: 3, nOut: 1, tSeq: 20, epochs: [n, 0], outLr: 1e-7, seed }, { onWarning: (m) => still.push(m) });
  }
  t.strictSame(still, [], 'rounding is no divergence');
});

t.test('runs started together are checked against each other: the second that would not fit is refused', async (t) => {
  // The memory this process may use, as the README says it is counted: the machine's, or a
  // container's limit when lower.
  const total = os.totalmem(), constrained = process.constrainedMemory?.() ?? 0;
  const limit = constrained > 0 && constrained < total ? constrained : total;
  // A network of ~0.6 of that, mostly rasters (T·N, allocated natively, and here not at all:
  // the first run is aborted before it starts), so that one fits and two do not.
  const sized = [2000, 4000, 8192].map((nRec) => {
    let lo = 9, hi = 1048576;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (networkBytes(resolveParams({ nRec, tSeq: mid, epochs: [1, 1] }).params) < 0.6 * limit) lo = mid;
      else hi = mid;
    }
    return { nRec, tSeq: hi };
  }).find(({ nRec, tSeq }) => networkBytes(resolveParams({ nRec, tSeq, epochs: [1, 1] }).params) >= 0.55 * limit);
  if (!sized) {
    t.skip(`this machine's ${(limit / 2 ** 30).toFixed(0)} GiB is more than networks of N ≤ 8192, T ≤ 2^20 reach`, () => {});
    return;
  }
  const params = { ...sized, epochs: [1, 1] as [number, number], seed: 1 };
  const first = train(params, { signal: AbortSignal.abort() });
  const second = train(params);
  await t.rejects(second, { code: 'GOAL_ENOMEM', message: /the runs in progress in this process hold .* GiB/ });
  t.equal((await first).aborted, true);
});

t.test('a run this process may hold, but not in the memory available now, is warned of (other programs hold the rest)', async (t) => {
  const params = { nRec: 50, tSeq: 20, epochs: [1, 1] as [number, number], seed: 1 };
  const need = networkBytes(resolveParams(params).params);
  const real = process.availableMemory;
  t.teardown(() => void (process.availableMemory = real));
  const warned = async (available: number) => {
    process.availableMemory = () => available;
    const warnings: string[] = [];
    await train(params, { onWarning: (m) => void warnings.push(m) });
    return warnings;
  };
  t.strictSame(await warned(need), [], 'as much as it needs: no warning');
  t.strictSame(await warned(need - 1), [`the network needs ${Math.ceil(need / 2 ** 20)} MiB of memory, and ${Math.floor((need - 1) / 2 ** 20)} MiB are available now: ` +
    'the system may swap, or end this process for want of memory']);
  const sweepWarnings: string[] = [];
  process.availableMemory = () => 1;
  await sweep({ ranks: [3], taus: [5], seeds: [1, 2], base: { nRec: 50, tSeq: 20, epochs: [1, 1] }, threads: 2, backend: 'cpu', onWarning: (m) => void sweepWarnings.push(m) });
  t.match(sweepWarnings, [/^2 networks at once need \d+ MiB of memory, and 0 MiB are available now/], 'a sweep: its networks in flight, once');
});

t.test('float32 runs take only values float32 holds: past ±3.4e38 the engine would compute with infinities', async (t) => {
  for (const [name, value] of [['reset', -1e39], ['bias', 4e38], ['recLr', 1e39], ['sigmaRec', 1e300]] as const) {
    t.throws(() => resolveParams({ nRec: 10, [name]: value }), { code: 'GOAL_INVALID_PARAM', param: name, message: `${name} must be a number of float32's range, |x| ≤ 3.4028e+38 (with dtype float32) (got ${value})` });
    t.doesNotThrow(() => resolveParams({ nRec: 10, [name]: value, dtype: 'float64' }), `${name} ${value} in float64`);
  }
  t.doesNotThrow(() => resolveParams({ nRec: 10, reset: -3.4e38 }), 'a float32 near the largest');
  // FLT_MAX = (2 − 2⁻²³)·2¹²⁷; a double below the midpoint to 2¹²⁸, (2 − 2⁻²⁴)·2¹²⁷ ≈ 3.40282357e38, rounds to it.
  t.doesNotThrow(() => resolveParams({ nRec: 10, outLr: 3.4028235e38 }), 'FLT_MAX as it is usually written (a little above it)');
  t.throws(() => resolveParams({ nRec: 10, outLr: 3.4028236e38 }), { code: 'GOAL_INVALID_PARAM', param: 'outLr' }, 'past the midpoint: ∞ in float32');
});

t.test('a scale the dtype holds, whose draws it may not: refused for every seed, before any draw', async (t) => {
  // The polar method's bound (rng.ts): |g| ≤ √(−2 ln s) with s ≥ 2⁻¹⁰⁴.
  t.ok(Math.sqrt(-2 * Math.log(2 ** -104)) <= MAX_NORMAL, 'MAX_NORMAL bounds the generator\'s normals');
  const most = 3.4028234663852886e38 / MAX_NORMAL;
  for (const name of ['sigmaInp', 'sigmaTrg', 'sigmaRec'] as const) {
    t.throws(() => resolveParams({ nRec: 10, [name]: most * 1.001 }), {
      code: 'GOAL_INVALID_PARAM', param: name,
      message: `${name} must be at most ${most.toPrecision(5)} with dtype float32, so that its normals (|g| < ${MAX_NORMAL}) stay within float32's range (got ${most * 1.001})`,
    });
    t.doesNotThrow(() => resolveParams({ nRec: 10, [name]: most }), `${name} at the bound`);
    t.doesNotThrow(() => resolveParams({ nRec: 10, [name]: most * 1.001, dtype: 'float64' }), `${name} past it in float64`);
    // float64 has its own bound, the same rule with the largest double.
    const most64 = Number.MAX_VALUE / MAX_NORMAL;
    t.throws(() => resolveParams({ nRec: 10, [name]: most64 * 1.001, dtype: 'float64' }), {
      code: 'GOAL_INVALID_PARAM', param: name,
      message: `${name} must be at most ${most64.toPrecision(5)} with dtype float64, so that its normals (|g| < ${MAX_NORMAL}) stay within float64's range (got ${most64 * 1.001})`,
    });
    t.doesNotThrow(() => resolveParams({ nRec: 10, [name]: most64, dtype: 'float64' }), `${name} at the float64 bound`);
  }
  await t.rejects(train({ nRec: 10, epochs: [1, 1], sigmaRec: 3e38 }), { code: 'GOAL_INVALID_PARAM', param: 'sigmaRec' }, 'train() refuses it, whatever seed it would draw');
});

t.test('the task builders and Rng check their arguments as the params are checked', async (t) => {
  t.throws(() => buildTarget(10.5, 3, new Rng(1)), { code: 'GOAL_INVALID_PARAM', param: 'tSeq', message: 'tSeq must be an integer in [2, 1048576] (got 10.5)' });
  t.throws(() => buildTarget('150' as never, 3, new Rng(1)), { code: 'GOAL_INVALID_PARAM', param: 'tSeq', message: /\(got "150"\)/ });
  t.throws(() => buildTarget(150, 0, new Rng(1)), { code: 'GOAL_INVALID_PARAM', param: 'nOut' });
  t.throws(() => buildTarget(150, 3, {} as never), { code: 'GOAL_INVALID_PARAM', message: /rng must be an Rng/ });
  // Each size in range, their product (2⁴⁰ entries) past any typed array: a coded error.
  t.throws(() => buildClock(1 << 20, 1 << 20), { code: 'GOAL_ENOMEM' });
  t.throws(() => buildTarget(1 << 20, 1 << 20, new Rng(1)), { code: 'GOAL_ENOMEM', message: /^not enough memory for an array of 1099511627776 numbers \(8192\.0 GiB; / },
    'said as the array it is (2⁴⁰ doubles), not as a network');
  t.throws(() => new Rng(1).normals(2 ** 40), { code: 'GOAL_ENOMEM', message: /an array of 1099511627776 numbers/ });
  t.throws(() => buildClock(10, 0), { code: 'GOAL_INVALID_PARAM', param: 'nInp' });
  t.throws(() => new Rng('1' as never), { code: 'GOAL_INVALID_PARAM', param: 'seed', message: 'seed must be an integer in [0, 9007199254740991] (got "1")' });
});

// 95% of the memory this process may use, in rows of 2²⁰ clock units: a clock of fewer rows than
// units has no 1 to write (span 0), so were it granted, it would touch no page of it.
const limit = Math.min(os.totalmem(), process.constrainedMemory?.() || Infinity);
const rows = Math.ceil((0.95 * limit) / 8 / 2 ** 20);
t.test('an array that memory could hold only in part is refused before it is granted (and filled, and the OOM killer called)',
  { skip: rows * 2 ** 20 <= MAX_ARRAY ? false : 'this machine has more memory than a typed array holds' }, async (t) => {
    t.throws(() => buildClock(rows + 1, 2 ** 20), { code: 'GOAL_ENOMEM', message: new RegExp(`^not enough memory for an array of ${rows * 2 ** 20} numbers \\(.* GiB; this (machine has|process may use) .* GiB, of which an array may take 90%\\); try a smaller N or T$`) });
    t.equal(buildClock(2, 2 ** 20).data.length, 2 ** 20, 'a clock that fits is built');
  });

t.test('an unknown option is refused, with the nearest name: a misspelt signal would make a run that cannot be stopped', async (t) => {
  const signal = new AbortController().signal;
  await t.rejects(train({ nRec: 10 }, { sigal: signal } as never), { code: 'GOAL_INVALID_OPTION', message: /^unknown option sigal \(did you mean signal\?\); the options are onEpoch, onReadout, signal, backend, onWarning, label$/, param: 'sigal' });
  await t.rejects(train({ nRec: 10 }, { onepoch: () => {} } as never), { code: 'GOAL_INVALID_OPTION', message: /^unknown option onepoch \(did you mean onEpoch\?\)/ });
  await t.rejects(replay(loadFixture('rank3-n40.json'), { label: (n: string) => n } as never), { code: 'GOAL_INVALID_OPTION', message: /^unknown option label; the options are/ }, 'replay names its params after the fixture');
  await t.rejects(sweep({ ranks: [3], taus: [5], seeds: [1], base: { nRec: 10 }, thread: 2 } as never), { code: 'GOAL_INVALID_OPTION', message: /^unknown option thread \(did you mean threads\?\)/ });
  t.ok((await train({ nRec: 10, tSeq: 20, epochs: [1, 1], seed: 1 }, { signal: undefined, onEpoch: undefined })).mseRec.length, 'an option given as undefined is no option');
});

t.test('a run refused says why, and nothing else: no warning before the refusal', async (t) => {
  // feedback out without a rank is a warning (it runs as spk); N = 2^20 needs terabytes.
  const told: string[] = [];
  const onWarning = (m: string) => void told.push(m);
  await t.rejects(train({ nRec: 2 ** 20, feedback: 'out', epochs: [1, 1] }, { onWarning }), { code: 'GOAL_ENOMEM' });
  await t.rejects(sweep({ ranks: ['ltts'], taus: [5], seeds: [1], base: { nRec: 2 ** 20, feedback: 'out', epochs: [1, 1] }, onWarning }), { code: 'GOAL_ENOMEM' });
  t.strictSame(told, [], 'train() and sweep() told nothing');
  const r = await train({ nRec: 20, feedback: 'out', epochs: [1, 1], seed: 1 }, { onWarning });
  t.equal(r.params.feedback, 'spk');
  t.match(told, [/feedback out needs a rank/], 'the same warning, for a run that goes ahead');
});

t.test("'auto' without a GPU: every call's onWarning hears that it runs on the CPU", { skip: info().cuda.available ? 'a GPU is available here' : false }, async (t) => {
  for (const call of [1, 2]) {
    const told: string[] = [];
    await train({ nRec: 10, epochs: [1, 1], seed: 1 }, { backend: 'auto', onWarning: (m) => void told.push(m) });
    t.match(told, [/^no usable GPU: .*running on the CPU/], `call ${call}`);
  }
});
