"""Parity: the compiled model (feature program + ONNX Runtime) against the source model, on real rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from compiler.errors import ParityError


@dataclass(frozen=True)
class ParityReport:
    rows: int
    max_abs_diff: float  # |source P(positive) - compiled P(positive)|, worst row
    mean_abs_diff: float
    tolerance: float
    threshold: float
    decision_agreement: float  # share of rows with the same decision at the threshold
    program_max_abs_diff: float  # feature program vs sklearn's own transform (float32), worst cell
    passed: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("max_abs_diff", "mean_abs_diff", "program_max_abs_diff", "decision_agreement"):
            d[k] = float(f"{d[k]:.6g}")
        return d

    def summary(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        return (f"parity {verdict}: {self.rows} rows, max |diff| {self.max_abs_diff:.3g} "
                f"(tolerance {self.tolerance:g}), decision agreement {self.decision_agreement:.4%} "
                f"at threshold {self.threshold:g}, feature program max |diff| {self.program_max_abs_diff:.3g}")


def parity(source: np.ndarray, compiled: np.ndarray, program_diff: float, tolerance: float, threshold: float,
           note: str = "") -> ParityReport:
    source = np.asarray(source, dtype=np.float64)
    compiled = np.asarray(compiled, dtype=np.float64)
    diff = np.abs(source - compiled)
    finite = bool(np.all(np.isfinite(compiled)))
    max_diff = float(diff.max()) if finite else float("inf")
    agree = float(np.mean((source >= threshold) == (compiled >= threshold)))
    return ParityReport(
        rows=int(source.size), max_abs_diff=max_diff, mean_abs_diff=float(diff.mean()) if finite else float("inf"),
        tolerance=tolerance, threshold=threshold, decision_agreement=agree,
        program_max_abs_diff=float(program_diff), passed=finite and max_diff <= tolerance, note=note,
    )


def require(report: ParityReport) -> None:
    if not report.passed:
        raise ParityError(f"{report.summary()}; no bundle written")
