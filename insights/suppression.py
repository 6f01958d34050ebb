"""Small-group suppression for the tables HR sees (k-anonymity with
complementary suppression). Pure functions: a table goes in, the same table
with the cells to hide marked comes out.

A cell is hidden when fewer than ``k`` distinct workers are behind it
(primary suppression). Hiding one cell is not enough when its row or column
total is shown: the total minus the visible siblings would give it back. So
in every row and every column with a visible total, a single hidden
non-zero cell gets a hidden partner, the smallest visible cell
(complementary suppression), and a hidden total is given the same treatment
in the totals' own line. This repeats until nothing changes.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

DEFAULT_K = 5


@dataclass
class Cell:
    value: float
    workers: frozenset[Hashable]  # the distinct workers behind the value
    hidden: bool = False
    reason: str = ""  # "small" (fewer than k workers) or "complementary"


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
        cls, records: list[tuple[Hashable, Hashable, Hashable, float]], rows: list, columns: list
    ) -> Table:
        """Build from (row, column, worker, value) records; every (row, column)
        pair gets a cell, empty ones with no workers and value 0."""
        cells = {(r, c): Cell(0.0, frozenset()) for r in rows for c in columns}
        workers: dict[tuple, set] = {key: set() for key in cells}
        for row, column, worker, value in records:
            cells[(row, column)].value += value
            workers[(row, column)].add(worker)
        for key, cell in cells.items():
            cell.workers = frozenset(workers[key])

        def total(keys) -> Cell:
            members = [cells[k] for k in keys]
            return Cell(sum(m.value for m in members), frozenset().union(*(m.workers for m in members)))

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


def _protect_line(members: list[Cell], total: Cell | None) -> bool:
    """Make one line (its cells, with its total shown) safe: a single hidden
    non-zero cell would be its total minus the visible ones, so hide a
    partner too. A hidden zero needs no partner (counts cannot be negative,
    so a line whose hidden cells sum to nothing reveals only that nothing
    happened). Returns whether anything changed."""
    if total is not None and total.hidden:
        return False  # nothing to subtract from
    hidden = [m for m in members if m.hidden]
    if len(hidden) != 1 or hidden[0].value == 0:
        return False
    visible = [m for m in members if not m.hidden]
    if not visible:
        return False
    # The least informative visible sibling: smallest value, then fewest workers.
    # A zero partner protects as well as any: the two hidden values are then
    # known only by their sum.
    partner = min(visible, key=lambda m: (m.value, len(m.workers)))
    return _hide(partner, "complementary")


def suppress(table: Table, k: int = DEFAULT_K, small_rows: Iterable[Hashable] = ()) -> Table:
    """Mark the cells and totals of ``table`` to hide; returns the same table.

    ``small_rows`` are groups whose population is below k: all their cells
    and their total are hidden whatever the cells' own counts (a zero in a
    group of three still says something about those three)."""
    if k < DEFAULT_K:
        raise ValueError(f"k may only be raised above {DEFAULT_K}, never lowered")
    for row in small_rows:
        for column in table.columns:
            _hide(table.cells[(row, column)], "small")
        if row in table.row_totals:
            _hide(table.row_totals[row], "small")
    every = [*table.cells.values(), *table.row_totals.values(), *table.column_totals.values()]
    if table.grand_total is not None:
        every.append(table.grand_total)
    for cell in every:
        # An empty cell (no workers, value 0) reveals nothing about anyone.
        if 0 < len(cell.workers) < k:
            _hide(cell, "small")
    changed = True
    while changed:
        changed = False
        for r in table.rows:
            line = [table.cells[(r, c)] for c in table.columns]
            changed |= _protect_line(line, table.row_totals.get(r))
        for c in table.columns:
            line = [table.cells[(r, c)] for r in table.rows]
            changed |= _protect_line(line, table.column_totals.get(c))
        if table.row_totals:
            changed |= _protect_line(list(table.row_totals.values()), table.grand_total)
        if table.column_totals:
            changed |= _protect_line(list(table.column_totals.values()), table.grand_total)
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
