"""Greedy ensemble selection over the search's out-of-fold predictions (Caruana et al. 2004).

Start empty; repeatedly add, with replacement, the trial whose addition most improves the
fit's metric on the averaged predictions (probabilities for classification, values for
regression); keep the best prefix of the picks, so the ensemble is never worse out of
fold than the best single trial. The weights are the pick counts. Hard-label metrics
(accuracy, balanced accuracy) are flat under small changes of the average, so selection
for them uses log loss, a proper scoring rule, instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from automl_meta.core.metrics import all_scores, to_loss

OOF_MEMORY_BYTES = 500 * 10**6  # out-of-fold predictions kept, in all (rows x outputs x 8)
# Selection picks among the best trials only: over all of a search's trials (often 150 or
# more) it fits the validated rows' noise on small tables (docs/benchmarks.md, "Selection pool").
SELECTION_POOL = 20
SELECTION_METRIC = {"accuracy": "log_loss", "balanced_accuracy": "log_loss"}
_EPS = 1e-15  # probabilities are clipped here before the log, as metrics.log_loss does


@dataclass(frozen=True)
class Ensemble:
    """Selected trials (indices into the candidates given) with their pick counts."""

    members: tuple[int, ...]
    weights: tuple[int, ...]
    scores: dict[str, float]  # every metric of the weighted average, out of fold

    @property
    def size(self) -> int:
        return sum(self.weights)


def oof_bytes(oof: np.ndarray) -> int:
    """Memory an out-of-fold prediction takes, as the cap counts it."""
    return int(oof.size) * 8


def select(oofs: Sequence[np.ndarray], y: np.ndarray, task_type: str, metric: str,
           classes: tuple, size: int, sample_weight: np.ndarray | None = None) -> Ensemble:
    """Greedy selection with replacement of up to `size` picks among `oofs`.

    Candidates are compared in the order given (best first, say): among equal scores the
    earlier one is picked, and the shortest best prefix of picks is kept. With
    `sample_weight`, every row's loss counts by its weight, as in the trials' metrics.
    """
    if not oofs:
        raise ValueError("select needs at least one candidate")
    criterion = _Criterion(oofs, y, task_type, SELECTION_METRIC.get(metric, metric), classes,
                           sample_weight)
    picks: list[int] = []
    losses: list[float] = []
    for _ in range(size):
        candidate_losses = criterion.losses()
        best = int(np.argmin(candidate_losses))  # the first of equals
        picks.append(best)
        losses.append(float(candidate_losses[best]))
        criterion.add(best)
    best_loss = min(losses)
    # the shortest best prefix: more picks of the same mix differ only by rounding
    keep = next(k for k, loss in enumerate(losses, 1) if loss <= best_loss + 1e-12 * max(1.0, abs(best_loss)))
    counts = np.bincount(picks[:keep], minlength=len(oofs))
    members = tuple(int(i) for i in np.flatnonzero(counts))
    weights = tuple(int(counts[i]) for i in members)
    return Ensemble(members, weights, blend_scores(oofs, members, weights, y, task_type, classes,
                                                   sample_weight))


def selection_loss(ensemble: Ensemble, metric: str) -> float:
    """The loss selection minimises for `metric`, of an ensemble's out-of-fold scores."""
    criterion = SELECTION_METRIC.get(metric, metric)
    return to_loss(criterion, ensemble.scores.get(criterion, float("nan")))


def blend(oofs: Sequence[np.ndarray], members: Sequence[int], weights: Sequence[float]) -> np.ndarray:
    """Weighted average of the members' predictions (what soft voting computes)."""
    w = np.asarray(weights, dtype=float)
    return sum(wi * oofs[i] for i, wi in zip(members, w)) / w.sum()


def blend_scores(oofs: Sequence[np.ndarray], members: Sequence[int], weights: Sequence[float],
                 y: np.ndarray, task_type: str, classes: tuple = (),
                 sample_weight: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of the weighted average of the members' predictions (rows weighted by
    `sample_weight`, when given)."""
    return all_scores(task_type, y, blend(oofs, members, weights), classes, sample_weight)


class _Criterion:
    """The selection loss of the current picks plus each candidate, for all at once.

    Holds only what the loss needs, as (candidates, rows) arrays: the values
    (regression), the true class's probability (log loss), or for ROC AUC each class's
    scores split into its positive and negative rows (ranks only: sums stand in for
    averages). Row weights, when given, are kept beside each part.
    """

    def __init__(self, oofs: Sequence[np.ndarray], y: np.ndarray, task_type: str, metric: str,
                 classes: tuple, sample_weight: np.ndarray | None = None) -> None:
        self.task_type, self.metric, self.n_picks = task_type, metric, 0
        y = np.asarray(y)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.row_weights: list[np.ndarray | None] = [w]
        if task_type == "regression":
            self.y = y.astype(float)
            self.parts = [np.stack([np.asarray(o, dtype=float) for o in oofs])]
        else:
            position = {str(c): i for i, c in enumerate(classes)}
            codes = np.array([position[str(v)] for v in y])
            self.parts = self._auc_parts(oofs, codes, len(classes), w) if metric == "roc_auc" else \
                [np.stack([np.asarray(o, dtype=float)[np.arange(len(codes)), codes] for o in oofs])]
        self.totals = [np.zeros(p.shape[1]) for p in self.parts]

    def _auc_parts(self, oofs: Sequence[np.ndarray], codes: np.ndarray, n_classes: int,
                   w: np.ndarray | None = None) -> list:
        columns = [1] if self.task_type == "binary" else range(n_classes)
        parts = []
        self.row_weights = []
        for k in columns:
            positive = codes == k
            weighted = w is None or (w[positive].sum() > 0 and w[~positive].sum() > 0)
            if 0 < positive.sum() < len(codes) and weighted:  # a class absent has no AUC
                for rows in (positive, ~positive):
                    parts.append(np.stack([np.asarray(o, dtype=float)[rows, k] for o in oofs]))
                    self.row_weights.append(None if w is None else w[rows])
        if not parts:
            raise ValueError("ROC AUC needs rows of two classes")
        return parts

    def add(self, candidate: int) -> None:
        """Pick `candidate` once more."""
        self.totals = [t + p[candidate] for t, p in zip(self.totals, self.parts)]
        self.n_picks += 1

    def losses(self) -> np.ndarray:
        """The loss of the picks so far plus each candidate once."""
        step = self.n_picks + 1
        blended = [t[None] + p for t, p in zip(self.totals, self.parts)]
        w = self.row_weights
        if self.task_type == "regression":
            error = blended[0] / step - self.y[None]
            return np.average(np.abs(error) if self.metric == "mae" else error**2, axis=1,
                              weights=w[0])
        if self.metric == "roc_auc":
            return -np.mean([_auc_rows(blended[i], blended[i + 1], w[i], w[i + 1])
                             for i in range(0, len(blended), 2)], axis=0)
        return -np.average(np.log(np.clip(blended[0] / step, _EPS, 1.0)), axis=1,
                           weights=w[0])  # log loss


def _auc_rows(positives: np.ndarray, negatives: np.ndarray, w_positive: np.ndarray | None = None,
              w_negative: np.ndarray | None = None) -> np.ndarray:
    """ROC AUC of each row: positives' scores against negatives' scores, ties counted half;
    with weights, each pair counts by the product of its rows' weights (scikit-learn's
    weighted ROC AUC)."""
    if w_positive is not None:
        return _weighted_auc_rows(positives, negatives, w_positive, w_negative)
    positives = np.sort(positives, axis=1)  # sorted needles search fast
    negatives = np.sort(negatives, axis=1)
    wins = np.empty(len(positives))
    for r in range(len(positives)):
        below = np.searchsorted(negatives[r], positives[r], "left")
        up_to = np.searchsorted(negatives[r], positives[r], "right")
        wins[r] = below.sum() + 0.5 * (up_to - below).sum()
    return wins / (positives.shape[1] * negatives.shape[1])


def _weighted_auc_rows(positives: np.ndarray, negatives: np.ndarray, w_positive: np.ndarray,
                       w_negative: np.ndarray) -> np.ndarray:
    """_auc_rows with row weights: the weighted share of (positive, negative) pairs ranked
    right, ties counted half."""
    wins = np.empty(len(positives))
    for r in range(len(positives)):
        order = np.argsort(negatives[r], kind="stable")
        sorted_negatives = negatives[r][order]
        cumulative = np.concatenate([[0.0], np.cumsum(w_negative[order])])
        below = cumulative[np.searchsorted(sorted_negatives, positives[r], "left")]
        up_to = cumulative[np.searchsorted(sorted_negatives, positives[r], "right")]
        wins[r] = np.sum(w_positive * (below + 0.5 * (up_to - below)))
    return wins / (w_positive.sum() * w_negative.sum())
