"""Connexion handlers for /hub, the same for every API; v4 and v5 differ only in names and shapes."""
from __future__ import annotations

from tmf_oss.config import Settings
from tmf_oss.events.model import HubSubscription
from tmf_oss.events.subscriptions import Subscriptions
from tmf_oss.tmf.http import empty_response, json_response, public_base_url, request_scope


class HubHandlers:
    def __init__(self, subscriptions: Subscriptions, api: str, version: str, base_path: str, settings: Settings):
        self.subscriptions = subscriptions
        self.api = api
        self.version = version
        self.base_path = base_path
        self.settings = settings

    def render(self, subscription: HubSubscription) -> dict:
        body = {"id": subscription.id, "callback": subscription.callback}
        if subscription.query is not None:
            body["query"] = subscription.query
        if self.version != "v4":
            base = public_base_url(request_scope(), self.settings.public_base_url,
                                   self.settings.trust_forwarded_headers)
            body = {"@type": "Hub", "href": f"{base}{self.base_path}/hub/{subscription.id}", **body}
        return body

    def operations(self) -> dict:
        if self.version == "v4":
            names = {"registerListener": self.create, "unregisterListener": self.delete}
        else:
            names = {"createHub": self.create, "hubDelete": self.delete}
        names.update({"hubGet": self.retrieve, "listHub": self.list})
        return names

    async def create(self, body: dict):
        subscription = self.subscriptions.register(self.api, self.version, body["callback"], body.get("query"))
        rendered = self.render(subscription)
        location = rendered.get("href") or f"{self.base_path}/hub/{subscription.id}"
        return json_response(rendered, 201, {"Location": location})

    async def retrieve(self, id: str):
        return json_response(self.render(self.subscriptions.get(self.api, id)))

    async def list(self):
        items = [self.render(s) for s in self.subscriptions.list(self.api)]
        return json_response(items, 200, {"X-Total-Count": str(len(items)), "X-Result-Count": str(len(items))})

    async def delete(self, id: str):
        self.subscriptions.remove(self.api, id)
        return empty_response(204)
