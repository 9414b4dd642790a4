"""Nearest-rank percentiles on known inputs."""

import pytest

from streamlab.measure.stats import percentile, summarize


def test_nearest_rank_on_one_to_hundred() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.90) == 90
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100


def test_small_samples_round_up() -> None:
    assert percentile([10.0, 20.0, 30.0], 0.5) == 20.0
    assert percentile([10.0, 20.0, 30.0], 0.99) == 30.0
    assert percentile([7.0], 0.5) == 7.0


def test_summarize_sorts_its_input() -> None:
    assert summarize([5, 1, 4, 2, 3]) == {"p50": 3, "p90": 5, "p99": 5, "max": 5}


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_fraction_outside_range_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction must be in"):
        percentile([1, 2, 3], fraction)


def test_no_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)
