"""k-anonymity with complementary suppression, and the publication rules of
outbreak signals, against cases worked by hand. (The random-table audit is
in test_disclosure_audit.py.)"""

from __future__ import annotations

import pytest

from insights.suppression import ALL_MARGINS, HR_MARGINS, GroupDay, Table, publish_signals, suppress, suppress_rows


def table(grid: dict[tuple[str, str], int], rows, columns, shown=HR_MARGINS, small_rows=(), populations=None) -> Table:
    """Each cell's value is its number of distinct workers (one event each)."""
    records = []
    for (r, c), n in grid.items():
        records += [(r, c, f"{r}{c}-{i}", 1.0) for i in range(n)]
    return suppress(Table.from_records(records, rows, columns, populations), small_rows=small_rows, shown=shown)


def hidden(t: Table) -> set:
    marks = {key for key, cell in t.cells.items() if cell.hidden}
    marks |= {("total", c) for c, cell in t.column_totals.items() if cell.hidden}
    return marks


def test_large_cells_are_all_shown():
    t = table({("A", "w1"): 8, ("A", "w2"): 9, ("B", "w1"): 7, ("B", "w2"): 12}, ["A", "B"], ["w1", "w2"])
    assert hidden(t) == set()
    assert t.column_totals["w1"].value == 15


def test_totals_that_are_not_published_are_marked_and_not_protected():
    #        w1  w2         only the column totals are published (the HR pages):
    #   A     3  10         A/w1 is small and w1's total is shown -> B/w1 is its
    #   B     9   8         partner. Row A's total is never shown, so A/w2 stays.
    t = table({("A", "w1"): 3, ("A", "w2"): 10, ("B", "w1"): 9, ("B", "w2"): 8}, ["A", "B"], ["w1", "w2"])
    assert hidden(t) == {("A", "w1"), ("B", "w1")}
    assert t.cells[("B", "w1")].reason == "complementary"
    assert all(cell.hidden and cell.reason == "unpublished" for cell in t.row_totals.values())
    assert t.grand_total.reason == "unpublished"


def test_with_row_and_column_totals_a_small_cell_takes_a_rectangle():
    #        w1  w2 | total
    #   A     3  10 |  13     A/w1 small; row A and column w1 both shown: the
    #   B     9   8 |  17     smallest rectangle through it hides all four
    t = table(
        {("A", "w1"): 3, ("A", "w2"): 10, ("B", "w1"): 9, ("B", "w2"): 8},
        ["A", "B"],
        ["w1", "w2"],
        shown=ALL_MARGINS,
    )
    assert hidden(t) == {("A", "w1"), ("A", "w2"), ("B", "w1"), ("B", "w2")}
    assert not any(cell.hidden for cell in t.row_totals.values()) and not t.grand_total.hidden


def test_a_zero_is_never_chosen_as_partner():
    #        w1                A/w1 (3) is small; B/w1 is 0: hidden with it, the
    #   A     3                column would say A + B = 3 -- A "at least 3" if B
    #   B     0                is known to be empty. C (7) is the partner.
    #   C     7
    t = table({("A", "w1"): 3, ("C", "w1"): 7}, ["A", "B", "C"], ["w1"])
    assert hidden(t) == {("A", "w1"), ("C", "w1")}


def test_hidden_zeros_of_a_small_group_get_a_partner():
    #        w1  w2      C has 3 workers (a small group): its zeros are hidden,
    #   A     6   0      and each column's shown total minus A and B would give
    #   B     9   5      "0" back: the smallest positive cell of each column joins.
    #   C     0   0
    t = table({("A", "w1"): 6, ("B", "w1"): 9, ("B", "w2"): 5}, ["A", "B", "C"], ["w1", "w2"], small_rows=["C"])
    assert hidden(t) == {("C", "w1"), ("C", "w2"), ("A", "w1"), ("B", "w2")}
    assert t.cells[("C", "w1")].reason == "small"


def test_a_line_of_zeros_only_hides_its_total():
    #        w1      A is a small group whose zero must stay unknown, and every
    #   A     0      other cell of the column is 0 too: no partner can hide
    #   B     0      "none", so the column's total is hidden.
    t = table({}, ["A", "B"], ["w1"], small_rows=["A"])
    assert hidden(t) == {("A", "w1"), ("total", "w1")}


def test_a_small_total_is_hidden():
    t = table({("A", "w1"): 2, ("B", "w1"): 1, ("A", "w2"): 6, ("B", "w2"): 7}, ["A", "B"], ["w1", "w2"])
    assert {("A", "w1"), ("B", "w1"), ("total", "w1")} <= hidden(t)
    assert t.column_totals["w1"].reason == "small"
    assert not t.cells[("A", "w2")].hidden


def test_a_figure_almost_all_of_the_group_shares_is_homogeneous():
    #  6 of Assembly's 7 workers: hidden ("6 of 7" discloses nearly everyone);
    #  6 of Press's 20 workers: shown
    grid = {("Assembly", "w1"): 6, ("Press", "w1"): 6}
    populations = {
        ("Assembly", "w1"): frozenset(f"a{i}" for i in range(7)),
        ("Press", "w1"): frozenset(f"p{i}" for i in range(20)),
    }
    t = table(grid, ["Assembly", "Press"], ["w1"], populations=populations)
    assert t.cells[("Assembly", "w1")].reason == "homogeneous"
    # and Press is its partner: the shown total (12) minus Press would give it back
    assert t.cells[("Press", "w1")].hidden


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


# --- Signals -------------------------------------------------------------------------


def people(prefix: str, n: int) -> frozenset:
    return frozenset(f"{prefix}{i}" for i in range(n))


ASSEMBLY, PRESS = people("a", 30), people("p", 20)
SITE = ASSEMBLY | PRESS


def day(department, cases, population, signal=True, expected=0.0, baseline=frozenset(), kind="fever"):
    return GroupDay(department, kind, signal, frozenset(cases), population, expected, frozenset(baseline))


def test_site_minus_its_departments_must_not_leave_fewer_than_k():
    # site 6, Assembly 5 on the same day: the one case elsewhere would show
    cases = people("a", 5) | {"p0"}
    shown = publish_signals([day(None, cases, SITE), day("assembly", people("a", 5), ASSEMBLY)])
    assert [(s.department, s.count, s.reason) for s in shown] == [(None, None, "complement"), ("assembly", 5, "")]


def test_site_equal_to_its_departments_is_shown():
    shown = publish_signals([day(None, people("a", 6), SITE), day("assembly", people("a", 6), ASSEMBLY)])
    assert [(s.department, s.count) for s in shown] == [(None, 6), ("assembly", 6)]


def test_a_signal_covering_nearly_all_of_a_department_is_not_listed():
    # "6 of 7 workers in Assembly"
    small_assembly = people("a", 7)
    shown = publish_signals([day(None, people("a", 6), SITE), day("assembly", people("a", 6), small_assembly)])
    assert [s.department for s in shown] == [None]
    assert shown[0].count == 6  # of 50 on the site


def test_a_department_below_k_is_never_listed():
    shown = publish_signals([day(None, set(), SITE, signal=False), day("paint", people("x", 3), people("x", 4))])
    assert shown == []


def test_expected_is_hidden_when_fewer_than_k_workers_make_the_baseline():
    # 0.1 a day over 7 days is one case: hidden; 1.0 from 6 workers: shown, rounded
    thin = day(None, people("a", 6), SITE, expected=0.14, baseline={"p3"})
    assert publish_signals([thin])[0].expected is None
    solid = day(None, people("a", 6), SITE, expected=1.0, baseline=people("p", 6))
    assert publish_signals([solid])[0].expected == 1.0


def test_site_expected_is_hidden_when_the_rest_of_its_baseline_is_small():
    site = day(None, people("a", 6), SITE, expected=1.0, baseline=people("a", 6) | {"p1"})
    assembly = day("assembly", people("a", 6), ASSEMBLY, expected=0.9, baseline=people("a", 6))
    shown = publish_signals([site, assembly])
    assert [(s.department, s.expected) for s in shown] == [(None, None), ("assembly", 0.9)]


def test_kinds_are_judged_apart_and_no_signal_no_listing():
    groups = [
        day(None, people("a", 6), SITE, kind="fever"),
        day(None, people("a", 2), SITE, signal=False, kind="symptomatic"),
    ]
    assert [(s.kind, s.count) for s in publish_signals(groups)] == [("fever", 6)]
