"""When a measurement collection job collects, beyond its start and end: the rest of its scheduleDefinition.

TMF628 describes these members loosely; this is how tmf-oss reads them (the first scheduleDefinition, as for the
start and end):

- `scheduleDefinitionHourRange`: the hours of the day, "08:00-18:00" (or "8-18"); several ranges separated by
  commas; a range may cross midnight ("22:00-06:00"); the end is excluded.
- `WeeklyScheduledDefinition`: the days of the week, each named by a date-time falling on that day.
- `monthlyScheduleDayOfMonthDefinition`: the days of the month, each named by a date-time on that day.
- `dateScheduleDefintion`: whole days, each named by a date-time on that day.
- `excludedDate`: whole days on which the job does not collect.

A period is collected when its start is allowed by every member present. Days and hours are those of the time
zone of `scheduleDefinitionStartTime`'s offset (UTC without one). `recurringFrequency` is free text in the
standard: kept, not interpreted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Callable

from tmf_oss.tmf.query import parse_instant

_RANGE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")
MINUTES_PER_DAY = 24 * 60
SEARCH_DAYS = 400  # how far ahead the next collected period is looked for


class ScheduleError(ValueError):
    pass


def hour_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """"08:00-18:00, 22-02" -> ((480, 1080), (1320, 120)): minutes of the day, start included, end excluded."""
    ranges = []
    for part in text.split(","):
        found = _RANGE.match(part)
        if not found:
            raise ScheduleError(f"scheduleDefinitionHourRange: '{part.strip()}' is not a range like 08:00-18:00")
        start_hour, start_minute, end_hour, end_minute = (int(value or 0) for value in found.groups())
        if start_hour > 24 or end_hour > 24 or start_minute > 59 or end_minute > 59 \
                or (start_hour == 24 and start_minute) or (end_hour == 24 and end_minute):
            raise ScheduleError(f"scheduleDefinitionHourRange: '{part.strip()}' is not a time of day")
        start, end = start_hour * 60 + start_minute, end_hour * 60 + end_minute
        if start == end:
            raise ScheduleError(f"scheduleDefinitionHourRange: '{part.strip()}' is empty")
        ranges.append((start % MINUTES_PER_DAY, end % MINUTES_PER_DAY or MINUTES_PER_DAY))
    return tuple(ranges)


@dataclass(frozen=True)
class CollectionSchedule:
    zone: tzinfo
    hours: tuple[tuple[int, int], ...] = ()
    weekdays: frozenset[int] = frozenset()
    month_days: frozenset[int] = frozenset()
    dates: frozenset[date] = frozenset()
    excluded: frozenset[date] = frozenset()

    @classmethod
    def of(cls, definition: dict) -> "CollectionSchedule":
        """From a scheduleDefinition; raises ScheduleError naming what cannot be read."""
        start = definition.get("scheduleDefinitionStartTime")
        zone = _instant(start, "scheduleDefinitionStartTime").tzinfo if isinstance(start, str) and start \
            else timezone.utc
        days = {name: [_instant(value, name).astimezone(zone) for value in _dates(definition, name)]
                for name in ("WeeklyScheduledDefinition", "monthlyScheduleDayOfMonthDefinition",
                             "dateScheduleDefintion", "excludedDate")}
        hour_range = definition.get("scheduleDefinitionHourRange")
        return cls(zone=zone,
                   hours=hour_ranges(hour_range) if isinstance(hour_range, str) and hour_range.strip() else (),
                   weekdays=frozenset(day.weekday() for day in days["WeeklyScheduledDefinition"]),
                   month_days=frozenset(day.day for day in days["monthlyScheduleDayOfMonthDefinition"]),
                   dates=frozenset(day.date() for day in days["dateScheduleDefintion"]),
                   excluded=frozenset(day.date() for day in days["excludedDate"]))

    @property
    def restricted(self) -> bool:
        return bool(self.hours or self.weekdays or self.month_days or self.dates or self.excluded)

    def day_allowed(self, day: date) -> bool:
        return (day not in self.excluded and (not self.weekdays or day.weekday() in self.weekdays)
                and (not self.month_days or day.day in self.month_days) and (not self.dates or day in self.dates))

    def _minute_allowed(self, minute: int) -> bool:
        return not self.hours or any(start <= minute < end if start < end else minute >= start or minute < end
                                     for start, end in self.hours)

    def allows(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        return self.day_allowed(local.date()) and self._minute_allowed(local.hour * 60 + local.minute)

    def next_allowed(self, instant: datetime, align_up: Callable[[datetime], datetime],
                     until: datetime | None = None) -> datetime | None:
        """The first instant at or after `instant`, aligned by `align_up` (to the job's period boundaries), that
        the schedule allows; None when there is none before `until` or within SEARCH_DAYS."""
        moment = align_up(instant)
        horizon = instant + timedelta(days=SEARCH_DAYS)
        while moment < horizon and (until is None or moment < until):
            local = moment.astimezone(self.zone)
            if not self.day_allowed(local.date()):
                moment = align_up(_local_midnight(local.date() + timedelta(days=1), self.zone))
                continue
            minute = local.hour * 60 + local.minute
            if self._minute_allowed(minute):
                return moment
            later = sorted(start for start, _ in self.hours if start > minute)
            target = (datetime.combine(local.date(), time(later[0] // 60, later[0] % 60), self.zone) if later
                      else _local_midnight(local.date() + timedelta(days=1), self.zone))
            moment = max(align_up(target), moment + timedelta(seconds=1))
        return None


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), zone)


def _dates(definition: dict, name: str) -> list[str]:
    """The date-times a member lists: plain strings, or objects carrying them in `dates` (DayOfWeekRecurrence)."""
    values = definition.get(name) or []
    if not isinstance(values, list):
        raise ScheduleError(f"{name} must be a list")
    found = []
    for value in values:
        if isinstance(value, dict):
            value = value.get("dates")
        if not isinstance(value, str) or not value:
            raise ScheduleError(f"{name}: every entry names a day by a date-time")
        found.append(value)
    return found


def _instant(value, name: str) -> datetime:
    """A date-time with the offset it was written with (parse_instant turns everything to UTC, and the offset
    is what tells which day and hour the client meant)."""
    try:
        parse_instant(value)  # the same forms the rest of the API accepts
        text = value.strip()
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ScheduleError(f"{name}: '{value}' is not a date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)
