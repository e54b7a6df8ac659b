"""Reading an outcomes CSV into items with their line numbers (validation happens in registry/outcomes).

Format: a header row naming `request_id`, `label` and `observed_at` (any order, case-insensitive; other
columns are ignored, `observed_time` is accepted for `observed_at`), then one outcome per row. UTF-8
(a BOM is allowed). Line numbers are the file's physical lines (the header is line 1), so a quoted field
spanning lines still points at the line the row starts on.

A file that cannot be read at all (missing, not UTF-8, no header, a required column missing) is refused
as a whole: nothing is imported. A malformed row is one refused item; the other rows go on.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from compiler.errors import InvalidInput, NotFound
from registry.outcomes import OutcomeItem

REQUIRED = ("request_id", "label", "observed_at")
ALIASES = {"observed_time": "observed_at"}


def read_outcomes_csv(path: Path) -> list[OutcomeItem]:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 (byte {exc.start}); nothing imported") from None
    return parse_outcomes_csv(text, str(path))


def parse_outcomes_csv(text: str, name: str = "<csv>") -> list[OutcomeItem]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InvalidInput(f"{name}: line 1: {exc}; nothing imported") from None
    if not header:
        raise InvalidInput(f"{name}: empty file (expected a header: {','.join(REQUIRED)}); nothing imported")
    names = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InvalidInput(f"{name}: line 1: header lacks {', '.join(missing)} (has {', '.join(header)}); "
                           "nothing imported")
    where = {c: names.index(c) for c in REQUIRED}
    items: list[OutcomeItem] = []
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. an unterminated quote: the rest of the file is unreadable
            items.append(OutcomeItem(line, None, None, None, f"line {line}: {exc}"))
            break
        start, line = line, reader.line_num + 1
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            rid = row[where["request_id"]] if len(row) > where["request_id"] else None
            items.append(OutcomeItem(start, rid, None, None,
                                     f"{len(row)} fields, the header has {len(header)}"))
            continue
        items.append(OutcomeItem(start, *(row[where[c]] for c in REQUIRED)))
    return items
