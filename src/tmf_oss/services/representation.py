"""TMF638 v5 view of the canonical service document: the canonical form is the v5 shape itself."""
from __future__ import annotations

from tmf_oss.tmf.versions import VersionView

V5_VIEW = VersionView("v5")
