"""k-anonymity with complementary suppression, against tables worked by hand."""

from __future__ import annotations

import pytest

from insights.suppression import Table, suppress, suppress_rows


def table(grid: dict[tuple[str, str], int], rows, columns) -> Table:
    """Each cell's value is its number of distinct workers (one event each)."""
    records = []
    for (r, c), n in grid.items():
        records += [(r, c, f"{r}{c}-{i}", 1.0) for i in range(n)]
    return suppress(Table.from_records(records, rows, columns))


def hidden(t: Table) -> set:
    marks = {key for key, cell in t.cells.items() if cell.hidden}
    marks |= {("total", r) for r, cell in t.row_totals.items() if cell.hidden}
    marks |= {("total", c) for c, cell in t.column_totals.items() if cell.hidden}
    return marks


def test_large_cells_are_all_shown():
    t = table({("A", "w1"): 8, ("A", "w2"): 9, ("B", "w1"): 7, ("B", "w2"): 12}, ["A", "B"], ["w1", "w2"])
    assert hidden(t) == set()
    assert t.row_totals["A"].value == 17 and t.grand_total.value == 36


def test_a_small_cell_takes_a_partner_in_its_row_and_column():
    #        w1  w2  w3 | total
    #   A     3  10  11 |  24      3 < 5: hidden; row A shows 24 -> hide the smallest
    #   B     9   8  20 |  37      visible sibling of A (w2 = 10); column w1 shows 12 ->
    #   ----------------+          hide B/w1 (9); then column w2 has one hidden (A/w2)
    #   tot  12  18  31            -> hide B/w2 (8); row B now has two hidden: done.
    t = table(
        {("A", "w1"): 3, ("A", "w2"): 10, ("A", "w3"): 11, ("B", "w1"): 9, ("B", "w2"): 8, ("B", "w3"): 20},
        ["A", "B"],
        ["w1", "w2", "w3"],
    )
    assert hidden(t) == {("A", "w1"), ("A", "w2"), ("B", "w1"), ("B", "w2")}
    assert t.cells[("A", "w1")].reason == "small"
    assert t.cells[("B", "w2")].reason == "complementary"
    # and no hidden cell can be recovered from a visible total and visible siblings
    for r in t.rows:
        assert sum(t.cells[(r, c)].hidden for c in t.columns) in (0, 2, 3)
    for c in t.columns:
        assert sum(t.cells[(r, c)].hidden for r in t.rows) in (0, 2)


def test_a_small_total_is_hidden_and_protected_among_totals():
    #        w1  w2 | total
    #   A     2   2 |   4   every cell of A is small, and so is its total (4 workers)
    #   B     6   7 |  13   -> the row totals line shows 4 hidden: hide B's total too,
    #   C     9   9 |  18      the smallest other row total (13)
    t = table(
        {("A", "w1"): 2, ("A", "w2"): 2, ("B", "w1"): 6, ("B", "w2"): 7, ("C", "w1"): 9, ("C", "w2"): 9},
        ["A", "B", "C"],
        ["w1", "w2"],
    )
    assert ("total", "A") in hidden(t) and ("total", "B") in hidden(t)
    assert {("A", "w1"), ("A", "w2")} <= hidden(t)
    # columns each have A hidden -> a partner per column, the smaller of B and C
    assert ("B", "w1") in hidden(t) and ("B", "w2") in hidden(t)
    assert not t.grand_total.hidden


def test_zero_cells_are_shown():
    t = table({("A", "w1"): 0, ("A", "w2"): 6, ("B", "w1"): 5, ("B", "w2"): 7}, ["A", "B"], ["w1", "w2"])
    assert hidden(t) == set()


def test_k_can_only_be_raised():
    t = Table.from_records([("A", "w1", "x", 1.0)], ["A"], ["w1"])
    with pytest.raises(ValueError):
        suppress(t, k=3)
    assert suppress(t, k=10).cells[("A", "w1")].hidden


def test_rows_without_totals():
    rows = suppress_rows([{"dept": "A", "workers": 3}, {"dept": "B", "workers": 5}, {"dept": "C", "workers": 0}])
    assert [r["suppressed"] for r in rows] == [True, False, False]


def test_a_small_group_is_hidden_entirely_even_its_zeros():
    records = [("A", "w1", f"a{i}", 1.0) for i in range(6)] + [("B", "w1", f"b{i}", 1.0) for i in range(9)]
    t = suppress(Table.from_records(records, ["A", "B", "C"], ["w1", "w2"]), small_rows=["C"])
    assert t.cells[("C", "w1")].hidden and t.cells[("C", "w2")].hidden and t.row_totals["C"].hidden
    # C's cells are zeros: the totals reveal only that nothing happened there,
    # so they need no partner and A and B stay visible
    assert not any(t.cells[(r, c)].hidden for r in ("A", "B") for c in ("w1", "w2"))


def test_a_hidden_non_zero_cell_always_has_a_partner_in_each_line():
    #        w1  w2 | total
    #   A     6   0 |   6
    #   B     2   0 |   2   B/w1 (2 workers) and B's total (2 workers) are small;
    #   C     7   9 |  16   column w1 shows 15 -> partner A/w1 (6, smaller than 7);
    #   -----------------   the row totals line shows 24 -> B's total gets a partner,
    #   tot  15   9 |  24   A's total (6). Row B's total is hidden: nothing to subtract from.
    t = table({("A", "w1"): 6, ("B", "w1"): 2, ("C", "w1"): 7, ("C", "w2"): 9}, ["A", "B", "C"], ["w1", "w2"])
    assert hidden(t) == {("B", "w1"), ("A", "w1"), ("total", "A"), ("total", "B")}
