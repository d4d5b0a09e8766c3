// The paper's qualitative result (Capone et al. 2022, Fig. 2): at N=150, T=150, τ⋆=5 dt,
// target-based learning (LTTS) ends with a far lower spike error than error-based rank 3.
import t from 'tap';
import { train } from '../src/index';

t.test('LTTS ends far below rank 3 in spike error', async (t) => {
  for (const seed of [1, 2]) {
    const common = { nRec: 150, tSeq: 150, tauO: 5, epochs: [2000, 1000] as [number, number], seed };
    const ltts = await train(common);
    const rank3 = await train({ ...common, rank: 3 });
    const a = ltts.dz.at(-1)!, b = rank3.dz.at(-1)!;
    t.ok(a * 10 < b, `seed ${seed}: LTTS ΔZ ${a} ≪ rank 3 ΔZ ${b}`);
    t.ok(ltts.mseRec.at(-1)! < rank3.mseRec.at(-1)!, `seed ${seed}: LTTS output error ${ltts.mseRec.at(-1)} < rank 3 ${rank3.mseRec.at(-1)}`);
  }
});
