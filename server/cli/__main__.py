"""`python -m server.cli` = `scoregate` (for environments without the console script on PATH)."""

from server.cli.main import main

main()
