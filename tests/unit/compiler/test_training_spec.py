"""compiler/training/spec.py: the TOML training spec is parsed strictly (errors name the key) and its digest
depends on what the spec says, not on how the file is laid out."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from compiler.build import Constraint
from compiler.errors import InvalidInput
from compiler.training.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parents[3]

MINIMAL = """
seed = 3
[data]
label = "y"
[estimator]
family = "logistic_regression"
"""

FULL = """
# a comment
seed = 11
[model]
name = "cards"
description = "card fraud"
threshold = 0.4
[data]
label = "y"
features = ["a", "b", "c"]
holdout = 0.25
max_sample_rows = 100
[estimator]
family = "hist_gradient_boosting"
params = { max_iter = 20, learning_rate = 0.1 }
[[preprocessing]]
name = "money"
columns = ["a", "b"]
steps = [{ kind = "impute", strategy = "median" }, { kind = "log1p" }, { kind = "standard_scale" }]
[[preprocessing]]
name = "codes"
columns = ["c"]
steps = [{ kind = "one_hot" }]
[constraints]
a = { min = 0, max = 10 }
b = { nan_allowed = false }
"""

# FULL with the tables, keys and inline tables reordered, whitespace changed and a default spelled out
REORDERED = """
seed=11

[estimator]
params.learning_rate = 0.1
params.max_iter = 20
family = "hist_gradient_boosting"

[data]
max_sample_rows = 100
holdout = 0.25
features = [ "a",  "b", "c" ]
label = "y"

[[preprocessing]]
columns = ["a", "b"]
name = "money"
steps = [
  { strategy = "median", kind = "impute", indicator = false },
  { kind = "log1p" },
  { kind = "standard_scale" },
]

[[preprocessing]]
steps = [{ kind = "one_hot", unknown = "error" }]
name = "codes"
columns = ["c"]

[constraints.b]
nan_allowed = false

[constraints.a]
max = 10
min = 0

[model]
threshold = 0.4
description = "card fraud"
name = "cards"
"""


def test_minimal_spec_gets_the_documented_defaults() -> None:
    spec = parse_spec(MINIMAL)
    assert spec.seed == 3 and spec.model is None and spec.threshold == 0.5 and spec.description == ""
    assert spec.data.label == "y" and spec.data.features is None
    assert spec.data.holdout == 0.2 and spec.data.max_sample_rows == 5000
    assert spec.estimator.family == "logistic_regression" and spec.estimator.hook is None
    assert spec.preprocessing == () and dict(spec.constraints) == {}


def test_full_spec_is_parsed_into_groups_steps_and_constraints() -> None:
    spec = parse_spec(FULL)
    assert spec.model == "cards" and spec.threshold == 0.4 and spec.data.features == ("a", "b", "c")
    assert dict(spec.estimator.params) == {"max_iter": 20, "learning_rate": 0.1}
    money, codes = spec.preprocessing
    assert money.columns == ("a", "b") and [s.kind for s in money.steps] == ["impute", "log1p", "standard_scale"]
    assert dict(money.steps[0].options) == {"strategy": "median", "fill_value": None, "indicator": False}
    assert dict(codes.steps[0].options) == {"unknown": "error"}
    assert spec.constraints["a"] == Constraint(0.0, 10.0, None)
    assert spec.constraints["b"] == Constraint(-math.inf, math.inf, False)


def test_digest_is_stable_under_key_order_whitespace_comments_and_spelled_out_defaults() -> None:
    assert parse_spec(FULL).digest == parse_spec(REORDERED).digest
    assert parse_spec(FULL).to_dict() == parse_spec(REORDERED).to_dict()
    assert len(parse_spec(FULL).digest) == 64


@pytest.mark.parametrize("old, new", [
    ("seed = 11", "seed = 12"),
    ("learning_rate = 0.1", "learning_rate = 0.2"),
    ('{ kind = "log1p" }, ', ""),
    ('label = "y"', 'label = "z"'),
    ("holdout = 0.25", "holdout = 0.3"),
    ('a = { min = 0, max = 10 }', 'a = { min = 0, max = 11 }'),
    ('features = ["a", "b", "c"]', 'features = ["b", "a", "c"]'),
])
def test_digest_changes_with_what_the_spec_says(old: str, new: str) -> None:
    assert old in FULL
    assert parse_spec(FULL.replace(old, new)).digest != parse_spec(FULL).digest


def _error(text: str) -> str:
    with pytest.raises(InvalidInput) as info:
        parse_spec(text, "t.toml")
    msg = str(info.value)
    assert msg.startswith("training spec t.toml") and "\n" not in msg
    return msg


@pytest.mark.parametrize("text, key, expected", [
    (MINIMAL.replace("seed = 3", ""), "seed:", "required"),
    (MINIMAL.replace("seed = 3", 'seed = "3"'), "seed:", "integer"),
    (MINIMAL.replace("seed = 3", "seed = -1"), "seed:", "integer in"),
    (MINIMAL.replace("seed = 3", "seed = true"), "seed:", "integer"),
    ("colour = 1\n" + MINIMAL, "colour:", "unknown key"),
    (MINIMAL + "colour = 1\n", "estimator.colour:", "unknown key"),
    (MINIMAL.replace('label = "y"', 'label = "y"\nlable = "x"'), "data.lable:", "unknown key"),
    (MINIMAL.replace('label = "y"', ''), "data.label:", "required"),
    (MINIMAL.replace('label = "y"', 'label = "y"\nholdout = 0.9'), "data.holdout:", "(0, 0.5]"),
    (MINIMAL.replace('label = "y"', 'label = "y"\nfeatures = []'), "data.features:", "non-empty list"),
    (MINIMAL.replace('label = "y"', 'label = "y"\nfeatures = ["a", "a"]'), "data.features:", "distinct"),
    (MINIMAL.replace('label = "y"', 'label = "y"\nfeatures = ["a", "y"]'), "data.features:", "label"),
    (MINIMAL.replace("logistic_regression", "svm"), "estimator.family:", "one of"),
    (MINIMAL.replace('family = "logistic_regression"', ""), "estimator:", "exactly one of family or hook"),
    (MINIMAL + 'hook = "m:f"\n', "estimator:", "exactly one of family or hook"),
    (MINIMAL.replace('family = "logistic_regression"', 'hook = "nocolon"'), "estimator.hook:", "module:function"),
    (MINIMAL + "params = { C = 1979-05-27 }\n", "estimator.params.C:", "string, number"),
    (MINIMAL + "[model]\nthreshold = 2\n", "model.threshold:", "[0, 1]"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "sqrt" }]\n',
     "preprocessing.g.steps[0].kind:", "one of"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "bins" }]\n',
     "preprocessing.g.steps[0].bins:", "required"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "bins", bins = 1 }]\n',
     "preprocessing.g.steps[0].bins:", ">= 2"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "log1p", base = 2 }]\n',
     "preprocessing.g.steps[0].base:", "unknown key"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "impute", strategy = "constant" }]\n',
     "preprocessing.g.steps[0].fill_value:", "strategy = 'constant'"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "impute", strategy = "mode" }]\n',
     "preprocessing.g.steps[0].strategy:", "one of"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "clip" }]\n',
     "preprocessing.g.steps[0]:", "at least one of min, max"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "clip", min = "0" }]\n',
     "preprocessing.g.steps[0].min:", "int or float"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = []\n', "preprocessing.g.steps:", "non-empty"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\n', "preprocessing[0].steps:", "required"),
    (MINIMAL + '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "log1p" }]\n'
     '[[preprocessing]]\nname = "h"\ncolumns = ["a"]\nsteps = [{ kind = "log1p" }]\n',
     "preprocessing.h.columns:", "one group only"),
    (MINIMAL + "[constraints]\na = { min = 5, max = 1 }\n", "constraints.a.max:", ">= min"),
    (MINIMAL + "[constraints]\na = { nan_allowed = 1 }\n", "constraints.a.nan_allowed:", "true or false"),
    (MINIMAL + "[constraints]\na = { low = 1 }\n", "constraints.a.low:", "unknown key"),
    (MINIMAL.replace('label = "y"', 'label = "y"\nfeatures = ["a"]') + "[constraints]\nb = { min = 1 }\n",
     "constraints.b:", "data.features"),
])
def test_a_bad_spec_is_refused_naming_the_key(text: str, key: str, expected: str) -> None:
    msg = _error(text)
    assert f": {key} " in msg, msg
    assert expected in msg, msg


def test_hook_and_preprocessing_do_not_mix() -> None:
    text = MINIMAL.replace('family = "logistic_regression"', 'hook = "m:f"') + \
        '[[preprocessing]]\nname = "g"\ncolumns = ["a"]\nsteps = [{ kind = "log1p" }]\n'
    assert "preprocessing:" in _error(text)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = \n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_spec(bad)


def test_the_demo_spec_parses_and_matches_the_demo_constraints() -> None:
    from compiler.demo.data import FEATURES, LABEL
    from compiler.demo.model import CONSTRAINTS

    spec = load_spec(REPO / "compiler" / "demo" / "retrain.toml")
    assert spec.model == "credit-pd" and spec.data.label == LABEL and spec.data.features == FEATURES
    assert dict(spec.constraints) == CONSTRAINTS
    assert sorted(c for g in spec.preprocessing for c in g.columns) == sorted(FEATURES)
