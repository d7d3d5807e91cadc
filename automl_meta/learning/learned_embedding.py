"""A task embedding learned on the meta-base: near tasks are tasks whose winners transfer.

Raw retrieval (auto-sklearn 1.0) weighs every robust-scaled meta-feature alike in an L1
distance, so uninformative features can decide who the neighbours are. Here a small model
is trained so that, among tasks of one task type, the nearest are those whose best pool
configs do well on each other (metric learning with soft targets, as in NCA):

    squared distance(x, y) = sum_f w_f |x_f - y_f|  +  |(x - y) @ V|^2

on robust-scaled meta-features x, y: a learned per-feature weight w (started at 1, i.e.
the raw L1 metric, and pulled back to it) plus an optional low-rank projection V. Without
a projection the embedding is x * w compared with the L1 distance, so that weights of 1 are
exactly the raw metric. With one, what realises it for an L2 index is a "thermometer" code
of each feature (square roots of segment lengths up to the value, exact on the knots) times
sqrt(w_f), beside x @ V.

The weights start from one value per meta-feature group (general, statistical,
information-theoretic, landmarking, model-based), chosen from a small grid so that each
training task's kNN warm start from the others reaches the lowest regret: five free values
that generalise where per-feature weights overfit. Per-feature weights are then trained
around them.

Target of tasks i, j: the mean normalised regret on i of j's `top` best configs, averaged
both ways (a failed trial counts as the worst, a config not run yet is left out). Per anchor
task, the loss is the cross-entropy between softmax(-target / temperature) and
softmax(-beta * squared distance) over the other tasks of its type. Full-batch Adam; the
number of steps is chosen on inner folds over the training tasks, judged at each check by
what retrieval is for: the held-out tasks' kNN warm-start regret at trials 1, 3 and 5 with
the neighbours the weights find. Step 0 (the raw metric) wins unless learning helps.

Inference is numpy only: `automl fit` never imports torch for it.

    embedding = fit_embedding(metabase, train_names, seed=0)
    embedding.save(artifact_path(metabase.path, "embedding"), metabase_hash=metabase.content_hash())
    points = embedding.transform(embedding.scaling.transform(matrix))
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.lazy import one_torch_thread
from automl_meta.core.metrics import check_metric
from automl_meta.learning.embedding import CLIP, RobustScaling, knn_indices
from automl_meta.learning.tables import (
    feature_table,
    loss_table,
    normalized_regret,
)
from automl_meta.metabase.locate import artifact_path
from automl_meta.metabase.protocol import MetaBaseError
from automl_meta.metafeatures.specs import (
    METAFEATURE_GROUPS,  # heavy package: only here
)

FORMAT_VERSION = 1
CHECK_EVERY = 10  # training steps between two held-out checks

# Defaults chosen by cross-validation over the default meta-base's tasks (kNN warm-start
# regret against the raw L1): no projection, a strong penalty, one weight per meta-feature
# group; docs/benchmarks.md, "Figures behind the defaults", has the runs.
HYPERPARAMETERS = {
    "dim": 0,                 # columns of the projection V (0: per-feature weights only)
    "target": "symmetric",    # "symmetric" or "transfer" (one-way) regret of borrowed winners
    "top": 3,                 # winners borrowed per task in the target
    "temperature": 0.5,       # softness of the target distribution, in units of its spread
    "diagonal_penalty": 10.0,  # weight of mean((log w)^2): pulls w back to 1 (the raw metric)
    "weight_decay": 0.01,     # weight of sum(V^2)
    "learning_rate": 0.05,
    "max_steps": 200,
    "inner_folds": 4,         # folds over the training tasks that choose the steps (0: all)
    "segments": 32,           # thermometer segments over [-CLIP, CLIP]
    "group_weights": (0.0, 0.5, 1.0, 2.0),  # values tried per meta-feature group (): none
}


@dataclass(frozen=True, eq=False)
class LearnedEmbedding:
    """A fitted map from scaled meta-features to points compared with `distance`.

    Without a projection: x * weights, compared with L1. With one, squared L2 distance
    between two embedded tasks = sum_f weights[f] * |x_f - y_f| (through a thermometer code
    over `knots`) + |(x - y) @ projection|^2.
    """

    scaling: RobustScaling
    knots: np.ndarray         # (segments + 1,) increasing, spanning [-CLIP, CLIP]
    weights: np.ndarray       # (features,) >= 0
    projection: np.ndarray    # (features, dim)
    hyperparameters: Mapping[str, object] = field(default_factory=dict)
    metabase_hash: str = ""  # content hash of the meta-base it was trained on

    def transform(self, scaled: np.ndarray) -> np.ndarray:
        """Embed rows of meta-features already scaled with `scaling` (missing values as 0)."""
        x = np.asarray(scaled, dtype=float)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if x.ndim != 2 or x.shape[1] != len(self.scaling.names):
            raise InvalidParameterError(
                f"LearnedEmbedding.transform needs rows of {len(self.scaling.names)} scaled "
                f"meta-features. Got shape {np.shape(scaled)} instead.")
        x = np.where(np.isfinite(x), x, 0.0)
        if self.distance == "l1":  # weighted L1 exactly: weights 1 give the raw metric
            out = x * self.weights[None, :]
            return out[0] if single else out
        codes = _thermometer(x, self.knots) * np.sqrt(self.weights)[None, :, None]
        out = np.hstack([codes.reshape(len(x), -1), x @ self.projection])
        return out[0] if single else out

    @property
    def distance(self) -> str:
        """How to compare embedded points: "l1" without a projection, else "l2"."""
        return "l1" if self.projection.shape[1] == 0 else "l2"

    def save(self, path: str | Path, metabase_hash: str | None = None) -> Path:
        """Write everything needed to transform to one .npz file (no pickles).

        `metabase_hash` (default: the embedding's own) says what it was trained on: the
        meta-base's content hash (stored under the file's key "source").
        """
        path = Path(path)
        with open(path, "wb") as fh:  # np.savez would append .npz to any other name
            np.savez(fh, format_version=np.array(FORMAT_VERSION),
                     names=np.array(self.scaling.names, dtype=str),
                     center=self.scaling.center, scale=self.scaling.scale, knots=self.knots,
                     weights=self.weights, projection=self.projection,
                     hyperparameters=np.array(json.dumps(dict(self.hyperparameters),
                                                         sort_keys=True)),
                     source=np.array(self.metabase_hash if metabase_hash is None else metabase_hash))
        return path

    @classmethod
    def load(cls, path: str | Path) -> LearnedEmbedding:
        """Read an embedding written by `save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                version = int(data["format_version"])
                if version == FORMAT_VERSION:
                    scaling = RobustScaling(tuple(str(n) for n in data["names"]),
                                            data["center"].astype(float),
                                            data["scale"].astype(float))
                    return cls(scaling, data["knots"].astype(float),
                               data["weights"].astype(float), data["projection"].astype(float),
                               json.loads(str(data["hyperparameters"])), str(data["source"]))
        except (OSError, KeyError, ValueError) as exc:
            problem = str(exc)
        else:
            problem = (f"it holds format {version}, this version reads format {FORMAT_VERSION}; "
                       f"retrain it on its meta-base")
        raise MetaBaseError(f"Cannot read a learned embedding from {path}: {problem}.")


def train_for_metabase(metabase, out: str | Path | None = None, seed: int = 0,
                       **hyperparameters) -> Path:
    """Train on every task of the meta-base and save beside it (or to `out`), stamped with
    its content hash so that `warmstart.load_trained` can tell it belongs to it."""
    embedding = fit_embedding(metabase, seed=seed, **hyperparameters)
    path = artifact_path(metabase.path, "embedding") if out is None else Path(out)
    return embedding.save(path, metabase_hash=metabase.content_hash())


def check_hyperparameters(hyperparameters: Mapping[str, object]) -> dict:
    """HYPERPARAMETERS updated with the given ones, which must be known names."""
    unknown = sorted(set(hyperparameters) - set(HYPERPARAMETERS))
    if unknown:
        raise InvalidParameterError(
            f"Unknown hyperparameters {unknown} for fit_embedding; the known ones are "
            f"{sorted(HYPERPARAMETERS)}.")
    params = {**HYPERPARAMETERS, **hyperparameters}
    if params["target"] not in TARGETS:
        raise InvalidParameterError(
            f"The 'target' hyperparameter must be one of {sorted(TARGETS)}. "
            f"Got {params['target']!r} instead.")
    values = [float(v) for v in params["group_weights"]]
    if any(not np.isfinite(v) or v < 0 for v in values):
        raise InvalidParameterError(
            f"The 'group_weights' hyperparameter must hold finite values >= 0. "
            f"Got {params['group_weights']!r} instead.")
    params["group_weights"] = values  # a list: what the saved JSON gives back
    return params


# -- targets ---------------------------------------------------------------------------------


def transfer_distance(regrets: np.ndarray, top: int = 3) -> np.ndarray:
    """[i, j]: mean regret on task i of task j's `top` best configs, what i loses by
    borrowing j's winners. NaN regrets (configs never run) are left out; NaN if none is left."""
    best = np.argsort(regrets, axis=1, kind="stable")[:, :top]  # NaN sorts last
    borrowed = regrets[:, best]  # [i, j, r]: on i, j's r-th best
    counts = np.isfinite(borrowed).sum(axis=2)
    with np.errstate(all="ignore"):
        return np.where(counts > 0, np.nansum(borrowed, axis=2) / counts, np.nan)


def symmetric_transfer_distance(regrets: np.ndarray, top: int = 3) -> np.ndarray:
    """transfer_distance averaged both ways (one way where the other is unknown)."""
    cost = transfer_distance(regrets, top)
    both = np.stack([cost, cost.T])
    counts = np.isfinite(both).sum(axis=0)
    with np.errstate(all="ignore"):
        return np.where(counts > 0, np.nansum(both, axis=0) / counts, np.nan)


TARGETS = {"symmetric": symmetric_transfer_distance, "transfer": transfer_distance}


def _type_targets(metabase, chosen: Sequence[str], metrics: Mapping[str, str] | None,
                  params: Mapping) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per task type: positions (in chosen) of its tasks with trials, their target matrix
    and their regret rows over the type's pool.

    Regrets are normalised per task; a failed trial counts as the worst (regret 1), a
    config not run yet (a build in progress) is unknown (NaN).
    """
    position = {n: i for i, n in enumerate(chosen)}
    out = []
    for task_type in sorted({r.task_type for r in metabase.tasks() if r.name in position}):
        metric = check_metric((metrics or {}).get(task_type), task_type)
        table = loss_table(metabase, task_type, metric, chosen)
        regrets = normalized_regret(table.losses)
        tried = np.isfinite(table.losses).any(axis=1)
        if tried.sum() < 3:
            continue
        where = np.array([position[n] for n, t in zip(table.names, tried) if t])
        out.append((where, TARGETS[params["target"]](regrets[tried], int(params["top"])),
                    regrets[tried]))
    return out


# -- training --------------------------------------------------------------------------------


def fit_embedding(metabase, task_names: Sequence[str] | None = None, seed: int = 0,
                  metrics: Mapping[str, str] | None = None, **hyperparameters) -> LearnedEmbedding:
    """Train an embedding on `task_names` of the meta-base (all tasks when None).

    Nothing of the other tasks is read: the scaling, the features used and the targets
    come from the chosen tasks only. `metrics` maps a task type to the metric whose
    ranking defines similarity (default: DEFAULT_METRIC). Same seed, same weights.
    `hyperparameters` override HYPERPARAMETERS.
    """
    params = check_hyperparameters(hyperparameters)
    table = feature_table(metabase, task_names, seen_only=True)
    chosen = list(table.names)
    if not chosen:
        raise InvalidParameterError("fit_embedding needs at least one task of the meta-base.")
    scaling = table.scaling()
    x = scaling.transform(table.values)
    knots = np.linspace(-CLIP, CLIP, int(params["segments"]) + 1)
    records = {r.name: r for r in metabase.tasks() if r.name in set(chosen)}
    fingerprints = np.array([records[n].fingerprint for n in chosen])
    groups = _type_targets(metabase, chosen, metrics, params)
    feature_groups = [METAFEATURE_GROUPS.get(f, "other") for f in table.features]
    weights, projection = _train(x, knots, groups, fingerprints, feature_groups, seed, params)
    return LearnedEmbedding(scaling, knots, weights, projection, params)


def _train(x: np.ndarray, knots: np.ndarray, groups, fingerprints: np.ndarray,
           feature_groups: Sequence[str], seed: int,
           params: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Choose the group weights, then the number of steps on inner folds, then train on
    every task: (w, V)."""
    with one_torch_thread() as torch:
        parts = (np.abs(x[:, None, :] - x[None, :, :]) if int(params["dim"]) == 0
                 else _segment_distances(_thermometer(x, knots)))
        regret_rows = {int(r): row for where, _, regrets in groups
                       for r, row in zip(where, regrets)}
        prior = _choose_group_weights(torch, parts, groups, fingerprints, feature_groups,
                                      regret_rows, params)
        parts = parts * prior[None, None, :]
        scale = max(float(parts.sum(axis=2).mean()), 1e-12)  # trained on distances ~ 1
        parts = torch.as_tensor(parts / scale)
        steps = int(params["max_steps"])
        folds = _inner_folds(fingerprints, groups, seed, int(params["inner_folds"]))
        if folds:
            histories = [_optimise(torch, x, parts, groups, fingerprints, seed, params, steps,
                                   held, regret_rows)[1] for held in folds]
            history = np.round(np.array([h for h in histories if h]), 12)  # (folds, checks)
            if history.size:
                # column 0 is the group-weighted metric: a later check must be no worse
                # on any fold
                safe = (history <= history[:, :1]).all(axis=0)
                steps = CHECK_EVERY * int(np.argmin(np.where(safe, history.sum(axis=0), np.inf)))
            else:
                steps = 0
        weights, projection = _optimise(torch, x, parts, groups, fingerprints, seed, params,
                                        steps, None)[0]
    return prior * weights / scale, projection


def _choose_group_weights(torch, parts: np.ndarray, groups, fingerprints: np.ndarray,
                          feature_groups: Sequence[str], regret_rows: Mapping[int, np.ndarray],
                          params: Mapping) -> np.ndarray:
    """Per-feature weights, one value per meta-feature group: of every combination of
    `group_weights` over the groups, the one under which each task's kNN warm start from
    the others (leave one task out) reaches the lowest regret at trials 1, 3 and 5.

    A handful of free values where per-feature weights overfit; all ones (the raw metric)
    is tried first and kept on a tie.
    """
    names = sorted(set(feature_groups))
    values = tuple(float(v) for v in params["group_weights"])
    if len(names) < 2 or not values:  # one group: a common factor changes no neighbour
        return np.ones(len(feature_groups))
    everyone = np.ones(len(fingerprints), dtype=bool)
    blocks = _pairs(torch, torch.as_tensor(parts), groups, fingerprints, everyone, everyone,
                    float(params["temperature"]))
    member = np.array([[g == name for name in names] for g in feature_groups], dtype=float)
    summed = [pairs.parts.numpy() @ member for pairs in blocks]  # (A, C, groups)
    cache: dict = {}
    best, best_score = np.ones(len(names)), np.inf
    for combo in [(1.0,) * len(names), *itertools.product(values, repeat=len(names))]:
        w = np.array(combo)
        if not w.any():
            continue
        score = round(sum(_warm_start_regret(part @ w, pairs, regret_rows, cache=cache)
                          for part, pairs in zip(summed, blocks)), 12)
        if score < best_score:
            best, best_score = w, score
    return member @ best


def _inner_folds(fingerprints: np.ndarray, groups, seed: int, n_folds: int) -> list[np.ndarray]:
    """Masks of held-out tasks, one per fold: within each task type, whole fingerprint
    groups dealt round-robin in a seeded order. Empty when there are too few tasks."""
    if n_folds < 2:
        return []
    rng = np.random.default_rng(seed)
    fold = np.full(len(fingerprints), -1)
    for where, *_ in groups:
        prints = sorted(set(fingerprints[where]))
        if len(prints) < 2 * n_folds:  # a held-out task needs a few candidates left
            continue
        of = {p: k % n_folds for k, p in enumerate(rng.permutation(prints).tolist())}
        fold[where] = [of[f] for f in fingerprints[where]]
    if (fold < 0).all():
        return []
    return [fold == k for k in range(n_folds)]


class _Pairs(NamedTuple):
    """The anchors of one task type and the candidates they rank."""

    anchors: object     # (A,) rows of x
    candidates: object  # (C,) rows of x
    parts: object       # (A, C, features) per-feature squared distances
    target: object      # (A, C) target distribution of each anchor over candidates
    allowed: object     # (A, C) not the same table, known target


def _pairs(torch, parts, groups, fingerprints, anchors: np.ndarray, candidates: np.ndarray,
           temperature: float) -> list[_Pairs]:
    """Per task type, its anchors x candidates; anchors with under two candidates left out."""
    out = []
    for where, distance, _ in groups:
        a = np.array([i for i, r in enumerate(where) if anchors[r]], dtype=int)
        c = np.array([j for j, r in enumerate(where) if candidates[r]], dtype=int)
        if not len(a) or len(c) < 2:
            continue
        off = distance[~np.eye(len(where), dtype=bool)]
        spread = np.nanstd(off) if np.isfinite(off).sum() > 1 else 0.0
        block = distance[np.ix_(a, c)] / (spread if spread > 0 else 1.0)
        ok = (fingerprints[where[a]][:, None] != fingerprints[where[c]][None, :]) \
            & np.isfinite(block)
        keep = ok.sum(axis=1) >= 2  # one candidate: nothing to rank
        if not keep.any():
            continue
        a, block, ok = a[keep], block[keep], ok[keep]
        logits = np.where(ok, -block / temperature, -np.inf)
        p = np.where(ok, np.exp(logits - logits.max(axis=1, keepdims=True)), 0.0)
        rows, columns = where[a], where[c]
        out.append(_Pairs(torch.as_tensor(rows), torch.as_tensor(columns),
                          parts[np.ix_(rows, columns)],
                          torch.as_tensor(p / p.sum(axis=1, keepdims=True)),
                          torch.as_tensor(ok)))
    return out


def _optimise(torch, x: np.ndarray, parts, groups, fingerprints: np.ndarray,
              seed: int, params: Mapping, steps: int, held: np.ndarray | None,
              regret_rows: Mapping[int, np.ndarray] | None = None):
    """Full-batch Adam for `steps` steps, on every task but the held-out ones: the weights
    (w, V), and every CHECK_EVERY steps from step 0 the held-out tasks' summed kNN
    warm-start regret (`_warm_start_regret`) with the neighbours the weights find."""
    generator = torch.Generator().manual_seed(seed)
    n_features, dim = x.shape[1], int(params["dim"])
    log_w = torch.zeros(n_features, dtype=torch.float64, requires_grad=True)
    proj = (torch.randn(n_features, dim, generator=generator, dtype=torch.float64)
            * 0.01 / np.sqrt(n_features)).requires_grad_(True)
    log_beta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([log_w, proj, log_beta], lr=float(params["learning_rate"]))
    xt = torch.as_tensor(x, dtype=torch.float64)
    train = np.ones(len(x), dtype=bool) if held is None else ~held
    temperature = float(params["temperature"])
    fit = _pairs(torch, parts, groups, fingerprints, train, train, temperature)
    check = [] if held is None else _pairs(torch, parts, groups, fingerprints, held, train,
                                           temperature)

    def loss(blocks, log_betas):
        return _cross_entropy(torch, xt @ proj if dim > 0 else None, torch.exp(log_w),
                              log_betas, blocks)

    history = []
    for step in range(steps + 1):
        if check and step % CHECK_EVERY == 0:
            with torch.no_grad():
                z = xt @ proj if dim > 0 else None
                history.append(sum(_warm_start_regret(
                    _squared_distances(z, torch.exp(log_w), pairs).numpy(), pairs, regret_rows)
                    for pairs in check))
        if step == steps or not fit:
            break
        optimizer.zero_grad()
        (loss(fit, log_beta)[0] + float(params["diagonal_penalty"]) * (log_w ** 2).mean()
         + float(params["weight_decay"]) * (proj ** 2).sum()).backward()
        optimizer.step()
    return (np.exp(log_w.detach().numpy()), proj.detach().numpy().copy()), history


def _warm_start_regret(d2: np.ndarray, pairs: _Pairs, regret_rows: Mapping[int, np.ndarray],
                       k: int = 5, trials: Sequence[int] = (1, 3, 5),
                       cache: dict | None = None) -> float:
    """Summed over the anchors: the mean, over `trials`, of the best regret on the anchor
    among the first configs of knn's order from its k nearest allowed candidates (what the
    warm start achieves with these distances). Configs not run on the anchor are skipped.
    `cache` (anchor and neighbours -> value) saves work across calls on the same pairs."""
    cache = {} if cache is None else cache

    anchors = pairs.anchors.numpy()
    candidates = pairs.candidates.numpy()
    allowed = pairs.allowed.numpy()
    total = 0.0
    for i, anchor in enumerate(anchors):
        near = tuple(int(candidates[j]) for j in np.argsort(
            np.where(allowed[i], d2[i], np.inf), kind="stable")[:k] if allowed[i, j])
        key = (int(anchor), near)
        if key not in cache:
            picks = knn_indices(np.array([regret_rows[j] for j in near]), max(trials))
            own = regret_rows[int(anchor)][picks]
            reached = np.nan_to_num(np.fmin.accumulate(own), nan=1.0) if len(own) \
                else np.ones(1)
            cache[key] = float(np.mean([reached[min(t, len(reached)) - 1] for t in trials]))
        total += cache[key]
    return total


def _squared_distances(z, weights, pairs: _Pairs):
    """(A, C) squared embedding distances: weighted L1 plus the projection's part."""
    d2 = pairs.parts @ weights
    if z is not None:
        d2 = d2 + ((z[pairs.anchors][:, None, :] - z[pairs.candidates][None, :, :]) ** 2
                   ).sum(dim=2)
    return d2


def _cross_entropy(torch, z, weights, log_betas, blocks: list[_Pairs]):
    """Per inverse temperature: cross-entropy between the target distribution and the
    softmax of -beta * d2 over each anchor's allowed candidates, averaged over anchors."""
    log_betas = torch.as_tensor(log_betas, dtype=torch.float64)
    total = 0.0
    for pairs in blocks:
        logits = -torch.exp(log_betas)[:, None, None] * _squared_distances(z, weights, pairs)
        logits = logits.masked_fill(~pairs.allowed[None], float("-inf"))
        log_q = torch.log_softmax(logits, dim=2).masked_fill(~pairs.allowed[None], 0.0)
        total = total - (pairs.target[None] * log_q).sum(dim=(1, 2))
    return total / sum(len(pairs.anchors) for pairs in blocks)


def _thermometer(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """(tasks, features, segments): how far each value reaches into each segment, times the
    square root of the segment's length, so that summed squared differences of two codes
    give the L1 distance (exactly for values on the knots)."""
    lengths = np.diff(knots)
    reach = np.clip((x[:, :, None] - knots[:-1]) / lengths, 0.0, 1.0)
    return reach * np.sqrt(lengths)


def _segment_distances(codes: np.ndarray) -> np.ndarray:
    """(tasks, tasks, features): per-feature squared distance of thermometer codes."""
    out = np.zeros((len(codes), len(codes), codes.shape[1]))
    for k in range(codes.shape[2]):
        out += (codes[:, None, :, k] - codes[None, :, :, k]) ** 2
    return out
