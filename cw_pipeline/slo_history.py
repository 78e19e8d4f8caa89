"""The SLO history: the attributes the SLOs read, per resource and window, six hours of windows to an item.

Why it exists: a burn rate looks back as far as its longest window (the ticket's 3 days: 864 windows). Read as
aggregates, every scheduled run would fetch 864 items per resource, each holding every attribute of its
service: 907,000 items for a 1,000-function estate once three days are stored, more Python objects than the
aggregator Lambda has memory for, and ~170 read units per resource every 5 minutes. So whenever aggregates
are written, the values the SLOs read (`slos.attributes_read`) are also written here, 72 windows of one
resource to an item. The SLO step then reads 13 items per resource with BatchGetItem (100 keys a call), and
the daily report 121 per resource for its 30 days.

The item (README, "Data contract"): ``pk = "slo_history#{service}#{resource}"``, ``sk`` = the block's start
(00:00, 06:00, 12:00 or 18:00 UTC, `naming.WINDOW_SK_FORMAT`), ``kind = "slo_history"``, ``service``,
``resource``, ``block_start``, ``block_end``, ``run_id`` (the run that last wrote it), ``expires_at`` (like an
aggregate's, from the block's last window) and, per attribute read, a JSON array of 72 numbers, one per window
in order, ``null`` where the aggregate has no value or there is no aggregate. A JSON string rather than a
DynamoDB list: a list of 72 numbers is 72 typed values that boto3 converts one at a time (seconds per run on an
estate); a string is one value, parsed in C. Numbers are written as `json` writes a float (its shortest repr),
so they read back exactly equal to the aggregate's value.

The block is rewritten whole: the aggregates step reads the blocks its windows fall in, sets those windows
and writes them back, under the run lease (one run at a time per table), so no write is lost. A block
written before an SLO attribute existed reads that attribute as absent until a backfill rewrites it.

Pure functions; `defs.metric_store.MetricStore` does the reading and writing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from cw_pipeline import naming
from cw_pipeline.aggregation import KEY_COLUMNS, expires_at
from cw_pipeline.catalog import Service
from cw_pipeline.config import MonitoredResource
from cw_pipeline.slos import attributes_read
from cw_pipeline.windows import WINDOW, WINDOW_SECONDS, Window, as_utc

BLOCK = timedelta(hours=6)
BLOCK_WINDOWS = BLOCK // WINDOW  # 72
KIND = "slo_history"
_BLOCK_SECONDS = int(BLOCK.total_seconds())
_NO_VALUES = "[" + ",".join(["null"] * BLOCK_WINDOWS) + "]"  # every window absent


def block_start(moment: datetime) -> datetime:
    """The start of the six-hour block holding ``moment``."""
    epoch = int(as_utc(moment).timestamp())
    return datetime.fromtimestamp(epoch - epoch % _BLOCK_SECONDS, tz=UTC)


def block_starts(first: datetime, last: datetime) -> list[datetime]:
    """The starts of the blocks holding the windows that start in ``[first, last]``, oldest first."""
    start, last = block_start(first), as_utc(last)
    starts = []
    while start <= last:
        starts.append(start)
        start += BLOCK
    return starts


def block_keys(resources: Iterable[MonitoredResource], first: datetime, last: datetime) -> list[tuple[str, str]]:
    """The ``(pk, sk)`` of every block of ``resources`` holding windows that start in ``[first, last]``;
    resources whose service no SLO reads have none."""
    sort_keys = [naming.window_sk(start) for start in block_starts(first, last)]
    return [
        (naming.slo_history_pk(resource.service.value, resource.name), sk)
        for resource in resources
        if attributes_read(resource.service)
        for sk in sort_keys
    ]


def _recorded(aggregates: pd.DataFrame) -> pd.DataFrame:
    """The aggregate rows some SLO reads, with their block's start and the window's place in it."""
    services = [service.value for service in Service if attributes_read(service)]
    rows = aggregates[aggregates["service"].isin(services)]
    starts = pd.to_datetime(rows["window_start"], utc=True)
    blocks = starts.dt.floor(BLOCK)
    return rows.assign(_block=blocks, _position=((starts - blocks) // WINDOW).astype(int))


def keys_for(aggregates: pd.DataFrame) -> list[tuple[str, str]]:
    """The ``(pk, sk)`` of the blocks the windows of ``aggregates`` fall in (what `updated_blocks` rewrites)."""
    rows = _recorded(aggregates)
    unique = rows[["service", "resource", "_block"]].drop_duplicates()
    return [
        (naming.slo_history_pk(service, resource), naming.window_sk(block.to_pydatetime()))
        for service, resource, block in unique.itertuples(index=False)
    ]


def updated_blocks(
    aggregates: pd.DataFrame, stored: Mapping[tuple[str, str], Mapping], run_id: str, retention_days: int
) -> list[dict]:
    """The blocks holding the windows of ``aggregates``, each the one ``stored`` (``(pk, sk)`` -> item, as read
    back) with those windows set to the aggregates' values and ``run_id`` as the run that last wrote it; a block
    not stored starts with every window absent."""
    rows = _recorded(aggregates)
    blocks = []
    for (service, resource, start), part in rows.groupby(["service", "resource", "_block"], sort=True):
        start = start.to_pydatetime()
        pk, sk = naming.slo_history_pk(service, resource), naming.window_sk(start)
        existing = stored.get((pk, sk), {})
        positions = part["_position"].tolist()
        item = {
            "pk": pk,
            "sk": sk,
            "kind": KIND,
            "service": service,
            "resource": resource,
            "block_start": sk,
            "block_end": naming.window_sk(start + BLOCK),
            "run_id": run_id,
            "expires_at": expires_at(Window(start + BLOCK - WINDOW), retention_days),
        }
        for attribute in attributes_read(Service(service)):
            values = _window_values(existing, attribute)
            column = part[attribute].tolist() if attribute in part else [math.nan] * len(positions)
            for position, value in zip(positions, column, strict=True):
                values[position] = _number(value, attribute, pk, sk)
            item[attribute] = json.dumps(values, separators=(",", ":"))
        blocks.append(item)
    return blocks


def _window_values(block: Mapping, attribute: str) -> list:
    """The block's values of ``attribute``, one per window; every window absent when the block (or the attribute,
    added to an SLO since) is not stored. A value that is not an array of 72 is refused, naming the block."""
    text = block.get(attribute)
    if text is None:
        return [None] * BLOCK_WINDOWS
    values = json.loads(text) if isinstance(text, str) else None
    if not isinstance(values, list) or len(values) != BLOCK_WINDOWS:
        raise ValueError(
            f"SLO history block {block.get('pk')}/{block.get('sk')}: attribute {attribute!r} is {str(text)[:60]!r}; "
            f"expected a JSON array of {BLOCK_WINDOWS} numbers or nulls (one per window of its six hours). Delete "
            "the item and backfill its windows to write it again"
        )
    return values


def _number(value, attribute: str, pk: str, sk: str) -> float | int | None:
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        raise ValueError(f"attribute {attribute!r} of SLO history block {pk}/{sk} is {value}; expected a finite number")
    return int(value) if float(value).is_integer() else float(value)


def history(blocks: Iterable[Mapping], first: datetime, last: datetime) -> pd.DataFrame:
    """The windows starting in ``[first, last]`` that ``blocks`` hold a value for, as the frame
    `aggregation.aggregates_from_items` returns with only the attributes the SLOs read (an aggregate the
    blocks hold, they hold with every such attribute it has, counts included)."""
    # Blocks in (service, resource, start) order make rows in (service, resource, window) order: the frame comes
    # out sorted without sorting 907,000 rows on string keys (an estate's 3 days).
    by_service: dict[str, list[Mapping]] = {}
    for block in sorted(blocks, key=lambda b: (b["service"], b["resource"], b["block_start"])):
        by_service.setdefault(block["service"], []).append(block)
    first, last = np.datetime64(as_utc(first).replace(tzinfo=None)), np.datetime64(as_utc(last).replace(tzinfo=None))
    frames = [_service_history(service, of_service, first, last) for service, of_service in by_service.items()]
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _service_history(
    service: str, blocks: Sequence[Mapping], first: np.datetime64, last: np.datetime64
) -> pd.DataFrame:
    attributes = attributes_read(Service(service))
    values = {attribute: _window_array(blocks, attribute) for attribute in attributes}
    # Naive UTC datetime64 throughout: numpy compares and offsets them directly.
    starts = pd.to_datetime([block["block_start"] for block in blocks], format=naming.WINDOW_SK_FORMAT).to_numpy()
    window_starts = starts[:, None] + (np.arange(BLOCK_WINDOWS) * WINDOW_SECONDS).astype("timedelta64[s]")[None, :]
    stacked = np.stack(list(values.values()))
    keep = (window_starts >= first) & (window_starts <= last)
    keep &= ~np.isnan(stacked).all(axis=0)
    resources = np.array([block["resource"] for block in blocks], dtype=object)
    return pd.DataFrame(
        {
            "service": service,
            "resource": np.repeat(resources, BLOCK_WINDOWS).reshape(len(blocks), BLOCK_WINDOWS)[keep],
            "window_start": pd.to_datetime(window_starts[keep], utc=True),
            **{attribute: column[keep] for attribute, column in values.items()},
        }
    )


def _window_array(blocks: Sequence[Mapping], attribute: str) -> np.ndarray:
    """An (items, 72) array of ``attribute`` over ``blocks``, NaN where absent: one json.loads for every block at
    once when they are all well formed (the estate's 13,650), one block at a time to name one that is not."""
    texts = [block.get(attribute, _NO_VALUES) for block in blocks]
    try:
        array = np.array(json.loads("[" + ",".join(texts) + "]"), dtype=float)
        if array.shape == (len(blocks), BLOCK_WINDOWS):
            return array
    except (TypeError, ValueError):
        pass
    return np.array([_window_values(block, attribute) for block in blocks], dtype=float)
