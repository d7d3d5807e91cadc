"""Where the embedded default meta-base lives, and how a user overrides it."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "AUTOML_META_METABASE"
DEFAULT_NAME = "default.metabase"


def default_metabase_path() -> Path:
    """$AUTOML_META_METABASE if set, else the meta-base shipped in the package's metabase/."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    from importlib.resources import files

    return Path(str(files("automl_meta.default_metabase").joinpath(DEFAULT_NAME)))
