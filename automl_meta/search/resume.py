"""Resuming a search: what an earlier run leaves for the next, and the checks that its
trials still mean the same.

A resumed fit continues the earlier run's history: its strategy is told every earlier
trial first (so no finished config runs again, and the model-based proposers learn from
them), new trials are numbered after the earlier ones, and the exported ensemble is
selected over both runs' trials. Selection needs out-of-fold predictions, so a run keeps
those of the trials selection could pick (the best SELECTION_POOL with predictions): a
trial outside them can never enter the best SELECTION_POOL of a longer history.

The trials are comparable only if they were scored alike: on the same table with its
rows in the same order (the folds and any row sample follow it), with the same weights,
metric, validation (scheme, folds, holdout share), seed and search space version, and on
the same sample of rows. A resumed fit takes the earlier run's validation and row sample
as they were; the metric too when none is asked; anything else that differs is refused.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from automl_meta.core.data import Dataset, fingerprint
from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.metrics import check_metric, to_loss
from automl_meta.core.settings import FitSettings
from automl_meta.core.space import SPACE_VERSION
from automl_meta.core.validation import Validation
from automl_meta.search.ensemble import SELECTION_POOL
from automl_meta.trials.evaluate import Status, Trial


@dataclass
class EarlierRun:
    """What a fit leaves for one that resumes it: every trial (the selection pool's with
    their out-of-fold predictions), and how they were scored."""

    trials: list[Trial]
    metric: str
    validation: Validation
    seed: int
    search_rows: int  # rows the trials ran on (a seeded sample when fewer than the table's)
    fingerprint: str  # the table's content (core/data.fingerprint)
    row_digest: str  # the rows in their order, with their weights (row_digest)
    weight_column: str | None  # None: unweighted
    seconds: float  # the search's seconds so far, over every run
    space_version: str = SPACE_VERSION
    ensemble: tuple[tuple[int, int], ...] = ()  # the exported ensemble's (trial, weight); () one trial
    source: str = ""  # the model.json it was read from; "": an estimator's
    notes: list[str] = field(default_factory=list)  # worth showing the user (a missing file)
    oofs: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # the pool's, by trial

    @property
    def named(self) -> str:
        """How messages name it."""
        return f"'{self.source}'" if self.source else "an earlier fit"


def row_digest(dataset: Dataset) -> str:
    """A hash of the rows in their order (features, target, weights): the folds and the
    row sample depend on the order, which `fingerprint` leaves out on purpose."""
    frame = dataset.X[sorted(dataset.X.columns)].copy()
    frame["__target__"] = dataset.y
    if dataset.sample_weight is not None:
        frame["__weight__"] = dataset.sample_weight
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:32]


def selection_trials(trials: list[Trial], oofs: Mapping[int, np.ndarray], metric: str) -> list[Trial]:
    """The trials ensemble selection can pick from: the best SELECTION_POOL with predictions."""
    ranked = sorted((t for t in trials if t.status == Status.OK and t.index in oofs),
                    key=lambda t: (_loss(metric, t), t.index))
    return ranked[:SELECTION_POOL]


def _loss(metric: str, trial: Trial) -> float:
    return to_loss(metric, trial.scores.get(metric, math.nan))


def earlier_run(result, dataset: Dataset, settings: FitSettings) -> EarlierRun:
    """What the fit that gave `result` (a loop.FitResult) on `dataset` with `settings`
    leaves for the next: every trial, the out-of-fold predictions of the selection pool."""
    keep = {t.index for t in selection_trials(result.trials, result.oofs, result.metric)}
    before = result.resumed.seconds if result.resumed else 0.0
    members = () if result.ensemble is None else tuple(
        (m.trial, m.weight) for m in result.ensemble.members)
    return EarlierRun(trials=list(result.trials), metric=result.metric, validation=result.validation,
                      seed=settings.seed, search_rows=result.n_search_rows,
                      fingerprint=fingerprint(dataset), row_digest=row_digest(dataset),
                      weight_column=_weights_name(dataset),
                      seconds=round(before + result.seconds, 3), ensemble=members,
                      oofs={i: oof for i, oof in result.oofs.items() if i in keep})


def _members(ensemble: dict | None) -> tuple[tuple[int, int], ...]:
    """(trial, weight) of the members of model.json's ensemble record."""
    return tuple((int(m["trial"]), int(m["weight"])) for m in (ensemble or {}).get("members", []))


def resume_record(run: EarlierRun) -> dict:
    """model.json's "resume" record: with its settings, validation and leaderboard, what a
    later fit needs to continue it (the predictions go in a file beside it)."""
    return {"fingerprint": run.fingerprint, "row_digest": run.row_digest,
            "space_version": run.space_version, "seed": run.seed,
            "search_rows": run.search_rows, "weight_column": run.weight_column,
            "search_seconds": run.seconds,
            "oof_trials": sorted(run.oofs), "oof_digest": oof_digest(run.oofs)}


def oof_digest(oofs: dict[int, np.ndarray]) -> str:
    """A hash of out-of-fold predictions by trial: model.json's check that the file beside
    it is the one written with it."""
    digest = hashlib.sha256()
    for index in sorted(oofs):
        digest.update(f"{index}:".encode())
        digest.update(np.ascontiguousarray(oofs[index], dtype=float).tobytes())
    return digest.hexdigest()[:32]


def run_from_summary(summary: dict, oofs: dict[int, np.ndarray], source: str) -> EarlierRun:
    """The EarlierRun a model.json (and the predictions saved beside it, by trial index)
    records; a summary without a "resume" record is a clear error."""
    record = summary.get("resume")
    if not isinstance(record, dict) or summary.get("validation") is None:
        raise InvalidParameterError(
            f"The 'resume' file '{source}' records no run to resume (it was written by a version "
            "of automl-meta before resuming existed); start a new fit.")
    trials = [Trial.from_dict(t) for t in summary["leaderboard"]]
    notes = []
    wanted = set(record["oof_trials"])
    saved = {i: oofs[i] for i in wanted if i in oofs}
    if len(saved) < len(wanted) or oof_digest(saved) != record.get("oof_digest"):
        notes.append(f"Note: the out-of-fold predictions saved beside '{source}' are missing or are "
                     "another run's: its trials are not candidates for the ensemble.")
        saved = {}
    return EarlierRun(trials=trials, metric=summary["metric"],
                      validation=Validation(**summary["validation"]), seed=int(record["seed"]),
                      search_rows=int(record["search_rows"]), fingerprint=record["fingerprint"],
                      row_digest=record["row_digest"], weight_column=record["weight_column"],
                      seconds=float(record["search_seconds"]),
                      space_version=str(record["space_version"]),
                      ensemble=_members(summary.get("ensemble")), source=source, notes=notes,
                      oofs=saved)


def _weights_name(dataset: Dataset) -> str | None:
    if dataset.sample_weight is None:
        return None
    return dataset.weight_column or "sample_weight"


def resumed_settings(earlier: EarlierRun, dataset: Dataset, settings: FitSettings) -> FitSettings:
    """`settings` for resuming `earlier` on `dataset`: its metric when none is asked; a
    table, weights, metric, validation, seed or space that would score trials otherwise
    is refused, in one line that says what to change."""
    where = earlier.named
    if earlier.space_version != SPACE_VERSION:
        raise InvalidParameterError(
            f"The 'resume' run ({where}) searched space version {earlier.space_version}, this is "
            f"version {SPACE_VERSION}; its trials cannot be continued: start a new fit.")
    if earlier.fingerprint != fingerprint(dataset):
        raise InvalidParameterError(
            f"The 'resume' run ({where}) was fitted on another table (or another target); "
            "resume it with the table, target and dropped columns it was fitted on.")
    if earlier.weight_column != _weights_name(dataset):
        raise InvalidParameterError(
            f"The 'resume' run ({where}) was fitted with sample weights "
            f"{earlier.weight_column or 'none'}, this fit with {_weights_name(dataset) or 'none'}; "
            "resume with the same weights.")
    if earlier.row_digest != row_digest(dataset):
        raise InvalidParameterError(
            f"The 'resume' run ({where}) was fitted on this table with its rows in another order "
            "(or other weights), which gives other folds; resume with the rows as they were.")
    metric = check_metric(settings.metric, dataset.task_type) if settings.metric else earlier.metric
    if metric != earlier.metric:
        raise InvalidParameterError(
            f"The 'metric' parameter is {metric!r}, but the 'resume' run ({where}) ranked its trials "
            f"by {earlier.metric!r}; leave it out or set it to {earlier.metric!r}.")
    if settings.seed != earlier.seed:
        raise InvalidParameterError(
            f"The 'seed' parameter is {settings.seed}, but the 'resume' run ({where}) used "
            f"{earlier.seed}, whose folds its trials were scored on; set it to {earlier.seed}.")
    scheme = earlier.validation.scheme
    if settings.validation not in ("auto", scheme):
        raise InvalidParameterError(
            f"The 'validation' parameter is {settings.validation!r}, but the 'resume' run ({where}) "
            f"scored its trials by {scheme}; leave it out or set it to {scheme!r}.")
    if scheme == "cv" and settings.n_folds != earlier.validation.n_folds:
        raise InvalidParameterError(
            f"The 'n_folds' parameter is {settings.n_folds}, but the 'resume' run ({where}) used "
            f"{earlier.validation.n_folds}-fold cross-validation; set it to {earlier.validation.n_folds}.")
    return replace(settings, metric=metric, validation=scheme, max_search_rows=earlier.search_rows)


def resumed_validation(earlier: EarlierRun) -> Validation:
    """The earlier run's validation, told as such."""
    return replace(earlier.validation, reason="as in the resumed run")


def oof_arrays(run: EarlierRun) -> dict[str, np.ndarray]:
    """The out-of-fold predictions a run keeps, by trial index ("trial_7"), to save."""
    return {f"trial_{index}": oof for index, oof in run.oofs.items()}


def oofs_by_trial(arrays: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """`oof_arrays`' keys back to trial indices."""
    return {int(k.removeprefix("trial_")): v for k, v in arrays.items() if k.startswith("trial_")}
