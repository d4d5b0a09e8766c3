// A network's constants as every engine keeps them: SPEC's decay factors computed once in
// double (a = exp(−1/τ), b = 1 − a) and every constant cast to the engine's type F there, so
// the CPU and the GPU start from the same bits.
#pragma once

#include "engine.h"
#include "goal_math.h"

namespace goal {

// Fills a_m b_m a_s b_s a_o b_o v_init bias reset thr rec_lr out_lr of any per-network view.
template <typename F, typename View>
void set_constants(View& n, const Config& c) {
  const double a_m = decay(c.tau_m), a_s = decay(c.tau_s), a_o = decay(c.tau_o);
  n.a_m = F(a_m);
  n.b_m = F(1.0 - a_m);
  n.a_s = F(a_s);
  n.b_s = F(1.0 - a_s);
  n.a_o = F(a_o);
  n.b_o = F(1.0 - a_o);
  n.v_init = F(c.v_init);
  n.bias = F(c.bias);
  n.reset = F(c.reset);
  n.thr = F(c.thr);
  n.rec_lr = F(c.rec_lr);
  n.out_lr = F(c.out_lr);
}

}  // namespace goal
