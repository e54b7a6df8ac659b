"""The decision chain's fast canonical encoding is byte-for-byte the general canonical JSON."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.decisions import DECISION_FIELDS, _canonical, decision_body
from registry.ledger import CANONICAL

text = st.text(max_size=40)  # any unicode, quotes, backslashes, control characters
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
rows = st.tuples(ints, text, text, text | st.none(), text, ints, text, text, text,
                 st.none() | st.floats(allow_nan=False, allow_infinity=False), st.none() | text, text, ints, text)


@settings(max_examples=400, deadline=None)
@given(rows)
def test_fast_encoding_equals_the_canonical_json(row: tuple) -> None:
    assert _canonical(row) == CANONICAL.encode(dict(zip(DECISION_FIELDS, row)))
    assert decision_body(row) == CANONICAL.encode(dict(zip(DECISION_FIELDS, row))).encode()


def test_unusual_values_fall_back_to_the_general_encoder() -> None:
    row = (1, "t", "r", None, "m", True, "d", "champion", "i", 1, None, "OK", 5, "p")  # bool version, int output
    assert _canonical(row) == CANONICAL.encode(dict(zip(DECISION_FIELDS, row)))
    for bad in (float("nan"), float("inf")):
        row = (1, "t", "r", "c", "m", 1, "d", "champion", "i", bad, None, "OK", 5, "p")
        try:
            CANONICAL.encode(dict(zip(DECISION_FIELDS, row)))
        except ValueError as exc:
            expected = str(exc)
        try:
            _canonical(row)
            raise AssertionError("a non-finite output must be refused")
        except ValueError as exc:
            assert str(exc) == expected
