"""Which periods a job's scheduleDefinition collects: hour ranges, days of the week and month, dates, exclusions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tmf_oss.performance.periods import Clock
from tmf_oss.performance.schedule import CollectionSchedule, ScheduleError, hour_ranges

CET = timezone(timedelta(hours=1))
CLOCK = Clock()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def quarter_hours(moment: datetime) -> datetime:
    return CLOCK.boundary_at_or_after(moment, 900)


def test_hour_ranges():
    assert hour_ranges("08:00-18:00") == ((480, 1080),)
    assert hour_ranges("8-18, 22:30-02") == ((480, 1080), (1350, 120))
    assert hour_ranges("00:00-24:00") == ((0, 1440),)
    for bad in ("8 to 18", "08:00-08:00", "25-26", "08:60-09:00", "24:30-01:00"):
        with pytest.raises(ScheduleError):
            hour_ranges(bad)


def test_business_hours_on_weekdays_in_the_zone_of_the_start_time():
    schedule = CollectionSchedule.of({
        "scheduleDefinitionStartTime": "2026-11-02T00:00:00+01:00",
        "scheduleDefinitionHourRange": "08:00-18:00",
        "WeeklyScheduledDefinition": [{"dates": f"2026-11-{day:02d}T09:00:00+01:00"} for day in (2, 3, 4, 5, 6)],
    })
    assert schedule.restricted
    assert schedule.allows(at("2026-11-26T07:00:00+00:00"))  # Thursday 08:00 in +01:00
    assert not schedule.allows(at("2026-11-26T06:59:00+00:00"))
    assert not schedule.allows(at("2026-11-26T17:00:00+00:00"))  # 18:00 there: the end is excluded
    assert not schedule.allows(at("2026-11-28T10:00:00+00:00"))  # Saturday
    # From Friday evening, the next collected period starts on Monday at 08:00 there.
    assert schedule.next_allowed(at("2026-11-27T18:05:00+00:00"), quarter_hours) == at("2026-11-30T07:00:00+00:00")
    assert schedule.next_allowed(at("2026-11-26T10:05:00+00:00"), quarter_hours) == at("2026-11-26T10:15:00+00:00")


def test_a_range_across_midnight_and_excluded_days():
    schedule = CollectionSchedule.of({"scheduleDefinitionHourRange": "22:00-02:00",
                                      "excludedDate": ["2026-12-25T12:00:00Z"]})
    assert schedule.allows(at("2026-12-24T23:30:00+00:00")) and schedule.allows(at("2026-12-24T01:59:00+00:00"))
    assert not schedule.allows(at("2026-12-24T02:00:00+00:00"))
    assert not schedule.allows(at("2026-12-25T01:00:00+00:00"))
    assert schedule.next_allowed(at("2026-12-24T03:00:00+00:00"), quarter_hours) == at("2026-12-24T22:00:00+00:00")
    assert schedule.next_allowed(at("2026-12-24T23:59:00+00:00"), quarter_hours) == at("2026-12-26T00:00:00+00:00")


def test_days_of_the_month_dates_and_the_end():
    monthly = CollectionSchedule.of({"monthlyScheduleDayOfMonthDefinition": ["2026-01-01T00:00:00Z",
                                                                             "2026-01-15T00:00:00Z"]})
    assert monthly.next_allowed(at("2026-11-16T00:00:00+00:00"), quarter_hours) == at("2026-12-01T00:00:00+00:00")
    dated = CollectionSchedule.of({"dateScheduleDefintion": ["2026-12-03T10:00:00Z"]})
    assert dated.next_allowed(at("2026-11-26T10:00:00+00:00"), quarter_hours,
                              until=at("2026-12-01T00:00:00+00:00")) is None
    assert dated.next_allowed(at("2026-11-26T10:00:00+00:00"), quarter_hours) == at("2026-12-03T00:00:00+00:00")
    assert dated.next_allowed(at("2026-12-04T00:00:00+00:00"), quarter_hours) is None  # nothing ahead


def test_no_member_no_restriction_and_unreadable_members():
    assert not CollectionSchedule.of({"scheduleDefinitionStartTime": "2026-11-02T00:00:00Z"}).restricted
    with pytest.raises(ScheduleError):
        CollectionSchedule.of({"excludedDate": ["tomorrow"]})
    with pytest.raises(ScheduleError):
        CollectionSchedule.of({"WeeklyScheduledDefinition": "monday"})
