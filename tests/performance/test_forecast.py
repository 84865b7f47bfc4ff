"""The early-warning forecasts on series whose answers are known."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tmf_oss.performance.forecast import (
    HOLT,
    LINEAR,
    Trend,
    holt_trend,
    linear_trend,
    predict_crossing,
)

START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def series(*values: float, step: float = 60.0) -> list[tuple[datetime, float]]:
    return [(START + timedelta(seconds=step * position), value) for position, value in enumerate(values)]


def test_the_linear_trend_of_a_straight_line_is_that_line():
    trend = linear_trend([(0.0, 10.0), (60.0, 16.0), (120.0, 22.0), (180.0, 28.0)])
    assert trend.slope_per_second == pytest.approx(0.1) and trend.value == pytest.approx(28.0)


def test_least_squares_and_holt_on_a_turning_series():
    points = [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 1.0)]
    linear = linear_trend(points)
    assert (linear.value, linear.slope_per_second) == (pytest.approx(1.6), pytest.approx(0.4))
    # level 0, trend 1; the first two updates stay on the line; the turn: level 0.5*1 + 0.5*3 = 2,
    # trend 0.3*(2-2)/1 + 0.7*1 = 0.7
    holt = holt_trend(points)
    assert (holt.value, holt.slope_per_second) == (pytest.approx(2.0), pytest.approx(0.7))


def test_holt_follows_a_straight_line_exactly_even_unevenly_spaced():
    trend = holt_trend([(0.0, 5.0), (10.0, 6.0), (40.0, 9.0), (45.0, 9.5)])
    assert trend == Trend(pytest.approx(9.5), pytest.approx(0.1))


def test_no_trend_without_time_passing():
    assert linear_trend([(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)]) is None
    assert holt_trend([(5.0, 1.0), (5.0, 2.0)]) is None


@pytest.mark.parametrize("method", [LINEAR, HOLT])
def test_a_rising_series_is_predicted_to_cross_within_the_horizon(method):
    points = series(10, 16, 22, 28, 34)  # +0.1 per second
    prediction = predict_crossing(points, 50, "rising", 300, method)
    assert prediction is not None and prediction.method == method and prediction.points == 5
    assert prediction.crossing_time == points[-1][0] + timedelta(seconds=160)
    assert prediction.value_at_horizon == pytest.approx(64.0)
    assert prediction.slope_per_second == pytest.approx(0.1)
    assert predict_crossing(points, 50, "rising", 100, method) is None  # 160 s away: beyond the horizon


@pytest.mark.parametrize("method", [LINEAR, HOLT])
def test_a_falling_series_mirrors_it(method):
    points = series(90, 84, 78, 72)
    prediction = predict_crossing(points, 60, "falling", 600, method)
    assert prediction.crossing_time == points[-1][0] + timedelta(seconds=120)
    assert prediction.slope_per_second == pytest.approx(-0.1)
    assert predict_crossing(points, 60, "rising", 600, method) is None  # wrong way for a rising threshold


def test_flat_or_receding_series_and_short_windows_predict_nothing():
    assert predict_crossing(series(40, 40, 40, 40), 50, "rising", 10_000, LINEAR) is None
    assert predict_crossing(series(45, 40, 35), 50, "rising", 10_000, HOLT) is None
    assert predict_crossing(series(10, 40), 50, "rising", 10_000, LINEAR) is None  # two points are no trend


def test_a_trend_already_past_the_level_crosses_now_unless_it_turned_back():
    points = series(10, 30, 60, 49)  # the line says about 62 now, still climbing
    prediction = predict_crossing(points, 50, "rising", 60, LINEAR)
    assert prediction.crossing_time == points[-1][0]
    assert predict_crossing(series(80, 70, 60, 49), 50, "rising", 60, LINEAR) is None


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown forecast method"):
        predict_crossing(series(1, 2, 3), 5, "rising", 60, "magic")
