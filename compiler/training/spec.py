"""The training spec: a TOML file that says everything needed to rebuild a model, and nothing else.

Why declarative: a reviewer can read what a retrained challenger is (family, parameters, preprocessing,
label, seed) without reading code, and the spec's digest pins it in the bundle's lineage. The digest is
taken over the *normalised* spec (defaults filled in, canonical JSON), so key order, whitespace, comments
and spelling out a default do not change it. Parsing is strict: an unknown key, a wrong type or a bad value
is refused with the key named, because a typo silently ignored would train a different model.

    seed = 7                                  # required: every random_state, and the sample split

    [model]                                   # optional table
    name = "credit-pd"                        # or `retrain --model`
    description = "probability of default"
    threshold = 0.5

    [data]
    label = "default"                         # required: the 0/1 outcome column
    features = ["income", "age"]              # optional: default every column but the label, in file order
    holdout = 0.2                             # share of rows held out as the compile sample (parity, metrics)
    max_sample_rows = 5000                    # cap on that sample

    [estimator]
    family = "logistic_regression"            # or hook = "package.module:function" (returns an unfitted model)
    params = { C = 0.5, max_iter = 2000 }     # constructor arguments (hook: keyword arguments of the hook)

    [[preprocessing]]                         # optional, one table per column group (a ColumnTransformer)
    name = "money"
    columns = ["income"]
    steps = [{ kind = "impute", strategy = "median" }, { kind = "log1p" }, { kind = "standard_scale" }]

    [constraints.income]                      # optional: allowed ranges enforced by the gateway
    min = 0.0
    max = 1e8
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Mapping

from compiler.build import Constraint
from compiler.digest import canonical_json, encode_float, sha256_bytes
from compiler.errors import InvalidInput

FAMILIES = ("logistic_regression", "random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting",
            "lightgbm", "xgboost")

# kind -> {option: (expected type(s), default)}; `...` marks a required option, None an optional one.
STEP_KINDS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "impute": {"strategy": ((str,), "median"), "fill_value": ((int, float), None), "indicator": ((bool,), False)},
    "log1p": {},
    "clip": {"min": ((int, float), None), "max": ((int, float), None)},
    "standard_scale": {},
    "minmax_scale": {},
    "bins": {"bins": ((int,), ...), "strategy": ((str,), "quantile"), "encode": ((str,), "onehot")},
    "one_hot": {"unknown": ((str,), "error")},
}
CHOICES = {("impute", "strategy"): ("median", "mean", "most_frequent", "constant"),
           ("bins", "strategy"): ("quantile", "uniform"), ("bins", "encode"): ("onehot", "ordinal"),
           ("one_hot", "unknown"): ("error", "ignore")}

_TOP = {"seed", "model", "data", "estimator", "preprocessing", "constraints"}


@dataclass(frozen=True)
class Step:
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)  # every option of the kind, defaults filled in


@dataclass(frozen=True)
class ColumnGroup:
    name: str
    columns: tuple[str, ...]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class DataSpec:
    label: str
    features: tuple[str, ...] | None = None
    holdout: float = 0.2
    max_sample_rows: int = 5000


@dataclass(frozen=True)
class EstimatorSpec:
    family: str | None = None
    hook: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingSpec:
    seed: int
    data: DataSpec
    estimator: EstimatorSpec
    preprocessing: tuple[ColumnGroup, ...] = ()
    constraints: Mapping[str, Constraint] = field(default_factory=dict)
    model: str | None = None
    description: str = ""
    threshold: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        """The normalised spec as plain JSON values: what the digest covers and the manifest records."""
        return {
            "seed": self.seed,
            "model": {"name": self.model, "description": self.description, "threshold": self.threshold},
            "data": {"label": self.data.label,
                     "features": None if self.data.features is None else list(self.data.features),
                     "holdout": self.data.holdout, "max_sample_rows": self.data.max_sample_rows},
            "estimator": {"family": self.estimator.family, "hook": self.estimator.hook,
                          "params": _plain(self.estimator.params)},
            "preprocessing": [{"name": g.name, "columns": list(g.columns),
                               "steps": [{"kind": s.kind, **_plain(s.options)} for s in g.steps]}
                              for g in self.preprocessing],
            "constraints": {k: {"min": encode_float(c.min), "max": encode_float(c.max), "nan_allowed": c.nan_allowed}
                            for k, c in sorted(self.constraints.items())},
        }

    @property
    def digest(self) -> str:
        return sha256_bytes(canonical_json(self.to_dict()))


def load_spec(path: Path | str) -> TrainingSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInput(f"training spec {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"training spec {path} is not a readable UTF-8 file ({type(exc).__name__})") from exc
    return parse_spec(text, str(path))


def parse_spec(text: str, source: str = "<spec>") -> TrainingSpec:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"training spec {source} is not valid TOML ({exc})") from exc
    return _Parser(source).spec(raw)


class _Parser:
    """Validation with the offending key in every message ("training spec f.toml: data.holdout: ...")."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, expected: str, got: Any = None, show: bool = True) -> InvalidInput:
        tail = f", got {got!r}" if show else ""
        return InvalidInput(f"training spec {self.source}: {key}: expected {expected}{tail}")

    def table(self, raw: Any, key: str, allowed: Collection[str], required: Collection[str] = ()) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(key, "a table", raw)
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            raise self.fail(where, f"one of the known keys {sorted(allowed)} (unknown key)", show=False)
        for k in sorted(set(required) - set(raw)):
            raise self.fail(f"{key}.{k}" if key else k, "a value (required key is missing)", show=False)
        return raw

    def typed(self, value: Any, key: str, types: tuple[type, ...], what: str) -> Any:
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise self.fail(key, what, value)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(key, f"a finite {what}", value)
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string", value)
        return value

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, "a non-empty list of column names", value)
        out = tuple(self.text(v, f"{key}[{i}]") for i, v in enumerate(value))
        dup = next((n for i, n in enumerate(out) if n in out[:i]), None)
        if dup is not None:
            raise self.fail(key, "distinct column names", f"{dup} twice")
        return out

    def spec(self, raw: dict[str, Any]) -> TrainingSpec:
        self.table(raw, "", _TOP, {"seed", "data", "estimator"})
        seed = self.typed(raw["seed"], "seed", (int,), "an integer in [0, 2**32 - 1]")
        if not 0 <= seed < 2**32:
            raise self.fail("seed", "an integer in [0, 2**32 - 1]", seed)
        model = self.table(raw.get("model", {}), "model", {"name", "description", "threshold"})
        name = None if "name" not in model else self.text(model["name"], "model.name")
        description = self.typed(model.get("description", ""), "model.description", (str,), "a string")
        threshold = float(self.typed(model.get("threshold", 0.5), "model.threshold", (int, float), "a number"))
        if not 0.0 <= threshold <= 1.0:
            raise self.fail("model.threshold", "a number in [0, 1]", threshold)
        data = self.data(raw["data"])
        estimator = self.estimator(raw["estimator"])
        groups = self.preprocessing(raw.get("preprocessing", []))
        if groups and estimator.hook is not None:
            raise self.fail("preprocessing", "no column groups with estimator.hook (the hook returns the whole "
                            "model; put its preprocessing there)", show=False)
        constraints = self.constraints(raw.get("constraints", {}))
        features = data.features
        if features is not None:
            for g in groups:
                for c in g.columns:
                    if c not in features:
                        raise self.fail(f"preprocessing.{g.name}.columns", "columns listed in data.features", c)
            for c in constraints:
                if c not in features:
                    raise self.fail(f"constraints.{c}", f"a column listed in data.features {list(features)}",
                                    show=False)
            if data.label in features:
                raise self.fail("data.features", f"input columns only (the label {data.label!r} is the outcome)",
                                show=False)
        return TrainingSpec(seed=seed, data=data, estimator=estimator, preprocessing=groups,
                            constraints=constraints, model=name, description=description, threshold=threshold)

    def data(self, raw: Any) -> DataSpec:
        d = self.table(raw, "data", {"label", "features", "holdout", "max_sample_rows"}, {"label"})
        holdout = float(self.typed(d.get("holdout", 0.2), "data.holdout", (int, float), "a number"))
        if not 0.0 < holdout <= 0.5:
            raise self.fail("data.holdout", "a share of rows in (0, 0.5]", holdout)
        cap = self.typed(d.get("max_sample_rows", 5000), "data.max_sample_rows", (int,), "an integer")
        if cap < 10:
            raise self.fail("data.max_sample_rows", "an integer >= 10", cap)
        features = None if "features" not in d else self.names(d["features"], "data.features")
        return DataSpec(label=self.text(d["label"], "data.label"), features=features, holdout=holdout,
                        max_sample_rows=cap)

    def estimator(self, raw: Any) -> EstimatorSpec:
        e = self.table(raw, "estimator", {"family", "hook", "params"})
        if ("family" in e) == ("hook" in e):
            raise self.fail("estimator", "exactly one of family or hook", show=False)
        params = self.table(e.get("params", {}), "estimator.params", set(e.get("params", {})))
        for k, v in params.items():
            self._param(v, f"estimator.params.{k}")
        if "family" in e:
            family = e["family"]
            if family not in FAMILIES:
                raise self.fail("estimator.family", f"one of {list(FAMILIES)}", family)
            return EstimatorSpec(family=family, params=dict(params))
        hook = self.text(e["hook"], "estimator.hook")
        module, _, func = hook.partition(":")
        if not module or not func:
            raise self.fail("estimator.hook", "'package.module:function'", hook)
        return EstimatorSpec(hook=hook, params=dict(params))

    def _param(self, value: Any, key: str) -> None:
        """Plain TOML scalars and lists of them only (no dates, no tables): they must survive JSON exactly."""
        if isinstance(value, list):
            for i, v in enumerate(value):
                self._param(v, f"{key}[{i}]")
        elif not isinstance(value, (str, int, float, bool)):
            raise self.fail(key, "a string, number, boolean or list of them", value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise self.fail(key, "a finite number", value)

    def preprocessing(self, raw: Any) -> tuple[ColumnGroup, ...]:
        if not isinstance(raw, list):
            raise self.fail("preprocessing", "an array of tables ([[preprocessing]])", raw)
        groups: list[ColumnGroup] = []
        seen_cols: dict[str, str] = {}
        for i, g in enumerate(raw):
            g = self.table(g, f"preprocessing[{i}]", {"name", "columns", "steps"}, {"name", "columns", "steps"})
            name = self.text(g["name"], f"preprocessing[{i}].name")
            key = f"preprocessing.{name}"
            if any(x.name == name for x in groups):
                raise self.fail(f"{key}.name", "a name used by one group only", name)
            columns = self.names(g["columns"], f"{key}.columns")
            for c in columns:
                if c in seen_cols:
                    raise self.fail(f"{key}.columns", f"columns in one group only ({c!r} is in {seen_cols[c]!r})",
                                    show=False)
                seen_cols[c] = name
            if not isinstance(g["steps"], list) or not g["steps"]:
                raise self.fail(f"{key}.steps", "a non-empty list of steps", g["steps"])
            steps = tuple(self.step(s, f"{key}.steps[{j}]") for j, s in enumerate(g["steps"]))
            groups.append(ColumnGroup(name, columns, steps))
        return tuple(groups)

    def step(self, raw: Any, key: str) -> Step:
        if not isinstance(raw, dict) or "kind" not in raw:
            raise self.fail(key, "a table with a 'kind'", raw)
        kind = raw["kind"]
        if kind not in STEP_KINDS:
            raise self.fail(f"{key}.kind", f"one of {sorted(STEP_KINDS)}", kind)
        schema = STEP_KINDS[kind]
        self.table(raw, key, {"kind", *schema})
        options: dict[str, Any] = {}
        for opt, (types, default) in schema.items():
            if opt not in raw:
                if default is ...:
                    raise self.fail(f"{key}.{opt}", f"a value (required for kind {kind!r})", show=False)
                options[opt] = default
                continue
            value = self.typed(raw[opt], f"{key}.{opt}", types, " or ".join(t.__name__ for t in types))
            if (kind, opt) in CHOICES and value not in CHOICES[kind, opt]:
                raise self.fail(f"{key}.{opt}", f"one of {list(CHOICES[kind, opt])}", value)
            options[opt] = float(value) if float in types and not isinstance(value, bool) else value
        if kind == "impute" and (options["strategy"] == "constant") != (options["fill_value"] is not None):
            raise self.fail(f"{key}.fill_value", "a number exactly when strategy = 'constant'", options["fill_value"])
        if kind == "clip":
            lo, hi = options["min"], options["max"]
            if lo is None and hi is None:
                raise self.fail(key, "at least one of min, max for kind 'clip'", show=False)
            if lo is not None and hi is not None and lo > hi:
                raise self.fail(f"{key}.max", f"a number >= min ({lo})", hi)
        if kind == "bins" and options["bins"] < 2:
            raise self.fail(f"{key}.bins", "an integer >= 2", options["bins"])
        return Step(kind, options)

    def constraints(self, raw: Any) -> dict[str, Constraint]:
        table = self.table(raw, "constraints", set(raw) if isinstance(raw, dict) else set())
        out: dict[str, Constraint] = {}
        for name, c in table.items():
            key = f"constraints.{name}"
            c = self.table(c, key, {"min", "max", "nan_allowed"})
            lo = float(self.typed(c["min"], f"{key}.min", (int, float), "a number")) if "min" in c else -math.inf
            hi = float(self.typed(c["max"], f"{key}.max", (int, float), "a number")) if "max" in c else math.inf
            if lo > hi:
                raise self.fail(f"{key}.max", f"a number >= min ({lo})", hi)
            nan = None if "nan_allowed" not in c else self.typed(c["nan_allowed"], f"{key}.nan_allowed", (bool,),
                                                                 "true or false")
            out[name] = Constraint(lo, hi, nan)
        return out


def _plain(m: Mapping[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in sorted(m)}
