"""The benchmark suite's quick mode runs end to end and writes well-formed results (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_writes_json_markdown_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    (json_path,) = out.glob("bench-quick-*.json")
    run = json.loads(json_path.read_text())
    assert run["mode"] == "quick" and run["machine"]["cores"] >= 1
    expected = {"latency_vs_concurrency", "apis", "client_batch", "batching", "workers", "telemetry", "rollout",
                "open_loop"}
    assert set(run["scenarios"]) == expected
    for name, scenario in run["scenarios"].items():
        assert scenario["series"], name
        for label, points in scenario["series"].items():
            for p in points:
                # every point made requests, and its figures are internally consistent
                assert p["ok"] + sum(p["errors"].values()) > 0, (name, label)
                if p["ok"]:
                    assert 0 < p["p50_us"] <= p["p90_us"] <= p["p99_us"] <= p["p999_us"], (name, label)
                    assert p["rows_per_s"] == pytest.approx(p["rps"] * p["rows_per_request"], rel=1e-3, abs=0.2)
                assert sum(p["histogram"]) <= p["ok"]
    assert {g["goal"] for g in run["goals"]}, "goals are evaluated"
    markdown = next(out.glob("bench-quick-*.md")).read_text()
    assert "| series | point | rps |" in markdown and "scoregate" in markdown
    for name in expected:
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "benchmarking" in proc.stderr  # the progress bar


def test_feature_program_benchmark_quick_mode_agrees_and_reports() -> None:
    from benchmarks.feature_program import BATCHES, run, table

    result = run(quick=True)  # asserts kernel == sklearn and numpy ~= sklearn before timing
    assert [r["batch"] for r in result["rows"]] == list(BATCHES)
    assert all(r["kernel_us"] > 0 and r["sklearn_us"] > 0 and r["numpy_us"] > 0 for r in result["rows"])
    assert table(result).count("\n") == len(BATCHES) + 1
