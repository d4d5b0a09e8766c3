// CPU kernels: SPEC.md's target run, readout epochs, feedback construction and
// recurrent epoch, for float and double. This file is the readable reference that the
// CUDA kernels are checked against.
//
// Compiled once per instruction-set variant with -DGOAL_ISA_NS=isa_base|isa_avx2|
// isa_avx512 and -ffp-contract=off. Everything but the two table getters has internal
// linkage, so the variants never share (and never mix) machine code. Inner loops run
// over contiguous rows so the compiler vectorises them; reductions use dot() below,
// whose summation order does not depend on the vector width.
//
// Shapes: see NetView in cpu_kernels.h. Row vectors; x@W is a vector–matrix product.
#include "cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "goal_math.h"

#ifndef GOAL_ISA_NS
#error "compile with -DGOAL_ISA_NS=isa_base, isa_avx2 or isa_avx512"
#endif

namespace goal {
namespace {

// y += s·x
template <typename F>
void axpy(F* __restrict y, F s, const F* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}

// y += Σ_j coef_j · M[j,:] over the rows j in order (a vector–matrix product), leaving out zero
// coefficients when `skip_zero`. Four rows per pass over y: y is loaded and stored once for
// the four, and each y_i still gets its terms in the order of j, so the bits are those of one
// axpy per row.
template <typename F>
void add_rows(F* __restrict y, const F* __restrict coef, const F* __restrict M, int64_t rows, int64_t n,
              bool skip_zero) {
  int64_t j[4];
  int k = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (skip_zero && coef[r] == F(0)) continue;
    j[k++] = r;
    if (k < 4) continue;
    k = 0;
    const F a0 = coef[j[0]], a1 = coef[j[1]], a2 = coef[j[2]], a3 = coef[j[3]];
    const F* __restrict x0 = M + j[0] * n;
    const F* __restrict x1 = M + j[1] * n;
    const F* __restrict x2 = M + j[2] * n;
    const F* __restrict x3 = M + j[3] * n;
    for (int64_t i = 0; i < n; ++i) y[i] = (((y[i] + a0 * x0[i]) + a1 * x1[i]) + a2 * x2[i]) + a3 * x3[i];
  }
  for (int q = 0; q < k; ++q) axpy(y, coef[j[q]], M + j[q] * n, n);
}

template <typename F>
void fill(F* __restrict y, F value, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

// x' = a x + b in, elementwise (h, e, q and r* all follow this trace).
template <typename F>
void trace_all(F* __restrict x, F a, F b, const F* __restrict in, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = trace(a, b, x[i], in[i]);
}

// Whether every x_i is finite (x − x is 0 for a finite x, NaN for ±∞ and NaN); no branch,
// so the loop vectorises.
template <typename F>
bool all_finite(const F* __restrict x, int64_t n) {
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= (x[i] - x[i]) == F(0);
  return ok;
}

// Below this no product or sum of the kernels' operands can overflow: a quarter of the type's
// largest value, room for rounding.
template <typename F>
constexpr double overflow_bound() {
  return double(std::numeric_limits<F>::max()) / 4;
}

// c = h@W, skipping silent presynaptic units (h_j = 0 adds exact zeros) unless W may hold a
// non-finite entry (dense: then 0·NaN is NaN, as SPEC's arithmetic has it).
template <typename F>
void project(F* __restrict c, const F* __restrict h, const F* __restrict W, int64_t N, bool dense) {
  fill(c, F(0), N);
  add_rows(c, h, W, N, N, !dense);
}

// W[j,:] += s_j·g and c += h_j·W[j,:] (the updated row) for four rows j that each have both
// (s_j, h_j ≠ 0), in the order given: c is loaded and stored once for the four instead of once
// per row, which relieves the store port that bounds the loop; each c_i gets its terms in the
// same order as row by row, so the bits are the same. As row by row, the diagonal entry
// becomes −(s·g_j) + s·g_j = +0 in the loop.
template <typename F>
void update_rows4(F* __restrict W, const int64_t* j, const F* s, const F* hj, const F* __restrict g,
                  F* __restrict c, int64_t N) {
  F* __restrict w0 = W + j[0] * N;
  F* __restrict w1 = W + j[1] * N;
  F* __restrict w2 = W + j[2] * N;
  F* __restrict w3 = W + j[3] * N;
  w0[j[0]] = -(s[0] * g[j[0]]);
  w1[j[1]] = -(s[1] * g[j[1]]);
  w2[j[2]] = -(s[2] * g[j[2]]);
  w3[j[3]] = -(s[3] * g[j[3]]);
  const F s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
  const F h0 = hj[0], h1 = hj[1], h2 = hj[2], h3 = hj[3];
  for (int64_t i = 0; i < N; ++i) {
    const F gi = g[i];
    const F x0 = w0[i] + s0 * gi, x1 = w1[i] + s1 * gi, x2 = w2[i] + s2 * gi, x3 = w3[i] + s3 * gi;
    w0[i] = x0;
    w1[i] = x1;
    w2[i] = x2;
    w3[i] = x3;
    c[i] = (((c[i] + h0 * x0) + h1 * x1) + h2 * x2) + h3 * x3;
  }
}

// One row of update_and_project's sparse path: the update where s ≠ 0, the row's term of c
// where h_j ≠ 0.
template <typename F>
void update_row(F* __restrict w, int64_t j, F s, F hj, const F* __restrict g, F* __restrict c, int64_t N) {
  if (s != F(0)) {
    // -(s·g_j) + s·g_j is exactly +0 (no overflow here: see WhhState): the diagonal entry
    // is zeroed by the same loop.
    w[j] = -(s * g[j]);
    if (hj != F(0)) {
      for (int64_t i = 0; i < N; ++i) {
        const F x = w[i] + s * g[i];
        w[i] = x;
        c[i] += hj * x;
      }
    } else {
      axpy(w, s, g, N);
    }
  } else if (hj != F(0)) {
    axpy(c, hj, w, N);
  }
}

// W += rec_lr · e ⊗ g with the diagonal held at zero (SPEC step 4) and, when h is given,
// c = h@W with the updated weights, in one pass over W: the update of step t and the
// recurrent input of step t+1 share the memory traffic. Zero terms are skipped unless
// `dense`, which the caller asks for when W or g may hold (or the update may make) a
// non-finite value: then every term is computed and the diagonal zeroed after the update.
template <typename F>
void update_and_project(F* __restrict W, const F* __restrict e, const F* __restrict g,
                        F rec_lr, const F* __restrict h, F* __restrict c, int64_t N, bool dense) {
  if (h) fill(c, F(0), N);
  if (dense) {
    for (int64_t j = 0; j < N; ++j) {
      F* __restrict w = W + j * N;
      axpy(w, rec_lr * e[j], g, N);
      w[j] = F(0);
      if (h) axpy(c, h[j], w, N);
    }
    return;
  }
  // Rows with both an update and a term of c wait in fours for update_rows4. A row without a
  // term of c (h_j = 0) may run at once; one with a term but no update first lets the waiting
  // rows add theirs, so that c gets its terms in the order of j.
  int64_t wj[4];
  F ws[4], wh[4];
  int waiting = 0;
  const auto flush = [&] {
    for (int k = 0; k < waiting; ++k) update_row(W + wj[k] * N, wj[k], ws[k], wh[k], g, c, N);
    waiting = 0;
  };
  for (int64_t j = 0; j < N; ++j) {
    const F s = rec_lr * e[j];
    const F hj = h ? h[j] : F(0);
    if (s != F(0) && hj != F(0)) {
      wj[waiting] = j;
      ws[waiting] = s;
      wh[waiting] = hj;
      if (++waiting == 4) {
        update_rows4(W, wj, ws, wh, g, c, N);
        waiting = 0;
      }
      continue;
    }
    if (hj != F(0)) flush();
    update_row(W + j * N, j, s, hj, g, c, N);
  }
  flush();
}

// Floating minima and maxima are chains the compiler keeps in order (IEEE rules); over values
// ≥ +0, whose bit patterns order as the values do, they become integer ones, which vectorise.
// A NaN's pattern lies above +∞'s: the callers leave NaNs out, as `x < best ? x : best` does.
template <typename F>
using BitsOf = decltype(bits_of(F(0)));

// min_i |v_i − thr|, as the GPU merges it (margin_to returns no −0; a NaN never wins).
template <typename F>
F min_margin(const F* __restrict v, F thr, int64_t N) {
  BitsOf<F> best = bits_of(F(INFINITY));
  for (int64_t i = 0; i < N; ++i) {
    const BitsOf<F> b = bits_of(margin_to(v[i], thr));
    best = b < best ? b : best;
  }
  return from_bits(best);
}

// Whether every g_i is finite, and the largest |g_i| and |e_i| leaving NaNs out, as a running
// `a > max ? a : max` leaves them (see BitsOf).
template <typename F>
void step_extremes(const F* __restrict g, const F* __restrict e, int64_t N, bool& g_finite, F& g_max, F& e_max) {
  using U = BitsOf<F>;
  const U magnitude = ~(U(1) << (8 * sizeof(U) - 1)), inf = bits_of(F(INFINITY));
  const auto largest = [&](const F* __restrict x, bool skip_nan) {
    U top = 0;
    for (int64_t i = 0; i < N; ++i) {
      const U a = bits_of(x[i]) & magnitude;
      top = std::max(top, skip_nan && a > inf ? U(0) : a);
    }
    return top;
  };
  // NaNs are rare (a run gone non-finite): look for them, and leave them out, only if the
  // largest pattern is one.
  U g_bits = largest(g, false), e_bits = largest(e, false);
  g_finite = g_bits < inf;
  if (g_bits > inf) g_bits = largest(g, true);
  if (e_bits > inf) e_bits = largest(e, true);
  g_max = from_bits(g_bits);
  e_max = from_bits(e_bits);
}

// v' and z' of every unit at step t (SPEC "One step"), in place in v and z, from the
// recurrent input c = h'@W_hh and an optional drive row d. Returns min |v' − thr|.
template <typename F>
F integrate(const NetView<F>& n, int64_t t, const F* __restrict c, const F* __restrict d) {
  const int64_t N = n.N;
  F* __restrict xin = n.xin;
  fill(xin, F(0), N);
  for (int64_t k = 0; k < n.I; ++k) {
    const F xk = n.clock[t * n.I + k];
    if (xk != F(0) || !n.wih_finite) axpy(xin, xk, n.W_ih + k * N, N);
  }
  F* __restrict v = n.v;
  F* __restrict z = n.z;
  for (int64_t i = 0; i < N; ++i) {
    F input = xin[i] + c[i] + n.bias;
    if (d) input = input + d[i];
    v[i] = membrane(n.a_m, n.b_m, v[i], input, n.reset, z[i]);
    z[i] = spike(v[i], n.thr);
  }
  return min_margin(v, n.thr, N);
}

template <typename F>
void reset_state(const NetView<F>& n) {
  fill(n.v, n.v_init, n.N);
  fill(n.z, F(0), n.N);
  fill(n.h, F(0), n.N);
  fill(n.e, F(0), n.N);
  fill(n.q, F(0), n.N);
}

template <typename F>
void store_spikes(uint8_t* __restrict row, const F* __restrict z, int64_t N) {
  for (int64_t i = 0; i < N; ++i) row[i] = z[i] != F(0);
}

// SPEC "Training" 1: Z* = run(x, d) with d_t = y*_t @ W_trg, r* = filter(Z*).
template <typename F>
double target_run(const NetView<F>& n) {
  const int64_t N = n.N;
  reset_state(n);
  F* __restrict d = n.u;
  store_spikes(n.Z_targ, n.z, N);
  fill(n.r_targ, F(0), N);
  trace_all(n.r_targ, n.a_o, n.b_o, n.z, N);  // r*_0 = (1 − a_o) Z*_0
  F margin = F(INFINITY);
  for (int64_t t = 0; t + 1 < n.T && !stopping(n); ++t) {
    trace_all(n.h, n.a_s, n.b_s, n.z, N);
    project(n.c, n.h, n.W_hh, N, n.whh->nonfinite);
    fill(d, F(0), N);
    for (int64_t o = 0; o < n.O; ++o) axpy(d, n.targ[t * n.O + o], n.W_trg + o * N, N);
    const F m = integrate(n, t, n.c, d);
    margin = m < margin ? m : margin;
    store_spikes(n.Z_targ + (t + 1) * N, n.z, N);
    const F* __restrict prev = n.r_targ + t * N;
    F* __restrict r = n.r_targ + (t + 1) * N;
    for (int64_t i = 0; i < N; ++i) r[i] = trace(n.a_o, n.b_o, prev[i], n.z[i]);
  }
  return double(margin);
}

// rT = the rows [t0, t0 + len) of r (T×N), transposed (N×len).
template <typename F>
void transpose_rows(const NetView<F>& n, const F* __restrict r, int64_t t0, int64_t len) {
  for (int64_t t = 0; t < len; ++t)
    for (int64_t i = 0; i < n.N; ++i) n.rT[i * len + t] = r[(t0 + t) * n.N + i];
}

// y = r@W_ho into n.err (O×T, O-major) for the T rows r_t that rows(t0, len) puts in rT
// (transposed, N×len) a tile of steps at a time: each y_t,o sums over i in SPEC's order, and
// the loop runs across the steps (vectorised) where one step's y_t would sum O-long rows.
template <typename F, typename Rows>
void readout_forward(const NetView<F>& n, Rows rows) {
  const int64_t O = n.O, T = n.T, tile = readout_tile(T);
  fill(n.err, F(0), O * T);
  for (int64_t t0 = 0; t0 < T; t0 += tile) {
    const int64_t len = std::min(tile, T - t0);
    rows(t0, len);
    for (int64_t i = 0; i < n.N; ++i) {
      const F* __restrict r = n.rT + i * len;
      for (int64_t o = 0; o < O; ++o) {
        const F w = n.W_ho[i * O + o];
        F* __restrict y = n.err + o * T + t0;
        for (int64_t t = 0; t < len; ++t) y[t] += r[t] * w;
      }
    }
  }
}

// n.err: y (from readout_forward) becomes y* − y, in place; returns Σ_t Σ_o (y*_t,o − y_t,o)²,
// grouped Σ_t (Σ_o), the one sum of every mse (mse_out is one number whichever call measures
// it). Its sums add the zero terms a sparse one skips, which leave a finite sum's bits as they
// were (a sum that starts at +0 never becomes −0) and which SPEC's dense arithmetic adds too:
// the same numbers either way.
template <typename F>
double readout_error(const NetView<F>& n) {
  const int64_t O = n.O, T = n.T;
  F* __restrict err = n.err;
  double se = 0;
  for (int64_t t = 0; t < T; ++t) {
    double row = 0;
    for (int64_t o = 0; o < O; ++o) {
      const F diff = n.targ[t * O + o] - err[o * T + t];
      err[o * T + t] = diff;
      row += double(diff) * double(diff);
    }
    se += row;
  }
  return se;
}

template <typename F, typename Rows>
double readout_se(const NetView<F>& n, Rows rows) {
  readout_forward(n, rows);
  return readout_error(n);
}

template <typename F>
double readout_mse(const NetView<F>& n) {
  return mean_square<F>(readout_se(n, [&](int64_t t0, int64_t len) { transpose_rows(n, n.r_targ, t0, len); }), n.T * n.O);
}

// SPEC "Training" 2: y = r*@W_ho; mse before the update; W_ho += out_lr · r*ᵀ@(y* − y).
// Every sum runs over its terms in SPEC's order (y_t,o over i, the gradient over t); the
// arrays are held transposed (rT = r*ᵀ for a tile of steps, err and grad O-major) so that the
// loops across the independent sums run unit-stride and vectorise. A zero r* adds ±0, which
// leaves a finite sum as it was (a sum that starts at +0 is never −0): the same bits as the
// CUDA kernel, which skips those terms, while the readout stays finite; once it is not, 0·NaN
// is NaN, as in SPEC's dense arithmetic.
template <typename F>
void readout_epochs(const NetView<F>& n, int64_t epochs, double* mse) {
  const int64_t N = n.N, O = n.O, T = n.T, tile = readout_tile(T);
  F* __restrict err = n.err;    // O×T: y, then y* − y
  F* __restrict grad = n.grad;  // O×N
  if (tile == T) transpose_rows(n, n.r_targ, 0, T);  // one tile: once for all epochs
  for (int64_t k = 0; k < epochs && !stopping(n); ++k) {
    readout_forward(n, [&](int64_t t0, int64_t len) {
      if (tile < T) transpose_rows(n, n.r_targ, t0, len);
    });
    mse[k] = mean_square<F>(readout_error(n), T * O);
    fill(grad, F(0), N * O);
    for (int64_t t = 0; t < T; ++t) {
      const F* __restrict r = n.r_targ + t * N;
      for (int64_t o = 0; o < O; ++o) {
        const F e = err[o * T + t];
        F* __restrict g = grad + o * N;
        for (int64_t i = 0; i < N; ++i) g[i] += r[i] * e;
      }
    }
    for (int64_t i = 0; i < N; ++i)
      for (int64_t o = 0; o < O; ++o) n.W_ho[i * O + o] += n.out_lr * grad[o * N + i];
  }
}

// SPEC "Training" 3. s = 2·std(W_ho); B = s·g with its first O columns replaced by W_ho.
// Keeps Bt = B[:, :R]ᵀ (R×N); LTTS keeps only m = mean_i Σ_j B_ij²; out also keeps
// P = Y* (T×R): r*_t @ B with its first O columns replaced by y*_t.
template <typename F>
void build_feedback(NetView<F>& n, const double* noise) {
  const int64_t N = n.N, O = n.O;
  const int64_t cols = n.out_feedback ? n.R : N;
  const F s = feedback_scale(n.W_ho, N * O);
  auto B = [&](int64_t i, int64_t j) -> F { return feedback_entry(n.W_ho, O, s, noise, cols, i, j); };
  if (n.R == 0) {
    double total = 0;
    for (int64_t i = 0; i < N; ++i) {
      double row = 0;
      for (int64_t j = 0; j < N; ++j) {
        const F b = B(i, j);
        row += double(b * b);
      }
      total += row;
    }
    n.m = F(total / double(N));
    n.fb_finite = all_finite(&n.m, 1);
    return;
  }
  for (int64_t r = 0; r < n.R; ++r)
    for (int64_t i = 0; i < N; ++i) n.Bt[r * N + i] = B(i, r);
  const bool bt_finite = all_finite(n.Bt, n.R * N);
  n.wants_D = false;
  if (!n.out_feedback && !n.D) {
    // |D_ij| ≤ max_i Σ_r B_ir² = ρ, and |(u@D)_j| ≤ N·ρ (|u| ≤ 1): far below the largest
    // value, neither D nor the factored products can overflow.
    double rho = 0;
    for (int64_t i = 0; i < N; ++i) {
      double row = 0;
      for (int64_t r = 0; r < n.R; ++r) row += double(n.Bt[r * N + i]) * double(n.Bt[r * N + i]);
      rho = row > rho ? row : rho;
    }
    if (!bt_finite || !(double(N) * rho <= overflow_bound<F>())) {
      n.wants_D = true;
      return;
    }
  }
  if (n.D) {
    // D = B_R B_Rᵀ row by row: D[i,:] = Σ_r Bt[r,i] · Bt[r,:].
    for (int64_t i = 0; i < N; ++i) {
      if (stopping(n)) return;  // N²R work: a stop is heard between rows
      F* __restrict row = n.D + i * N;
      fill(row, F(0), N);
      for (int64_t r = 0; r < n.R; ++r) axpy(row, n.Bt[r * N + i], n.Bt + r * N, N);
    }
  }
  if (n.out_feedback) {
    for (int64_t t = 0; t < n.T; ++t)
      for (int64_t r = 0; r < n.R; ++r)
        n.P[t * n.R + r] = r < O ? n.targ[t * O + r] : dot(n.r_targ + t * N, n.Bt + r * N, N);
  }
  n.fb_finite = bt_finite && (!n.D || all_finite(n.D, N * N)) &&
                (!n.out_feedback || all_finite(n.P, n.T * n.R));
}

// D = B_R B_Rᵀ (N×N) as the engine uses it, or accumulated in double from the factors; or
// m·Identity for LTTS.
template <typename F>
void feedback_matrix(const NetView<F>& n, double* D) {
  const int64_t N = n.N;
  if (n.D) {
    for (int64_t k = 0; k < N * N; ++k) D[k] = double(n.D[k]);
    return;
  }
  if (n.R == 0) {
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) D[i * N + j] = ltts_entry(n.m, i, j);
    return;
  }
  for (int64_t k = 0; k < N * N; ++k) D[k] = 0;
  for (int64_t r = 0; r < n.R; ++r) {
    const F* b = n.Bt + r * N;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) D[i * N + j] += double(b[i]) * double(b[j]);
  }
}

// g = (u@D) ⊙ σ'(v') at step t, with t1 = t + 1 (SPEC step 4):
//   spk: u = r*_{t1} − q; LTTS applies D = m·I as a scalar, rank R as (u@B_R)@B_Rᵀ, or as
//        u@D with D = B_R B_Rᵀ when that is cheaper (2R > N);
//   out: (Y*_{t1} − q@B)@Bᵀ.
template <typename F>
void learning_signal(const NetView<F>& n, int64_t t1) {
  const int64_t N = n.N, R = n.R;
  const F* __restrict rt = n.r_targ + t1 * N;
  const F* __restrict q = n.q;
  const F* __restrict v = n.v;
  F* __restrict g = n.g;
  if (R == 0) {
    // u@(m·I) as a scalar: the same while m is finite; an infinite m makes every off-diagonal
    // term ∞·0 = NaN, and a NaN m every product NaN.
    if (!n.fb_finite && N > 1) {
      fill(g, F(NAN), N);
      return;
    }
    for (int64_t i = 0; i < N; ++i) g[i] = ltts_signal(n.m, rt[i], q[i], v[i]);
    return;
  }
  if (n.D) {
    // u@D (D symmetric): one pass over N×N instead of two over R×N when 2R > N.
    F* __restrict u = n.u;
    for (int64_t i = 0; i < N; ++i) u[i] = rt[i] - q[i];
    fill(g, F(0), N);
    add_rows(g, u, n.D, N, N, n.fb_finite);
    for (int64_t i = 0; i < N; ++i) g[i] *= sigmoid_prime(v[i]);
    return;
  }
  F* __restrict a = n.a;
  if (n.out_feedback) {
    for (int64_t r = 0; r < R; ++r) a[r] = n.P[t1 * R + r] - dot(q, n.Bt + r * N, N);
  } else {
    F* __restrict u = n.u;
    for (int64_t i = 0; i < N; ++i) u[i] = rt[i] - q[i];
    for (int64_t r = 0; r < R; ++r) a[r] = dot(u, n.Bt + r * N, N);
  }
  fill(g, F(0), N);
  add_rows(g, a, n.Bt, R, N, false);
  for (int64_t i = 0; i < N; ++i) g[i] *= sigmoid_prime(v[i]);
}

// mse_rec's numerator for the epoch just run: y_t = q_t@W_ho with q_t = filter(Z)_t recomputed
// from the raster by the same trace as during the epoch (q_0 = r_0 = (1 − a_o) Z_0 = 0).
template <typename F>
double epoch_error(const NetView<F>& n) {
  const int64_t N = n.N;
  F* __restrict q = n.q;
  fill(q, F(0), N);
  return readout_se(n, [&](int64_t t0, int64_t len) {
    for (int64_t t = 0; t < len; ++t) {
      const uint8_t* __restrict Zrow = n.Z + (t0 + t) * N;
      if (t0 + t > 0)
        for (int64_t i = 0; i < N; ++i) q[i] = trace(n.a_o, n.b_o, q[i], F(Zrow[i]));
      for (int64_t i = 0; i < N; ++i) n.rT[i * len + t] = q[i];
    }
  });
}

// SPEC "Training" 4: one recurrent epoch without the drive, with the online update after
// every step; then mse_rec against y* and dz = Σ|Z* − Z|.
template <typename F>
double recurrent_epoch(const NetView<F>& n, double* mse_rec, double* dz) {
  const int64_t N = n.N, T = n.T;
  F* __restrict W = n.W_hh;
  WhhState& st = *n.whh;
  // The reference zeroes the diagonal after step 0's update, which adds nothing
  // (e'_0 = 0) to weights that step 0 reads only times h'_0 = 0: while W is finite, zeroing
  // it first is the same (with an infinite entry, 0·∞ is NaN, and the first update zeroes it).
  if (!st.nonfinite)
    for (int64_t i = 0; i < N; ++i) W[i * N + i] = F(0);
  reset_state(n);
  store_spikes(n.Z, n.z, N);
  int64_t diff = 0;
  for (int64_t i = 0; i < N; ++i) diff += n.Z[i] != n.Z_targ[i];
  trace_all(n.h, n.a_s, n.b_s, n.z, N);
  trace_all(n.e, n.a_m, n.b_m, n.h, N);
  project(n.c, n.h, W, N, st.nonfinite);
  F margin = F(INFINITY);
  // A stop (Batch.stop: the process exits, say) is heard every 64 steps: an epoch of a large
  // network takes seconds. The epoch it cuts short is never reported. (Heard at every step, the
  // flag's load costs a small network's epoch 4%.)
  for (int64_t t = 0; t + 1 < T; ++t) {
    if (t % 64 == 63 && stopping(n)) break;
    const F m = integrate(n, t, n.c, static_cast<const F*>(nullptr));
    margin = m < margin ? m : margin;
    uint8_t* __restrict Zrow = n.Z + (t + 1) * N;
    const uint8_t* __restrict Ztrow = n.Z_targ + (t + 1) * N;
    store_spikes(Zrow, n.z, N);
    for (int64_t i = 0; i < N; ++i) diff += Zrow[i] != Ztrow[i];
    trace_all(n.q, n.a_o, n.b_o, n.z, N);
    learning_signal(n, t + 1);
    // The largest entry this step can add to W: |rec_lr|·max e·max |g| (e ≥ 0).
    bool g_finite;
    F g_max, e_max;
    step_extremes(n.g, n.e, N, g_finite, g_max, e_max);
    st.bound += double(n.rec_lr < F(0) ? -n.rec_lr : n.rec_lr) * double(e_max) * double(g_max);
    const bool dense = st.nonfinite || !g_finite || !(st.bound <= overflow_bound<F>());
    const bool last = t + 2 == T;
    if (!last) trace_all(n.h, n.a_s, n.b_s, n.z, N);  // h' of step t+1
    update_and_project(W, n.e, n.g, n.rec_lr, last ? nullptr : n.h, n.c, N, dense);
    if (dense && !st.nonfinite) st.nonfinite = !all_finite(W, N * N);
    if (!last) trace_all(n.e, n.a_m, n.b_m, n.h, N);  // e' of step t+1
  }
  *mse_rec = mean_square<F>(epoch_error(n), T * n.O);
  *dz = double(diff);
  return double(margin);
}

template <typename F>
const Kernels<F>* table() {
  static const Kernels<F> k = {&target_run<F>,     &readout_epochs<F>,  &readout_mse<F>,
                               &build_feedback<F>, &recurrent_epoch<F>, &feedback_matrix<F>};
  return &k;
}

}  // namespace

namespace GOAL_ISA_NS {
const Kernels<float>* kernels_f32() { return table<float>(); }
const Kernels<double>* kernels_f64() { return table<double>(); }
}  // namespace GOAL_ISA_NS

}  // namespace goal
