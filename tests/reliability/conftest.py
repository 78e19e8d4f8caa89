"""The emulator (moto over HTTP, a subprocess) shared by the tests, reset before each test; the
pipeline's environment pointed at it; the fault-free outcome every case must converge to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_support import ALL, World, ids, point_at, sent

from cw_local.emulator import running_emulator

_BASELINE: dict = {}


@pytest.fixture(scope="session")
def emulator():
    with running_emulator(port=0) as running:
        yield running


@pytest.fixture
def world(emulator, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[World]:
    point_at(emulator, monkeypatch)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    world = World(emulator, tmp_path)
    world.reset()
    yield world


@pytest.fixture
def baseline(world: World) -> dict:
    """What a fault-free run over W1..W3 stores and sends: computed once, then the world is reset."""
    if not _BASELINE:
        result = world.run(ALL)
        assert result.success
        notifications = world.notifications()
        _BASELINE.update(items=world.items(), sent=sent(notifications), ids=sorted(ids(notifications)))
        world.reset()
    return _BASELINE
