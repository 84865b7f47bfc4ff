"""Every table of every domain, imported in one place for alembic."""
from tmf_oss.alarms import model as _alarms  # noqa: F401
from tmf_oss.alarms import task_model as _alarm_tasks  # noqa: F401
from tmf_oss.catalog import model as _catalog  # noqa: F401
from tmf_oss.db.base import Base
from tmf_oss.events import model as _events  # noqa: F401
from tmf_oss.inventory import model as _inventory  # noqa: F401
from tmf_oss.ordering import model as _ordering  # noqa: F401
from tmf_oss.performance import model as _performance  # noqa: F401
from tmf_oss.performance import threshold_model as _performance_thresholds  # noqa: F401
from tmf_oss.performance import timeseries_model as _performance_timeseries  # noqa: F401
from tmf_oss.services import model as _services  # noqa: F401
from tmf_oss.southbound import fault_model as _faults  # noqa: F401
from tmf_oss.tmf import counts as _counts  # noqa: F401
from tmf_oss.tmf import extensions as _extensions  # noqa: F401

metadata = Base.metadata
