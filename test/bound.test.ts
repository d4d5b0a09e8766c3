// The readout's stable bound out_lr < 2/λ (src/bound.ts): λ against closed forms and a dense
// eigenvalue computation, and the bound against the readout training it predicts.
import t from 'tap';
import { readoutLambda } from '../src/bound';
import { replay } from '../src/index';
import { loadFixture } from './helpers';

/** The readout filter of SPEC.md, formed explicitly: r (T × N). */
function filtered(z: Uint8Array, T: number, N: number, a: number): Float64Array {
  const r = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < N; i++) r[t * N + i] = (t ? a * r[(t - 1) * N + i] : 0) + (1 - a) * z[t * N + i];
  }
  return r;
}

/** λmax of the symmetric positive semidefinite M = rᵀr by the Jacobi eigenvalue method. */
function jacobiLargest(r: Float64Array, T: number, N: number): number {
  const m = Array.from({ length: N }, (_, i) => Array.from({ length: N }, (_, j) => {
    let s = 0;
    for (let t = 0; t < T; t++) s += r[t * N + i] * r[t * N + j];
    return s;
  }));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < N; p++) for (let q = p + 1; q < N; q++) off += m[p][q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < N; p++) {
      for (let q = p + 1; q < N; q++) {
        if (m[p][q] === 0) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const tan = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(tan * tan + 1), s = tan * c;
        for (let k = 0; k < N; k++) {
          const kp = m[k][p], kq = m[k][q];
          m[k][p] = c * kp - s * kq;
          m[k][q] = s * kp + c * kq;
        }
        for (let k = 0; k < N; k++) {
          const pk = m[p][k], qk = m[q][k];
          m[p][k] = c * pk - s * qk;
          m[q][k] = s * pk + c * qk;
        }
      }
    }
  }
  return Math.max(...m.map((row, i) => row[i]));
}

t.test('λ of rasters whose r*ᵀr* has a closed form', async (t) => {
  const T = 50, N = 7, a = Math.exp(-1 / 5);
  // Every unit spiking every step: r_t = (1 − a^{t+1})·1, so r*ᵀr* = Σ_t (1 − a^{t+1})²·11ᵀ, λ = N·Σ.
  const sum = Array.from({ length: T }, (_, t) => (1 - a ** (t + 1)) ** 2).reduce((x, y) => x + y);
  t.ok(Math.abs(readoutLambda(new Uint8Array(T * N).fill(1), T, N, a) / (N * sum) - 1) < 1e-9, 'all units, every step');
  // One unit only: a 1×1 block, λ = Σ.
  const one = new Uint8Array(T * N);
  for (let s = 0; s < T; s++) one[s * N + 3] = 1;
  t.ok(Math.abs(readoutLambda(one, T, N, a) / sum - 1) < 1e-9, 'one unit, every step');
  t.equal(readoutLambda(new Uint8Array(T * N), T, N, a), 0, 'no spike: λ = 0');
});

t.test('λ of random rasters equals the dense eigenvalue of r*ᵀr*', async (t) => {
  let state = 12345;
  const uniform = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const [T, N, rate, tauO] of [[40, 12, 0.2, 5], [60, 20, 0.05, 2], [30, 16, 0.5, 10]]) {
    const z = Uint8Array.from({ length: T * N }, () => (uniform() < rate ? 1 : 0));
    const a = Math.exp(-1 / tauO);
    const dense = jacobiLargest(filtered(z, T, N, a), T, N);
    const rel = Math.abs(readoutLambda(z, T, N, a) / dense - 1);
    t.ok(rel < 1e-5, `T=${T} N=${N} rate ${rate}: relative difference ${rel.toExponential(2)}`);
  }
});

t.test('the readout converges just below 2/λ and diverges just above it', async (t) => {
  const fixture = loadFixture('rank3-n40.json') as unknown as Record<string, any>;
  const { t_seq: T, n_rec: N, tau_o: tauO } = fixture.params;
  const z = Uint8Array.from((fixture.expect.z_targ as number[][]).flat()); // the reference's Z*
  const bound = 2 / readoutLambda(z, T, N, Math.exp(-1 / tauO));
  for (const [factor, grows] of [[0.97, false], [1.03, true], [1.0008, true]] as const) {
    const f = structuredClone(fixture);
    delete f.expect;
    f.params.out_lr = factor * bound;
    f.params.epochs = [20000, 0];
    const mse: number[] = [];
    const warnings: string[] = [];
    await replay(f as never, { onEpoch: (e) => void mse.push(e.mse), onWarning: (m) => warnings.push(m) });
    // Below the bound every component of the error shrinks: the MSE never rises (up to rounding).
    const rises = mse.some((m, e) => e > 0 && m > mse[e - 1] * (1 + 1e-9));
    t.equal(rises, grows, `out_lr = ${factor}·2/λ: the MSE ${grows ? 'rises' : 'never rises'} (${mse[0]} → ${mse[mse.length - 1]})`);
    t.equal(warnings.length, grows ? 1 : 0, warnings.join('\n'));
    if (!grows) continue;
    // The bound as said: close to 2/λ, and (with as many digits as that takes) below out_lr.
    const said = Number(/stable bound, 2\/λ = (\S+) /.exec(warnings[0])?.[1]);
    t.ok(Math.abs(said / bound - 1) < 1e-3 && said < f.params.out_lr, `said ${said}, 2/λ = ${bound}, out_lr = ${f.params.out_lr}`);
  }
});
