"""Regenerate (or check) the committed gRPC stubs from the .proto sources under proto/.

    python -m server.api.generate           rewrite every generated file in place
    python -m server.api.generate --check   generate into a temp dir; exit 1 listing files that differ

Why committed stubs plus a check: callers and the server import stubs without a build step, and the check
proves the committed code is exactly what the pinned grpcio-tools makes from the committed .proto files.
Generation is deterministic: the sorted list of .proto paths (relative, `/`-separated) goes to one protoc run
from the repository root, so the output depends only on the .proto text and the grpcio-tools version.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files(root: Path = ROOT) -> list[str]:
    """Every .proto under proto/, as sorted paths relative to proto/ (the protoc include root)."""
    base = root / "proto"
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*.proto"))


def expected_outputs(protos: list[str]) -> list[str]:
    """The generated files (relative to the output root) that `protos` produce."""
    return sorted(p[: -len(".proto")] + suffix for p in protos for suffix in GENERATED_SUFFIXES)


def generate(out: Path, root: Path = ROOT) -> list[str]:
    """Run protoc once over every .proto; return the generated files relative to `out`."""
    protos = proto_files(root)
    if not protos:
        return []
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "grpc_tools.protoc", "-I", "proto",
           f"--python_out={out}", f"--grpc_python_out={out}", f"--pyi_out={out}", *protos]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed (exit {done.returncode}): {done.stderr.strip()}")
    return expected_outputs(protos)


def committed_stubs(root: Path = ROOT) -> list[str]:
    """Generated-looking files under the stub packages that correspond to protos (to spot stale ones)."""
    found: list[str] = []
    for top in sorted({p.split("/", 1)[0] for p in proto_files(root)}):
        for path in (root / top).rglob("*_pb2*"):
            if path.name.endswith(GENERATED_SUFFIXES):
                found.append(path.relative_to(root).as_posix())
    return sorted(found)


def check(root: Path = ROOT) -> list[str]:
    """Files that differ from a fresh generation: changed, missing, or stale (no .proto any more)."""
    with tempfile.TemporaryDirectory(prefix="scoregate-stubs-") as tmp:
        fresh = generate(Path(tmp), root)
        problems = [f"{rel}: missing" if not (root / rel).exists() else f"{rel}: differs"
                    for rel in fresh
                    if not (root / rel).exists() or not filecmp.cmp(Path(tmp) / rel, root / rel, shallow=False)]
    stale = sorted(set(committed_stubs(root)) - set(fresh))
    return problems + [f"{rel}: stale (no .proto generates it)" for rel in stale]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.api.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if committed stubs differ from a fresh run")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for line in problems:
            print(line)
        if problems:
            print("stubs are out of date: run `python -m server.api.generate`", file=sys.stderr)
        return 1 if problems else 0
    for rel in generate(ROOT):
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
