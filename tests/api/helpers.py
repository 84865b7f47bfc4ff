"""Small helpers shared by the API tests."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

V4 = "/tmf-api/resourceInventoryManagement/v4"
V5 = "/tmf-api/resourceInventoryManagement/v5"


def assert_tmf_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["@type"] == "Error"
    assert body["code"] and body["reason"]
    assert body["status"] == str(status)
    return body


class Listener:
    """A real HTTP server on loopback that records the events POSTed to it."""

    def __init__(self, status: int = 204):
        self.received: list[dict] = []
        self.paths: list[str] = []
        self.status = status
        self._arrived = threading.Condition()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server naming
                length = int(self.headers.get("content-length") or 0)
                body = orjson.loads(self.rfile.read(length)) if length else None
                self.send_response(listener.status)
                self.send_header("content-length", "0")
                self.end_headers()
                if 200 <= listener.status < 300:
                    with listener._arrived:
                        listener.received.append(body)
                        listener.paths.append(self.path)
                        listener._arrived.notify_all()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/listener"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()
        self.server.server_close()
