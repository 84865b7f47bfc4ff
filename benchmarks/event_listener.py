#!/usr/bin/env python3
"""N TMF event listeners in one process, for benchmarks/event_delivery.py.

Each listens on its own loopback port (uvicorn + a bare ASGI callable: the cheapest real HTTP server at hand,
so the benchmark measures the dispatcher, not the listener), answers 204, and remembers for every event the
resource name it carries and when it arrived (time.time()). GET /results on any port returns and clears what
all listeners have seen; GET /count returns how many events arrived.

    python benchmarks/event_listener.py --ports 9101,9102,...
"""
from __future__ import annotations

import argparse
import asyncio
import time

import orjson
import uvicorn

arrivals: list[tuple[int, str, float]] = []  # (listener index, resource name, arrival time)


def make_app(index: int):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "POST":
            arrived = time.time()
            event = orjson.loads(body)
            arrivals.append((index, next(iter(event["event"].values()))["name"], arrived))
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["path"] == "/results":
            payload = orjson.dumps(arrivals)
            arrivals.clear()
        else:
            payload = orjson.dumps({"count": len(arrivals)})
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    return app


async def main(ports: list[int]) -> None:
    servers = [uvicorn.Server(uvicorn.Config(make_app(index), host="127.0.0.1", port=port, log_level="warning",
                                             access_log=False, http="httptools", lifespan="off"))
               for index, port in enumerate(ports)]
    await asyncio.gather(*(server.serve() for server in servers))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", required=True, help="comma-separated loopback ports, one listener each")
    options = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main([int(port) for port in options.ports.split(",")]))
