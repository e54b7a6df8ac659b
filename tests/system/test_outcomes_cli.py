"""`scoregate outcomes import` and `scoregate performance` end to end: a served model, its decision records,
a CSV of late outcomes with bad rows, realised figures equal to scikit-learn's on the same data, and one
ledger entry when the model degrades."""

from __future__ import annotations

import json
import re
from pathlib import Path

import grpc
import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve

from compiler.demo.data import FEATURES, LABEL, generate
from server.api.v1 import scoring_pb2 as pb
from server.api.v1 import scoring_pb2_grpc

MODEL = "credit-pd"
WHEN = "2026-06-30T12:00:00Z"


def _score(target: str, n: int, seed: int, prefix: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Score n demo customers in batches; return their request ids, served scores and true labels."""
    df = generate(n, seed=seed)
    x = df[list(FEATURES)].to_numpy(dtype=np.float64)
    stub = scoring_pb2_grpc.ScoringStub(grpc.insecure_channel(target))
    ids, scores = [], []
    for k in range(0, n, 250):
        part = x[k:k + 250]
        reply = stub.ScoreBatch(pb.ScoreBatchRequest(model=MODEL, request_id=f"{prefix}{k}", rows=len(part),
                                                     values=part.ravel()), timeout=30)
        ids += [f"{prefix}{k}/{i}" for i in range(len(part))]
        scores += list(reply.scores)
    return ids, np.asarray(scores, dtype=np.float64), df[LABEL].to_numpy().astype(int)


def _csv(path: Path, ids: list[str], labels: np.ndarray, extra: str = "") -> Path:
    path.write_text("request_id,label,observed_at\n" + "".join(f"{r},{y},{WHEN}\n" for r, y in zip(ids, labels))
                    + extra)
    return path


def test_import_and_performance_end_to_end(home_copy: Path, run_cli, start_serve, tmp_path: Path) -> None:
    served = start_serve(home_copy)
    try:
        ids, scores, labels = _score(served.target, 1000, seed=41, prefix="a")
        later_ids, _, _ = _score(served.target, 1500, seed=42, prefix="b")
    finally:
        served.terminate()

    # a file with good rows, then an unknown id, a label outside {0, 1}, a malformed row, a bad time
    bad = f"nobody,1,{WHEN}\n{later_ids[0]},2,{WHEN}\n{later_ids[1]},1\n{later_ids[2]},0,last tuesday\n"
    first = _csv(tmp_path / "defaults.csv", ids, labels, bad)
    done = run_cli("outcomes", "import", str(first), home=home_copy)
    assert done.returncode == 2, done.stderr
    assert "1004 rows: 1000 accepted, 0 duplicates, 4 refused" in done.stdout
    assert done.stderr.splitlines() == [
        "line 1002: unknown: request_id 'nobody': no decision record has this request id",
        "line 1003: invalid: label: expected 0 or 1, got '2'",
        "line 1004: invalid: 2 fields, the header has 3",
        "line 1005: invalid: observed_at: 'last tuesday' is not ISO-8601 (e.g. 2026-01-31T09:00:00Z)",
    ]
    # the same file again: nothing counted twice; a clean re-import of the good rows exits 0
    again = run_cli("outcomes", "import", str(first), "--json", home=home_copy)
    report = json.loads(again.stdout)
    assert again.returncode == 2 and (report["accepted"], report["duplicates"], report["refused"]) == (0, 1000, 4)
    clean = run_cli("outcomes", "import", str(_csv(tmp_path / "clean.csv", ids[:10], labels[:10])), home=home_copy)
    assert clean.returncode == 0 and "0 accepted, 10 duplicates, 0 refused" in clean.stdout
    flipped = run_cli("outcomes", "import", str(_csv(tmp_path / "flip.csv", ids[:1], 1 - labels[:1])), home=home_copy)
    assert flipped.returncode == 2 and "conflicts with the recorded label" in flipped.stderr

    # realised figures equal scikit-learn's on the same (served score, label) pairs
    plot = tmp_path / "perf.png"
    perf = run_cli("performance", MODEL, "--json", "--plot", str(plot), home=home_copy)
    assert perf.returncode == 0, perf.stderr
    rep = json.loads(perf.stdout)
    (group,) = rep["groups"]
    assert (group["version"], group["route"], group["count"]) == (1, "champion", 1000)
    auc = roc_auc_score(labels, scores)
    fpr, tpr, _ = roc_curve(labels, scores)
    assert abs(group["auc"] - auc) < 1e-12 and abs(group["gini"] - (2 * auc - 1)) < 1e-12
    assert abs(group["ks"] - np.max(tpr - fpr)) < 1e-12
    assert abs(group["brier"] - brier_score_loss(labels, np.clip(scores, 0, 1))) < 1e-12
    assert sum(b["count"] for b in group["bands"]) == 1000 and len(group["bands"]) == 10
    assert group["bands"][-1]["bad_rate"] > group["bands"][0]["bad_rate"]  # the model ranks risk
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (verdict,) = rep["degradation"]
    assert verdict["state"] == "ok" and verdict["judged"] and not verdict["changed"]

    vintage = json.loads(run_cli("performance", MODEL, "--by", "vintage", "--json", home=home_copy).stdout)
    assert all(re.fullmatch(r"\d{4}-\d{2}", g["vintage"]) and g["route"] is None for g in vintage["groups"])
    assert sum(g["count"] for g in vintage["groups"]) == 1000  # one month, or two if run across a month's end
    future = json.loads(run_cli("performance", MODEL, "--since", "2999-01-01", "--json", home=home_copy).stdout)
    assert future["groups"] == [] and future["outcomes"] == 0
    text = run_cli("performance", MODEL, home=home_copy)
    assert text.returncode == 0 and "champion" in text.stdout and "v1: ok" in text.stdout

    # truth that says the scores are noise: the import itself judges the new evidence (the version
    # degrades: one ledger entry), and later reports do not repeat it
    noise = np.random.default_rng(0).integers(0, 2, len(later_ids))
    imported = run_cli("--actor", "risk-monitor", "outcomes", "import", str(_csv(tmp_path / "noise.csv", later_ids,
                                                                                  noise)), home=home_copy)
    assert imported.returncode == 0, imported.stderr
    assert f"{MODEL} v1: realised performance ok -> degraded" in imported.stderr
    for _ in range(2):
        out = run_cli("performance", MODEL, "--by", "version", "--json", home=home_copy)
        (verdict,) = json.loads(out.stdout)["degradation"]
        assert (verdict["state"], verdict["changed"]) == ("degraded", False), out.stderr
    ledger = run_cli("audit", "show", "--model", MODEL, "--action", "performance", "--json", home=home_copy)
    entries = json.loads(ledger.stdout)
    assert [(e["action"], e["actor"], e["version"]) for e in entries] == [("performance.degraded", "risk-monitor", 1)]
    assert entries[0]["details"]["count"] == 2500 and entries[0]["details"]["thresholds"]["margin"] == 0.05


def test_errors_are_one_line(home_copy: Path, run_cli, tmp_path: Path) -> None:
    missing = run_cli("outcomes", "import", str(tmp_path / "none.csv"), home=home_copy)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
    (tmp_path / "h.csv").write_text("id,outcome\nx,1\n")
    header = run_cli("outcomes", "import", str(tmp_path / "h.csv"), home=home_copy)
    assert header.returncode == 1 and header.stderr.startswith("error: ") and header.stderr.count("\n") == 1
    assert "header lacks request_id, label, observed_at" in header.stderr
    unknown = run_cli("performance", "no-such-model", home=home_copy)
    assert unknown.returncode == 1 and unknown.stderr == "error: model 'no-such-model' is not registered\n"
    since = run_cli("performance", MODEL, "--since", "soon", home=home_copy)
    assert since.returncode == 1 and since.stderr.count("\n") == 1 and "ISO-8601" in since.stderr
