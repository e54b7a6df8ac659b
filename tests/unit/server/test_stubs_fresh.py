"""The committed gRPC stubs are exactly what the pinned grpcio-tools makes from the committed .proto files."""

from __future__ import annotations

import shutil
from pathlib import Path

from server.api import generate


def test_committed_stubs_match_a_fresh_generation() -> None:
    problems = generate.check()
    assert problems == [], "stubs out of date, run `python -m server.api.generate`: " + "; ".join(problems)


def test_every_proto_is_generated() -> None:
    protos = generate.proto_files()
    assert "server/api/v1/scoring.proto" in protos
    assert "server/api/oip/grpc_predict_v2.proto" in protos
    assert "server/api/oip/grpc_predict_v2_pb2_grpc.py" in generate.expected_outputs(protos)


def _copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(generate.ROOT / "proto", root / "proto")
    for rel in generate.committed_stubs():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(generate.ROOT / rel, root / rel)
    return root


def test_check_reports_changed_missing_and_stale_stubs(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    assert generate.check(root) == []
    changed = root / "server/api/v1/scoring_pb2.py"
    changed.write_text(changed.read_text() + "# edited by hand\n")
    (root / "server/api/oip/grpc_predict_v2_pb2.pyi").unlink()
    (root / "server/api/v1/old_pb2.py").write_text("# left behind\n")
    assert generate.check(root) == [
        "server/api/oip/grpc_predict_v2_pb2.pyi: missing",
        "server/api/v1/scoring_pb2.py: differs",
        "server/api/v1/old_pb2.py: stale (no .proto generates it)",
    ]


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    files = generate.generate(first)
    assert generate.generate(second) == files
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
