"""The feature program: preprocessing as data.

A program is a list of *lanes*, one per column the estimator sees. Each lane reads one input column and
applies a short chain of scalar steps (impute, clip, log1p, standardise, bucketise, category test). That
form covers every column-wise sklearn transformer we accept, including one-hot expansion (one lane per
category), and it lets a single generic Numba kernel run any program: the parameters are data, so the
kernel is compiled once, cached on disk, and shared by every model version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from compiler.digest import decode_float, encode_float
from compiler.errors import BundleError


class Op(IntEnum):
    IMPUTE = 1  # NaN -> a
    CLIP = 2  # a <= v <= b (NaN stays NaN)
    LOG1P = 3
    SUBDIV = 4  # (v - a) / b, sklearn's StandardScaler order of operations
    MULADD = 5  # v * a + b, sklearn's MinMaxScaler order of operations
    BIN = 6  # searchsorted(table, v, 'right'); NaN stays NaN
    EQ = 7  # 1.0 if v == a (NaN == NaN here) else 0.0


@dataclass(frozen=True)
class Step:
    op: Op
    a: float = 0.0
    b: float = 0.0
    table: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"op": self.op.name.lower()}
        if self.op in (Op.IMPUTE, Op.CLIP, Op.SUBDIV, Op.MULADD, Op.EQ):
            d["a"] = encode_float(self.a)
        if self.op in (Op.CLIP, Op.SUBDIV, Op.MULADD):
            d["b"] = encode_float(self.b)
        if self.op is Op.BIN:
            d["table"] = [encode_float(t) for t in self.table]
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Step:
        try:
            op = Op[str(d["op"]).upper()]
        except KeyError as exc:
            raise BundleError(f"program.json: unknown step {d.get('op')!r}") from exc
        return Step(
            op=op,
            a=decode_float(d.get("a", 0.0)),
            b=decode_float(d.get("b", 0.0)),
            table=tuple(decode_float(t) for t in d.get("table", ())),
        )


@dataclass(frozen=True)
class Lane:
    """One estimator input column: `steps` applied to input column `source`."""

    source: int
    steps: tuple[Step, ...]
    label: str

    def then(self, step: Step, label: str | None = None) -> Lane:
        return Lane(self.source, self.steps + (step,), label or self.label)

    def nan_outcome(self) -> str:
        """What a NaN input becomes: 'finite', 'nan' (propagated), or 'error' (sklearn would refuse it)."""
        state = "nan"
        for s in self.steps:
            if state != "nan":
                break
            if s.op in (Op.IMPUTE, Op.EQ):
                state = "finite"
            elif s.op is Op.BIN:
                state = "error"
        return state


@dataclass(frozen=True)
class FeatureProgram:
    n_inputs: int
    lanes: tuple[Lane, ...]
    arrays: ProgramArrays = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrays", ProgramArrays.build(self))

    @property
    def width(self) -> int:
        return len(self.lanes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "n_inputs": self.n_inputs,
            "lanes": [
                {"source": ln.source, "label": ln.label, "steps": [s.to_dict() for s in ln.steps]}
                for ln in self.lanes
            ],
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> FeatureProgram:
        try:
            lanes = tuple(
                Lane(int(ln["source"]), tuple(Step.from_dict(s) for s in ln["steps"]), str(ln["label"]))
                for ln in d["lanes"]
            )
            program = FeatureProgram(int(d["n_inputs"]), lanes)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"program.json: malformed feature program ({exc})") from exc
        if any(not 0 <= ln.source < program.n_inputs for ln in lanes):
            raise BundleError("program.json: a lane reads a column outside the input width")
        for ln in lanes:  # the kernel's bucketing relies on sorted edges (searchsorted semantics)
            for s in ln.steps:
                t = s.table
                if s.op is Op.BIN and (any(e != e for e in t) or any(t[i] > t[i + 1] for i in range(len(t) - 1))):
                    raise BundleError(f"program.json: lane {ln.label!r} has bin edges that are not sorted numbers")
        return program

    def transform(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Run the program over a batch: float64 (rows, n_inputs) -> float32 (rows, width)."""
        from compiler.transforms.kernel import run_program

        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"expected a (rows, {self.n_inputs}) matrix, got shape {x.shape}")
        if out is None:
            out = np.empty((x.shape[0], self.width), dtype=np.float32)
        a = self.arrays
        run_program(x, a.lane_source, a.lane_start, a.lane_len, a.op_code, a.op_a, a.op_b, a.op_off, a.op_cnt,
                    a.table, out)
        return out


@dataclass(frozen=True)
class ProgramArrays:
    """The program flattened into contiguous arrays, the form the Numba kernel reads."""

    lane_source: np.ndarray
    lane_start: np.ndarray
    lane_len: np.ndarray
    op_code: np.ndarray
    op_a: np.ndarray
    op_b: np.ndarray
    op_off: np.ndarray
    op_cnt: np.ndarray
    table: np.ndarray

    @staticmethod
    def build(program: FeatureProgram) -> ProgramArrays:
        steps = [s for ln in program.lanes for s in ln.steps]
        starts = np.cumsum([0] + [len(ln.steps) for ln in program.lanes])[:-1]
        offs, table = [], []
        for s in steps:
            offs.append(len(table))
            table.extend(s.table)
        return ProgramArrays(
            lane_source=np.array([ln.source for ln in program.lanes], dtype=np.int64),
            lane_start=np.asarray(starts, dtype=np.int64),
            lane_len=np.array([len(ln.steps) for ln in program.lanes], dtype=np.int64),
            op_code=np.array([int(s.op) for s in steps], dtype=np.int64),
            op_a=np.array([s.a for s in steps], dtype=np.float64),
            op_b=np.array([s.b for s in steps], dtype=np.float64),
            op_off=np.array(offs, dtype=np.int64),
            op_cnt=np.array([len(s.table) for s in steps], dtype=np.int64),
            table=np.array(table, dtype=np.float64),
        )
