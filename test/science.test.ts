// The paper's qualitative result (Capone et al. 2022, Fig. 2) at small size, N=150, T=150,
// τ⋆=5 dt: the target-based corner (LTTS) ends with a far lower spike error than the
// error-based corner (rank 3). "Far lower" is taken as an order of magnitude. The README's
// run of this grid gives medians of 7 (LTTS) and 1837 (rank 3); the bounds leave room on
// either side, as they state the result rather than our bits. Rank 3 hardly learning the
// spikes is part of that result: its spike error stays in the thousands.
import t from 'tap';
import { summarize, sweep } from '../src/index';

t.test('LTTS ends far below rank 3 in spike error (median over 3 seeds)', async (t) => {
  const r = await sweep({
    ranks: [3, 'ltts'], taus: [5], seeds: [1, 2, 3], threads: 2, backend: 'cpu',
    base: { nRec: 150, tSeq: 150, epochs: [2000, 1000] },
  });
  const [rank3, ltts] = summarize(r.rows);
  t.equal(rank3.rank, 3);
  t.equal(ltts.rank, 'ltts');
  t.ok(ltts.dz_final * 10 < rank3.dz_final, `LTTS ΔS ${ltts.dz_final} ≪ rank 3 ΔS ${rank3.dz_final}`);
  t.ok(rank3.dz_final > 1000, `rank 3 hardly learns the spikes (${rank3.dz_final})`);
  t.ok(ltts.mse_final < rank3.mse_final, `LTTS output error ${ltts.mse_final} < rank 3 ${rank3.mse_final}`);
});
