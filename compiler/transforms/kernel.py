"""The one fused kernel that runs every feature program.

Compiled once (`cache=True` keeps the machine code on disk) and shared by every model version, because
the program is data. `nogil=True` lets the gateway run batches of different models on executor threads
in parallel. No fastmath: the steps must round exactly as sklearn's numpy code does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

IMPUTE, CLIP, LOG1P, SUBDIV, MULADD, BIN, EQ = 1, 2, 3, 4, 5, 6, 7


@njit(nogil=True, cache=True)
def _bin(table: np.ndarray, off: int, cnt: int, v: float) -> float:
    if np.isnan(v):
        return v
    lo, hi = 0, cnt
    while lo < hi:  # searchsorted(..., side="right")
        mid = (lo + hi) // 2
        if table[off + mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    return float(lo)


@njit(nogil=True, cache=True)
def run_program(x, lane_source, lane_start, lane_len, op_code, op_a, op_b, op_off, op_cnt, table, out):
    n = x.shape[0]
    lanes = lane_source.shape[0]
    for i in range(n):
        for ln in range(lanes):
            v = x[i, lane_source[ln]]
            for k in range(lane_start[ln], lane_start[ln] + lane_len[ln]):
                c = op_code[k]
                if c == IMPUTE:
                    if np.isnan(v):
                        v = op_a[k]
                elif c == CLIP:
                    if v < op_a[k]:
                        v = op_a[k]
                    elif v > op_b[k]:
                        v = op_b[k]
                elif c == LOG1P:
                    v = np.log1p(v)
                elif c == SUBDIV:
                    v = (v - op_a[k]) / op_b[k]
                elif c == MULADD:
                    v = v * op_a[k]
                    v = v + op_b[k]
                elif c == BIN:
                    v = _bin(table, op_off[k], op_cnt[k], v)
                elif c == EQ:
                    a = op_a[k]
                    if v == a or (np.isnan(v) and np.isnan(a)):
                        v = 1.0
                    else:
                        v = 0.0
            out[i, ln] = v
    return out
