"""Discovery over HTTP against the emulator subprocess, with no name list anywhere: ``CW_DISCOVERY=tags``
and ``CW_DISCOVERY=metrics`` find an estate the way they would find one on AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cw_local import estate
from cw_local.emulator import running_emulator
from cw_pipeline.catalog import Service
from cw_pipeline.config import Discovery, Settings
from cw_pipeline.discovery import discover


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(port=0) as running:
        yield running


@pytest.fixture(scope="module")
def fleet(emulator):
    """The estate's resources, tagged, and 10 minutes of their metrics, published now."""
    fleet = estate.Estate.of_size(120, 4, 3, prefix="disc")
    estate.create_tagged_resources(emulator, fleet, {"team": "orders"})  # the emulator's clients have its endpoint
    # A tagged function that is never invoked: tags find it, recent metrics cannot.
    estate.create_tagged_resources(emulator, estate.Estate((), ("disc-idle-fn",), ()), {"team": "orders"})
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    points = estate.generate(fleet, end - timedelta(minutes=10), end)
    estate.publish(points, emulator.client("cloudwatch"))
    return fleet, points


def test_tags_and_metrics_modes_find_the_estate_with_no_name_list(emulator, fleet):
    fleet, points = fleet
    invoked = {p.resource for p in points if p.service is Service.LAMBDA}  # quiet functions publish nothing
    assert invoked
    for mode, environment in (
        (Discovery.TAGS, {"CW_DISCOVERY": "tags", "CW_DISCOVERY_TAGS": "team=orders"}),
        (Discovery.METRICS, {"CW_DISCOVERY": "metrics"}),
    ):
        settings = Settings.from_env(environment)
        assert settings.resources == () and settings.discovery is mode
        found = discover(settings.discovery, emulator.client, tags=settings.discovery_tags, exclude=("disc-db-02",))
        names = {(r.service.value, r.name) for r in found.resources}
        expected = {("apigateway", n) for n in fleet.apis} | {("rds", n) for n in fleet.databases[:2]}
        # Tags find every tagged function; metrics only those that published a catalog metric recently.
        tagged = {*fleet.functions, "disc-idle-fn"}
        expected |= {("lambda", n) for n in (tagged if mode is Discovery.TAGS else invoked)}
        assert names == expected, mode
        assert [f"{r.service.value}:{r.name}" for r in found.excluded] == ["rds:disc-db-02"]
