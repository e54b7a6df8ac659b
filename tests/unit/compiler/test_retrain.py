"""compiler/training: the same spec + data give the same bundle digest; lineage is in the bundle and the
registry; the retrainer cannot approve; hooks and tree families retrain reproducibly."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from compiler.bundle import read_bundle
from compiler.demo.data import LABEL, generate
from compiler.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from compiler.training import train
from compiler.training.retrain import Parent, build_candidate, retrain
from compiler.training.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parents[3]
DEMO_SPEC = REPO / "compiler" / "demo" / "retrain.toml"

TREE_SPEC = """
seed = {seed}
[data]
label = "default"
[estimator]
family = "{family}"
params = {params}
{prep}
"""
TREES = {
    "hist_gradient_boosting": ("{ max_iter = 15, max_leaf_nodes = 8 }", ""),
    "lightgbm": ("{ n_estimators = 15, num_leaves = 8 }", ""),
    "xgboost": ("{ n_estimators = 15, max_depth = 3 }", ""),
    # sklearn forests need NaN imputed before them (the converter's policy); 
    "random_forest": ("{ n_estimators = 8, max_depth = 4 }",
                      ('[[preprocessing]]\nname = "gaps"\ncolumns = ["months_since_delinquency"]\n'
                       'steps = [{ kind = "impute", strategy = "constant", fill_value = 120, indicator = true }]')),
}

HOOK_MODULE = '''
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline


def forest(n_estimators=5):
    # random_state left unset on purpose: retraining must seed it from the spec
    return Pipeline([("impute", SimpleImputer(strategy="median")),
                     ("model", ExtraTreesClassifier(n_estimators=n_estimators, max_depth=3))])


def fitted():
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression().fit([[0.0], [1.0]], [0, 1])
'''


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("retrain-data")
    out = {}
    for name, frame in {"a": generate(2000, seed=21), "b": generate(2000, seed=22, shift=0.5)}.items():
        frame.to_csv(root / f"{name}.csv", index=False)
        out[name] = root / f"{name}.csv"
    return out


@pytest.fixture
def hook_module(tmp_path: Path, monkeypatch) -> str:
    (tmp_path / "retrain_hooks_under_test.py").write_text(HOOK_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "retrain_hooks_under_test"
    sys.modules.pop("retrain_hooks_under_test", None)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_spec_and_data_give_the_same_bundle_in_two_directories(data, tmp_path: Path) -> None:
    spec = load_spec(DEMO_SPEC)
    parent = Parent(3, "ab" * 32)
    one = build_candidate(spec, data["a"], tmp_path / "one", "credit-pd", parent)
    two = build_candidate(spec, data["a"], tmp_path / "two" / "nested", "credit-pd", parent)
    assert one.compiled.digest == two.compiled.digest
    for name in ("model.onnx", "program.json", "schema.json", "drift.json", "manifest.json"):
        assert (one.compiled.path / name).read_bytes() == (two.compiled.path / name).read_bytes(), name
    lineage = read_bundle(one.compiled.path).manifest["lineage"]
    assert lineage["parent_version"] == 3 and lineage["parent_digest"] == "ab" * 32
    assert lineage["spec_digest"] == spec.digest and lineage["data_digest"] == _sha(data["a"])
    assert lineage["seed"] == 7 and lineage["spec"] == spec.to_dict()
    assert (lineage["data_rows"], lineage["training_rows"], lineage["sample_rows"]) == (2000, 1600, 400)
    assert one.compiled.manifest["sample"]["rows"] == 400 and one.compiled.parity.passed


def test_a_different_seed_data_or_parent_gives_a_different_digest(data, tmp_path: Path) -> None:
    text = DEMO_SPEC.read_text()
    spec = parse_spec(text)
    base = build_candidate(spec, data["a"], tmp_path / "base", "credit-pd").compiled
    reseeded = build_candidate(parse_spec(text.replace("seed = 7", "seed = 8")), data["a"], tmp_path / "seed",
                               "credit-pd").compiled
    other_data = build_candidate(spec, data["b"], tmp_path / "data", "credit-pd").compiled
    other_parent = build_candidate(spec, data["a"], tmp_path / "parent", "credit-pd", Parent(1, "cd" * 32)).compiled
    digests = {base.digest, reseeded.digest, other_data.digest, other_parent.digest}
    assert len(digests) == 4
    # the seed moves the held-out sample, hence the model; the data digest is the file's bytes
    assert reseeded.manifest["sample"]["digest"] != base.manifest["sample"]["digest"]
    assert other_data.manifest["lineage"]["data_digest"] == _sha(data["b"]) != base.manifest["lineage"]["data_digest"]


def test_the_demo_spec_builds_the_demo_pipeline(data) -> None:
    """The declared spec is the same model as compiler/demo/model.py's code, to the last bit."""
    from compiler.demo.model import pipeline

    spec = load_spec(DEMO_SPEC)
    features, frame = train.select(spec, generate(2000, seed=21))
    parts = train.split(spec, frame)
    ours = train.fit(spec, train.build(spec, features), parts.train, features)
    theirs = pipeline().fit(parts.train[features], parts.train[LABEL])
    np.testing.assert_array_equal(ours.predict_proba(parts.sample[features]),
                                  theirs.predict_proba(parts.sample[features]))


@pytest.mark.parametrize("family", sorted(TREES))
def test_tree_families_retrain_reproducibly(family: str, data, tmp_path: Path) -> None:
    params, prep = TREES[family]
    spec = parse_spec(TREE_SPEC.format(seed=5, family=family, params=params, prep=prep))
    one = build_candidate(spec, data["a"], tmp_path / "one", "trees").compiled
    two = build_candidate(spec, data["a"], tmp_path / "two", "trees").compiled
    assert one.digest == two.digest and one.parity.passed
    reseeded = parse_spec(TREE_SPEC.format(seed=6, family=family, params=params, prep=prep))
    assert build_candidate(reseeded, data["a"], tmp_path / "three", "trees").compiled.digest != one.digest


def test_a_module_function_hook_is_seeded_and_pinned_in_the_lineage(data, hook_module: str, tmp_path: Path) -> None:
    text = (f'seed = 4\n[data]\nlabel = "default"\n[estimator]\nhook = "{hook_module}:forest"\n'
            'params = { n_estimators = 6 }\n')
    spec = parse_spec(text)
    one = build_candidate(spec, data["a"], tmp_path / "one", "hooked").compiled
    two = build_candidate(spec, data["a"], tmp_path / "two", "hooked").compiled
    assert one.digest == two.digest  # the hook left random_state unset: retraining seeded it
    assert one.manifest["source"]["estimator"] == "ExtraTreesClassifier"
    lineage = one.manifest["lineage"]
    assert lineage["hook"] == f"{hook_module}:forest"
    assert lineage["hook_source_digest"] == _sha(tmp_path / f"{hook_module}.py")
    model = train.build(spec, ["x"])
    assert model.get_params()["model__random_state"] == 4 and model.get_params()["model__n_estimators"] == 6


def test_bad_hooks_and_params_are_refused_by_name(data, hook_module: str, tmp_path: Path) -> None:
    base = 'seed = 4\n[data]\nlabel = "default"\n[estimator]\n'
    cases = [
        (f'hook = "{hook_module}:fitted"', "returned a fitted model"),
        (f'hook = "{hook_module}:nothing"', "cannot import 'nothing'"),
        (f'hook = "{hook_module}:forest"\nparams = {{ trees = 3 }}', "does not accept estimator.params"),
        ('family = "logistic_regression"\nparams = { random_state = 1 }', "estimator.params.random_state"),
        ('family = "lightgbm"\nparams = { n_jobs = 4 }', "estimator.params.n_jobs"),
        ('family = "logistic_regression"\nparams = { Cee = 1.0 }', "estimator.params.Cee: not a parameter"),
        ('family = "logistic_regression"\nparams = { C = -1.0 }', "training failed"),
    ]
    for i, (estimator, expected) in enumerate(cases):
        with pytest.raises(InvalidInput, match=expected.replace("(", r"\(")):
            build_candidate(parse_spec(base + estimator), data["a"], tmp_path / str(i), "m")
        assert not (tmp_path / str(i)).exists()


def test_data_problems_are_one_line_errors(tmp_path: Path) -> None:
    frame = generate(300, seed=1)
    spec = parse_spec('seed = 1\n[data]\nlabel = "default"\n[estimator]\nfamily = "logistic_regression"\n')
    cases = {
        "nolabel": (frame.drop(columns=LABEL), "no label column 'default'"),
        "threeway": (frame.assign(default=frame[LABEL].where(frame.index != 3, 2)), "must hold 0 and 1 only"),
        "onevalue": (frame.assign(default=0), "must hold 0 and 1 only"),
        "unimputed": (frame, r"training failed \(ValueError\): Input X contains NaN"),
        "gaps": (frame.assign(default=frame[LABEL].where(frame.index != 3)), "must hold 0 and 1 only"),
        "text": (frame.assign(age=frame["age"].astype(str) + "y"), "column 'age' holds non-numeric"),
    }
    for name, (df, expected) in cases.items():
        path = tmp_path / f"{name}.csv"
        df.to_csv(path, index=False)
        with pytest.raises(InvalidInput, match=expected):
            build_candidate(spec, path, tmp_path / f"out-{name}", "m")
    with pytest.raises(InvalidInput, match="data file .* does not exist"):
        build_candidate(spec, tmp_path / "absent.csv", tmp_path / "out", "m")
    narrow = parse_spec('seed = 1\n[data]\nlabel = "default"\nfeatures = ["age", "salary"]\n'
                        '[estimator]\nfamily = "logistic_regression"\n')
    with pytest.raises(InvalidInput, match=r"missing column\(s\) \['salary'\]"):
        build_candidate(narrow, tmp_path / "unimputed.csv", tmp_path / "out", "m")


def test_retrain_registers_a_candidate_with_lineage_that_its_trainer_cannot_approve(data, tmp_path: Path) -> None:
    from registry.service import Registry

    registry = Registry(tmp_path / "home")
    try:
        first = retrain(registry, DEMO_SPEC, data["a"], "alice").version
        assert first.version == 1 and first.parent_version is None and first.state == "registered"
        assert "first version of credit-pd" in first.description
        registry.approve("credit-pd", 1, "bob")
        registry.set_deployment("credit-pd", "bob", "first champion", champion=1)

        result = retrain(registry, DEMO_SPEC, data["b"], "carol", out_dir=tmp_path / "kept")
        v2 = result.version
        assert (v2.version, v2.parent_version, v2.state, v2.registered_by) == (2, 1, "registered", "carol")
        stored = registry.open_bundle("credit-pd", 2)
        assert stored.digest == v2.digest == read_bundle(tmp_path / "kept").digest
        lineage = stored.manifest["lineage"]
        assert lineage["parent_version"] == 1 and lineage["parent_digest"] == first.digest
        assert lineage["data_digest"] == _sha(data["b"]) and lineage["spec_digest"] == load_spec(DEMO_SPEC).digest
        for fact in (f"credit-pd v1 (bundle {first.digest})", lineage["spec_digest"], lineage["data_digest"], "seed 7"):
            assert fact in v2.description, fact

        with pytest.raises(PermissionDenied, match="four-eyes"):
            registry.approve("credit-pd", 2, "carol")
        with pytest.raises(AlreadyExists, match="reproduce it"):  # same spec, data and parent: same bundle
            retrain(registry, DEMO_SPEC, data["b"], "dave")
        with pytest.raises(NotFound):
            retrain(registry, DEMO_SPEC, data["b"], "dave", parent=9)
        assert registry.approve("credit-pd", 2, "dave").state == "approved"
        # an explicit parent overrides the champion
        v3 = retrain(registry, DEMO_SPEC, data["b"], "erin", parent=2, model="credit-pd").version
        assert v3.parent_version == 2
        assert registry.open_bundle("credit-pd", 3).manifest["lineage"]["parent_version"] == 2
    finally:
        registry.close()


def test_a_model_name_is_required(data, tmp_path: Path) -> None:
    from registry.service import Registry

    spec = tmp_path / "anon.toml"
    spec.write_text('seed = 1\n[data]\nlabel = "default"\n[estimator]\nfamily = "logistic_regression"\n')
    registry = Registry(tmp_path / "home")
    try:
        with pytest.raises(InvalidInput, match="no model name"):
            retrain(registry, spec, data["a"], "alice")
    finally:
        registry.close()
