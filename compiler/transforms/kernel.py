"""The one fused kernel that runs every feature program.

Compiled once (`cache=True` keeps the machine code on disk) and shared by every model version, because
the program is data. `nogil=True` lets the gateway run batches of different models on executor threads
in parallel. No fastmath: the steps must round exactly as sklearn's numpy code does.

Loop order: rows in blocks of BLOCK; within a block, lane by lane, step by step, row by row. The op
dispatch then happens once per (block, step) instead of once per (row, step), and each inner loop is a
branch-free pass over a small float64 buffer that LLVM vectorises. Every value still goes through exactly
the same float64 operations in the same order as sklearn, so the results are bit-identical to a row-at-a-
time evaluation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

IMPUTE, CLIP, LOG1P, SUBDIV, MULADD, BIN, EQ = 1, 2, 3, 4, 5, 6, 7
BLOCK = 128  # rows per block: the block of x, of out and the buffers stay in L1
LINEAR_BIN_MAX = 32  # tables up to this size are searched by a branch-free count


@njit(nogil=True, cache=True)
def _bin(table: np.ndarray, off: int, cnt: int, v: float) -> float:
    """searchsorted(table[off:off + cnt], v, side="right"); NaN stays NaN."""
    if np.isnan(v):
        return v
    lo, hi = 0, cnt
    while lo < hi:
        mid = (lo + hi) // 2
        if table[off + mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    return float(lo)


@njit(nogil=True, cache=True, inline="always")
def _bin_block(buf: np.ndarray, acc: np.ndarray, m: int, table: np.ndarray, off: int, cnt: int) -> None:
    """buf[:m] = searchsorted(table[off:off + cnt], buf[:m], side="right"), NaN kept, in place."""
    if cnt <= LINEAR_BIN_MAX:
        # sorted table: searchsorted(side="right") is the count of edges <= v, computed edge by edge over the
        # whole block (vectorised); NaN compares false everywhere and stays NaN
        for i in range(m):
            acc[i] = 0.0
        for j in range(cnt):
            e = table[off + j]
            for i in range(m):
                acc[i] += 1.0 if e <= buf[i] else 0.0
        for i in range(m):
            v = buf[i]
            buf[i] = v if np.isnan(v) else acc[i]
    else:
        for i in range(m):
            buf[i] = _bin(table, off, cnt, buf[i])


@njit(nogil=True, cache=True)
def run_program(x, lane_source, lane_start, lane_len, op_code, op_a, op_b, op_off, op_cnt, table, out):
    n = x.shape[0]
    lanes = lane_source.shape[0]
    buf = np.empty(min(n, BLOCK), dtype=np.float64)
    acc = np.empty(min(n, BLOCK), dtype=np.float64)
    for r0 in range(0, n, BLOCK):
        m = min(BLOCK, n - r0)
        for ln in range(lanes):
            src = lane_source[ln]
            for i in range(m):
                buf[i] = x[r0 + i, src]
            for k in range(lane_start[ln], lane_start[ln] + lane_len[ln]):
                c = op_code[k]
                a = op_a[k]
                b = op_b[k]
                if c == IMPUTE:
                    for i in range(m):
                        v = buf[i]
                        buf[i] = a if np.isnan(v) else v
                elif c == CLIP:
                    for i in range(m):
                        v = buf[i]
                        buf[i] = a if v < a else (b if v > b else v)
                elif c == LOG1P:
                    for i in range(m):
                        buf[i] = np.log1p(buf[i])
                elif c == SUBDIV:
                    for i in range(m):
                        buf[i] = (buf[i] - a) / b
                elif c == MULADD:
                    for i in range(m):
                        v = buf[i] * a
                        buf[i] = v + b
                elif c == BIN:
                    _bin_block(buf, acc, m, table, op_off[k], op_cnt[k])
                elif c == EQ:
                    if np.isnan(a):
                        for i in range(m):
                            buf[i] = 1.0 if np.isnan(buf[i]) else 0.0
                    else:
                        for i in range(m):
                            buf[i] = 1.0 if buf[i] == a else 0.0
            for i in range(m):
                out[r0 + i, ln] = buf[i]
    return out
