"""The collected indicators in Prometheus' text format, for /metrics: one gauge sample per series, its newest
value, stamped with the end of the interval it measured. Missing values are left out (Prometheus shows the gap);
series not measured for a day drop out."""
from __future__ import annotations

from datetime import timedelta

from tmf_oss.db.base import utcnow

METRIC = "tmf_oss_performance_indicator"
STALE_AFTER = timedelta(days=1)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_lines(db) -> list[str]:
    from tmf_oss.performance.timeseries import TimeSeriesStore

    with db.reading() as session:
        rows = TimeSeriesStore(db).latest(session, since=utcnow() - STALE_AFTER)
    lines = [f"# HELP {METRIC} Newest value of each collected performance indicator (TMF628 measurement).",
             f"# TYPE {METRIC} gauge"]
    for row in rows:
        if row.value is None:
            continue
        labels = (f'indicator="{_label(row.indicator_id)}",object_id="{_label(row.object_id)}",'
                  f'object_name="{_label(row.object_name or "")}",job="{_label(row.job_id)}"')
        stamp = int(row.end.timestamp() * 1000)
        lines.append(f"{METRIC}{{{labels}}} {row.value!r} {stamp}")
    return lines
