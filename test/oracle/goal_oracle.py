"""A second, independent implementation of SPEC.md in NumPy (float64 or float32), written from the
spec's equations as literally as possible: dense matrices, one step at a time, no fusion,
no factoring. It is slow and exists only to check the engine where the reference fixtures
do not reach (other feedback forms, ranks at the edges, odd sizes, non-default constants).

    python3 goal_oracle.py check FIXTURE...   replay reference fixtures, exit 1 on mismatch
    python3 goal_oracle.py make DIR           write fixture-format cases with `expect` to DIR

`check` is what makes the oracle credible: it must reproduce the published reference runs
(spikes and dz exactly, the rest within 1e-9 relative in float64 and 1e-4 in float32) before
its own cases mean anything.
"""
import json
import math
import os
import sys

import numpy as np

np.seterr(all="ignore")  # a diverged case overflows on purpose


def sigma_prime(v):
    s = 1.0 / (1.0 + np.exp(-v))
    return s * (1.0 - s)


def simulate(p, init, task, real=np.float64):
    """Runs SPEC.md "Training" steps 1-4 on the given draws in precision `real` (NumPy keeps
    float32 arrays float32 under Python scalars, as the reference's PyTorch does); returns
    the fixture `expect`."""
    N, O, T = p["n_rec"], p["n_out"], p["t_seq"]
    a_m, a_s, a_o = (real(math.exp(-1.0 / p[k])) for k in ("tau_m", "tau_s", "tau_o"))
    W_ih = np.array(init["W_ih"], dtype=real)
    W_hh = np.array(init["W_hh"], dtype=real)
    W_ho = np.array(init["W_ho"], dtype=real)
    W_trg = np.array(init["W_trg"], dtype=real)
    noise = np.array(init["B_noise"], dtype=real)
    y_star = np.array(task["targ"], dtype=real)
    x = np.array(task["clock"], dtype=real)
    thr = p.get("thr", 0.0)
    margin = [math.inf]

    def step(state, x_t, d_t, W):
        v, z, h, e = state
        h = a_s * h + (1 - a_s) * z
        e = a_m * e + (1 - a_m) * h
        c = x_t @ W_ih + h @ W + p["bias"]
        v = a_m * v + (1 - a_m) * (c + d_t) + p["reset"] * z
        margin[0] = min(margin[0], float(np.min(np.abs(v - thr))))
        return v, (v > thr).astype(real), h, e

    def start():
        return np.full(N, p["Vo"], dtype=real), np.zeros(N, real), np.zeros(N, real), np.zeros(N, real)

    def filt(Z):
        r = np.zeros_like(Z)
        r[0] = (1 - a_o) * Z[0]
        for t in range(1, len(Z)):
            r[t] = a_o * r[t - 1] + (1 - a_o) * Z[t]
        return r

    # 1. target spikes
    d = y_star @ W_trg
    Z_star = np.zeros((T, N), real)
    state = start()
    for t in range(T - 1):
        state = step(state, x[t], d[t], W_hh)
        Z_star[t + 1] = state[1]
    r_star = filt(Z_star)

    # 2. readout
    mse_out = None
    for _ in range(p["epochs"][0]):
        y = r_star @ W_ho
        mse_out = float(np.mean((y_star - y) ** 2))
        W_ho = W_ho + p["out_lr"] * (r_star.T @ (y_star - y))
    if mse_out is None:  # no readout epochs: the untrained readout's error
        mse_out = float(np.mean((y_star - r_star @ W_ho) ** 2))

    # 3. feedback
    s = real(2.0) * np.std(W_ho, ddof=1) if W_ho.size > 1 else real(0.0)
    B = s * noise
    B[:, :O] = W_ho
    out = p["feedback"] == "out" and p["rank"] is not None
    if out:
        Y_star = r_star @ B
        Y_star[:, :O] = y_star
    elif p["rank"] is not None:
        D = B[:, : p["rank"]] @ B[:, : p["rank"]].T
    else:
        D = np.mean(np.sum(B ** 2, axis=1)) * np.eye(N, dtype=real)

    # 4. recurrent epochs
    mse_rec, dz, Z = [], [], None
    for _ in range(p["epochs"][1]):
        Z = np.zeros((T, N), real)
        q = np.zeros(N, real)
        state = start()
        for t in range(T - 1):
            state = step(state, x[t], 0.0, W_hh)
            v, z, _, e = state
            Z[t + 1] = z
            q = a_o * q + (1 - a_o) * z
            if out:
                g = ((Y_star[t + 1] - q @ B) @ B.T) * sigma_prime(v)
            else:
                g = ((r_star[t + 1] - q) @ D) * sigma_prime(v)
            W_hh = W_hh + p["rec_lr"] * np.outer(e, g)
            np.fill_diagonal(W_hh, 0.0)
        mse_rec.append(float(np.mean((y_star - filt(Z) @ W_ho) ** 2)))
        dz.append(float(np.sum(np.abs(Z_star - Z))))

    expect = {
        "z_targ": Z_star.tolist(),
        "W_ho_trained": W_ho.tolist(),
        "mse_out": mse_out,
        "mse_rec": mse_rec,
        "dz": dz,
        "W_hh_final": W_hh.tolist(),
        "min_margin": margin[0],
    }
    if Z is not None:
        expect["Z_last"] = Z.tolist()
    if out:
        expect["B"] = B.tolist()
    else:
        expect["D"] = D.tolist()
    return expect


def task(T, O, I, rng):
    """SPEC.md "The task": the ND trajectory and the clock."""
    tn = 2 * np.pi * np.arange(T) / (T - 1)
    targ = np.zeros((T, O))
    for o in range(O):
        A, P = rng.uniform(0, 1, 4), rng.uniform(0, 2 * np.pi, 4)
        targ[:, o] = sum(A[q] * np.sin(F * tn + P[q]) for q, F in enumerate((1, 2, 3, 5)))
    targ[:8] = 0
    targ /= targ.max()
    span = (T - 1) // I
    clock = np.zeros((T - 1, I))
    for k in range(I):
        clock[k * span:(k + 1) * span, k] = 1
    return targ, clock


BASE = dict(n_inp=5, n_out=3, t_seq=40, epochs=[30, 4], dt=0.001, tau_m=8, tau_s=2, tau_o=5,
            rank=None, feedback="spk", sigma_inp=22, sigma_trg=8, sigma_rec=1.0, Vo=-4,
            bias=-4, reset=-20, thr=0.0, out_lr=0.0025, resample=False)

# Corners the reference fixtures do not cover. Each is (name, overrides); rec_lr is 5/sqrt(N)
# unless given.
CASES = [
    ("spk-rank-eq-out", dict(n_rec=24, rank=3)),
    ("spk-rank-full", dict(n_rec=20, rank=20)),
    ("spk-rank-half-odd", dict(n_rec=21, rank=11)),
    ("spk-rank-below-half-odd", dict(n_rec=21, rank=10)),
    ("out-rank-eq-out", dict(n_rec=24, rank=3, feedback="out")),
    ("out-rank-full", dict(n_rec=20, rank=20, feedback="out")),
    ("out-o1-i1", dict(n_rec=17, n_out=1, n_inp=1, rank=5, feedback="out")),
    ("ltts-o1-i1", dict(n_rec=17, n_out=1, n_inp=1)),
    ("ltts-n1", dict(n_rec=1, n_out=1, epochs=[5, 3], bias=3)),
    ("ltts-constants", dict(n_rec=33, tau_m=3.5, tau_s=1.25, tau_o=12, Vo=-1, bias=-2.5,
                            reset=-7, thr=0.5, sigma_rec=0.5)),
    ("spk-rank-wide", dict(n_rec=131, rank=37, t_seq=30, epochs=[20, 2])),
    ("out-rank-wide", dict(n_rec=131, rank=70, feedback="out", t_seq=30, epochs=[20, 2])),
    ("ltts-no-readout", dict(n_rec=19, epochs=[0, 3])),
    ("rank-no-recurrent", dict(n_rec=19, rank=4, epochs=[12, 0])),
    ("ltts-many-inputs", dict(n_rec=16, n_inp=12, t_seq=20)),
    ("out-o4", dict(n_rec=29, n_out=4, rank=9, feedback="out", out_lr=0.004, rec_lr=0.3)),
    # A readout that diverges to ∞ and NaN: SPEC's arithmetic is dense (0·NaN is NaN), so the
    # NaN spreads through W_ho, the feedback and W_hh where a skipped zero term would not.
    ("ltts-readout-diverged", dict(n_rec=15, out_lr=20, epochs=[300, 2])),
    ("spk-rank-readout-diverged", dict(n_rec=15, rank=5, out_lr=20, epochs=[300, 2])),
    ("spk-dense-readout-diverged", dict(n_rec=15, rank=12, out_lr=20, epochs=[300, 2])),
    ("out-rank-readout-diverged", dict(n_rec=15, rank=5, feedback="out", out_lr=20, epochs=[300, 2])),
    ("ltts-readout-diverging-finite", dict(n_rec=15, out_lr=20, epochs=[40, 2])),  # ~1e124, not yet ∞
    # W_ho still finite, but B_R B_Rᵀ past the largest double: D holds ∞ and 0·∞ = NaN.
    ("spk-factored-readout-diverging-d-overflows", dict(n_rec=9, rank=3, out_lr=20, epochs=[160, 2], t_seq=20)),
]

# float32 runs (as the reference's float32 mode computes them) where the reference's float32
# fixtures (LTTS and a factored spk rank) do not reach: output-level feedback, dense D,
# non-default constants, one output and input, a network wider than any vector width.
CASES_F32 = [
    ("f32-out-rank-eq-out", dict(n_rec=40, rank=3, feedback="out", t_seq=60, epochs=[50, 4])),
    ("f32-out-rank10", dict(n_rec=40, rank=10, feedback="out", t_seq=60, epochs=[50, 4])),
    ("f32-out-rank-full", dict(n_rec=40, rank=40, feedback="out", t_seq=60, epochs=[50, 4])),
    ("f32-out-o1-i1", dict(n_rec=17, n_out=1, n_inp=1, rank=5, feedback="out")),
    ("f32-out-rank-wide", dict(n_rec=131, rank=70, feedback="out", t_seq=30, epochs=[20, 2])),
    ("f32-spk-rank-dense", dict(n_rec=40, rank=30, t_seq=60, epochs=[50, 4])),
    ("f32-spk-rank-full", dict(n_rec=40, rank=40, t_seq=60, epochs=[50, 4])),
    ("f32-ltts-constants", dict(n_rec=33, tau_m=3.5, tau_s=1.25, tau_o=12, Vo=-1, bias=-2.5,
                                reset=-7, thr=0.5, sigma_rec=0.5)),
    # W_ho still finite (~1e20), but its squared errors summed in float32 pass the largest
    # float: the reference's float32 mse_out is ∞, not the finite value a double sum gives.
    ("f32-ltts-readout-diverging-mse-overflows", dict(n_rec=15, out_lr=20, epochs=[13, 2])),
]
# How close to the threshold a membrane may pass in a case: float64 sums in another order
# differ by ~1e-13 at |v| ~ 20, float32 ones by ~1e-5.
MARGIN = {"float64": 1e-9, "float32": 1e-4}
DTYPES = {"float64": np.float64, "float32": np.float32}


def make_case(name, overrides, seed, dtype="float64"):
    p = dict(BASE, **overrides)
    N, I, O = p["n_rec"], p["n_inp"], p["n_out"]
    p.setdefault("rec_lr", 5 / math.sqrt(N))
    # Redraw until no membrane passes within MARGIN of the threshold: there a difference in
    # summation order between two correct engines could flip a spike.
    for attempt in range(20):
        rng = np.random.default_rng([seed, attempt])
        targ, clock = task(p["t_seq"], O, I, rng)
        cols = p["rank"] if p["feedback"] == "out" else N
        init = {
            "W_ih": p["sigma_inp"] * rng.standard_normal((I, N)),
            "W_hh": p["sigma_rec"] * rng.standard_normal((N, N)),
            "W_ho": rng.standard_normal((N, O)) / math.sqrt(N),
            "W_trg": p["sigma_trg"] * rng.standard_normal((O, N)),
            "B_noise": rng.standard_normal((N, cols)),
        }
        init = {k: v.tolist() for k, v in init.items()}
        t = {"targ": targ.tolist(), "clock": clock.tolist()}
        expect = simulate(p, init, t, DTYPES[dtype])
        if expect["min_margin"] > MARGIN[dtype]:
            return {"name": name, "dtype": dtype, "params": p, "init": init, "task": t,
                    "expect": expect}
    raise RuntimeError(f"{name}: no draw kept every membrane away from the threshold")


def overflow_case():
    """Made by hand: a finite learning signal times rec_lr = 1e308 overflows W_hh to ±∞ (then
    NaN), which the engine must not take for a skippable zero-free update."""
    N, T = 4, 12
    p = dict(BASE, n_rec=N, n_inp=1, n_out=1, t_seq=T, epochs=[0, 1], rec_lr=1e308, out_lr=0.0, bias=2.0)
    init = {
        "W_ih": [[1.0] * N],
        "W_hh": [[0.0 if i == j else 0.1 for i in range(N)] for j in range(N)],
        "W_ho": [[1e8 * (i + 1)] for i in range(N)],
        "W_trg": [[-40.0 if i % 2 == 0 else 5.0 for i in range(N)]],
        "B_noise": [[0.3 * (((j * N + i) * 7) % 5 - 2) for i in range(N)] for j in range(N)],
    }
    t = {"targ": [[0.5]] * T, "clock": [[1.0]] * (T - 1)}
    return {"name": "handmade-w-overflow", "dtype": "float64", "params": p, "init": init, "task": t,
            "expect": simulate(p, init, t)}


def rel(got, want):
    # Largest |got − want| over largest |want|; inf when the shapes differ or a NaN or an
    # infinity stands where the other side does not hold the same (NaN > tol is False: a NaN
    # returned here would pass any check).
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return np.inf
    finite = np.isfinite(got) & np.isfinite(want)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    if not np.all(finite | same):
        return np.inf
    if not np.any(finite):
        return 0.0
    diff = np.max(np.abs(got[finite] - want[finite]))
    return 0.0 if diff == 0 else diff / np.max(np.abs(want[finite]))


def check(paths):
    failed = 0
    for path in paths:
        with open(path) as f:
            fx = json.load(f)
        got, want = simulate(fx["params"], fx["init"], fx["task"], DTYPES[fx["dtype"]]), fx["expect"]
        tol = 1e-9 if fx["dtype"] == "float64" else 1e-4
        bad = [k for k in ("z_targ", "Z_last", "dz") if k in want and got[k] != want[k]]
        for k in ("mse_out", "mse_rec", "W_ho_trained", "D", "B", "W_hh_final"):
            if k in want and rel(got[k], want[k]) > tol:
                bad.append(f"{k} (rel {rel(got[k], want[k]):.2e})")
        print(f"{os.path.basename(path)}: {'ok' if not bad else 'MISMATCH ' + ', '.join(bad)}")
        failed += bool(bad)
    return failed


def main(argv):
    if len(argv) >= 2 and argv[0] == "check":
        return 1 if check(argv[1:]) else 0
    if len(argv) == 2 and argv[0] == "make":
        os.makedirs(argv[1], exist_ok=True)
        cases = [(name, overrides, "float64") for name, overrides in CASES]
        cases += [(name, overrides, "float32") for name, overrides in CASES_F32]
        for i, (name, overrides, dtype) in enumerate(cases):
            with open(os.path.join(argv[1], name + ".json"), "w") as f:
                json.dump(make_case(name, overrides, 1000 + i, dtype), f)
        with open(os.path.join(argv[1], "handmade-w-overflow.json"), "w") as f:
            json.dump(overflow_case(), f)
        print(f"wrote {len(cases) + 1} cases")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
