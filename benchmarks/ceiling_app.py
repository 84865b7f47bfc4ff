"""The ceiling of our stack: what connexion + gunicorn/uvicorn can serve when the handlers do no work at all.

Same framework and server settings as `tmf-oss serve` (connexion AsyncApp, gunicorn with uvicorn workers, the
same add_api options and garbage collector settings), the same two GET operations with the same parameters declared, but the handlers answer
with pre-serialized bytes taken from the real server. The gap between the real figures and these is what our
own code (database, SQLAlchemy, rendering) costs per request.

Run by api_throughput.py:
    python benchmarks/ceiling_app.py --port 8181 --workers 2 --retrieve-body r.json --list-body l.json
"""
from __future__ import annotations

import argparse
import os

import connexion
from connexion.resolver import Resolver
from starlette.responses import Response

from tmf_oss.gc_tuning import settle_after_startup
from tmf_oss.tmf.request_validation import VALIDATORS, fold_path_parameters

BASE_PATH = "/tmf-api/resourceInventoryManagement/v5"
JSON_MEDIA_TYPE = "application/json;charset=utf-8"  # what tmf_oss.tmf.http answers with

_RETRIEVE_ENV = "TMF_OSS_CEILING_RETRIEVE_BODY"
_LIST_ENV = "TMF_OSS_CEILING_LIST_BODY"
_TOTAL_ENV = "TMF_OSS_CEILING_LIST_TOTAL"


def _query(name: str, schema_type: str = "string") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": {"type": schema_type}}


# The parameters the real TMF639 v5 document declares on these two operations (components/parameters).
LIST_PARAMETERS = [_query("fields"), _query("offset", "integer"), _query("limit", "integer"), _query("before"),
                   _query("after"), _query("sort"), _query("filter")]
SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "in-memory ceiling for the TMF639 read operations", "version": "5.0.0"},
    "paths": {
        "/resource": {
            "get": {"operationId": "listResource", "parameters": LIST_PARAMETERS,
                    "responses": {"200": {"description": "a page",
                                          "content": {"application/json": {"schema": {"type": "array"}}}}}},
        },
        "/resource/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"operationId": "retrieveResource", "parameters": [_query("fields")],
                    "responses": {"200": {"description": "a resource",
                                          "content": {"application/json": {"schema": {"type": "object"}}}}}},
        },
    },
}


def create_app() -> connexion.AsyncApp:
    with open(os.environ[_RETRIEVE_ENV], "rb") as handle:
        retrieve_body = handle.read()
    with open(os.environ[_LIST_ENV], "rb") as handle:
        list_body = handle.read()
    list_headers = {"X-Total-Count": os.environ.get(_TOTAL_ENV, "0"), "X-Result-Count": "20"}

    # Same signatures as tmf_oss.tmf.handlers.CollectionHandlers, so connexion does the same argument work.
    async def list_resource(fields=None, offset=None, limit=None, sort=None, filter=None, before=None, after=None):
        return Response(list_body, 200, headers=list_headers, media_type=JSON_MEDIA_TYPE)

    async def retrieve_resource(id, fields=None):
        return Response(retrieve_body, 200, headers={"ETag": '"1"'}, media_type=JSON_MEDIA_TYPE)

    operations = {"listResource": list_resource, "retrieveResource": retrieve_resource}
    app = connexion.AsyncApp("tmf_oss_ceiling")
    # The document preparation and add_api options of tmf_oss.app.create_app (response validation off is the
    # production default; the parameter validator is ours).
    app.add_api(fold_path_parameters(SPEC), base_path=BASE_PATH, name="ceiling-v5",
                resolver=Resolver(function_resolver=operations.__getitem__),
                validate_responses=False, strict_validation=False, pythonic_params=False,
                validator_map=VALIDATORS)
    return app


def serve(host: str, port: int, workers: int, log_level: str) -> None:
    """gunicorn with uvicorn workers, configured like tmf_oss.server._run_gunicorn."""
    from gunicorn.app.base import BaseApplication

    class CeilingServer(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "uvicorn.workers.UvicornWorker")
            self.cfg.set("loglevel", log_level)
            self.cfg.set("graceful_timeout", 10)

        def load(self):
            app = create_app()
            settle_after_startup()  # the garbage collector settings of tmf_oss.server
            return app

    CeilingServer().run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--retrieve-body", required=True, help="file holding the JSON answered by GET /resource/{id}")
    parser.add_argument("--list-body", required=True, help="file holding the JSON answered by GET /resource")
    parser.add_argument("--list-total", default="0", help="X-Total-Count value for the list answer")
    args = parser.parse_args()
    # gunicorn loads the app in each worker: hand the bodies over through the environment.
    os.environ[_RETRIEVE_ENV] = os.path.abspath(args.retrieve_body)
    os.environ[_LIST_ENV] = os.path.abspath(args.list_body)
    os.environ[_TOTAL_ENV] = str(args.list_total)
    serve(args.host, args.port, args.workers, args.log_level)


if __name__ == "__main__":
    main()
