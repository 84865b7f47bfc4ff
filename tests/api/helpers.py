"""Small helpers shared by the API tests."""
from __future__ import annotations

import threading
import time
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
    """A real HTTP server on loopback that records the events POSTed to it.

    `status` is what it answers; `hang()` makes it hold requests unanswered (until `release()` or close);
    `down()` closes its socket (connections are refused) and `up()` listens again on the same port.
    """

    def __init__(self, status: int = 204):
        self.received: list[dict] = []
        self.paths: list[str] = []
        self.arrived_at: list[float] = []
        self.attempts = 0
        self.status = status
        self._arrived = threading.Condition()
        self._release = threading.Event()
        self._release.set()
        self.port = 0
        self.server = self._bind()

    def _bind(self) -> ThreadingHTTPServer:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real listeners do

            def do_POST(self):  # noqa: N802 - http.server naming
                length = int(self.headers.get("content-length") or 0)
                body = orjson.loads(self.rfile.read(length)) if length else None
                with listener._arrived:
                    listener.attempts += 1
                listener._release.wait()
                status = listener.status
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
                if 200 <= status < 300:
                    with listener._arrived:
                        listener.received.append(body)
                        listener.paths.append(self.path)
                        listener.arrived_at.append(time.monotonic())
                        listener._arrived.notify_all()

            def log_message(self, *_args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/client/api"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[dict]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def hang(self) -> None:
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def down(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def up(self) -> None:
        self.server = self._bind()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.release()
        self.down()
