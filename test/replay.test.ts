// Every reference run replays: float64 to 1e-9 relative, float32 to 1e-4, spikes exact.
import t from 'tap';
import { compareReplay, replay } from '../src/index';
import { fixtureNames, loadFixture, mismatches, relDiff } from './helpers';

const TOL = { float64: 1e-9, float32: 1e-4 } as const;

t.ok(fixtureNames().length >= 11, 'the reference fixtures are present');

for (const name of fixtureNames()) {
  t.test(name, async (t) => {
    const fx = loadFixture(name);
    const e = fx.expect!;
    const r = await replay(fx);
    const tol = TOL[fx.dtype];
    t.equal(r.dtype, fx.dtype, 'runs in the fixture dtype');
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
    t.ok(compareReplay(fx, r).every((c) => c.ok), 'compareReplay agrees');
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
