"""Entity tags for representations, and the If-Match precondition (RFC 9110)."""
from __future__ import annotations

from tmf_oss.tmf.errors import TmfError


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """RFC 9110 If-Match: '*' or a list of entity tags, one of which must be the current one."""
    if if_match is None:
        return
    tags = [tag.strip() for tag in if_match.split(",")]
    current = etag(version)
    if "*" in tags or any(tag.removeprefix("W/") == current for tag in tags):
        return
    raise TmfError(412, "Precondition failed", f"If-Match {if_match} does not match the current ETag {current}",
                   headers={"ETag": current})
