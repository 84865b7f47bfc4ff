"""TMF642 Alarm Management: the API definition (versions, entities, views) the app and worker are built from."""
from __future__ import annotations

from tmf_oss.alarms.representation import V4_VIEW, V5_VIEW
from tmf_oss.alarms.service import ALARM
from tmf_oss.alarms.tasks import TASK_ENTITIES
from tmf_oss.platform import ApiDefinition, EntityDefinition, VersionDefinition

ALARM_API = ApiDefinition(
    api="tmf642",
    title="TMF642 Alarm Management",
    versions=(
        VersionDefinition("v4", "/tmf-api/alarmManagement/v4", "tmf642/alarm-management-v4.yaml",
                          requires_type=False),
        VersionDefinition("v5", "/tmf-api/alarmManagement/v5", "tmf642/alarm-management-v5.yaml",
                          requires_type=True),
    ),
    entities=(
        EntityDefinition(ALARM, "Alarm", {"v4": V4_VIEW, "v5": V5_VIEW}, ("Alarm",)),
        # ackAlarms ... in v4, ackAlarm ... in v5: each served by its own version (alarms.tasks)
        *TASK_ENTITIES,
    ),
)
