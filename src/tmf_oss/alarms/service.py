"""The TMF642 alarm collection: what is specific to alarms, on top of the shared machinery."""
from __future__ import annotations

from tmf_oss.alarms import lifecycle
from tmf_oss.alarms.identity import derived_columns
from tmf_oss.alarms.model import AlarmRow
from tmf_oss.tmf.collection import EntitySpec
from tmf_oss.tmf.polymorphism import TypeFamily

ALARM_FAMILY = TypeFamily(base="Alarm", known=frozenset({"Alarm"}))

# A change to one of these is an AlarmStateChangeEvent; any other change an AlarmAttributeValueChangeEvent.
STATE_FIELDS = frozenset({"state", "ackState"})

ALARM = EntitySpec(
    name="alarm",
    api="tmf642",
    model=AlarmRow,
    family=ALARM_FAMILY,
    event_prefix="Alarm",
    columns={
        "state": "state",
        "perceivedSeverity": "perceived_severity",
        "alarmType": "alarm_type",
        "probableCause": "probable_cause",
        "ackState": "ack_state",
        "isRootCause": "is_root_cause",
        "alarmRaisedTime": "alarm_raised_time",
    },
    # The alarm's resource, kept by alarms.identity.derived_columns: `?alarmedObject.id=` is the NOC's most common
    # nested filter, and a column index serves it without a GIN index on the document (see model.py).
    column_paths={"alarmedObject.id": "alarmed_object_id"},
    state_fields=STATE_FIELDS,
    server_owned=frozenset({"occurrenceCount", "flapping", "alarmedObjectResolved"}),
    # The standard's update shapes (v4 Alarm_Update, v5 Alarm_MVO) leave these out: fixed once raised.
    fixed=frozenset({"alarmRaisedTime", "sourceSystemId"}),
    on_create=lifecycle.on_create,
    on_update=lifecycle.on_update,
    rendered_columns={"v4": "body", "v5": "body"},  # one rendering serves both: the views are the same
    derived_columns=derived_columns,
)
