// The readout's stable learning rate. SPEC "Training" 2 is gradient descent on the quadratic
// ½‖y* − r*·W_ho‖² with step out_lr: it converges exactly when out_lr < 2/λ, λ the largest
// eigenvalue of r*ᵀr* (N × N). λ grows with N, with T and with the firing rates, so no rule in
// N alone says where a run crosses it; the target raster does.

/** How closely the power iteration pins λ (relative change between two iterations). */
const TOLERANCE = 1e-6;
const MOST_ITERATIONS = 200;

/**
 * λ, the largest eigenvalue of r*ᵀr*, from the target raster Z* (T × N, row-major) and the
 * readout's decay a_o. r* = filter(Z*) is never formed: the filter is linear, so r*·v is the
 * filter of Z*·v, and r*ᵀ·u is Z*ᵀ·g with g the filter run backwards over u: per iteration two
 * passes over the spikes (a list of them, built once: a raster is mostly zeros), in O(T + N)
 * memory besides. Starts from the all-ones vector: r* has no negative entry, so it is not
 * orthogonal to the leading eigenvector (Perron–Frobenius). The Rayleigh quotient it returns
 * is a lower bound that rises to λ.
 */
export function readoutLambda(zTarg: Uint8Array, T: number, N: number, aO: number): number {
  // Row t's spikes are units[start[t] .. start[t + 1]).
  const start = new Int32Array(T + 1);
  for (let t = 0; t < T; t++) {
    let count = 0;
    for (let i = t * N; i < (t + 1) * N; i++) count += zTarg[i];
    start[t + 1] = start[t] + count;
  }
  const units = new Int32Array(start[T]);
  for (let t = 0, j = 0; t < T; t++) for (let i = 0; i < N; i++) if (zTarg[t * N + i]) units[j++] = i;

  let v = new Float64Array(N).fill(1 / Math.sqrt(N));
  const u = new Float64Array(T);
  let lambda = 0;
  for (let it = 0; it < MOST_ITERATIONS; it++) {
    // u = r*·v: r_t = a_o·r_{t−1} + (1 − a_o)·Z_t, with r_{−1} = 0.
    let acc = 0, next = 0;
    for (let t = 0; t < T; t++) {
      let zv = 0;
      for (let j = start[t]; j < start[t + 1]; j++) zv += v[units[j]];
      acc = aO * acc + (1 - aO) * zv;
      u[t] = acc;
      next += acc * acc; // ‖u‖² = vᵀr*ᵀr*v, v a unit vector
    }
    if (next === 0) return 0; // no target spike: nothing to learn from, any step is stable
    // w = r*ᵀ·u = (1 − a_o)·Σ_t Z_tᵀ·g_t, g_t = u_t + a_o·g_{t+1}.
    const w = new Float64Array(N);
    let g = 0;
    for (let t = T - 1; t >= 0; t--) {
      g = u[t] + aO * g;
      for (let j = start[t]; j < start[t + 1]; j++) w[units[j]] += (1 - aO) * g;
    }
    let norm = 0;
    for (let i = 0; i < N; i++) norm += w[i] * w[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < N; i++) w[i] /= norm;
    v = w;
    const settled = Math.abs(next - lambda) <= TOLERANCE * next;
    lambda = next;
    if (settled) break;
  }
  return lambda;
}
