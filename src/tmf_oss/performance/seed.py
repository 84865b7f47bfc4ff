"""The built-in indicator specifications (indicators.yaml) into the performanceIndicatorSpecification collection.

Created when the database lacks them (with their create events), never overwritten: once there, a specification
belongs to the operator, who may edit or delete it. Several processes starting at once are harmless: a
specification another one created first is simply there.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from tmf_oss.performance.builtin_indicators import builtin_indicator_specs
from tmf_oss.performance.model import IndicatorSpecificationRow
from tmf_oss.tmf.errors import TmfError

log = logging.getLogger("tmf_oss.performance")


def ensure_indicators(platform, *, base_url: str = "") -> list[str]:
    """Create the built-in specifications the database lacks; returns the ids created."""
    collection = platform.collection("tmf628", "performanceIndicatorSpecification")
    specs = builtin_indicator_specs()
    with platform.db.reading() as session:
        present = set(session.execute(select(IndicatorSpecificationRow.id).where(
            IndicatorSpecificationRow.id.in_([spec["id"] for spec in specs]))).scalars())
    created = []
    for spec in specs:
        if spec["id"] in present:
            continue
        try:
            collection.create("v5", spec, base_url=base_url, correlation_id=None)
        except TmfError as error:
            if error.status != 409:  # 409: another process created it meanwhile
                raise
            continue
        created.append(spec["id"])
    if created:
        log.info("performance indicators: created %s", ", ".join(created))
    return created

