"""`@type` / `@baseType` / `@schemaLocation` rules for an entity family (TMF630 part 2)."""
from __future__ import annotations

from dataclasses import dataclass

from tmf_oss.tmf.errors import bad_request


@dataclass(frozen=True)
class TypeFamily:
    base: str  # e.g. "Resource"
    known: frozenset[str]  # the standard's classes, base included

    def settle(self, doc: dict) -> str:
        """Check the document's class and fill in what is implied; returns the standard class it belongs to.

        A client-defined subtype (`@type` not in the standard) must name its standard parent in `@baseType`,
        so every representation can be validated and rendered as a class the standard knows."""
        declared = doc.get("@type") or self.base
        doc["@type"] = declared
        if declared in self.known:
            base_type = doc.get("@baseType")
            if base_type is not None and base_type not in self.known:
                raise bad_request(f"@baseType '{base_type}' is not one of {sorted(self.known)}",
                                  reason="Invalid @baseType")
            return declared
        base_type = doc.get("@baseType")
        if base_type not in self.known:
            raise bad_request(
                f"@type '{declared}' is not a standard {self.base} class; set @baseType to the class it extends "
                f"(one of {sorted(self.known)})", reason="Invalid @type")
        return base_type
