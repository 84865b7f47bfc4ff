"""Runs the ASGI app: uvicorn in-process for one worker, gunicorn with uvicorn workers for more."""
from __future__ import annotations

import logging

from tmf_oss.config import Settings
from tmf_oss.gc_tuning import settle_after_startup

log = logging.getLogger("tmf_oss.server")


def _start_background(settings: Settings) -> list:
    """What runs beside the HTTP workers: event delivery and the service order orchestrator, as configured."""
    from tmf_oss.platform import Platform

    platform = Platform(settings)
    services = []
    if settings.run_dispatcher:
        from tmf_oss.events.loop import start_dispatch_loop

        services.append(start_dispatch_loop(platform))
    if settings.run_orchestrator:
        from tmf_oss.ordering.orchestrator import start_orchestrator

        services.append(start_orchestrator(platform, settings))
    if settings.run_collector:
        from tmf_oss.performance.collector import start_collector

        services.extend(start_collector(platform, settings))
    return services


def _load_catalog(settings: Settings) -> None:
    """The shipped service catalog and the configured one into the database, before anyone can order."""
    from tmf_oss.catalog.seed import ensure_catalog
    from tmf_oss.platform import Platform

    from tmf_oss.performance.seed import ensure_indicators

    platform = Platform(settings)
    try:
        ensure_catalog(platform)
        ensure_indicators(platform)
    finally:
        platform.close()


def run(settings: Settings) -> None:
    _load_catalog(settings)
    if settings.workers <= 1:
        import uvicorn

        from tmf_oss.app import create_app

        app = create_app(settings)
        background = _start_background(settings)
        settle_after_startup()
        try:
            uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                        access_log=False, lifespan="on")
        finally:
            for service in background:
                service.close()
        return
    _run_gunicorn(settings)


def _run_gunicorn(settings: Settings) -> None:
    from gunicorn.app.base import BaseApplication

    class TmfOssServer(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", settings.workers)
            self.cfg.set("worker_class", "uvicorn.workers.UvicornWorker")
            self.cfg.set("loglevel", settings.log_level)
            self.cfg.set("graceful_timeout", 10)

        def load(self):  # in each worker, after the fork
            from tmf_oss.app import create_app

            app = create_app(settings)
            settle_after_startup()
            return app

    dispatcher = None
    if settings.run_dispatcher or settings.run_orchestrator:
        # One background process beside the HTTP workers (spawned, not forked from a threaded parent).
        import multiprocessing

        dispatcher = multiprocessing.get_context("spawn").Process(
            target=_background_forever, args=(settings,), name="tmf-oss-background", daemon=True)
        dispatcher.start()
    try:
        TmfOssServer().run()
    finally:
        if dispatcher is not None:
            dispatcher.terminate()
            dispatcher.join(timeout=10)


def _background_forever(settings: Settings) -> None:
    import threading

    _start_background(settings)
    threading.Event().wait()  # the parent terminates this process
