"""Small-group suppression for what HR sees: k-anonymity for tables (with
complementary suppression) and for outbreak signals. Pure functions: data
goes in, the same data with what to hide marked comes out.

Tables
------
A cell is hidden when fewer than ``k`` distinct workers are behind it, or
when its group is homogeneous: all of the group's workers, or all but fewer
than ``k`` of them, share what the cell counts (primary suppression). A
group with fewer than ``k`` members is hidden entirely, zeros included.

Hiding one cell is not enough when a total of its line is published: the
total minus the visible cells gives it back, and because counts cannot be
negative, so can a line whose hidden cells add up to 0 (every one of them is
then 0). Which totals are published is said explicitly (``shown``); totals
that are not published are unknowns to the reader, like hidden cells, and are
marked hidden ("unpublished") so that nothing renders them by mistake.

The reader's knowledge is a system of linear equations (every row, every
column and both lines of totals add up) over non-negative unknowns. Each
equation is a node and each unknown is an edge between the two equations it
appears in (a cell joins its row and its column, a row total joins its row and
the line of row totals...), so the system is a network: an unknown can change
without changing anything published exactly when it lies on a cycle of
unknowns along which the values that would decrease are positive. The
algorithm asks that every hidden positive value can fall (the reader cannot
say "at least this many") and every hidden zero can rise (the reader cannot
say "none"); until it can, it hides the smallest visible value that protects
it on its own (a positive cell before a total, never a zero cell while
another will do: a zero partner leaves the pair's sum equal to the small
value), and failing that the smallest one in one of its lines. The result is
audited independently, by exact linear algebra and by linear programming over
thousands of random tables, in tests/insights/test_disclosure_audit.py.

Signals
-------
``publish_signals`` applies the same rules to the day's outbreak signals of a
site and its departments: see its docstring.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

DEFAULT_K = 5

# Which totals a table publishes. The HR pages and their CSV files show each
# week's column total (the "Total" line) and no row or grand total.
ROW_TOTALS = "rows"
COLUMN_TOTALS = "columns"
GRAND_TOTAL = "grand"
HR_MARGINS = frozenset({COLUMN_TOTALS})
ALL_MARGINS = frozenset({ROW_TOTALS, COLUMN_TOTALS, GRAND_TOTAL})


@dataclass
class Cell:
    value: float
    workers: frozenset[Hashable]  # the distinct workers behind the value
    hidden: bool = False
    reason: str = ""  # "small", "homogeneous", "complementary" or "unpublished"
    # The workers who could have what the value counts (the group it is about).
    # When set, a value that all but fewer than k of them share is hidden.
    population: frozenset[Hashable] | None = None


@dataclass
class Table:
    """``cells[(row, column)]`` plus row and column totals over the same workers.

    Values are additive (counts, minutes): a row total is the sum of its
    cells, which is exactly what makes complementary suppression necessary.
    """

    rows: list[Hashable]
    columns: list[Hashable]
    cells: dict[tuple[Hashable, Hashable], Cell]
    row_totals: dict[Hashable, Cell] = field(default_factory=dict)
    column_totals: dict[Hashable, Cell] = field(default_factory=dict)
    grand_total: Cell | None = None

    @classmethod
    def from_records(
        cls,
        records: list[tuple[Hashable, Hashable, Hashable, float]],
        rows: list,
        columns: list,
        populations: dict[tuple[Hashable, Hashable], frozenset] | None = None,
    ) -> Table:
        """Build from (row, column, worker, value) records; every (row, column)
        pair gets a cell, empty ones with no workers and value 0.

        ``populations`` (optional) gives each cell's group for the
        homogeneity rule; totals get the union of their cells' groups."""
        cells = {(r, c): Cell(0.0, frozenset()) for r in rows for c in columns}
        workers: dict[tuple, set] = {key: set() for key in cells}
        for row, column, worker, value in records:
            cells[(row, column)].value += value
            workers[(row, column)].add(worker)
        for key, cell in cells.items():
            cell.workers = frozenset(workers[key])
            if populations is not None:
                cell.population = frozenset(populations.get(key, frozenset()))

        def total(keys) -> Cell:
            members = [cells[k] for k in keys]
            population = None
            if populations is not None:
                population = frozenset().union(*(m.population or frozenset() for m in members))
            return Cell(
                sum(m.value for m in members), frozenset().union(*(m.workers for m in members)), population=population
            )

        table = cls(rows, columns, cells)
        table.row_totals = {r: total([(r, c) for c in columns]) for r in rows}
        table.column_totals = {c: total([(r, c) for r in rows]) for c in columns}
        table.grand_total = total(list(cells))
        return table


def _hide(cell: Cell, reason: str) -> bool:
    if cell.hidden:
        return False
    cell.hidden = True
    cell.reason = reason
    return True


def primary_reason(workers: int, population: int | None, k: int) -> str:
    """Why a figure about ``workers`` of a group of ``population`` must be
    hidden ("" when it may be shown): fewer than k workers behind it, or all
    but fewer than k of the group share it. Zero reveals nothing about anyone."""
    if workers == 0:
        return ""
    if workers < k:
        return "small"
    if population is not None and population - workers < k:
        return "homogeneous"
    return ""


# --- The reader's equations as a network ----------------------------------------
#
# Nodes: ("row", r), ("col", c), ROWS_LINE (the row totals add up to the grand
# total) and COLUMNS_LINE. Every quantity is an arc from the equation where it
# counts -1 to the one where it counts +1, so that adding the same amount to
# every arc of a directed cycle changes no equation:
#   cell (r, c):    col c -> row r      row total r:    row r -> ROWS_LINE
#   column total c: COLUMNS_LINE -> col c      grand total: ROWS_LINE -> COLUMNS_LINE
ROWS_LINE = ("line", "rows")
COLUMNS_LINE = ("line", "columns")


@dataclass(frozen=True)
class _Arc:
    key: tuple  # ("cell", r, c) | ("row", r) | ("col", c) | ("grand",)
    tail: tuple
    head: tuple


def _arcs(table: Table) -> dict[tuple, tuple[_Arc, Cell]]:
    arcs: dict[tuple, tuple[_Arc, Cell]] = {}
    for (r, c), cell in table.cells.items():
        arcs[("cell", r, c)] = (_Arc(("cell", r, c), ("col", c), ("row", r)), cell)
    for r, cell in table.row_totals.items():
        arcs[("row", r)] = (_Arc(("row", r), ("row", r), ROWS_LINE), cell)
    for c, cell in table.column_totals.items():
        arcs[("col", c)] = (_Arc(("col", c), COLUMNS_LINE, ("col", c)), cell)
    if table.grand_total is not None:
        arcs[("grand",)] = (_Arc(("grand",), ROWS_LINE, COLUMNS_LINE), table.grand_total)
    return arcs


def _residual(arcs: dict[tuple, tuple[_Arc, Cell]], skip: tuple) -> dict[tuple, list[tuple]]:
    """Where a change can travel through the unknowns other than ``skip``:
    along an arc (increase it, always possible) or against it (decrease it,
    possible only while it is positive)."""
    out: dict[tuple, list[tuple]] = defaultdict(list)
    for key, (arc, cell) in arcs.items():
        if key == skip or not cell.hidden:
            continue
        out[arc.tail].append(arc.head)
        if cell.value > 0:
            out[arc.head].append(arc.tail)
    return out


def _reaches(graph: dict[tuple, list[tuple]], start: tuple, goal: tuple) -> bool:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _protected(arcs: dict[tuple, tuple[_Arc, Cell]], key: tuple) -> bool:
    """Whether the hidden value ``key`` can move with every published figure
    unchanged and nothing negative: a positive value must be able to fall (so
    the reader cannot even say "at least this many"), a zero must be able to
    rise (so the reader cannot say "none"). Either way it is not pinned."""
    arc, cell = arcs[key]
    graph = _residual(arcs, skip=key)
    if cell.value > 0:
        return _reaches(graph, arc.tail, arc.head)
    return _reaches(graph, arc.head, arc.tail)


def _partner_rank(key: tuple, cell: Cell) -> tuple:
    # A positive cell first (smallest first: the least information lost), then
    # a total, and a zero cell last: it protects nothing from below.
    if key[0] == "cell":
        kind = 0 if cell.value > 0 else 2
    else:
        kind = 1
    return (kind, cell.value, len(cell.workers), str(key))


def _protect(arcs: dict[tuple, tuple[_Arc, Cell]], key: tuple) -> bool:
    """Hide one more value so that ``key`` moves towards protection: the
    least costly value that protects it on its own (the fourth corner of a
    rectangle, say), else the least costly one in one of its own lines."""
    arc, _cell = arcs[key]
    ends = {arc.tail, arc.head}
    visible = sorted(
        ((other, other_arc, cell) for other, (other_arc, cell) in arcs.items() if not cell.hidden),
        key=lambda item: _partner_rank(item[0], item[2]),
    )
    for _other, _other_arc, cell in visible:
        cell.hidden = True
        enough = _protected(arcs, key)
        cell.hidden = False
        if enough:
            return _hide(cell, "complementary")
    for _other, other_arc, cell in visible:
        if {other_arc.tail, other_arc.head} & ends:
            return _hide(cell, "complementary")
    return False


def suppress(
    table: Table, k: int = DEFAULT_K, small_rows: Iterable[Hashable] = (), shown: frozenset[str] = HR_MARGINS
) -> Table:
    """Mark the cells and totals of ``table`` to hide; returns the same table.

    ``shown`` names the totals that are published (``HR_MARGINS``: the column
    totals only); the others are marked hidden as "unpublished".
    ``small_rows`` are groups whose population is below k: all their cells
    and their total are hidden whatever the cells' own counts (a zero in a
    group of three still says something about those three).

    Promise: no hidden cell or hidden published total can be worked out
    exactly, or bounded by its own value, from the published cells and
    totals, knowing that values are never negative."""
    if k < DEFAULT_K:
        raise ValueError(f"k may only be raised above {DEFAULT_K}, never lowered")
    margins = {
        ROW_TOTALS: list(table.row_totals.values()),
        COLUMN_TOTALS: list(table.column_totals.values()),
        GRAND_TOTAL: [table.grand_total] if table.grand_total is not None else [],
    }
    for name, cells in margins.items():
        if name not in shown:
            for cell in cells:
                _hide(cell, "unpublished")
    for row in small_rows:
        for column in table.columns:
            _hide(table.cells[(row, column)], "small")
        if row in table.row_totals:
            _hide(table.row_totals[row], "small")
    for cell in [*table.cells.values(), *(c for name in shown for c in margins[name])]:
        population = len(cell.population) if cell.population is not None else None
        reason = primary_reason(len(cell.workers), population, k)
        if reason:
            _hide(cell, reason)

    arcs = _arcs(table)
    # Each round hides one more value, so this ends (at worst with every total
    # hidden, where every value is free to move).
    progressed = True
    while progressed:
        progressed = False
        for key, (_arc, cell) in arcs.items():
            if cell.hidden and cell.reason != "unpublished" and not _protected(arcs, key) and _protect(arcs, key):
                progressed = True
                break
    return table


def suppress_rows(rows: list[dict], k: int = DEFAULT_K, workers_key: str = "workers") -> list[dict]:
    """For a flat list of independent rows (no totals shown), hide each
    row's values when fewer than ``k`` workers are behind it."""
    if k < DEFAULT_K:
        raise ValueError(f"k may only be raised above {DEFAULT_K}, never lowered")
    out = []
    for row in rows:
        count = row[workers_key]
        out.append({**row, "suppressed": 0 < count < k})
    return out


# --- Outbreak signals ---------------------------------------------------------------


@dataclass(frozen=True)
class GroupDay:
    """One group's figures for one day and kind, as the detector saw them.

    ``department`` is None for the whole site. Worker sets, not counts, so
    that complements between the site and its departments are exact."""

    department: Hashable | None
    kind: str
    signal: bool
    cases: frozenset[Hashable]  # the workers counted on the day
    population: frozenset[Hashable]  # the group's workers
    expected: float | None  # the detector's baseline mean
    baseline_workers: frozenset[Hashable]  # the workers counted in the baseline days


@dataclass(frozen=True)
class PublishedSignal:
    department: Hashable | None
    kind: str
    count: int | None  # None: hidden
    expected: float | None  # None: hidden (or no baseline)
    reason: str = ""  # why the count is hidden


def publish_signals(groups: Iterable[GroupDay], k: int = DEFAULT_K) -> list[PublishedSignal]:
    """What HR may see of one day's signals of a site and its departments.

    - A department with fewer than k workers, or whose signal's count is a
      homogeneous share of it (all or all but fewer than k of its workers),
      is not listed at all: its mere listing would say most of them are ill.
    - A listed signal shows its count only when at least k workers are behind
      it; the site's count also only when the site's cases outside the listed
      departments (site minus departments) are none or at least k, and the
      workers outside them who are not cases are at least k.
    - The expected value (the baseline mean) is shown, rounded to one decimal,
      only when at least k distinct workers make up the baseline, and the
      site's only when its baseline outside the departments showing theirs is
      none or at least k workers: otherwise 0.1 would mean one case.

    Signals of different kinds are judged separately."""
    if k < DEFAULT_K:
        raise ValueError(f"k may only be raised above {DEFAULT_K}, never lowered")
    by_kind: dict[str, list[GroupDay]] = defaultdict(list)
    for group in groups:
        by_kind[group.kind].append(group)
    published: list[PublishedSignal] = []
    for kind in sorted(by_kind):
        everyone = by_kind[kind]
        site = next((g for g in everyone if g.department is None), None)
        listed: list[PublishedSignal] = []
        counts_shown: list[GroupDay] = []
        expected_shown: list[GroupDay] = []
        for group in everyone:
            if group.department is None or not group.signal:
                continue
            if len(group.population) < k or primary_reason(len(group.cases), len(group.population), k) == (
                "homogeneous"
            ):
                continue
            reason = primary_reason(len(group.cases), len(group.population), k)
            expected = _expected(group, k)
            listed.append(
                PublishedSignal(group.department, kind, None if reason else len(group.cases), expected, reason)
            )
            if not reason:
                counts_shown.append(group)
            if expected is not None:
                expected_shown.append(group)
        if site is not None and site.signal:
            reason = primary_reason(len(site.cases), len(site.population), k)
            if reason != "homogeneous":
                if not reason:
                    outside = site.population.difference(*(g.population for g in counts_shown))
                    rest = site.cases.difference(*(g.cases for g in counts_shown))
                    reason = "complement" if primary_reason(len(rest), len(outside), k) else ""
                expected = _expected(site, k)
                rest_baseline = site.baseline_workers.difference(*(g.baseline_workers for g in expected_shown))
                if expected is not None and 0 < len(rest_baseline) < k:
                    expected = None
                listed.insert(0, PublishedSignal(None, kind, None if reason else len(site.cases), expected, reason))
        published.extend(listed)
    return published


def _expected(group: GroupDay, k: int) -> float | None:
    if group.expected is None or len(group.baseline_workers) < k:
        return None
    return round(group.expected, 1)
