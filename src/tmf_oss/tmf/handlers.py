"""Connexion handlers for a collection, one set per served API version, named by the standard's operationIds."""
from __future__ import annotations

from tmf_oss.config import Settings
from tmf_oss.tmf.collection import Collection
from tmf_oss.tmf.errors import bad_request
from tmf_oss.tmf.fields import parse_fields
from tmf_oss.tmf.http import (
    correlation_id,
    empty_response,
    header,
    json_response,
    public_base_url,
    query_pairs,
    raw_json_response,
    request_scope,
)


class CollectionHandlers:
    """list/create/retrieve/patch/delete for one collection in one API version."""

    def __init__(self, collection: Collection, version: str, settings: Settings):
        self.collection = collection
        self.version = version
        self.settings = settings
        served = collection.served(version)
        self._catalog = served.catalog
        self._always = ("id", "href", "@type") if served.requires_type else ("id", "href")

    def base_url(self, scope: dict | None = None) -> str:
        return public_base_url(scope if scope is not None else request_scope(), self.settings.public_base_url,
                               self.settings.trust_forwarded_headers)

    def selection(self, fields: str | None):
        return parse_fields(fields, self._catalog, self._always)

    def operations(self, entity: str) -> dict:
        """operationId -> handler, e.g. {'listResource': ..., 'createResource': ...}."""
        return {
            f"list{entity}": self.list,
            f"create{entity}": self.create,
            f"retrieve{entity}": self.retrieve,
            f"patch{entity}": self.patch,
            f"delete{entity}": self.delete,
        }

    async def list(self, fields: str | None = None, offset: int | None = None, limit: int | None = None,
                   sort: str | None = None, filter: str | None = None, before: str | None = None,
                   after: str | None = None):
        if before is not None or after is not None:
            raise bad_request("cursor paging ('before'/'after') is not supported; use offset and limit",
                              reason="Unsupported query")
        scope = request_scope()
        base_url = self.base_url(scope)
        # Everything else a page depends on is in the raw query string: a kept page is found without parsing it.
        identity = (self.version, base_url, scope["query_string"])
        page = await self.collection.kept_page(identity)
        if page is None:
            page = self.collection.read_page(
                self.version, query_pairs(scope), request_identity=identity, base_url=base_url, offset=offset,
                limit=limit, sort=sort, selection=self.selection(fields), jsonpath_filter=filter)
        headers = {"X-Total-Count": str(page.total), "X-Result-Count": str(page.count)}
        return raw_json_response(page.body, 200, headers)

    async def create(self, body: dict, fields: str | None = None):
        selection = self.selection(fields)
        scope = request_scope()
        rendered, tag = self.collection.create(
            self.version, body, base_url=self.base_url(scope), correlation_id=correlation_id(scope),
            selection=selection)
        return json_response(rendered, 201, {"Location": rendered["href"], "ETag": tag})

    async def retrieve(self, id: str, fields: str | None = None):
        body, tag = await self.collection.retrieve_coalesced(self.version, id, base_url=self.base_url(),
                                                             selection=self.selection(fields))
        return raw_json_response(body, 200, {"ETag": tag})

    async def patch(self, id: str, body, fields: str | None = None):
        scope = request_scope()
        rendered, tag = self.collection.patch(
            self.version, id, body, content_type=header(scope, b"content-type"),
            if_match=header(scope, b"if-match"), base_url=self.base_url(scope),
            correlation_id=correlation_id(scope), selection=self.selection(fields))
        return json_response(rendered, 200, {"ETag": tag})

    async def delete(self, id: str):
        scope = request_scope()
        self.collection.delete(self.version, id, if_match=header(scope, b"if-match"),
                               base_url=self.base_url(scope), correlation_id=correlation_id(scope))
        return empty_response(204)
