"""Compile-time inputs: the user's fitted model and the sample CSV, with one-line errors for bad ones.

Unpickling runs arbitrary code, which is why it happens here, at compile time, on a file the model owner
produced, and never on the serving path (the gateway reads bundles only).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from compiler.digest import canonical_json, sha256_bytes
from compiler.errors import InvalidInput, ScoregateError


def load_model(spec: str) -> Any:
    """`path/to/model.joblib` (or .pkl) or `package.module:function` returning the fitted model."""
    path = Path(spec)
    if ":" in spec and not path.exists():
        return call_hook(import_hook(spec, "model"), spec, "model")
    if not path.is_file():
        raise InvalidInput(f"model file {spec} does not exist")
    try:
        import joblib

        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is "unreadable" to the operator
        raise InvalidInput(f"model file {spec} is not a readable joblib/pickle file ({type(exc).__name__})") from exc


def import_hook(spec: str, what: str = "hook") -> Callable[..., Any]:
    """`package.module:function` -> the callable (the one way scoregate imports user code at build time)."""
    module_name, _, func_name = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidInput(f"{what} {spec!r}: cannot import {func_name!r} from {module_name!r} ({exc})") from exc
    if not callable(func):
        raise InvalidInput(f"{what} {spec!r}: {func_name!r} is not callable")
    return func


def call_hook(func: Callable[..., Any], spec: str, what: str, **kwargs: Any) -> Any:
    """Run user code; its own failure is reported as such (one line naming the hook), not as ours."""
    try:
        return func(**kwargs)
    except ScoregateError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error in user code is the user's to see
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise InvalidInput(f"{what} {spec!r} raised {type(exc).__name__}: {first}") from exc


def read_sample(path: Path | str, what: str = "sample file") -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{what} {path} does not exist")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise InvalidInput(f"{what} {path} is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise InvalidInput(f"{what} {path} is not a readable CSV ({type(exc).__name__})") from exc
    return df


def sample_matrix(df: pd.DataFrame, names: list[str], label: str | None) -> np.ndarray:
    """Check the sample against the model's inputs and return it as float64 in schema order."""
    if len(df) == 0:
        raise InvalidInput("sample has no rows; parity and drift need at least one")
    cols = [str(c) for c in df.columns]
    if label is not None and label not in cols:
        raise InvalidInput(f"sample has no label column {label!r}")
    missing = [n for n in names if n not in cols]
    if missing:
        raise InvalidInput(f"sample is missing column(s) {missing}; the model expects {names}")
    extra = [c for c in cols if c not in names and c != label]
    if extra:
        hint = " (pass --label NAME if one of them is the outcome)" if label is None else ""
        raise InvalidInput(f"sample has extra column(s) {extra} the model does not use{hint}")
    for n in names:
        col = df[n]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            bad = next((v for v in col if not _is_number(v)), col.iloc[0])
            raise InvalidInput(f"sample column {n!r} holds non-numeric data (e.g. {bad!r}); expected numbers")
    return np.ascontiguousarray(df[names].to_numpy(dtype=np.float64))


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def sample_digest(names: list[str], x: np.ndarray) -> str:
    """Digest of the parsed sample (names + float64 values), independent of CSV formatting."""
    return sha256_bytes(canonical_json(names) + np.ascontiguousarray(x, dtype="<f8").tobytes())
