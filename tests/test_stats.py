import pytest

from healthhub.stats import percentile


def test_nearest_rank_percentiles():
    values = [15, 20, 35, 40, 50]
    assert [percentile(values, q) for q in (0, 5, 30, 40, 50, 100)] == [15, 15, 20, 20, 35, 50]
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile(list(range(1, 101)), 99) == 99


def test_no_values_and_bad_q():
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)
