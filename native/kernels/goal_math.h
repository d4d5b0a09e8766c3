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

#if defined(__CUDA_ARCH__)
// CUDA's expf is off by up to 2 units in the last place; the double exp rounded to float is the
// correctly rounded value almost always, as glibc's expf is, so σ' matches the CPU's.
GOAL_HD float exp_(float x) { return float(exp(double(x))); }
#else
GOAL_HD float exp_(float x) { return expf(x); }
#endif
GOAL_HD double exp_(double x) { return exp(x); }

// sigma'(v) = sigma(v)(1 - sigma(v)), sigma the logistic function.
template <typename F>
GOAL_HD F sigmoid_prime(F v) {
  F s = F(1) / (F(1) + exp_(-v));
  return s * (F(1) - s);
}

}  // namespace
}  // namespace goal
