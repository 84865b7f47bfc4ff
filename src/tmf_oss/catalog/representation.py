"""TMF633 v4 view of the canonical service specification: the one version served, so the canonical form is its
shape and the view is the identity."""
from __future__ import annotations

from tmf_oss.tmf.versions import VersionView

V4_VIEW = VersionView("v4")
