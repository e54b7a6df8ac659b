"""`server`, `compiler` and `registry` are this distribution's packages (PyPI has unrelated namesakes)."""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_top_level_packages_map_only_to_scoregate() -> None:
    mapping = metadata.packages_distributions()
    for name in ("server", "compiler", "registry", "benchmarks"):
        assert set(mapping.get(name, ())) == {"scoregate"}, (name, mapping.get(name))


def test_imported_packages_are_this_repository() -> None:
    for name in ("server", "compiler", "registry", "benchmarks"):
        module = importlib.import_module(name)
        assert Path(module.__file__).resolve().is_relative_to(REPO), module.__file__


def test_console_script_is_declared() -> None:
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts.get("scoregate") == "server.cli.main:main"
