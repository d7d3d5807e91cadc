"""Where the embedded default meta-base lives, and how a user overrides it."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

ENV_VAR = "AUTOML_META_METABASE"
DEFAULT_NAME = "default.metabase"


def default_metabase_path() -> Path:
    """$AUTOML_META_METABASE if set, else the meta-base shipped in the package's metabase/."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return Path(str(files("automl_meta.default_metabase").joinpath(DEFAULT_NAME)))


ARTIFACTS = {"embedding": ".embedding.npz", "surrogate": ".surrogate.npz", "cost": ".cost.npz"}


def artifact_path(metabase_path: str | Path, kind: str) -> Path:
    """Where a model trained on a meta-base lives: beside it, named after it
    (default.metabase -> default.embedding.npz, default.surrogate.npz)."""
    path = Path(metabase_path)
    return path.with_name(path.stem + ARTIFACTS[kind])
