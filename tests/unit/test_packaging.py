"""`server`, `compiler` and `registry` are this distribution's packages (PyPI has unrelated namesakes)."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "compiler", "registry", "benchmarks")


def test_top_level_packages_map_only_to_scoregate() -> None:
    mapping = metadata.packages_distributions()
    for name in PACKAGES:
        assert set(mapping.get(name, ())) == {"scoregate"}, (name, mapping.get(name))  # listed once per source
    files = {str(f) for f in metadata.files("scoregate") or ()}
    assert not any(f.startswith(("tests/", "proto/")) for f in files)


def test_imported_modules_are_this_repository() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        assert Path(package.__file__).resolve().is_relative_to(REPO), package.__file__
        # every sub-package resolves here too (an installed namesake would shadow some of them)
        for info in pkgutil.iter_modules(package.__path__, prefix=f"{name}."):
            spec = importlib.util.find_spec(info.name)
            assert spec is not None and spec.origin is not None, info.name
            assert Path(spec.origin).resolve().is_relative_to(REPO), (info.name, spec.origin)
    for mod_name, module in list(sys.modules.items()):
        if mod_name.split(".")[0] in PACKAGES and getattr(module, "__file__", None):
            assert Path(module.__file__).resolve().is_relative_to(REPO), (mod_name, module.__file__)


def test_console_script_is_declared() -> None:
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    assert scripts.get("scoregate") == "server.cli.main:main"
