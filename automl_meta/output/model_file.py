"""The exported model file, its summary, and predicting with it.

The pickle is `Pipeline([("prepare", <the loader's preparation>), ("model", <the model>)])`,
the model a scikit-learn Pipeline or a soft-voting ensemble of them. It holds only
scikit-learn / numpy / pandas / stdlib objects, so it loads where automl_meta is not
installed, and it takes a raw table as `pandas.read_csv` gives it (core/pipeline.py). What
`automl predict` needs to prepare a new table the way `fit` did (the feature schema, the
target, the classes) rides along as a dict attribute `automl_meta_` of the pickle: plain
data, no class of ours.
"""

from __future__ import annotations

import io
import json
import pickle
import warnings
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from automl_meta import __version__
from automl_meta.core.data import (
    Dataset,
    FeatureSchema,
    file_kind,
    prepare_features,
    read_raw,
    rows_fingerprint,
)
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.core.metrics import all_scores
from automl_meta.core.pipeline import METADATA_ATTR, feature_model
from automl_meta.core.provenance import version_differences
from automl_meta.output.paths import check_output, write_atomic
from automl_meta.search.resume import (
    EarlierRun,
    earlier_run,
    oof_arrays,
    oofs_by_trial,
    resume_record,
    run_from_summary,
)
from automl_meta.trials.evaluate import Status


def summary_path(model_path: str | Path) -> Path:
    """Where the JSON summary of a model goes: beside it, the same name with .json."""
    return Path(model_path).with_suffix(".json")


def check_outputs(model_path: str | Path, data_path: str | Path) -> Path:
    """Fail early (before any search) when the model, or the summary or out-of-fold file
    beside it, would land on the input table or on each other, or cannot be written."""
    model = check_output(model_path, "output", {"the input table": data_path})
    summary = summary_path(model)
    if model.resolve() == summary.resolve():
        raise InvalidParameterError(
            f"The 'output' parameter '{model}' is where the JSON summary goes; give the model "
            f"another suffix, such as '{model.with_suffix('.pkl')}'.")
    check_output(summary, "output", {"the input table": data_path})
    check_output(oof_path(model), "output", {"the input table": data_path})
    return model


def write_json(path: str | Path, obj: dict) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_model(path: str | Path):
    """Load a model file written by `automl fit`; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise InvalidDataError(f"Model file not found: '{path}'.")
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head.startswith(b"\x80"):  # every pickle protocol automl fit writes starts so
        kind = file_kind(head) or ("empty" if not head else "a text file" if _is_text(head)
                                   else "not a pickle")
        raise InvalidDataError(f"'{path}' is {kind}, not a model file: a model is the pickle "
                               "(.pkl) that `automl fit` wrote.")
    try:
        with path.open("rb") as fh, warnings.catch_warnings():
            # one line of ours (model_warnings) instead of one of scikit-learn's per estimator
            warnings.simplefilter("ignore", InconsistentVersionWarning)
            model = pickle.load(fh)
    except Exception as exc:  # unpickling raises many types for a wrong file
        raise InvalidDataError(f"'{path}' is not a model file written by `automl fit`: {exc}") from exc
    if not isinstance(getattr(model, METADATA_ATTR, None), dict):
        raise InvalidDataError(f"'{path}' is not a model file written by `automl fit`.")
    return model


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_proba(model, proba: bool) -> None:
    """Probabilities exist for a classifier only: asking a regression model is an error."""
    meta = getattr(model, METADATA_ATTR)
    if proba and meta["task_type"] == "regression":
        raise InvalidParameterError(
            f"The 'proba' parameter needs a classification model; this model predicts "
            f"'{meta['target']}' by regression, which gives no probabilities. Leave it out.")


def model_warnings(model) -> list[str]:
    """One line when the model was made with other library versions than these."""
    differ = version_differences(getattr(model, METADATA_ATTR).get("versions", {}))
    if not differ:
        return []
    listed = ", ".join(f"{name} {made} (here {here})" for name, (made, here) in sorted(differ.items()))
    return [f"the model was made with {listed}: its predictions may differ from fit's"]


def prepare_table(model, raw: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """A cleaned raw table as the model's input, prepared as fit prepared its rows; and notes
    (columns ignored, cells read as missing). A column the model needs is an error."""
    meta = getattr(model, METADATA_ATTR)
    schema = FeatureSchema.from_dict(meta["schema"])
    missing = [c for c in schema.raw_columns if c not in raw.columns]
    if missing:
        raise InvalidDataError(
            f"The table lacks {len(missing)} column(s) the model was trained on: "
            + ", ".join(repr(c) for c in missing[:20]) + ".")
    known = set(schema.raw_columns) | set(schema.dropped) | {meta["target"]}
    extra = [c for c in raw.columns if c not in known]
    notes = [f"ignored {len(extra)} column(s) not seen in fit: "
                + ", ".join(repr(c) for c in extra[:20])] if extra else []
    X, prep_warnings = prepare_features(raw, schema)
    return X, notes + prep_warnings


def predict_table(model, path: str | Path, proba: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """Predict every row of a table with an exported model; return predictions and warnings."""
    meta = getattr(model, METADATA_ATTR)
    check_proba(model, proba)
    X, notes = prepare_table(model, read_raw(path))
    if not proba:
        out = pd.DataFrame({meta["target"]: feature_model(model).predict(X)})
    else:
        probabilities = feature_model(model).predict_proba(X)
        out = pd.DataFrame(probabilities, columns=[f"proba_{c}" for c in model.classes_])
        out.insert(0, meta["target"], np.asarray(model.classes_)[np.argmax(probabilities, axis=1)])
    return out, notes


def score_frame(model, raw: pd.DataFrame) -> tuple[dict[str, float], int, list[str]]:
    """Every metric of the model's task type on a labelled, cleaned table: the scores, the
    rows scored, and notes. Rows without a label, or of a class fit never saw, are left out."""
    meta = getattr(model, METADATA_ATTR)
    target, task_type = meta["target"], meta["task_type"]
    if target not in raw.columns:
        raise InvalidDataError(f"Scoring needs the target column '{target}' in the table.")
    X, notes = prepare_table(model, raw)
    if task_type == "regression":
        y = pd.to_numeric(raw[target], errors="coerce").to_numpy(dtype=float)
        keep = np.isfinite(y)
    else:
        classes = tuple(str(c) for c in model.classes_)
        y = raw[target].astype(str).to_numpy(dtype=object)
        keep = raw[target].notna().to_numpy() & np.isin(y, classes)
        unseen = int((raw[target].notna().to_numpy() & ~keep).sum())
        if unseen:
            notes.append(f"{unseen} row(s) of classes fit never saw are not scored")
    if not keep.any():
        raise InvalidDataError(f"No row of the table has a usable value of the target '{target}'.")
    if (~keep).sum() and task_type == "regression":
        notes.append(f"{int((~keep).sum())} row(s) without a numeric target are not scored")
    X, y = X[keep], y[keep]
    if meta.get("training_fingerprint") == rows_fingerprint(X, y):
        notes.append("these are the rows the model was trained on, so the scores are optimistic: "
                     "score a table it has not seen")
    features = feature_model(model)
    prediction = features.predict(X) if task_type == "regression" else features.predict_proba(X)
    return all_scores(task_type, y, prediction, tuple(str(c) for c in model.classes_)
                      if task_type != "regression" else ()), int(keep.sum()), notes


def fit_summary(result, dataset: Dataset, settings, run: EarlierRun | None = None) -> dict:
    """The JSON summary written beside the model: data, settings, best, leaderboard, where
    the warm start came from (the nearest tasks, what won there, the task's meta-features
    beside theirs), and what a later `--resume` needs (`run`, else made from `result`)."""
    run = run or earlier_run(result, dataset, settings)
    resumed = result.resumed
    return {
        "automl_meta_version": __version__, "sklearn_version": sklearn.__version__,
        "data": {"name": dataset.name, "rows": dataset.n_rows, "search_rows": result.n_search_rows,
                 "target": dataset.target, "task_type": dataset.task_type,
                 "classes": list(dataset.classes), "schema": dataset.schema.to_dict(),
                 "warnings": list(dataset.warnings), "weights": weights_record(dataset)},
        "settings": asdict(settings), "metric": result.metric,
        "best": result.best.to_dict(), "interrupted": result.interrupted,
        "refit": result.refit.to_dict() if result.refit else {},
        "ensemble": result.ensemble.to_dict() if result.ensemble else None,
        "validation": result.validation.to_dict() if result.validation else None,
        "seconds": round(result.seconds, 3),
        "strategy": result.strategy,
        "warm_start_tasks": [{**task, "distance": round(task["distance"], 6)}
                             for task in result.warm_start.tasks],
        "distinctive_metafeatures": list(result.warm_start.features),
        "metafeatures": dict(result.warm_start.metafeatures),
        "trials": {s: sum(t.status == s for t in result.trials) for s in Status},
        "leaderboard": [t.to_dict() for t in result.leaderboard()],
        "resume": resume_record(run),
        "resumed_from": None if resumed is None else {"source": resumed.source or None,
                                                      "trials": len(resumed.trials)},
    }


def weights_record(dataset: Dataset) -> dict | None:
    """model.json's record of the sample weights: the column they came from (None: the
    estimators' sample_weight), their sum and the rows weighted zero; None without weights."""
    w = dataset.sample_weight
    if w is None:
        return None
    return {"column": dataset.weight_column or None, "total": float(w.sum()),
            "zero_rows": int((w == 0).sum())}


SUMMARY_KEYS = ("data", "settings", "metric", "leaderboard")  # what a report cannot do without


def load_summary(path: str | Path) -> dict:
    """Read the JSON summary `automl fit` wrote; one clear error for a missing, unreadable
    or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidDataError(f"Summary file not found: '{path}'.")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidDataError(f"'{path}' is not a JSON summary written by `automl fit`: {exc}") from exc
    missing = [k for k in SUMMARY_KEYS if k not in summary] if isinstance(summary, dict) else SUMMARY_KEYS
    if missing:
        raise InvalidDataError(f"'{path}' is not a JSON summary written by `automl fit`: it lacks "
                               + ", ".join(repr(k) for k in missing) + ".")
    return summary


def oof_path(path: str | Path) -> Path:
    """Where the out-of-fold predictions a later `--resume` needs go: beside the model and
    its summary, the same name with .oof.npz."""
    return Path(path).with_suffix(".oof.npz")


def save_fit(result, dataset: Dataset, settings, output: str | Path) -> tuple[Path, Path]:
    """Write the model pickle, its JSON summary (same name, .json) and the out-of-fold
    predictions of the trials ensemble selection may pick (.oof.npz), each atomically, the
    summary last (it holds the predictions' digest); return the model's and summary's paths."""
    output = Path(output)
    summary = summary_path(output)
    run = earlier_run(result, dataset, settings)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **oof_arrays(run))
    write_atomic(oof_path(output), buffer.getvalue())
    write_atomic(output, result.model_bytes)
    write_json(summary, fit_summary(result, dataset, settings, run))
    return output, summary


def load_resume(path: str | Path) -> EarlierRun:
    """The run a model.json (or the model beside it) records, with the out-of-fold
    predictions saved beside it, for `fit(..., resume=...)`; a clear error for a file
    that records none."""
    path = Path(path)
    if path.suffix != ".json" and summary_path(path).is_file():
        path = summary_path(path)
    summary = load_summary(path)
    oofs: dict[int, np.ndarray] = {}
    try:
        with np.load(oof_path(path)) as saved:
            oofs = oofs_by_trial({name: saved[name] for name in saved.files})
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        pass  # run_from_summary tells the user their trials cannot join the ensemble
    return run_from_summary(summary, oofs, str(path))
