"""The `scoregate` command line: one module per command group, errors printed as one line."""
