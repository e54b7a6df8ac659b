"""ModelRunner: one immutable model version, loaded from a verified bundle and warmed before it serves.

`run` is the whole compute of a batch: the Numba feature program (nogil) then ONNX Runtime (releases the
GIL), so batches of different runners proceed in parallel on the shared executor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.bundle import Bundle
from compiler.errors import InvalidInput
from compiler.onnx_session import open_session, predict_scores
from compiler.transforms.validate import Validator
from server.batching.batcher import Timed
from server.errors import TooLarge

WARM_BATCH_SIZES = (1, 2, 8, 64)


@dataclass(frozen=True)
class RunnerKey:
    model: str
    version: int
    digest: str


class ModelRunner:
    def __init__(self, key: RunnerKey, bundle: Bundle, intra_op_threads: int = 1, max_rows: int = 4096) -> None:
        if bundle.digest != key.digest:
            raise InvalidInput(f"bundle digest {bundle.digest[:12]}… does not match {key.digest[:12]}…")
        self.key = key
        self.schema = bundle.schema
        self.drift_ref = bundle.drift
        self.program = bundle.program
        self.validator = Validator(bundle.schema)
        self.width = bundle.schema.width
        self.threshold = float(bundle.schema.threshold)
        self.max_rows = max_rows
        self.session = open_session(bundle.onnx_bytes, intra_op_threads)
        self._in = bundle.schema.onnx_input
        self._out = bundle.schema.onnx_output
        self._pos = bundle.schema.positive_index
        self.warmed = False
        self.metrics: Any = None  # RunnerMetrics, attached by the control plane before the runner serves

    def run(self, x: np.ndarray) -> np.ndarray:
        """float64 (rows, width), already validated -> float32 scores (rows,)."""
        return predict_scores(self.session, self.program.transform(x), self._in, self._out, self._pos)

    def run_timed(self, x: np.ndarray) -> Timed:
        """`run` with each stage timed, and the batch queued for the batch-size and drift counters."""
        t0 = time.perf_counter()
        features = self.program.transform(x)
        t1 = time.perf_counter()
        scores = predict_scores(self.session, features, self._in, self._out, self._pos)
        t2 = time.perf_counter()
        if self.metrics is not None:
            self.metrics.batch(x, scores)
        return Timed(scores, t1 - t0, t2 - t1)

    def check(self, x: np.ndarray) -> None:
        """Shape, size and schema checks of one request's rows; the first problem is raised, naming the field."""
        self._check_width(x)
        if x.shape[0] == 0:
            raise InvalidInput("rows: expected at least 1 row, got 0")
        if x.shape[0] > self.max_rows:
            raise TooLarge(f"rows: at most {self.max_rows} rows per call, got {x.shape[0]}")
        self._check_values(x)

    def check_rows(self, x: np.ndarray) -> None:
        """Width and schema checks without the per-call row limit (a shadow's batch of many requests' rows):
        another version's schema may differ from the version that accepted the request."""
        self._check_width(x)
        self._check_values(x)

    def _check_width(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[1] != self.width:
            got = x.shape[1] if x.ndim == 2 else x.size
            raise InvalidInput(
                f"features: expected {self.width} values in schema order ({', '.join(self.schema.names)}), got {got}"
            )

    def _check_values(self, x: np.ndarray) -> None:
        problem = self.validator.first_problem(x)
        if problem is not None:
            raise InvalidInput(problem.message())

    def warm(self) -> None:
        """Pay Numba's compile/load and ORT's first-run costs now, not on a live request."""
        row = np.array([_valid_value(f) for f in self.schema.features], dtype=np.float64)
        for n in (*WARM_BATCH_SIZES, self.max_rows):
            x = np.repeat(row[None, :], n, axis=0)
            self.check(x)
            scores = self.run(x)
            if scores.shape != (n,) or not np.all(np.isfinite(scores)):
                raise InvalidInput(f"model {self.key.model} v{self.key.version} produced invalid scores when warmed")
        self.warmed = True


def _valid_value(f) -> float:  # noqa: ANN001 - FeatureSpec
    if f.kind == "categorical" and f.categories:
        return float(f.categories[0])
    for candidate in (f.observed_min, f.min, 0.0):
        if candidate == candidate and f.min <= candidate <= f.max and abs(candidate) != float("inf"):
            return float(candidate)
    return float(f.min)
