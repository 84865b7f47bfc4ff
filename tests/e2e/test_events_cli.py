"""`tmf-oss events ...`: the delivery state, the parked list and replays, from the command line."""
from __future__ import annotations

import json
from dataclasses import replace

from tests.api.helpers import V5, Listener
from tests.e2e.test_serve import tmf_oss
from tmf_oss.events.dispatcher import Dispatcher


def test_status_parked_and_replay_from_the_command_line(client, app, database_url):
    with Listener(status=500) as listener:
        hub = client.post(f"{V5}/hub", json={"@type": "Hub", "callback": listener.url}).json()
        client.post(f"{V5}/resource", json={"@type": "LogicalResource", "name": "cli"})
        settings = replace(app.platform.settings, delivery_max_attempts=1)
        dispatcher = Dispatcher(app.platform, settings=settings)
        dispatcher.run_once()

        status = tmf_oss("events", "status", "--json", "--database-url", database_url)
        assert status.returncode == 0, status.stderr
        [state] = json.loads(status.stdout)
        assert (state["id"], state["parked"], state["failedAttempts"], state["pending"]) == (hub["id"], 1, 1, 0)
        table = tmf_oss("events", "status", "--database-url", database_url).stdout
        assert hub["id"] in table and "HTTP 500" in table

        parked = json.loads(tmf_oss("events", "parked", "--database-url", database_url).stdout)
        assert [(p["subscription"], p["eventType"]) for p in parked] == [(hub["id"], "ResourceCreateEvent")]

        refused = tmf_oss("events", "replay", "--database-url", database_url)
        assert refused.returncode != 0 and "say which" in refused.stderr
        replay = tmf_oss("events", "replay", "--subscription", hub["id"], "--database-url", database_url)
        assert replay.returncode == 0 and "1 parked" in replay.stdout

        listener.status = 204
        dispatcher.run_once()
        dispatcher.close()
    assert [e["event"]["resource"]["name"] for e in listener.received] == ["cli"]
    replayed = json.loads(tmf_oss("events", "parked", "--state", "replayed", "--database-url", database_url).stdout)
    assert len(replayed) == 1 and replayed[0]["state"] == "replayed"


def test_an_invalid_setting_is_a_usage_error():
    result = tmf_oss("events", "status", env={"TMF_OSS_CALLBACK_STYLE": "sideways"})
    assert result.returncode == 2 and "callback_style" in result.stderr
