from __future__ import annotations

import pytest

from healthhub.spreadsheets import safe_cell


@pytest.mark.parametrize("text", ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\t=x", "\r=x"])
def test_formula_starts_become_text(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(("value", "expected"), [("Plant A", "Plant A"), (-3, -3), (2.5, 2.5), (None, ""), ("", "")])
def test_everything_else_is_kept(value, expected):
    assert safe_cell(value) == expected
