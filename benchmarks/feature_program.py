"""The feature-program kernel vs sklearn's own `transform` vs hand-written numpy, on the demo pipeline.

    python -m benchmarks.feature_program [--quick]

Four implementations of the same preprocessing (the demo model's ColumnTransformer: impute, log1p, clip,
standardise, min-max with a missing indicator, quantile age bands one-hot, product one-hot):

- kernel         `FeatureProgram.transform`: the fused Numba kernel the gateway runs (float64 in, float32 out)
- sklearn        `model[:-1].transform(DataFrame)`: what the model was trained with
- sklearn-numpy  the same ColumnTransformer selecting columns by index, fitted on the same rows as a numpy
                 array, `transform(ndarray)` (no pandas on the way in)
- numpy          the preprocessing written by hand in vectorised numpy, as a careful engineer would

Before anything is timed, all four are checked to agree on every batch: kernel == sklearn (cast to float32)
bit for bit, sklearn-numpy == sklearn, numpy == kernel bit for bit. Timing interleaves the implementations
(round robin, the order rotating every round) so machine noise hits all alike; each sample times enough calls
to last ~0.2 ms, and the figure is the median per-batch time over all samples. One thread (OMP_NUM_THREADS=1
and threadpoolctl), as in the gateway.

`run(quick)` returns the figures as a dict (reused by the benchmark suite); `table(result)` renders them.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy / sklearn load their thread pools

import numpy as np  # noqa: E402

BATCHES = (1, 8, 64, 512, 4096)
IMPLEMENTATIONS = ("kernel", "sklearn", "sklearn_numpy", "numpy")
GOAL_SPEEDUP_VS_SKLEARN = 10.0  # at batch <= 64
GOAL_BATCH_SMALL = 64
GOAL_BATCH_LARGE = 4096
SAMPLE_SECONDS = 200e-6


def numpy_transform(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The demo preprocessing written by hand in vectorised numpy (same operations, same order as sklearn)."""
    from compiler.demo.data import FEATURES

    ct = model.named_steps["prep"]
    t = {name: trans for name, trans, _ in ct.transformers_}
    col = {name: i for i, name in enumerate(FEATURES)}
    money_cols = [col["income"], col["loan_amount"]]
    ratio_cols = [col["utilisation"], col["debt_to_income"]]
    delinquency = col["months_since_delinquency"]
    count_cols = [col["open_accounts"], col["inquiries_6m"], col["tenure_months"]]
    money_imp, money_sc = t["money"].named_steps["impute"], t["money"].named_steps["scale"]
    ratio_sc = t["ratios"].named_steps["scale"]
    del_imp, del_mm = t["delinquency"].named_steps["impute"], t["delinquency"].named_steps["scale"]
    kb, counts, product = t["age_bands"], t["counts"], t["product"]
    age_edges = kb.bin_edges_[0][1:-1]
    age_codes = np.arange(int(kb.n_bins_[0]), dtype=np.float64)
    cats = np.asarray(product.categories_[0], dtype=np.float64)

    def run(x: np.ndarray) -> np.ndarray:
        money = x[:, money_cols]
        money = np.where(np.isnan(money), money_imp.statistics_, money)
        money = (np.log1p(money) - money_sc.mean_) / money_sc.scale_
        ratios = (np.clip(x[:, ratio_cols], 0.0, 2.0) - ratio_sc.mean_) / ratio_sc.scale_
        d = x[:, delinquency]
        missing = np.isnan(d)
        dl = np.column_stack([np.where(missing, del_imp.statistics_[0], d), missing]) * del_mm.scale_ + del_mm.min_
        age = np.searchsorted(age_edges, x[:, col["age"]], side="right")
        age_oh = age[:, None] == age_codes
        cnt = (x[:, count_cols] - counts.mean_) / counts.scale_
        prod = x[:, col["product_code"], None] == cats
        return np.hstack([money, ratios, dl, age_oh, cnt, prod], dtype=np.float32)

    return run


def sklearn_numpy_transform(model: Any, train_x: np.ndarray) -> Any:
    """The model's ColumnTransformer re-expressed with integer column indices and fitted on the same rows as a
    numpy array: sklearn's transform without pandas on the way in."""
    from sklearn.base import clone

    from compiler.demo.data import FEATURES

    ct = clone(model.named_steps["prep"])
    ct.transformers = [(name, trans, [FEATURES.index(c) for c in cols]) for name, trans, cols in ct.transformers]
    return ct.fit(train_x)


def _timed(fn: Callable[[], Any], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def _calls_per_sample(fn: Callable[[], Any]) -> int:
    fn()  # warm
    one = min(_timed(fn, 1) for _ in range(3))
    return max(1, int(SAMPLE_SECONDS / max(one, 1e-9)))


def measure(impls: dict[str, Callable[[], Any]], samples: int) -> dict[str, float]:
    """Median seconds per call of each implementation, sampled round robin with a rotating order."""
    calls = {k: _calls_per_sample(f) for k, f in impls.items()}
    times: dict[str, list[float]] = {k: [] for k in impls}
    names = list(impls)
    for i in range(samples):
        for k in names[i % len(names):] + names[:i % len(names)]:
            times[k].append(_timed(impls[k], calls[k]))
    return {k: float(np.median(v)) for k, v in times.items()}


def run(quick: bool = False) -> dict[str, Any]:
    """Time every implementation at every batch size; returns {"rows": [...], "goal": {...}, "config": {...}}."""
    from threadpoolctl import threadpool_limits

    from compiler.build import split_model
    from compiler.demo.data import FEATURES, LABEL, generate
    from compiler.demo.model import pipeline
    from compiler.transforms.lower import lower

    train = generate(5000, seed=7)
    model = pipeline().fit(train[list(FEATURES)], train[LABEL])
    pre, _ = split_model(model)
    program = lower(pre, list(FEATURES)).program
    hand = numpy_transform(model)
    sk = model[:-1]
    sk_np = sklearn_numpy_transform(model, train[list(FEATURES)].to_numpy(dtype=np.float64))
    data = generate(max(BATCHES), seed=17)[list(FEATURES)]
    x_all = data.to_numpy(dtype=np.float64)
    samples = 15 if quick else 150
    rows = []
    with threadpool_limits(1):
        for n in BATCHES:
            x, frame = np.ascontiguousarray(x_all[:n]), data.iloc[:n]
            ref = sk.transform(frame).astype(np.float32)
            ours = program.transform(x)
            assert np.array_equal(ours, ref), "kernel differs from sklearn"
            assert np.array_equal(sk_np.transform(x).astype(np.float32), ref), "sklearn on numpy differs"
            assert np.array_equal(hand(x), ours), "the numpy implementation differs from the kernel"
            impls = {"kernel": lambda x=x: program.transform(x), "sklearn": lambda f=frame: sk.transform(f),
                     "sklearn_numpy": lambda x=x: sk_np.transform(x), "numpy": lambda x=x: hand(x)}
            sec = measure(impls, samples)
            us = {k: sec[k] * 1e6 for k in IMPLEMENTATIONS}
            rows.append({
                "batch": n, **{f"{k}_us": round(v, 2) for k, v in us.items()},
                "kernel_ns_per_row": round(us["kernel"] * 1e3 / n, 1),
                "vs_sklearn": round(us["sklearn"] / us["kernel"], 1),
                "vs_sklearn_numpy": round(us["sklearn_numpy"] / us["kernel"], 1),
                "vs_numpy": round(us["numpy"] / us["kernel"], 2),
            })
    small = [r for r in rows if r["batch"] <= GOAL_BATCH_SMALL]
    large = next(r for r in rows if r["batch"] == GOAL_BATCH_LARGE)
    worst_small = min(min(r["vs_sklearn"], r["vs_sklearn_numpy"]) for r in small)
    goal = {
        "min_speedup_vs_sklearn_at_small_batches": worst_small,
        "speedup_vs_numpy_at_4096": large["vs_numpy"],
        "sklearn_goal_met": worst_small >= GOAL_SPEEDUP_VS_SKLEARN,
        "numpy_goal_met": large["vs_numpy"] >= 1.0,
    }
    config = {"quick": quick, "samples": samples, "rows_trained": len(train), "inputs": len(FEATURES),
              "program_width": program.width, "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    return {"rows": rows, "goal": goal, "config": config}


def table(result: dict[str, Any]) -> str:
    lines = ["| batch | kernel µs | sklearn µs (DataFrame) | sklearn µs (numpy) | numpy µs | "
             "kernel vs sklearn | kernel vs sklearn (numpy) | kernel vs numpy |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['batch']} | {r['kernel_us']:,.1f} | {r['sklearn_us']:,.1f} | {r['sklearn_numpy_us']:,.1f} | "
                     f"{r['numpy_us']:,.1f} | {r['vs_sklearn']:,.0f}x | {r['vs_sklearn_numpy']:,.0f}x | "
                     f"{r['vs_numpy']:.2f}x |")
    return "\n".join(lines)


def verdict(result: dict[str, Any]) -> str:
    g = result["goal"]
    return (f"goal >= {GOAL_SPEEDUP_VS_SKLEARN:g}x faster than sklearn transform at batch <= {GOAL_BATCH_SMALL}: "
            f"{'MET' if g['sklearn_goal_met'] else 'NOT MET'} (worst {g['min_speedup_vs_sklearn_at_small_batches']:,.0f}x)"
            f"\ngoal no slower than numpy at batch {GOAL_BATCH_LARGE}: "
            f"{'MET' if g['numpy_goal_met'] else 'NOT MET'} ({g['speedup_vs_numpy_at_4096']:.2f}x)")


if __name__ == "__main__":
    res = run(quick="--quick" in sys.argv[1:])
    print(table(res))
    print()
    print(verdict(res))
