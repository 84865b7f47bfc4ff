"""The `tmf-oss` command: serve the APIs, run background work, manage the database."""
from __future__ import annotations

import json
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
    try:
        settings = Settings.from_env(database_url=database_url, log_level=log_level)
    except ValueError as exc:
        raise click.UsageError(f"invalid setting: {exc}") from None
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
    """Run the background work without serving HTTP: event delivery; service order delivery
    (TMF_OSS_RUN_ORCHESTRATOR); performance measurement collection (TMF_OSS_RUN_COLLECTOR); rediscovery of
    the devices file (TMF_OSS_DEVICES_FILE); fault receivers (TMF_OSS_RUN_RECEIVERS). Several may run on PostgreSQL."""
    settings = _settings(ctx, database_url=database_url)
    from tmf_oss.events.loop import start_dispatch_loop
    from tmf_oss.platform import Platform

    from tmf_oss.catalog.seed import ensure_catalog

    from tmf_oss.performance.seed import ensure_indicators

    platform = Platform(settings)
    ensure_catalog(platform)
    ensure_indicators(platform)
    loop = start_dispatch_loop(platform)
    receivers = schedule = None
    if settings.run_receivers:
        from tmf_oss.alarms.rules import RuleError
        from tmf_oss.southbound.devices import DeviceFileError
        from tmf_oss.southbound.receivers import FaultReceivers

        try:
            receivers = FaultReceivers(platform, settings).start()
        except (DeviceFileError, RuleError) as exc:
            loop.close()
            platform.close()
            raise click.UsageError(str(exc)) from None
    orchestrator = None
    if settings.run_orchestrator:
        from tmf_oss.ordering.orchestrator import start_orchestrator

        orchestrator = start_orchestrator(platform, settings)
    collection = []
    if settings.run_collector:
        from tmf_oss.performance.collector import start_collector

        collection = start_collector(platform, settings, alarms=receivers is None)
    if settings.devices_file:
        from tmf_oss.inventory.discovery_schedule import DiscoverySchedule

        base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
        schedule = DiscoverySchedule(platform, settings.devices_file, base_url=base_url).start()
    click.echo(f"tmf-oss worker {loop.owner} delivering events"
               f"{', receiving faults' if receivers else ''}"
               f"{', delivering service orders' if orchestrator else ''}"
               f"{', collecting performance measurements' if collection else ''}"
               f"{', rediscovering ' + settings.devices_file if schedule else ''}; Ctrl-C to stop")
    _wait_for_signal()
    loop.close()
    for service in (receivers, schedule, orchestrator, *collection):
        if service is not None:
            service.close()
    platform.close()


def _wait_for_signal() -> None:
    finished = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: finished.set())
    finished.wait()


@main.command()
@click.option("--devices", "device_count", type=int, default=6, show_default=True, help="Simulated devices")
@click.option("--interfaces", type=int, default=8, show_default=True, help="Interfaces per simulated device")
@click.option("--port", type=int, default=None, help="Port to serve on [TMF_OSS_PORT, default 8080]")
@click.option("--database-url", default=None, help=URL_HELP)
@click.pass_context
def demo(ctx, device_count, interfaces, port, database_url) -> None:
    """Try tmf-oss without devices: simulate a small network, discover it, and serve the inventory.

    The simulated routers are snmpsim agents on 127.0.2.1, 127.0.2.2, ... (pip install 'tmf-oss[demo]').
    """
    from tmf_oss.db.migrate import upgrade
    from tmf_oss.inventory.discovery import discover_and_sync
    from tmf_oss.platform import Platform
    from tmf_oss.server import run
    from tmf_oss.southbound.devices import parse_devices
    from tmf_oss.southbound.simulation import SimulatedNetwork

    settings = _settings(ctx, database_url=database_url, port=port)
    upgrade(settings.database_url)
    try:
        network = SimulatedNetwork(device_count, interfaces).start()
    except (RuntimeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    try:
        click.echo(f"simulated {device_count} routers at {network.addresses()[0]} .. {network.addresses()[-1]}; "
                   f"discovering them")
        platform = Platform(settings)
        base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
        outcomes = discover_and_sync(platform, parse_devices(network.devices_document()), base_url=base_url)
        platform.close()
        for outcome in outcomes:
            if outcome.error:
                click.echo(f"could not discover {outcome.address}: {outcome.error}", err=True)
        resources = sum(len(o.report.created) for o in outcomes if o.report)
        click.echo(f"{resources} resources in the inventory. Try:\n"
                   f"  {base_url}/tmf-api/resourceInventoryManagement/v5/resource?@type=PhysicalResource\n"
                   f"  {base_url}/tmf-api/resourceInventoryManagement/v5/resource?category=interface"
                   f"&operationalState=enabled\n"
                   f"  {base_url}/tmf-api/resourceInventoryManagement/v5/ui/")
        run(settings)
    finally:
        network.stop()


@main.command()
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--host", default=None, help="Address to listen on [TMF_OSS_RECEIVER_HOST, default 127.0.0.1]")
@click.option("--trap-port", type=int, default=None, help="UDP port for SNMP traps, 0 = off [TMF_OSS_TRAP_PORT, 1162]")
@click.option("--syslog-port", type=int, default=None, help="UDP port for syslog, 0 = off [TMF_OSS_SYSLOG_PORT, 1514]")
@click.option("--processes", type=int, default=1, show_default=True,
              help="Receiving processes sharing the ports (SO_REUSEPORT): decoding takes a core each")
@click.option("--devices", "devices_file", default=None,
              help="YAML file of managed devices: SNMPv3 trap credentials, NETCONF subscriptions "
                   "[TMF_OSS_DEVICES_FILE]")
@click.pass_context
def receive(ctx, database_url, host, trap_port, syslog_port, processes, devices_file) -> None:
    """Receive SNMP traps (v1, v2c, v3) and syslog messages, and subscribe to the NETCONF notifications of the
    devices file's devices; keep them all as fault records (`tmf-oss faults` lists them) and turn them into TMF642
    alarms (deduplicated, correlated; rules: TMF_OSS_ALARM_RULES_FILE)."""
    import multiprocessing

    from tmf_oss.alarms.rules import RuleError
    from tmf_oss.platform import Platform
    from tmf_oss.southbound.devices import DeviceFileError
    from tmf_oss.southbound.receivers import FaultReceivers, receive_in_process

    settings = _settings(ctx, database_url=database_url, receiver_host=host, trap_port=trap_port,
                         syslog_port=syslog_port, devices_file=devices_file)
    platform = Platform(settings)
    try:
        receivers = FaultReceivers(platform, settings).start(shared=processes > 1)
    except (DeviceFileError, RuleError) as exc:
        platform.close()
        raise click.UsageError(str(exc)) from None
    helpers = [multiprocessing.get_context("spawn").Process(target=receive_in_process, args=(settings,),
                                                            name=f"tmf-oss-receive-{n}", daemon=True)
               for n in range(1, processes)]
    for helper in helpers:
        helper.start()
    subscriptions = len(receivers.netconf.devices)
    click.echo(f"receiving SNMP traps on {settings.receiver_host}:{receivers.traps.port or 'off'} and syslog on "
               f"{settings.receiver_host}:{receivers.syslog.port or 'off'} in {processes} process(es)"
               f"{f', NETCONF notifications from {subscriptions} device(s)' if subscriptions else ''}; "
               f"Ctrl-C to stop")
    _wait_for_signal()
    for helper in helpers:
        helper.terminate()
    receivers.close()
    for helper in helpers:
        helper.join(timeout=15)
    platform.close()


@main.command()
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--device", default=None, help="Only faults from this device address")
@click.option("--kind", default=None, help="Only this kind (linkDown, coldStart, a syslog MSGID...)")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@click.pass_context
def faults(ctx, database_url, device, kind, limit, as_json) -> None:
    """The most recent fault records received from devices, newest first."""
    from tmf_oss.db.engine import Database
    from tmf_oss.southbound.admin_api import fault_document
    from tmf_oss.southbound.fault_store import FaultStore

    found = FaultStore(Database(_settings(ctx, database_url=database_url).database_url)).recent(
        limit=limit, device_address=device, kind=kind)
    if as_json:
        click.echo(json.dumps([fault_document(fault) for fault in found], indent=2))
        return
    for fault in found:
        click.echo(f"{fault.received_at:%Y-%m-%d %H:%M:%S}  {fault.source:10} {fault.device_address:15} "
                   f"{fault.severity:13} {fault.text}")


@main.command()
@click.option("--devices", "devices_file", default=None, help="YAML file of managed devices [TMF_OSS_DEVICES_FILE]")
@click.option("--address", "addresses", multiple=True, help="Only this device of the file (repeatable)")
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON")
@click.pass_context
def discover(ctx, devices_file, addresses, database_url, as_json) -> None:
    """Discover devices and reconcile them into the TMF639 inventory (devices, interfaces, containment)."""
    from dataclasses import asdict

    from tmf_oss.inventory.discovery import discover_and_sync
    from tmf_oss.platform import Platform
    from tmf_oss.southbound.devices import DeviceFileError, load_devices

    settings = _settings(ctx, database_url=database_url)
    path = devices_file or settings.devices_file
    if not path:
        raise click.UsageError("say which devices: --devices FILE or TMF_OSS_DEVICES_FILE")
    try:
        devices = load_devices(path)
    except DeviceFileError as exc:
        raise click.UsageError(str(exc)) from None
    if addresses:
        unknown = set(addresses) - {d.target.address for d in devices}
        if unknown:
            raise click.UsageError(f"not in {path}: {', '.join(sorted(unknown))}")
        devices = [d for d in devices if d.target.address in addresses]
    platform = Platform(settings)
    base_url = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    try:
        outcomes = discover_and_sync(platform, devices, base_url=base_url)
    finally:
        platform.close()
    if as_json:
        click.echo(json.dumps([asdict(outcome) for outcome in outcomes], indent=2))
    else:
        for outcome in outcomes:
            if outcome.error:
                click.echo(f"{outcome.address}: FAILED: {outcome.error}")
            else:
                r = outcome.report
                click.echo(f"{outcome.address}: device {r.device_id}: {len(r.created)} created, {len(r.updated)} "
                           f"updated, {len(r.missing)} missing, {r.unchanged} unchanged")
    if any(outcome.error for outcome in outcomes):
        ctx.exit(1)


@main.group()
def events() -> None:
    """Event delivery: its state per hub subscription, the parked (dead-letter) list, replays."""


def _database(ctx: click.Context, database_url: str | None):
    from tmf_oss.db.engine import Database

    return Database(_settings(ctx.find_root(), database_url=database_url).database_url)


@events.command("status")
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--subscription", default=None, help="Only this hub subscription id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table")
@click.pass_context
def events_status(ctx, database_url, subscription, as_json) -> None:
    """Per subscription: pending, delivered, failed attempts, parked, age of the oldest pending event."""
    from tmf_oss.events.status import delivery_state

    states = delivery_state(_database(ctx, database_url), subscription)
    if as_json:
        click.echo(json.dumps([state.as_dict() for state in states], indent=2))
        return
    click.echo(f"{'subscription':36}  {'api':7} {'ver':3} {'pending':>8} {'oldest s':>9} {'delivered':>10} "
               f"{'failed':>7} {'parked':>7}  last error")
    for s in states:
        age = "-" if s.oldest_pending_age_seconds is None else f"{s.oldest_pending_age_seconds:.1f}"
        click.echo(f"{s.id:36}  {s.api:7} {s.version:3} {s.pending:>8} {age:>9} {s.delivered:>10} "
                   f"{s.failed_attempts:>7} {s.parked:>7}  {s.last_error or ''}")


@events.command("parked")
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--subscription", default=None, help="Only this hub subscription id")
@click.option("--state", type=click.Choice(["parked", "replay", "replayed", "all"]), default="parked",
              show_default=True)
@click.pass_context
def events_parked(ctx, database_url, subscription, state) -> None:
    """List parked deliveries (events a callback did not accept within the retry policy), as JSON."""
    from tmf_oss.events.status import parked_deliveries

    rows = parked_deliveries(_database(ctx, database_url), subscription_id=subscription,
                             state=None if state == "all" else state)
    click.echo(json.dumps(rows, indent=2))


@events.command("replay")
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--subscription", default=None, help="Replay this subscription's parked events")
@click.option("--event", "event_ids", multiple=True, help="Replay this event id (repeatable)")
@click.option("--all", "everything", is_flag=True, help="Replay every parked event")
@click.pass_context
def events_replay(ctx, database_url, subscription, event_ids, everything) -> None:
    """Ask the dispatcher to try parked deliveries again (each once, before the subscription's newer events)."""
    from tmf_oss.events.status import request_replay
    from tmf_oss.tmf.errors import TmfError

    try:
        marked = request_replay(_database(ctx, database_url), subscription_id=subscription,
                                event_ids=list(event_ids) or None, everything=everything)
    except TmfError as exc:
        raise click.UsageError(exc.message) from None
    click.echo(f"{marked} parked deliveries queued for replay")


@events.command("prune")
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--older-than", type=float, default=None,
              help="Seconds; default: the retention setting [TMF_OSS_OUTBOX_RETENTION_SECONDS]")
@click.pass_context
def events_prune(ctx, database_url, older_than) -> None:
    """Remove delivered events older than the retention (workers also do this every few minutes)."""
    from datetime import timedelta

    from tmf_oss.events.status import prune_outbox

    settings = _settings(ctx.find_root(), database_url=database_url)
    seconds = settings.outbox_retention_seconds if older_than is None else older_than
    click.echo(f"{prune_outbox(_database(ctx, database_url), timedelta(seconds=seconds))} events removed")


@main.group()
def catalog() -> None:
    """The TMF633 service catalog: the service specifications orders may use."""


@catalog.command("load")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--database-url", default=None, help=URL_HELP)
@click.option("--base-url", default=None,
              help="scheme://host[:port] for the hrefs in the catalog's events [TMF_OSS_PUBLIC_BASE_URL]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a summary")
@click.pass_context
def catalog_load(ctx, file, database_url, base_url, as_json) -> None:
    """Load FILE into the catalog; without FILE, the shipped catalog and TMF_OSS_SERVICE_CATALOG_FILE. Creates
    what is missing, rewrites entries whose file content changed, removes nothing. README describes the format."""
    from tmf_oss.catalog.orderable import CatalogError
    from tmf_oss.catalog.seed import load_catalog
    from tmf_oss.platform import Platform

    settings = _settings(ctx.find_root(), database_url=database_url)
    base_url = base_url or settings.public_base_url or f"http://{settings.host}:{settings.port}"
    platform = Platform(settings)
    try:
        report = load_catalog(platform, file, base_url=base_url)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        platform.close()
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else str(report))


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
