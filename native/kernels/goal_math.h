// SPEC.md's step equations, once, for host and device.
//
// Symbols follow SPEC.md: v membrane, z spike, h filtered spikes, e eligibility,
// a_m a_s a_o decay factors (b_x = 1 - a_x), thr threshold. Every function here has
// internal linkage (anonymous namespace): this header is compiled into several
// instruction-set variants of the CPU kernels, and they must not share symbols.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GOAL_HD __host__ __device__ __forceinline__
#else
#define GOAL_HD inline
#endif

namespace goal {
namespace {

// a = exp(-1/tau): time constants are in units of dt, so dt cancels (SPEC "Decay factors").
GOAL_HD double decay(double tau) { return exp(-1.0 / tau); }

// Low-pass trace used for h, e, the readout filter r and the online filter q:
// x' = a x + (1 - a) in.
template <typename F>
GOAL_HD F trace(F a, F b, F x, F in) { return a * x + b * in; }

// v' = a_m v + (1 - a_m)(c + d) + reset z, with z the previous spike.
template <typename F>
GOAL_HD F membrane(F a_m, F b_m, F v, F c_plus_d, F reset, F z) {
  return a_m * v + b_m * c_plus_d + reset * z;
}

template <typename F>
GOAL_HD F spike(F v, F thr) { return v > thr ? F(1) : F(0); }

// exp(x) with the same bits on every CPU, every GPU and every libm: only +, −, × and bit
// operations (no fused multiply-add: the kernels build with -ffp-contract=off / --fmad=false),
// so results do not depend on glibc's or CUDA's exp, and the CPU loops that call it vectorise.
// x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its Taylor polynomial
// (degree 7 for float, 13 for double: within an ulp, as test/math.test.ts holds it), 2^k put
// in the exponent bits. k is rounded by adding 1.5·2^(mantissa bits), whose low bits then hold
// k as an integer. x is clamped to the normal range: e^x saturates at about ±e^±88 (float),
// e^±708 (double).
template <typename F>
struct ExpConst;
template <>
struct ExpConst<float> {
  using Bits = uint32_t;
  static constexpr float lo = -87.0f, hi = 88.0f, log2e = 1.44269504f;
  static constexpr float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  static constexpr float shifter = 12582912.0f;  // 1.5·2^23
  static constexpr int mantissa = 23, bias = 127, degree = 7;
};
template <>
struct ExpConst<double> {
  using Bits = uint64_t;
  static constexpr double lo = -708.0, hi = 709.0, log2e = 1.4426950408889634;
  static constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  static constexpr double shifter = 6755399441055744.0;  // 1.5·2^52
  static constexpr int mantissa = 52, bias = 1023, degree = 13;
};

GOAL_HD uint32_t bits_of(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t b;
  __builtin_memcpy(&b, &x, sizeof b);
  return b;
#endif
}
GOAL_HD uint64_t bits_of(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(x));
#else
  uint64_t b;
  __builtin_memcpy(&b, &x, sizeof b);
  return b;
#endif
}
GOAL_HD float from_bits(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float x;
  __builtin_memcpy(&x, &b, sizeof x);
  return x;
#endif
}
GOAL_HD double from_bits(uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(b));
#else
  double x;
  __builtin_memcpy(&x, &b, sizeof x);
  return x;
#endif
}

template <typename F>
GOAL_HD F exp_(F x) {
  using C = ExpConst<F>;
  using Bits = typename C::Bits;
  x = x < C::lo ? C::lo : x;
  x = x > C::hi ? C::hi : x;
  const F shifted = x * C::log2e + C::shifter;
  const F k = shifted - C::shifter;
  const F r = (x - k * C::ln2_hi) - k * C::ln2_lo;
  // Horner from the highest term: 1 + r(1 + r/2(1 + r/3(…))); 1/d folds to a constant.
  F p = F(1);
  for (int d = C::degree; d >= 1; --d) p = F(1) + (r * (F(1) / F(d))) * p;
  const Bits ki = bits_of(shifted) - bits_of(C::shifter);  // k, two's complement
  const F scale = from_bits(Bits(ki + Bits(C::bias)) << C::mantissa);
  return p * scale;
}

// sigma'(v) = sigma(v)(1 - sigma(v)), sigma the logistic function.
template <typename F>
GOAL_HD F sigmoid_prime(F v) {
  F s = F(1) / (F(1) + exp_(-v));
  return s * (F(1) - s);
}

// mse = se / count, se the squared errors summed in double. The float32 reference sums them in
// float32, where a sum past the largest float is ∞ (a diverging readout's ~1e20 errors): so is
// ours, though the double sum is still finite.
template <typename F>
GOAL_HD double mean_square(double se, int64_t count) {
  constexpr double kMaxFloat = 3.4028234663852886e38;
  return sizeof(F) == sizeof(float) && se > kMaxFloat ? double(INFINITY) : se / double(count);
}

// |v' − thr|: how near a unit came to flipping its spike (a replay's min_margin). The + 0 makes
// thr − v = −0 (v = +0, thr = −0) a +0: the GPU merges minima as bit patterns, where −0 would
// sort above every positive margin.
template <typename F>
GOAL_HD F margin_to(F v, F thr) { return (v > thr ? v - thr : thr - v) + F(0); }

// LTTS's g_i = (m (r*_i − q_i)) σ'(v'_i): u@(m·I) as a scalar (SPEC "Training" 4).
template <typename F>
GOAL_HD F ltts_signal(F m, F rt, F q, F v) { return (m * (rt - q)) * sigmoid_prime(v); }

// --- The feedback (SPEC "Training" 3), built the same way on every backend. ---

// s = 2·std(W_ho) over its N·O entries (n − 1 in the denominator), summed in order in double.
template <typename F>
GOAL_HD F feedback_scale(const F* W_ho, int64_t NO) {
  double mean = 0;
  for (int64_t k = 0; k < NO; ++k) mean += double(W_ho[k]);
  mean /= double(NO);
  double ss = 0;
  for (int64_t k = 0; k < NO; ++k) ss += (double(W_ho[k]) - mean) * (double(W_ho[k]) - mean);
  return NO > 1 ? F(2.0 * sqrt(ss / double(NO - 1))) : F(0);
}

// B_ij: W_ho's entry in the first O columns, s·g_ij after them (g: standard normals, rows of
// `cols`: N for spk, R for out).
template <typename F>
GOAL_HD F feedback_entry(const F* W_ho, int64_t O, F s, const double* noise, int64_t cols, int64_t i, int64_t j) {
  return j < O ? W_ho[i * O + j] : s * F(noise[i * cols + j]);
}

// LTTS's D = m·I, entry by entry as the matrix product gives it: an infinite or NaN m makes
// the zeros NaN too (∞·0).
template <typename F>
GOAL_HD double ltts_entry(F m, int64_t i, int64_t j) { return double(m) * (i == j ? 1.0 : 0.0); }

// A rank-R spike feedback costs 2·N·R per step as factors (u@B_R)@B_Rᵀ, N·N as the matrix
// D = B_R B_Rᵀ: the cheaper is kept. The choice changes the summation order, so every backend
// makes it here.
GOAL_HD bool dense_feedback(int64_t N, int64_t R, bool out) { return !out && 2 * R > N; }

// Partial sums of a dot product: enough for any vector width up to 512-bit floats. The GPU's
// parallel dot products give lane l the terms j ≡ l (mod kDotLanes), as dot() does.
constexpr int kDotLanes = 16;

// Σ a_i b_i with kDotLanes interleaved partial sums folded in a fixed tree: the same bits on
// every instruction set and on the GPU.
template <typename F>
GOAL_HD F dot(const F* __restrict__ a, const F* __restrict__ b, int64_t n) {
  F acc[kDotLanes] = {};
  int64_t i = 0;
  for (; i + kDotLanes <= n; i += kDotLanes)
    for (int l = 0; l < kDotLanes; ++l) acc[l] += a[i + l] * b[i + l];
  for (int l = 0; i < n; ++i, ++l) acc[l] += a[i] * b[i];
  for (int w = kDotLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

}  // namespace
}  // namespace goal
