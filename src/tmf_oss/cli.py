"""The `tmf-oss` command: serve the APIs, run background work, manage the database."""
from __future__ import annotations

import logging
import signal
import threading

import click

from tmf_oss import __version__
from tmf_oss.config import Settings

URL_HELP = "Database URL, e.g. sqlite:///tmf-oss.db or postgresql+psycopg2://user@host/db [TMF_OSS_DATABASE_URL]"


def _settings(ctx: click.Context, **overrides) -> Settings:
    base: Settings = ctx.obj
    return base.with_overrides(**overrides)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tmf-oss")
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--log-level", default=None, help="debug, info, warning or error [TMF_OSS_LOG_LEVEL]")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, log_level: str | None) -> None:
    """tmf-oss: an OSS spoken to through the TM Forum Open APIs.

    Every option can also be set with a TMF_OSS_<NAME> environment variable (shown in brackets).
    """
    settings = Settings.from_env(database_url=database_url, log_level=log_level)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s")
    ctx.obj = settings


@main.command()
@click.option("--host", default=None, help="Interface to listen on [TMF_OSS_HOST, default 127.0.0.1]")
@click.option("--port", type=int, default=None, help="Port to listen on [TMF_OSS_PORT, default 8080]")
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--workers", type=int, default=None, help="HTTP worker processes; >1 runs gunicorn [TMF_OSS_WORKERS]")
@click.option("--public-base-url", default=None,
              help="scheme://host[:port] used in hrefs; default: from the request [TMF_OSS_PUBLIC_BASE_URL]")
@click.option("--dispatcher/--no-dispatcher", default=None,
              help="Deliver hub events from this process (on by default; off when `tmf-oss worker` runs) "
                   "[TMF_OSS_RUN_DISPATCHER]")
@click.option("--migrate/--no-migrate", default=True, show_default=True, help="Apply migrations before serving")
@click.pass_context
def serve(ctx, host, port, database_url, workers, public_base_url, dispatcher, migrate) -> None:
    """Serve every TMF API (Swagger UI at <base path>/ui/ for each API version)."""
    settings = _settings(ctx, host=host, port=port, database_url=database_url, workers=workers,
                         public_base_url=public_base_url, run_dispatcher=dispatcher)
    if migrate:
        from tmf_oss.db.migrate import upgrade

        upgrade(settings.database_url)
    from tmf_oss.server import run

    run(settings)


@main.command()
@click.option("--database-url", default=None, help=URL_HELP)
@click.pass_context
def worker(ctx, database_url) -> None:
    """Run the background work (event delivery) without serving HTTP. Several may run on PostgreSQL."""
    settings = _settings(ctx, database_url=database_url)
    from tmf_oss.events.dispatcher import run_in_thread
    from tmf_oss.platform import Platform

    platform = Platform(settings)
    thread, stop = run_in_thread(platform, interval=settings.dispatch_interval_seconds,
                                 timeout=settings.delivery_timeout_seconds)
    finished = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: finished.set())
    click.echo("tmf-oss worker running; Ctrl-C to stop")
    finished.wait()
    stop.set()
    thread.join(timeout=10)
    platform.close()


@main.group()
def db() -> None:
    """Database schema management (alembic migrations)."""


@db.command("upgrade")
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--revision", default="head", show_default=True, help="Target revision")
@click.pass_context
def db_upgrade(ctx, database_url, revision) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from tmf_oss.db.migrate import upgrade

    settings = _settings(ctx.find_root(), database_url=database_url)
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@db.command("current")
@click.option("--database-url", default=None, help=URL_HELP)
@click.pass_context
def db_current(ctx, database_url) -> None:
    """Show the migration the database is at."""
    from tmf_oss.db.migrate import current

    current(_settings(ctx.find_root(), database_url=database_url).database_url)


if __name__ == "__main__":
    main()
