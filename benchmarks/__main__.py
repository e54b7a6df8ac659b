"""`python -m benchmarks [--quick] [--scenario NAME ...] [--out DIR]` (same as `scoregate bench`)."""

from server.cli.main import run
import sys

sys.exit(run(["bench", *sys.argv[1:]]))
