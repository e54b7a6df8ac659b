"""The feature-program kernel vs sklearn's own `transform` vs hand-written numpy, on the demo pipeline.

`python -m benchmarks.feature_program [--quick]`. All three are checked to agree before anything is timed;
timings interleave the implementations (round robin) and report the median per batch, so machine noise hits
all three alike.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

BATCHES = (1, 8, 64, 512, 4096)


def numpy_transform(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The demo preprocessing written by hand in vectorised numpy (what a careful engineer would write)."""
    ct = model.named_steps["prep"]
    t = dict((name, trans) for name, trans, _ in ct.transformers_)
    money_imp, money_sc = t["money"].named_steps["impute"], t["money"].named_steps["scale"]
    ratio_sc = t["ratios"].named_steps["scale"]
    del_imp, del_mm = t["delinquency"].named_steps["impute"], t["delinquency"].named_steps["scale"]
    kb = t["age_bands"]
    counts = t["counts"]
    cats = t["product"].categories_[0]
    age_edges = kb.bin_edges_[0][1:-1]
    n_age = int(kb.n_bins_[0])

    def run(x: np.ndarray) -> np.ndarray:
        money = x[:, [0, 7]]
        money = np.where(np.isnan(money), money_imp.statistics_, money)
        money = (np.log1p(money) - money_sc.mean_) / money_sc.scale_
        ratios = (np.clip(x[:, [2, 6]], 0.0, 2.0) - ratio_sc.mean_) / ratio_sc.scale_
        d = x[:, [3]]
        ind = np.isnan(d).astype(np.float64)
        d = np.where(np.isnan(d), del_imp.statistics_, d)
        dl = np.hstack([d, ind]) * del_mm.scale_ + del_mm.min_
        age = np.searchsorted(age_edges, x[:, 1], side="right")
        age_oh = (age[:, None] == np.arange(n_age)).astype(np.float64)
        cnt = (x[:, [4, 5, 8]] - counts.mean_) / counts.scale_
        prod = (x[:, [9]] == cats[None, :]).astype(np.float64)
        return np.hstack([money, ratios, dl, age_oh, cnt, prod]).astype(np.float32)
    return run


def _median_us(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def run(quick: bool = False) -> dict[str, Any]:

    from compiler.build import split_model
    from compiler.demo.data import FEATURES, generate
    from compiler.demo.model import train
    from compiler.transforms.lower import lower

    model = train(rows=5000)
    pre, _ = split_model(model)
    program = lower(pre, list(FEATURES)).program
    hand = numpy_transform(model)
    data = generate(max(BATCHES), seed=17)[list(FEATURES)]
    x_all = data.to_numpy(dtype=np.float64)
    sk = model[:-1]
    rows = []
    for n in BATCHES:
        x, frame = x_all[:n].copy(), data.iloc[:n]
        ref = sk.transform(frame).astype(np.float32)
        assert np.array_equal(program.transform(x), ref), "kernel differs from sklearn"
        assert np.allclose(hand(x), ref, atol=1e-6), "numpy implementation differs from sklearn"
        reps = (20 if quick else 200) if n <= 512 else (5 if quick else 40)
        impl = {"kernel": lambda: program.transform(x), "sklearn": lambda: sk.transform(frame),
                "numpy": lambda: hand(x)}
        med = {k: [] for k in impl}
        for _ in range(3):  # interleaved rounds
            for k, f in impl.items():
                med[k].append(_median_us(f, reps))
        m = {k: float(np.median(v)) for k, v in med.items()}
        rows.append({"batch": n, **{f"{k}_us": round(v, 2) for k, v in m.items()},
                     "vs_sklearn": round(m["sklearn"] / m["kernel"], 1), "vs_numpy": round(m["numpy"] / m["kernel"], 2)})
    return {"rows": rows}


def table(result: dict[str, Any]) -> str:
    lines = ["| batch | kernel µs | sklearn µs | numpy µs | kernel vs sklearn | kernel vs numpy |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['batch']} | {r['kernel_us']:.1f} | {r['sklearn_us']:.1f} | {r['numpy_us']:.1f} | "
                     f"{r['vs_sklearn']:.0f}x faster | {r['vs_numpy']:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv)))
