"""The exported model as an object: a Pipeline of the step that prepares a raw table as the
loader did and a fitted model (or a soft-voting ensemble of such models), with predict's
metadata as a plain dict attribute. Only scikit-learn / numpy / pandas / stdlib objects, so
the pickle loads where automl_meta is not installed (output/model_file.py writes and reads it).
"""

from __future__ import annotations

import pickle

from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from automl_meta.core.data import Dataset, fingerprint
from automl_meta.core.preparation import preparation
from automl_meta.core.provenance import library_versions

METADATA_ATTR = "automl_meta_"
FORMAT_VERSION = 2  # 2: the pickle starts with the preparation step and takes raw tables
PREPARE_STEP = "prepare"


def model_metadata(dataset: Dataset, metric: str, config: dict, space_version: str) -> dict:
    """What predict needs besides the pipeline, and what made it, as plain data."""
    return {"format_version": FORMAT_VERSION, "target": dataset.target,
            "task_type": dataset.task_type, "classes": list(dataset.classes),
            "schema": dataset.schema.to_dict(), "metric": metric, "config": config,
            "space_version": space_version, "versions": library_versions([config["family"]]),
            "training_fingerprint": fingerprint(dataset)}


def exported_model(model, dataset: Dataset, metadata: dict) -> Pipeline:
    """The model fitted on `dataset`'s prepared features behind the step that prepares a raw
    table as the loader did, with predict's metadata: the object the pickle holds."""
    categories = {column: dataset.X[column] for column in dataset.schema.categorical}
    exported = Pipeline([(PREPARE_STEP, preparation(dataset.schema, categories)), ("model", model)])
    setattr(exported, METADATA_ATTR, metadata)
    return exported


def feature_model(model):
    """The part of an exported model that takes prepared features (prepare_features's frame):
    all of it but the preparation step; the whole of a model file of format 1."""
    if isinstance(model, Pipeline) and model.steps[0][0] == PREPARE_STEP:
        return model.steps[-1][1]
    return model


def voting_model(members: list[tuple[str, bytes]], weights: list[int], task_type: str, X, y):
    """Soft-voting ensemble of already fitted, pickled (exported) pipelines, weighted by pick
    counts; it takes prepared features.

    Members are wrapped in scikit-learn's FrozenEstimator, so fitting the voting model
    only records the classes: nothing is fitted twice.
    """
    estimators = [(name, FrozenEstimator(feature_model(pickle.loads(blob)))) for name, blob in members]
    if task_type == "regression":
        model = VotingRegressor(estimators, weights=list(weights))
    else:
        model = VotingClassifier(estimators, voting="soft", weights=list(weights))
    return model.fit(X, y)
