"""CSV cells that a spreadsheet program shows as text, never runs.

A cell starting with = + - @ (or a tab or carriage return, which some
programs skip before those) is read as a formula (CSV injection, OWASP):
such a cell gets a leading apostrophe. Numbers are written as numbers."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value)
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    return value
