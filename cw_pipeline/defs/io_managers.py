"""How the assets' frames travel from one step to the next: per window on disk, or in memory for one run.

A single-run backfill hands one output for many partitions; Dagster's default filesystem IO manager
cannot store that.

- `WindowFrameIOManager` (the Dagster UI and daemon, whose steps may run in separate processes) splits the
  frame by its ``window_start`` column, grouped once, into one pickle per window and, for a downstream
  asset, loads and concatenates exactly the windows it asks for, so a window materialized by a scheduled
  run and its neighbour from a backfill load together.
- `RunFramesIOManager` (the Lambda handler, which runs every step of a run in its own process) keeps each
  output in memory for the run and hands it to the next step as it is: no pickling, no files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import PrivateAttr

from cw_pipeline.windows import Window


def _require_windows(context: OutputContext) -> None:
    if not context.has_asset_partitions:
        raise TypeError(f"{context.asset_key.to_user_string()} must be partitioned by window")


class WindowFrameIOManager(ConfigurableIOManager):
    base_dir: str

    def _path(self, asset_path: list[str], partition_key: str) -> Path:
        return Path(self.base_dir, *asset_path, partition_key.replace(":", "") + ".pkl")

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        _require_windows(context)
        by_window = (
            {pd.Timestamp(start): part for start, part in obj.groupby(pd.to_datetime(obj["window_start"], utc=True))}
            if len(obj)
            else {}
        )
        for key in context.asset_partition_keys:
            window = Window.from_partition_key(key)
            path = self._path(context.asset_key.path, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            frame = by_window.get(pd.Timestamp(window.start), obj.iloc[0:0])
            # Written aside and renamed, so a crash never leaves a half-written window behind.
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            frame.reset_index(drop=True).to_pickle(partial)
            partial.replace(path)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        frames = []
        for key in context.asset_partition_keys:
            path = self._path(context.asset_key.path, key)
            if not path.exists():
                raise FileNotFoundError(
                    f"window {key} of {context.asset_key.to_user_string()} has not been materialized on this "
                    f"machine ({path} is missing): materialize it, or run the whole job for that window"
                )
            frames.append(pd.read_pickle(path))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


class RunFramesIOManager(ConfigurableIOManager):
    """Each asset's frame for the windows of one in-process run, kept in memory until the run ends."""

    _frames: dict = PrivateAttr(default_factory=dict)  # asset key -> (partition keys, frame)

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        _require_windows(context)
        self._frames[context.asset_key] = (set(context.asset_partition_keys), obj)

    def load_input(self, context: InputContext) -> pd.DataFrame:
        stored = self._frames.get(context.asset_key)
        wanted = set(context.asset_partition_keys)
        if stored is None or not wanted <= stored[0]:
            raise LookupError(
                f"{context.asset_key.to_user_string()} for windows {', '.join(sorted(wanted))} was not materialized "
                "earlier in this run: frames are kept in memory for one in-process run, so run the whole job"
            )
        keys, frame = stored
        if wanted == keys:
            return frame
        starts = [pd.Timestamp(Window.from_partition_key(key).start) for key in wanted]
        return frame[pd.to_datetime(frame["window_start"], utc=True).isin(starts)].reset_index(drop=True)
