"""Fixtures every test layer shares."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")  # sklearn / LightGBM / XGBoost must not oversubscribe 2 cores


@pytest.fixture(scope="session")
def demo_registry(tmp_path_factory) -> Path:
    """A home with the demo model compiled, registered by alice, approved by a second person (risk-officer)
    and deployed as champion: built once per session; tests that change it work on a copy."""
    from server.demo import DemoConfig, compile_demo, govern_demo

    home = tmp_path_factory.mktemp("demo-registry")
    config = DemoConfig(home=home, actor="alice", sample_rows=1000)
    govern_demo(config, compile_demo(config, say=lambda _: None), say=lambda _: None)
    return home
