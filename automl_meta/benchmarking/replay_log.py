"""The offline benchmark's finished replays, appended to a CSV as each one ends, so that an
interrupted benchmark resumes where it stopped: the same command skips what is logged.

A log holds replays of one set of settings (those that change a replay's curve); resuming
with other settings is an error rather than a mix of two benchmarks.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from automl_meta.core.errors import InvalidParameterError

LOG_COLUMNS = ("fold", "task", "strategy", "seed", "trial", "normalized_regret", "seconds")
# What a replay's curve does not depend on: which of them run, and in how many processes.
NOT_IN_A_CURVE = ("strategies", "n_seeds", "n_jobs", "tasks")

Key = tuple[int, str, str, int]  # (fold, task, strategy, seed)


class ReplayLog:
    """Append-only log of finished replays: `replays.csv` and the settings it belongs to."""

    def __init__(self, folder: str | Path, settings) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "replays.csv"
        self.settings_path = self.folder / "replays.settings.json"
        self._settings = {k: v for k, v in asdict(settings).items() if k not in NOT_IN_A_CURVE}
        self._read: dict[Key, np.ndarray] | None = None  # the file, read once, kept by append

    def load(self) -> dict[Key, np.ndarray]:
        """The replays logged so far (key -> 2 x n_trials: regret, seconds); an
        InvalidParameterError when the log is of other settings."""
        if self._read is None:
            self._read = self._read_file()
        return dict(self._read)

    def _read_file(self) -> dict[Key, np.ndarray]:
        if not self.path.exists():
            return {}
        stored = json.loads(self.settings_path.read_text()) if self.settings_path.exists() else None
        if stored != json.loads(json.dumps(self._settings)):
            differ = sorted(k for k in self._settings
                            if stored is None or stored.get(k) != self._settings[k])
            raise InvalidParameterError(
                f"{self.path} holds replays of other settings ({', '.join(differ)} differ); "
                f"choose another --out, or delete it to start over.")
        rows = pd.read_csv(self.path, dtype={"task": str, "strategy": str})
        out: dict[Key, np.ndarray] = {}
        for (fold, task, strategy, seed), part in rows.groupby(
                ["fold", "task", "strategy", "seed"], sort=False):
            part = part.sort_values("trial")
            out[(int(fold), str(task), str(strategy), int(seed))] = np.vstack(
                [part["normalized_regret"].to_numpy(), part["seconds"].to_numpy()])
        return out

    def append(self, key: Key, curve: np.ndarray) -> None:
        """Log one finished replay (its rows written and flushed in one go)."""
        if not self.path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self.settings_path.write_text(json.dumps(self._settings, indent=1) + "\n")
            self.path.write_text(",".join(LOG_COLUMNS) + "\n")
        fold, task, strategy, seed = key
        frame = pd.DataFrame({"fold": fold, "task": task, "strategy": strategy, "seed": seed,
                              "trial": np.arange(1, curve.shape[1] + 1),
                              "normalized_regret": curve[0], "seconds": curve[1]})
        with self.path.open("a") as handle:
            frame.to_csv(handle, header=False, index=False)
        if self._read is not None:
            self._read[key] = curve
