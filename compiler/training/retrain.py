"""Retraining into a challenger: spec + data -> fitted model -> compiled bundle with lineage -> registered.

Why the lineage lives in the bundle: the manifest is what the digest covers, so "where did this model come
from" (parent version and digest, spec digest, data digest, seed, split) cannot be edited after the fact
without changing the version's identity. The registered version carries the same facts in its description
and its parent_version. The retrained version is only *registered*: approving it takes a second person
(the registry's four-eyes rule), and shadowing it is the operator's next, explicit step.
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.build import CompileOptions, CompileResult, compile_model
from compiler.digest import sha256_file
from compiler.errors import AlreadyExists, InvalidInput, NotFound
from compiler.loading import read_sample
from compiler.training import train
from compiler.training.spec import TrainingSpec, load_spec

if TYPE_CHECKING:
    from registry.records import ModelVersion
    from registry.service import Registry


@dataclass(frozen=True)
class Parent:
    version: int
    digest: str


@dataclass(frozen=True)
class Candidate:
    """A compiled retrained model, not yet registered."""

    compiled: CompileResult
    lineage: dict[str, Any]
    spec: TrainingSpec


@dataclass(frozen=True)
class Retrained:
    version: ModelVersion
    candidate: Candidate
    parent: Parent | None


def build_candidate(spec: TrainingSpec, data_path: Path | str, out_dir: Path | str, model_name: str,
                    parent: Parent | None = None) -> Candidate:
    """Fit the spec's model on the data file and compile it into `out_dir` with its lineage in the manifest."""
    data_path = Path(data_path)
    data = read_sample(data_path, "data file")
    data_digest = sha256_file(data_path)
    features, frame = train.select(spec, data)
    parts = train.split(spec, frame)
    model = train.fit(spec, train.build(spec, features), parts.train, features)
    lineage: dict[str, Any] = {
        "kind": "retrain",
        "model": model_name,
        "parent_version": None if parent is None else parent.version,
        "parent_digest": None if parent is None else parent.digest,
        "spec_digest": spec.digest,
        "data_digest": data_digest,
        "data_rows": len(frame),
        "training_rows": len(parts.train),
        "sample_rows": len(parts.sample),
        "seed": spec.seed,
        "split": train.SPLIT_METHOD,
        "spec": spec.to_dict(),
    }
    if spec.estimator.hook is not None:
        lineage["hook"] = spec.estimator.hook
        lineage["hook_source_digest"] = _hook_source_digest(spec.estimator.hook)
    options = CompileOptions(threshold=spec.threshold, label=spec.data.label, constraints=dict(spec.constraints),
                             description=spec.description, lineage=lineage)
    return Candidate(compile_model(model, parts.sample, out_dir, options), lineage, spec)


def retrain(registry: Registry, spec_path: Path | str, data_path: Path | str, actor: str,
            model: str | None = None, parent: int | None = None, out_dir: Path | str | None = None) -> Retrained:
    """Train, compile (parity proven) and register as `actor`; the parent defaults to the serving champion."""
    spec = load_spec(spec_path)
    name = model or spec.model
    if not name:
        raise InvalidInput("no model name: set model.name in the training spec or pass --model")
    ref = resolve_parent(registry, name, parent)
    scratch = None if out_dir is not None else Path(tempfile.mkdtemp(prefix="scoregate-retrain-"))
    try:
        bundle_dir = Path(out_dir) if out_dir is not None else scratch / "bundle"  # type: ignore[operator]
        candidate = build_candidate(spec, data_path, bundle_dir, name, ref)
        try:
            version = registry.register(candidate.compiled.path, name, actor, description=describe(candidate),
                                        parent=None if ref is None else ref.version)
        except AlreadyExists as exc:
            raise AlreadyExists(f"{exc}: the same spec, data and parent reproduce it, so nothing new was "
                                "registered") from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return Retrained(version, candidate, ref)


def resolve_parent(registry: Registry, name: str, parent: int | None) -> Parent | None:
    """--parent, else the deployed champion, else the `champion` alias, else none (a first version)."""
    if parent is not None:
        v = registry.version(name, parent)
        return Parent(v.version, v.digest)
    try:
        deployment = registry.deployment(name)
    except NotFound:
        return None  # a new model: nothing to descend from
    if deployment is not None and deployment.champion is not None:
        v = registry.version(name, deployment.champion)
        return Parent(v.version, v.digest)
    try:
        v = registry.resolve(name, "champion")
    except NotFound:
        return None
    return Parent(v.version, v.digest)


def describe(candidate: Candidate) -> str:
    """The registry description: intended use, then the lineage in full (auditors compare whole digests)."""
    ln = candidate.lineage
    parent = (f"retrained from {ln['model']} v{ln['parent_version']} (bundle {ln['parent_digest']})"
              if ln["parent_version"] is not None else f"trained as a first version of {ln['model']}")
    head = f"{candidate.spec.description}; " if candidate.spec.description else ""
    return (f"{head}{parent}; spec sha256 {ln['spec_digest']}; data sha256 {ln['data_digest']} "
            f"({ln['data_rows']} rows, {ln['sample_rows']} held out); seed {ln['seed']}")


def _hook_source_digest(hook: str) -> str | None:
    """sha256 of the file defining the hook: the spec names the code, this pins which code it was."""
    from compiler.loading import import_hook

    try:
        source = inspect.getsourcefile(import_hook(hook, "estimator.hook"))
    except TypeError:
        return None
    return sha256_file(Path(source)) if source else None
