// Every reference run replays: float64 to 1e-9 relative, float32 to 1e-4, spikes exact.
import t from 'tap';
import { compareReplay, replay, type Fixture } from '../src/index';
import { fixtureNames, loadFixture, mismatches, relDiff, replayMatches } from './helpers';

const TOL = { float64: 1e-9, float32: 1e-4 } as const;

t.ok(fixtureNames().length >= 11, 'the reference fixtures are present');

for (const name of fixtureNames()) {
  t.test(name, async (t) => {
    const fx = loadFixture(name);
    const e = fx.expect!;
    const r = await replay(fx);
    const tol = TOL[fx.dtype];
    t.equal(r.dtype, fx.dtype, 'runs in the fixture dtype');
    t.equal(r.seed, null, 'no seed: the fixture holds the draws');
    t.equal(mismatches(r.zTarg.flat(), e.z_targ!.flat()), 0, 'Z* spike for spike');
    t.equal(mismatches(r.zLast!.flat(), e.Z_last!.flat()), 0, 'last raster spike for spike');
    t.same(r.dz, e.dz, 'dz per epoch exactly');
    t.ok(relDiff([r.mseOut], [e.mse_out!]) <= tol, `mse_out within ${tol}`);
    t.equal(r.mseRec.length, e.mse_rec!.length, 'one mse_rec per recurrent epoch');
    t.ok(relDiff(r.mseRec, e.mse_rec!) <= tol, `mse_rec within ${tol}`);
    t.ok(relDiff(r.wHoTrained.flat(), e.W_ho_trained!.flat()) <= tol, `W_ho_trained within ${tol}`);
    if (e.D) t.ok(relDiff(r.D!.flat(), e.D.flat()) <= tol, `D within ${tol}`);
    if (e.B) t.ok(relDiff(r.B!.flat(), e.B.flat()) <= tol, `B within ${tol}`);
    t.ok(relDiff(r.wHhFinal.flat(), e.W_hh_final!.flat()) <= tol, `W_hh_final within ${tol}`);
    t.ok(replayMatches(compareReplay(fx, r)), 'compareReplay agrees');
  });
}

t.test('compareReplay flags a run that differs from the reference', async (t) => {
  const fx = loadFixture('rank3-n40.json');
  const r = await replay(fx);
  const spoiled = structuredClone(fx);
  spoiled.expect!.dz![1] += 1;
  spoiled.expect!.W_hh_final![0][1] *= 1 + 1e-6;
  const bad = compareReplay(spoiled, r).filter((c) => !c.ok).map((c) => c.field);
  t.same(bad.sort(), ['W_hh_final', 'dz']);
});

t.test('malformed fixtures are refused with the field at fault', async (t) => {
  const fx = loadFixture('rank3-n40.json');
  const with_ = (change: (f: Record<string, any>) => void) => {
    const f = structuredClone(fx) as unknown as Record<string, any>;
    change(f);
    return f as unknown as typeof fx;
  };
  const cases: [(f: Record<string, any>) => void, RegExp][] = [
    [(f) => { f.init.W_hh = f.init.W_hh.map((r: number[]) => new Array(r.length)); }, /fixture.init.W_hh must be .* \(entry \[0\]\[0\] is undefined\)/],
    [(f) => { f.init.W_hh[3][4] = NaN; }, /entry \[3\]\[4\] is NaN/],
    [(f) => { f.params.resample = 'yes'; }, /fixture.params.resample must be true or false \(got "yes"\)/],
    [(f) => { f.expect.z_targ = 5; }, /fixture.expect.z_targ must be a \d+×40 matrix/],
    [(f) => { f.expect.dz = f.expect.dz.slice(1); }, /fixture.expect.dz must be a list of \d+ numbers/],
    [(f) => { f.expect = [1]; }, /fixture.expect must be an object/],
    [(f) => { f.params.resample = true; }, /fixture.params.resample is true with a rank: the reference redraws that feedback at every step/],
    [(f) => { f.init = 5; }, /^fixture.init must be an object of matrices \(got 5\)$/],
    [(f) => { delete f.task; }, /^fixture.task is missing$/],
    [(f) => { f.params.dtype = 'float32'; }, /^fixture.dtype is "float64" but fixture.params.dtype is "float32"$/],
    [(f) => { delete f.dtype; }, /^fixture.dtype is missing \(float32 or float64: the precision the reference ran in\)$/],
    [(f) => { f.dtype = null; }, /^fixture.dtype is missing/], // None in Python
    [(f) => { delete f.init.W_ho; }, /^fixture.init.W_ho is missing \(a 40×3 matrix of finite numbers\)$/],
    [(f) => { f.init.W_ih[2] = 7; }, /^fixture.init.W_ih must be a 5×40 matrix of finite numbers \(row 2 is not a list \(got 7\)\)$/],
    [(f) => { f.expect.mse_out = 'x'; }, /^fixture.expect.mse_out must be a number \(got "x"\)$/],
    [(f) => { f.expect.mse_rec = f.expect.mse_rec.slice(1); }, /^fixture.expect.mse_rec must be a list of \d+ numbers, one per recurrent epoch \(got \d+ entries\)$/],
    [(f) => { f.expect.mse_rec[1] = null; }, /^fixture.expect.mse_rec must be a list of 4 numbers, one per recurrent epoch \(entry 1 is null\)$/],
    [(f) => { f.expect.dz[0] = [3]; }, /^fixture.expect.dz must be a list of 4 numbers, one per recurrent epoch \(entry 0 is \[3\]\)$/],
    [(f) => { delete f.params.epochs; }, /^fixture.params lacks epochs: a replay takes every model parameter from its fixture, none from the defaults$/],
    [(f) => { delete f.params.rank; delete f.params.tau_o; }, /^fixture.params lacks rank, tau_o: /], // rank null is LTTS; absent is not
    [(f) => { f.expect.z_targ[0][0] = 'x'; }, /fixture.expect.z_targ must be .* \(entry \[0\]\[0\] is "x"\)/],
    [(f) => { f.expect.Z_last[1][2] = 2; }, /^fixture.expect.Z_last must be a 60×40 matrix of spikes, 0 or 1 \(entry \[1\]\[2\] is 2\)$/],
    [(f) => { f.expect.z_targ[0][0] = 0.5; }, /^fixture.expect.z_targ must be a 60×40 matrix of spikes, 0 or 1 \(entry \[0\]\[0\] is 0.5\)$/],
    [(f) => { f.expect.min_margin = 'x'; }, /^fixture.expect.min_margin must be a number \(got "x"\)$/],
    // ΔZ counts spikes: a fraction or a negative is a malformed fixture, not a replay that differs.
    [(f) => { f.expect.dz[2] = 1.5; }, /^fixture.expect.dz must hold spike counts, whole numbers ≥ 0 \(entry 2 is 1.5\)$/],
    [(f) => { f.expect.dz[0] = -5; }, /^fixture.expect.dz must hold spike counts, whole numbers ≥ 0 \(entry 0 is -5\)$/],
    [(f) => { f.expect.dz[1] = NaN; }, /^fixture.expect.dz must hold spike counts, whole numbers ≥ 0 \(entry 1 is NaN\)$/],
  ];
  for (const [change, message] of cases) {
    await t.rejects(replay(with_(change)), { code: 'GOAL_BAD_FIXTURE', message }, String(message));
  }
  const r = await replay(fx);
  t.throws(() => compareReplay(null as never, r), { code: 'GOAL_BAD_FIXTURE' });
  t.throws(() => compareReplay(with_((f) => { f.dtype = 'float16'; }), r), { code: 'GOAL_BAD_FIXTURE', message: /dtype must be float32 or float64/ });
  t.throws(() => compareReplay(fx, null as never), { code: 'GOAL_INVALID_OPTION' });
  t.throws(() => compareReplay(fx, { params: {} } as never), { code: 'GOAL_INVALID_OPTION' });
  // Another fixture's result is told as such: the fixture is not blamed for its sizes.
  const other = await replay(loadFixture('rank8-n32-o2-i4.json'));
  t.throws(() => compareReplay(fx, other), { code: 'GOAL_INVALID_OPTION', message: /^compareReplay\(fixture, result\): result must be what replay\(\) of this fixture resolved to \(its nRec is 32, the fixture's 40\)$/ });
  // A result whose fields are not numbers does not match, and says so field by field.
  const spoilt = compareReplay(fx, { ...r, zTarg: 'garbage', mseRec: 5 } as never);
  t.strictSame(spoilt.filter((c) => !c.ok).map((c) => c.field), ['z_targ', 'mse_rec'], 'the two spoilt fields, and only they');
  t.strictSame(compareReplay(with_((f) => { delete f.expect; }), r), [], 'no expect: nothing compared');
});

t.test('a float32 fixture: a matrix entry past float32\'s range is refused, not run as ∞', async (t) => {
  const f = structuredClone(loadFixture('rank12-n40-f32.json')) as unknown as Record<string, any>;
  f.init.W_ho[3][1] = 1e39;
  await t.rejects(replay(f as never), { code: 'GOAL_BAD_FIXTURE', message: /^fixture.init.W_ho: entry \[3\]\[1\] is 1e\+39, beyond float32's range \(\|x\| ≤ 3.4028e\+38\) in a float32 fixture$/ });
  f.init.W_ho[3][1] = -3.4e38; // within it
  f.params.epochs = [0, 0];
  f.expect = undefined;
  const r = await replay(f as never);
  t.equal(r.wHoTrained[3][1], Math.fround(-3.4e38), 'the largest float32 values are taken');
});

t.test('a library caller may give rows as typed arrays: the same run as nested lists', async (t) => {
  const fx = loadFixture('rank3-n40.json');
  // Typed as the library publishes it (Fixture): rows typed arrays, the dtype in params alone.
  const typed = (m: number[][]) => m.map((row) => Float64Array.from(row));
  const { W_ih, W_hh, W_ho, W_trg, B_noise } = fx.init;
  const f: Fixture<Float64Array[]> = {
    params: { ...fx.params, dtype: fx.dtype },
    init: { W_ih: typed(W_ih), W_hh: typed(W_hh), W_ho: typed(W_ho), W_trg: typed(W_trg), B_noise: typed(B_noise) },
    task: { targ: typed(fx.task.targ), clock: typed(fx.task.clock) },
  };
  const r = await replay(f);
  t.equal(r.dtype, fx.dtype, 'the dtype read from params');
  t.ok(replayMatches(compareReplay(fx, r)), 'every field matches the reference');
  // The sizes a fixture may leave out are read off typed rows too (n_out: W_ho's row length,
  // 2 here, not the default 3).
  const o2 = loadFixture('rank8-n32-o2-i4.json');
  const { n_rec: _n, n_inp: _i, n_out: _o, t_seq: _t, ...unsized } = o2.params;
  const rowsOf = (m: Record<string, number[][]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typed(v)]));
  const sized = await replay({ ...o2, params: unsized, init: rowsOf(o2.init) as never, task: rowsOf(o2.task) as never });
  t.equal(sized.params.nOut, 2);
  t.ok(replayMatches(compareReplay(o2, sized)), 'the sizes read off the matrices: the reference run');
});

t.test('LTTS with resample: drawn once, as the reference does, so the fixture replays', async (t) => {
  const fx = loadFixture('ltts-n40.json');
  const f = structuredClone(fx);
  f.params.resample = true;
  const warnings: string[] = [];
  const r = await replay(f, { onWarning: (m) => warnings.push(m) });
  t.ok(replayMatches(compareReplay(f, r)), 'every field matches the reference');
  t.match(warnings, [/^fixture.params.resample has no effect without a rank/]);
  t.equal(r.params.resample, false);
});

t.test('expect: null is an absent field; spikes may be true/false; an empty Z_last without recurrent epochs', async (t) => {
  const fx = loadFixture('rank3-n40.json');
  const f = structuredClone(fx) as unknown as Record<string, any>;
  f.expect.B = null; // spk: B does not apply
  f.expect.W_hh_final = null;
  f.expect.z_targ = f.expect.z_targ.map((row: number[]) => row.map((z) => z === 1));
  const r = await replay(f as never);
  const checks = compareReplay(f as never, r);
  t.strictSame(checks.map((c) => c.field).sort(), ['D', 'W_ho_trained', 'Z_last', 'dz', 'mse_out', 'mse_rec', 'z_targ'], 'the null fields are not compared');
  t.ok(checks.every((c) => c.ok), 'boolean spikes compare as 0/1'); // the fields: asserted just above
  f.expect.z_targ[0][0] = !f.expect.z_targ[0][0];
  t.notOk(compareReplay(f as never, r).find((c) => c.field === 'z_targ')!.ok, 'and a flipped one is caught');
  const nothing = { ...structuredClone(fx), expect: null };
  const rn = await replay(nothing as never);
  t.strictSame(compareReplay(nothing as never, rn), [], 'expect: null itself is absent: nothing compared');
  t.equal(rn.dz.join(), fx.expect!.dz!.join(), 'and the run is the fixture\'s');

  const none = structuredClone(fx) as unknown as Record<string, any>;
  none.params.epochs = [none.params.epochs[0], 0];
  none.expect = { z_targ: fx.expect!.z_targ, mse_out: fx.expect!.mse_out, W_ho_trained: fx.expect!.W_ho_trained, Z_last: [], mse_rec: [], dz: [] };
  const r0 = await replay(none as never);
  t.equal(r0.zLast, null);
  t.strictSame(compareReplay(none as never, r0).map((c) => [c.field, c.ok]),
    [['z_targ', true], ['dz', true], ['mse_out', true], ['mse_rec', true], ['W_ho_trained', true]]);
});

t.test('a dtype given among the params (and not at the top) is taken', async (t) => {
  const fx = loadFixture('ltts-n40-f32.json');
  const f = structuredClone(fx) as unknown as Record<string, any>;
  f.params.dtype = f.dtype;
  delete f.dtype;
  const r = await replay(f as never);
  t.equal(r.dtype, 'float32');
  const f32 = compareReplay(f as never, r);
  t.ok(replayMatches(f32) && f32.every((c) => c.tolerance === 0 || c.tolerance === 1e-4), 'float32 run, float32 tolerances');
});

t.test('fixture params that are not SPEC parameters are named in a warning and ignored', async (t) => {
  const f = structuredClone(loadFixture('rank3-n40.json')) as unknown as Record<string, any>;
  f.params.tau_mm = 4;
  const warnings: string[] = [];
  const r = await replay(f as never, { onWarning: (m) => warnings.push(m) });
  t.strictSame(warnings, ['fixture.params "tau_mm": not among SPEC.md\'s parameters; ignored']);
  t.ok(replayMatches(compareReplay(f as never, r)), 'and the replay still matches');
  const g = structuredClone(loadFixture('rank3-n40.json')) as unknown as Record<string, any>;
  Object.assign(g.params, { gpu: false, savepath: null, verbose: false });
  const quiet: string[] = [];
  await replay(g as never, { onWarning: (m) => quiet.push(m) });
  t.strictSame(quiet, [], "SPEC's table names that are no network parameter (gpu, savepath, verbose) pass silently");
});

t.test("what a generator records beside the run is not held against it: any seed, the other feedback's matrix", async (t) => {
  // torch.initial_seed() is a 64-bit integer, past a JS number's; NumPy's seed may be a list.
  for (const seed of [18446744073709551557, [1000, 3], '1234', -1]) {
    const f = structuredClone(loadFixture('rank3-n40.json')) as unknown as Record<string, any>;
    f.params.seed = seed;
    const r = await replay(f as never);
    t.equal(r.seed, null, `seed ${JSON.stringify(seed)}: not read`);
    t.ok(replayMatches(compareReplay(f as never, r)), `seed ${JSON.stringify(seed)}: replays`);
  }
  // The reference builds an N×N B for spk as well; an out fixture may carry a D beside its B.
  for (const [name, extra, from] of [['rank3-n40.json', 'B', 'D'], ['out-rank10-n40.json', 'D', 'B']] as const) {
    const f = structuredClone(loadFixture(name)) as unknown as Record<string, any>;
    f.expect[extra] = f.expect[from];
    const checks = compareReplay(f as never, await replay(f as never));
    t.ok(replayMatches(checks), `${name} with expect.${extra} too: replays`);
    t.ok(checks.some((c) => c.field === from) && !checks.some((c) => c.field === extra), `${from} compared, ${extra} not`);
  }
});

t.test("the matrices' scales are reported as the fixture gives them (they are already applied)", async (t) => {
  const f = loadFixture('ltts-n60-sigrec0.json') as unknown as Record<string, any>;
  t.equal(f.params.sigma_rec, 0);
  const r = await replay(f as never);
  t.strictSame([r.params.sigmaInp, r.params.sigmaTrg, r.params.sigmaRec], [f.params.sigma_inp, f.params.sigma_trg, 0]);
  const g = structuredClone(loadFixture('rank3-n40.json')) as unknown as Record<string, any>;
  g.params.sigma_inp = -22; // unused, so a sign the reference took is no reason to refuse
  const n = await replay(g as never);
  t.equal(n.params.sigmaInp, -22);
  t.ok(replayMatches(compareReplay(g as never, n)), 'and the replay is unchanged');
  g.params.sigma_inp = 'abc';
  await t.rejects(replay(g as never), { code: 'GOAL_BAD_FIXTURE', message: /^fixture.params.sigma_inp must be a finite number \(got "abc"\)$/ });
});

t.test('params a fixture leaves out: sizes read off its matrices; a model parameter is never a default', async (t) => {
  const f = structuredClone(loadFixture('rank8-n32-o2-i4.json')) as unknown as Record<string, any>;
  // Neither of these changes the run once the matrices are given.
  for (const k of ['n_rec', 'n_inp', 'n_out', 't_seq', 'sigma_inp', 'sigma_trg', 'sigma_rec', 'dt']) delete f.params[k];
  const r = await replay(f as never);
  t.strictSame([r.params.nRec, r.params.nInp, r.params.nOut, r.params.tSeq], [32, 4, 2, 48], 'sizes from W_hh, W_ih, W_ho, targ');
  t.ok(replayMatches(compareReplay(f as never, r)), 'and it replays');
  // Each of these is SPEC's default in this fixture, so a default would replay it by chance:
  // refused all the same, as a fixture that differs from the default would run wrong.
  for (const k of ['out_lr', 'feedback', 'tau_m', 'tau_s', 'tau_o', 'Vo', 'bias', 'reset', 'thr', 'resample']) {
    const g = structuredClone(f);
    delete g.params[k];
    await t.rejects(replay(g as never), { code: 'GOAL_BAD_FIXTURE', message: `fixture.params lacks ${k}: a replay takes every model parameter from its fixture, none from the defaults` }, k);
  }
  // null (Python's None) is no value either: resolveParams would take it for 5/√N.
  const g = structuredClone(f);
  g.params.rec_lr = null;
  await t.rejects(replay(g as never), { code: 'GOAL_BAD_FIXTURE', message: /^fixture.params lacks rec_lr: / }, 'rec_lr null');
  f.init.W_hh = [];
  await t.rejects(replay(f as never), { code: 'GOAL_BAD_FIXTURE', message: /^fixture.init.W_hh has no rows, and fixture.params has no n_rec to size it$/ });
  delete f.init.W_hh;
  await t.rejects(replay(f as never), { code: 'GOAL_BAD_FIXTURE', message: /^fixture.params lacks n_rec \(and there is no fixture.init.W_hh to read it off\)$/ });
});

t.test('feedback out without a rank ran as spk: its matrix may be filed as expect.B', async (t) => {
  const f = structuredClone(loadFixture('ltts-n40.json')) as unknown as Record<string, any>;
  f.params.feedback = 'out';
  f.expect.B = f.expect.D;
  delete f.expect.D;
  const r = await replay(f as never, { onWarning: () => {} });
  const checks = compareReplay(f as never, r);
  t.ok(checks.some((c) => c.field === 'D'), 'compared as D');
  t.ok(replayMatches(checks));
  // Its noise is then N×N: an out-shaped (N×R) one is refused saying why N×N is wanted.
  const o = structuredClone(loadFixture('out-rank10-n40.json')) as unknown as Record<string, any>;
  o.params.rank = null;
  await t.rejects(replay(o as never, { onWarning: () => {} }), { code: 'GOAL_BAD_FIXTURE',
    message: /^fixture.init.B_noise \(feedback out without a rank runs as spk, whose noise is N×N\) must be a 40×40 matrix of finite numbers \(row 0 has 10 entries\)$/ });
});

t.test('non-finite results compare equal to the same non-finite value, and to nothing else', async (t) => {
  const f = structuredClone(loadFixture('rank3-n40.json')) as unknown as Record<string, any>;
  f.task.targ[20][1] = 1e308; // its square overflows: every readout MSE is +∞
  f.expect = { mse_out: Infinity };
  const r = await replay(f as never, { onWarning: () => {} });
  t.strictSame(compareReplay(f as never, r).map((c) => [c.field, c.ok]), [['mse_out', true]]);
  f.expect = { mse_out: NaN };
  t.strictSame(compareReplay(f as never, r).map((c) => [c.field, c.ok]), [['mse_out', false]]);
  f.expect = { mse_out: 1 };
  t.strictSame(compareReplay(f as never, r).map((c) => [c.field, c.ok]), [['mse_out', false]]);
});

t.test('a warning about a fixture names its parameters as the file does', async (t) => {
  const f = structuredClone(loadFixture('rank3-n40.json')) as unknown as Record<string, any>;
  f.task.targ[20][1] = 1e308; // its square overflows: the readout MSE is infinite
  delete f.expect;
  const warnings: string[] = [];
  const r = await replay(f as never, { onWarning: (m) => warnings.push(m) });
  t.equal(r.mseOut, Infinity);
  t.equal(warnings.length, 1);
  // Not the step's fault: the fixture's own out_lr is within its bound.
  t.match(warnings[0], /^the readout training diverged \(mse_out = Infinity\), though fixture\.params\.out_lr=0\.0025 is within this target's stable bound, 2\/λ = \S+: a value overflows float64$/);
});
