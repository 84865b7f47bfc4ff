"""Loading catalog files (catalog/seed.py), on SQLite and PostgreSQL."""
from __future__ import annotations

import threading

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from tmf_oss.catalog.orderable import CatalogError
from tmf_oss.catalog.seed import DEFAULT_CATALOG, ensure_catalog, load_catalog
from tmf_oss.events.model import OutboxEvent
from tmf_oss.platform import Platform

BASE = "/tmf-api/serviceCatalogManagement/v4"
SHIPPED_IDS = sorted(entry["id"] for entry in yaml.safe_load(DEFAULT_CATALOG.read_text())["serviceSpecification"])
EXTRA = {"id": "dark-fibre", "name": "dark-fibre", "lifecycleStatus": "Active", "version": "1",
         "specCharacteristic": [{"name": "length", "valueType": "number", "minCardinality": 1}]}


def write(path, *entries) -> str:
    path.write_text(yaml.safe_dump({"serviceSpecification": list(entries)}))
    return str(path)


def change_events(app) -> list[tuple[str, str]]:
    with app.platform.db.reading() as session:
        return [(row.event_type, row.entity_id) for row in session.execute(
            select(OutboxEvent).where(OutboxEvent.api == "tmf633").order_by(OutboxEvent.seq)).scalars()]


def test_shipped_catalog_loads_once(client, app):
    report = load_catalog(app.platform, base_url="http://oss.example")
    assert sorted(report.created) == SHIPPED_IDS and not report.updated
    again = load_catalog(app.platform, base_url="http://oss.example")
    assert sorted(again.unchanged) == SHIPPED_IDS and not again.created and not again.updated
    listed = client.get(f"{BASE}/serviceSpecification?lifecycleStatus=Active&fields=name").json()
    assert sorted(item["id"] for item in listed) == SHIPPED_IDS
    assert [kind for kind, _ in change_events(app)] == ["ServiceSpecificationCreateEvent"] * len(SHIPPED_IDS)
    vlan = client.get(f"{BASE}/serviceSpecification/vlan-service").json()
    assert vlan["href"] == f"http://testserver{BASE}/serviceSpecification/vlan-service"
    assert vlan["specCharacteristic"][0]["name"] == "vlanId" and vlan["lastUpdate"]


def test_user_file_adds_and_overrides_and_client_edits_survive(client, app, tmp_path):
    platform = app.platform
    load_catalog(platform, base_url="http://oss.example")
    # A client edits a shipped entry: reloading the unchanged file leaves the edit alone.
    client.patch(f"{BASE}/serviceSpecification/internet-access", json={"description": "edited by a client"})
    assert not load_catalog(platform, base_url="http://oss.example").updated
    assert client.get(f"{BASE}/serviceSpecification/internet-access").json()["description"] == "edited by a client"

    # A client-created entry that no file lists is never removed.
    client.post(f"{BASE}/serviceSpecification", json={"id": "mine", "name": "mine"})
    override = yaml.safe_load(DEFAULT_CATALOG.read_text())["serviceSpecification"][0]
    override["description"] = "our own VLAN"
    user_file = write(tmp_path / "catalog.yaml", override, EXTRA)
    settings = platform.settings.with_overrides(service_catalog_file=user_file)
    with_file = Platform(settings)
    try:
        report = load_catalog(with_file, base_url="http://oss.example")
    finally:
        with_file.close()
    assert report.created == ["dark-fibre"] and report.updated == ["vlan-service"]
    assert report.files == [str(DEFAULT_CATALOG), user_file]
    assert client.get(f"{BASE}/serviceSpecification/vlan-service").json()["description"] == "our own VLAN"
    assert client.get(f"{BASE}/serviceSpecification/mine").status_code == 200
    assert ("ServiceSpecificationChangeEvent", "vlan-service") in change_events(app)


@pytest.mark.parametrize("entry, words", [
    ({"name": "no-id"}, "entry #2: needs an 'id'"),
    ({"id": "x", "name": "x", "isBundle": "often"}, "entry 'x': the result would be invalid at 'isBundle'"),
    ({"id": "x", "name": "x", "@type": "Odd"}, "entry 'x': @type 'Odd' is not a standard ServiceSpecification"),
    ({"id": "x", "name": "x", "endpoints": {"minimum": 1},
      "activation": {"netconf": {"apply": "<a>{{ nope }}</a>", "remove": "<a/>", "read": "<a/>"}}},
     "entry 'x': service specification 'x', activation.netconf.apply: unknown variable 'nope'"),
])
def test_a_bad_entry_loads_nothing(app, tmp_path, entry, words):
    path = write(tmp_path / "bad.yaml", EXTRA, entry)
    with pytest.raises(CatalogError) as caught:
        load_catalog(app.platform, path, base_url="http://oss.example")
    assert f"catalog file {path}, {words}" in str(caught.value)
    assert not change_events(app)  # nothing half-loaded: dark-fibre, the good entry, is not there either


def test_unreadable_files(app, tmp_path):
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog(app.platform, tmp_path / "absent.yaml", base_url="http://x")
    (tmp_path / "list.yaml").write_text("- id: a\n")
    with pytest.raises(CatalogError, match="expected a mapping with a 'serviceSpecification' list"):
        load_catalog(app.platform, tmp_path / "list.yaml", base_url="http://x")
    (tmp_path / "twice.yaml").write_text(yaml.safe_dump({"serviceSpecification": [EXTRA, EXTRA]}))
    with pytest.raises(CatalogError, match="entry 'dark-fibre': the id appears twice"):
        load_catalog(app.platform, tmp_path / "twice.yaml", base_url="http://x")


def test_concurrent_loaders(app, settings):
    """Several processes start at once: each loads, none fails, every entry exists once with one create event."""
    platforms = [Platform(settings) for _ in range(3)]
    errors, reports = [], []
    start = threading.Barrier(len(platforms))

    def run(platform):
        try:
            start.wait()
            reports.append(load_catalog(platform, base_url="http://oss.example"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(platform,)) for platform in platforms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for platform in platforms:
        platform.close()
    assert not errors
    assert sorted(ident for report in reports for ident in report.created) == SHIPPED_IDS
    assert sorted(entity for _, entity in change_events(app)) == SHIPPED_IDS


def test_ensure_catalog_and_cli(app, settings, tmp_path):
    report = ensure_catalog(app.platform)
    assert sorted(report.created) == SHIPPED_IDS
    from tmf_oss.cli import main

    path = write(tmp_path / "more.yaml", EXTRA)
    result = CliRunner().invoke(main, ["--database-url", settings.database_url, "catalog", "load", path, "--json"])
    assert result.exit_code == 0, result.output
    assert '"created": [\n    "dark-fibre"\n  ]' in result.output
    bad = write(tmp_path / "bad.yaml", {"name": "no-id"})
    result = CliRunner().invoke(main, ["--database-url", settings.database_url, "catalog", "load", bad])
    assert result.exit_code == 1 and "needs an 'id'" in result.output
