"""Batch validation against a schema in one Numba pass: each bad row is named with its first bad column.

The gateway validates whole batches (or one request's rows) with this kernel, so a request that fails
validation fails alone and no Python loop runs over features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from compiler.schema import Schema, SchemaLimits

OK, NAN, NOT_FINITE, BELOW, ABOVE, UNKNOWN_CATEGORY = 0, 1, 2, 3, 4, 5
REASONS = {
    NAN: "is NaN, which this feature does not allow",
    NOT_FINITE: "is infinite; expected a finite number",
    BELOW: "is below the allowed minimum",
    ABOVE: "is above the allowed maximum",
    UNKNOWN_CATEGORY: "is not one of the known category codes",
}


@njit(nogil=True, cache=True)
def check_rows(x, lo, hi, nan_ok, cat_start, cat_len, cat_values, code, col):
    """Fill code[i] / col[i] with the first problem of row i (OK = 0). Returns the number of bad rows."""
    bad = 0
    for i in range(x.shape[0]):
        code[i] = 0
        col[i] = -1
        for j in range(x.shape[1]):
            v = x[i, j]
            c = 0
            if np.isnan(v):
                if not nan_ok[j]:
                    c = 1
                elif cat_len[j] > 0:
                    found = False
                    for k in range(cat_start[j], cat_start[j] + cat_len[j]):
                        if np.isnan(cat_values[k]):
                            found = True
                    if not found:
                        c = 5
            elif np.isinf(v):  # never a usable input, even for a feature without bounds
                c = 2
            elif v < lo[j]:
                c = 3
            elif v > hi[j]:
                c = 4
            elif cat_len[j] > 0:
                found = False
                for k in range(cat_start[j], cat_start[j] + cat_len[j]):
                    if cat_values[k] == v:
                        found = True
                        break
                if not found:
                    c = 5
            if c != 0:
                code[i] = c
                col[i] = j
                bad += 1
                break
    return bad


@dataclass(frozen=True)
class Problem:
    row: int
    feature: str
    value: float
    reason: str
    expected: str

    def message(self) -> str:
        return f"row {self.row}: feature {self.feature!r} = {self.value!r} {self.reason} ({self.expected})"


class Validator:
    """Holds a schema's limits and checks batches; built once per model version."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.limits: SchemaLimits = schema.limits()

    def check(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Return (code, col, n_bad) per row; the caller decides which rows fail."""
        n = x.shape[0]
        code = np.empty(n, dtype=np.int8)
        col = np.empty(n, dtype=np.int32)
        lim = self.limits
        bad = check_rows(x, lim.lo, lim.hi, lim.nan_ok, lim.cat_start, lim.cat_len, lim.cat_values, code, col)
        return code, col, int(bad)

    def problem(self, x: np.ndarray, row: int, code: int, col: int) -> Problem:
        f = self.schema.features[col]
        if code == UNKNOWN_CATEGORY:
            expected = "expected one of " + ", ".join(f"{c:g}" for c in f.categories[:20])
        elif code == NAN:
            expected = "expected a number"
        else:
            expected = f"expected {f.min:g} <= value <= {f.max:g}"
        return Problem(row, f.name, float(x[row, col]), REASONS[code], expected)

    def first_problem(self, x: np.ndarray) -> Problem | None:
        code, col, bad = self.check(x)
        if bad == 0:
            return None
        row = int(np.flatnonzero(code)[0])
        return self.problem(x, row, int(code[row]), int(col[row]))
