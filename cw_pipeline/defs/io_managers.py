"""An IO manager that stores a DataFrame one window at a time.

A single-run backfill hands one output for many partitions; Dagster's default filesystem IO manager
cannot store that. This one splits the frame by its ``window_start`` column into one pickle per
window and, for a downstream asset, loads and concatenates exactly the windows it asks for, so a
window materialized by a scheduled run and its neighbour from a backfill load together.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext

from cw_pipeline.windows import Window


class WindowFrameIOManager(ConfigurableIOManager):
    base_dir: str

    def _path(self, asset_path: list[str], partition_key: str) -> Path:
        return Path(self.base_dir, *asset_path, partition_key.replace(":", "") + ".pkl")

    def handle_output(self, context: OutputContext, obj: pd.DataFrame) -> None:
        if not context.has_asset_partitions:
            raise TypeError(f"{context.asset_key.to_user_string()} must be partitioned by window")
        window_start = pd.to_datetime(obj["window_start"], utc=True)
        for key in context.asset_partition_keys:
            window = Window.from_partition_key(key)
            path = self._path(context.asset_key.path, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed, so a crash never leaves a half-written window behind.
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            obj[window_start == pd.Timestamp(window.start)].reset_index(drop=True).to_pickle(partial)
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
