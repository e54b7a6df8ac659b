"""The converter table: one explicit entry per estimator family, looked up by the estimator's class.

Registration refuses silent overwrite: two converters claiming one class is a configuration error that
must be loud, not a last-import-wins surprise.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from compiler.errors import AlreadyExists, Unsupported

ONNX_OPSET = 15  # ai.onnx; the highest opset onnxmltools 1.16 converts LightGBM/XGBoost at
ML_OPSET = 3  # ai.onnx.ml


@dataclass(frozen=True)
class Converter:
    family: str
    classes: tuple[str, ...]  # public "package.module.Class" paths, matched on the estimator's exact type
    convert: Callable[[Any, int], bytes]  # (fitted estimator, n_features) -> serialized ONNX model
    nan_native: bool  # the estimator handles NaN inputs itself (missing-value branches)
    tolerance: float  # max abs diff of probabilities accepted by parity
    tolerance_note: str = ""


def _resolve(path: str) -> type | None:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:  # the family's library is not installed: its converter simply never matches
        return None


class ConverterTable:
    def __init__(self) -> None:
        self._by_class: dict[str, Converter] = {}

    def register(self, converter: Converter) -> None:
        for cls in converter.classes:
            if cls in self._by_class:
                other = self._by_class[cls].family
                raise AlreadyExists(f"{cls} already has a converter (family {other!r}); refusing to overwrite")
        for cls in converter.classes:
            self._by_class[cls] = converter

    def lookup(self, estimator: Any) -> Converter:
        for path, conv in self._by_class.items():
            if type(estimator) is _resolve(path):
                return conv
        raise Unsupported(
            f"estimator {type(estimator).__name__} is not supported; supported: "
            + ", ".join(sorted(c.rsplit(".", 1)[-1] for c in self._by_class))
        )

    def families(self) -> list[str]:
        return sorted({c.family for c in self._by_class.values()})
