// The addon checks what protects memory, refuses overlapping and out-of-order calls, and
// turns every failure into a coded JS error (never a crash).
import t from 'tap';
import { addon } from '../src/native';

const N = 4, I = 2, O = 1, T = 5;
const base = () => ({
  backend: 'cpu' as const, dtype: 'float64' as const, N, I, O, T, R: 0, feedback: 'spk' as const,
  tau_m: 8, tau_s: 2, tau_o: 5, v_init: -4, bias: -4, reset: -20, thr: 0, rec_lr: 0.1, out_lr: 0.01,
  W_ih: new Float64Array(I * N).fill(3), W_hh: new Float64Array(N * N), W_ho: new Float64Array(N * O).fill(0.5),
  W_trg: new Float64Array(O * N), targ: new Float64Array(T * O).fill(0.2), clock: new Float64Array((T - 1) * I).fill(1),
});

t.test('typed-array kinds and lengths', async (t) => {
  const { Net } = addon();
  t.throws(() => new Net({ ...base(), W_hh: new Float32Array(N * N) as never }), { code: 'GOAL_INVALID', name: 'TypeError', message: /W_hh must be a Float64Array/ });
  t.throws(() => new Net({ ...base(), W_hh: new Float64Array(N * N - 1) }), { code: 'GOAL_INVALID', message: /W_hh must have 16 elements \(got 15\)/ });
  t.throws(() => new Net({ ...base(), clock: [1, 2] as never }), { code: 'GOAL_INVALID' });
  t.throws(() => new Net({ ...base(), N: 2.5 }), { code: 'GOAL_INVALID', message: /config.N must be an integer/ });
  t.throws(() => new Net({ ...base(), N: -1 }), { code: 'GOAL_INVALID' });
  t.throws(() => new Net({ ...base(), T: 1 }), { code: 'GOAL_INVALID' });
  t.throws(() => new Net({ ...base(), R: 9 }), { code: 'GOAL_INVALID', message: /rank R must be in \[O, N\]/ });
  t.throws(() => new Net({ ...base(), tau_m: 0 }), { code: 'GOAL_INVALID' });
  t.throws(() => new Net({ ...base(), dtype: 'float16' as never }), { code: 'GOAL_INVALID' });
  t.throws(() => new Net(undefined as never), { code: 'GOAL_INVALID' });
  t.throws(() => new Net({ ...base(), W_ih: undefined as never }), { code: 'GOAL_INVALID', message: /config.W_ih is missing/ });
  t.throws(() => addon().bytesNeeded({ ...base(), N: 2 ** 40 }), { code: 'GOAL_INVALID' });
});

t.test('phases out of order, overlapping calls, disposal', async (t) => {
  const net = new (addon().Net)(base());
  await t.rejects(net.readout(1), { code: 'GOAL_STATE' }, 'readout before the target run');
  t.throws(() => net.read('Z_last'), { code: 'GOAL_STATE' });
  const first = net.targetRun();
  t.throws(() => net.readout(1), { code: 'GOAL_BUSY' }, 'a second call while one runs');
  t.throws(() => net.dispose(), { code: 'GOAL_BUSY' });
  await first;
  await t.rejects(net.recurrent(1), { code: 'GOAL_STATE' }, 'recurrent epochs before the feedback');
  t.throws(() => net.feedback(new Float64Array(3)), { code: 'GOAL_INVALID', message: /noise must have 16 elements/ });
  t.throws(() => net.readout(-1), { code: 'GOAL_INVALID' });
  t.throws(() => net.readout(Number.NaN), { code: 'GOAL_INVALID' });
  t.throws(() => net.readout(2 ** 40), { code: 'GOAL_INVALID' }, 'an absurd epoch count is an error, not an abort');
  t.throws(() => net.read('nope' as never), { code: 'GOAL_INVALID' });
  const mse = await net.readout(3);
  t.equal(mse.length, 3);
  await net.feedback(new Float64Array(N * N).fill(1));
  const r = await net.recurrent(2);
  t.equal(r.dz.length, 2);
  t.equal(net.read('Z_last').length, T * N);
  net.dispose();
  t.throws(() => net.read('W_hh'), { code: 'GOAL_STATE', message: /disposed/ });
});

t.test('cuda without CUDA is a coded error', async (t) => {
  if (addon().info().cuda.available) return t.skip('a GPU is available here');
  t.throws(() => new (addon().Net)({ ...base(), backend: 'cuda' }), { code: /GOAL_NO_CUDA|GOAL_CUDA/ });
});

t.test('a CPU batch equals its networks run one at a time, bit for bit', async (t) => {
  const { Batch, Net } = addon();
  const nets = [0, 1, 2].map((k) => {
    const c = base();
    c.W_hh = Float64Array.from({ length: N * N }, (_, i) => Math.sin(i * 7 + k));
    c.W_ih = Float64Array.from({ length: I * N }, (_, i) => 4 + Math.cos(i + k));
    const { backend: _b, ...rest } = { ...c, R: k === 2 ? 2 : 0 };
    return rest;
  });
  const noise = nets.map((_, k) => Float64Array.from({ length: N * N }, (_, i) => Math.cos(i * 3 + k)));
  for (const threads of [1, 2]) {
    const b = new Batch({ backend: 'cpu', threads, nets });
    t.equal(b.size, 3);
    await b.targetRun();
    const mse = await b.readout(4);
    await b.feedback(noise);
    const r = await b.recurrent(3);
    for (let k = 0; k < 3; k++) {
      const alone = new Net({ ...nets[k], backend: 'cpu' });
      await alone.targetRun();
      const m1 = await alone.readout(4);
      await alone.feedback(noise[k]);
      const r1 = await alone.recurrent(3);
      t.strictSame(Array.from(mse.subarray(4 * k, 4 * k + 4)), Array.from(m1), `threads ${threads}, net ${k}: readout`);
      t.strictSame(Array.from(r.mseRec.subarray(3 * k, 3 * k + 3)), Array.from(r1.mseRec), `net ${k}: mse_rec`);
      t.strictSame(Array.from(r.dz.subarray(3 * k, 3 * k + 3)), Array.from(r1.dz), `net ${k}: dz`);
      t.strictSame(Array.from(b.read(k, 'W_hh')), Array.from(alone.read('W_hh')), `net ${k}: W_hh`);
    }
    b.dispose();
  }
});

t.test('batch arguments are checked', async (t) => {
  const { Batch } = addon();
  const { backend: _b, ...one } = base();
  t.throws(() => new Batch({ backend: 'cpu', nets: [] }), { code: 'GOAL_INVALID' });
  t.throws(() => new Batch({ backend: 'cpu', nets: [one, { ...one, N: 5, W_hh: new Float64Array(25), W_ih: new Float64Array(10), W_ho: new Float64Array(5), W_trg: new Float64Array(5) }] }),
    { code: 'GOAL_INVALID', message: /share N, I, O, T and dtype/ });
  t.throws(() => new Batch({ backend: 'cpu', threads: 0, nets: [one] }), { code: 'GOAL_INVALID' });
  const b = new Batch({ backend: 'cpu', nets: [one, one] });
  await b.targetRun();
  t.throws(() => b.feedback([new Float64Array(16)]), { code: 'GOAL_INVALID', message: /one noise array per network/ });
  t.throws(() => b.read(2, 'W_hh'), { code: 'GOAL_INVALID' });
  const pending = b.readout(1);
  t.equal(b.size, 2, 'size is readable while a call runs');
  t.throws(() => b.read(0, 'W_hh'), { code: 'GOAL_BUSY' });
  await pending;
});
