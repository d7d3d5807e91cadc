"""A surrogate meta-learned on the meta-base that ranks configs, fine-tuned on a new task.

    surrogate = meta_train(metabase, task_names=train_names)      # offline, minutes
    surrogate.save("default.surrogate.npz")                      # tied to metabase.content_hash()
    adapted = Surrogate.load(path, expected_hash).adapt(metafeatures, x, losses, task_type="binary")
    mean, std = adapted.predict(candidates)                      # lower mean = better
    best = candidates[np.argmax(expected_improvement(adapted.prediction(candidates)))]  # acquisition.py

Model: an ensemble of small MLPs f(config, task) -> predicted loss. The input is the config's
encoding placed in a layout shared by every task type (the union of their `vector_names`,
absent names 0), a one-hot of the task type and, with `metafeatures=True`, the task
representation: robust-scaled meta-features (`ScaledMetafeatures`; any object with `dim`,
`vector` and `state` can take its place, e.g. a learned embedding). Each member has its own
initialisation and its own stream of meta-training tasks; their spread is the uncertainty.

Target (Salinas et al. 2020, "A quantile-based approach for hyperparameter transfer
learning"): per task, each evaluated config's loss becomes the normal score of its rank,
Phi^-1((rank - 1/2) / n), failed configs tied last. Every task and metric shares these units
and no outlier (an AUC of 0.5, a diverged log loss) squashes the others. Predictions are in
these units, not in the caller's losses.

Meta-training: first-order MAML (Finn et al. 2017). At each meta-step every member draws
`meta_batch` tasks and from each a support set (1 to `support_max` evaluated configs) and a
query set. The inner loop takes `inner_steps` SGD steps on the pairwise logistic loss of the
support: only the order of its losses, which is all that a new task's few raw losses tell
whatever their metric and scale. The outer step (Adam) applies to the initial weights the
gradient, at the adapted weights, of the squared error on the query's normal scores, which
also teaches the scale. First-order MAML rather than Reptile because the two losses differ:
Reptile follows the inner loss only. A support of 1 leaves nothing to adapt on, so the
zero-shot prediction is trained too. A share of the tasks (whole fingerprint groups) is held
out; the weights kept are those of the meta-step with the lowest meta-validation loss.

Fit time: `Surrogate.adapt` runs the same inner loop on the observations so far (none or one:
the prior); `AdaptedSurrogate.predict` gives the ensemble's mean and std. torch is imported
only inside functions; it runs on one thread, so a seed gives the same weights every time.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
from scipy.stats import norm, rankdata

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.lazy import one_torch_thread
from automl_meta.core.metrics import DEFAULT_METRIC, check_metric
from automl_meta.core.space import SPACE_VERSION, TASK_TYPES, SearchSpace
from automl_meta.learning.acquisition import Prediction
from automl_meta.learning.embedding import RobustScaling
from automl_meta.learning.tables import (
    check_trained_on,
    feature_table,
    loss_table,
)
from automl_meta.metabase.protocol import MetaBaseError

FORMAT_VERSION = 2  # 2: .npz with a JSON header (1: torch.save)
VALIDATION_SUPPORTS = (1, 3, 5, 10)  # support sizes of the meta-validation draws


@dataclass(frozen=True)
class SurrogateSettings:
    """Hyperparameters of the surrogate, its meta-training and its fine-tuning.

    Chosen by leave-tasks-out runs (Spearman of the adapted mean with the held-out pool's
    losses; docs/surrogate.md has the figures): no meta-features as input (they let the
    network tell training tasks apart rather than generalise), 4,000 outer steps, inner
    step 0.1.
    """

    hidden: tuple[int, ...] = (64, 64)  # widths of the hidden ReLU layers
    n_members: int = 5  # networks in the ensemble
    inner_steps: int = 5  # SGD steps of the inner loop (meta-training and adapt alike)
    inner_lr: float = 0.1  # their learning rate
    meta_steps: int = 4000  # outer Adam steps
    meta_lr: float = 1e-3
    meta_batch: int = 8  # tasks per member per meta-step
    support_max: int = 20  # support sizes drawn uniformly in 1..support_max
    query_size: int = 32  # query configs per task (fewer if the task has fewer left)
    weight_decay: float = 1e-4  # L2 on the weights (Adam)
    metafeatures: bool = False  # feed the task's meta-features (else only its task type)
    validation: float = 0.2  # share of fingerprint groups held out for meta-validation
    eval_every: int = 100  # meta-steps between meta-validation losses
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not self.hidden or any(_bad_int(h, 1) for h in self.hidden):
            raise InvalidParameterError(
                f"The 'hidden' parameter of SurrogateSettings must be a non-empty tuple of "
                f"ints >= 1. Got {self.hidden!r} instead.")
        for name, low in (("n_members", 1), ("inner_steps", 0), ("meta_steps", 0),
                          ("meta_batch", 1), ("support_max", 1), ("query_size", 1),
                          ("eval_every", 1), ("seed", 0)):
            if _bad_int(getattr(self, name), low):
                raise InvalidParameterError(
                    f"The '{name}' parameter of SurrogateSettings must be an int >= {low}. "
                    f"Got {getattr(self, name)!r} instead.")
        for name, low, high in (("inner_lr", 0, math.inf), ("meta_lr", 0, math.inf),
                                ("weight_decay", 0, math.inf), ("validation", 0, 0.9)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low <= value <= high:
                raise InvalidParameterError(
                    f"The '{name}' parameter of SurrogateSettings must be a number in "
                    f"[{low}, {high}]. Got {value!r} instead.")


def _bad_int(value, low: int) -> bool:
    return isinstance(value, bool) or not isinstance(value, int) or value < low


# -- task representation and config layout --------------------------------------------------


@dataclass(frozen=True)
class ScaledMetafeatures:
    """The task representation: meta-features robust-scaled on the training tasks."""

    scaling: RobustScaling
    kind = "scaled-metafeatures"

    @property
    def dim(self) -> int:
        return len(self.scaling.names)

    def vector(self, metafeatures: Mapping[str, float]) -> np.ndarray:
        return self.scaling.vector(metafeatures)

    def state(self) -> dict:
        return {"kind": self.kind, "names": list(self.scaling.names),
                "center": [float(v) for v in self.scaling.center],
                "scale": [float(v) for v in self.scaling.scale]}

    @classmethod
    def from_state(cls, state: Mapping) -> ScaledMetafeatures:
        return cls(RobustScaling(tuple(state["names"]), np.array(state["center"], dtype=float),
                                 np.array(state["scale"], dtype=float)))


REPRESENTATIONS = {ScaledMetafeatures.kind: ScaledMetafeatures}


def config_layout() -> tuple[str, ...]:
    """The union of every task type's encoding names, in order of first appearance."""
    names: list[str] = []
    for task_type in TASK_TYPES:
        names.extend(n for n in SearchSpace(task_type).vector_names if n not in names)
    return tuple(names)


def to_layout(layout: Sequence[str], task_type: str, x: np.ndarray) -> np.ndarray:
    """Rows of `SearchSpace(task_type).encode` placed in the shared layout (absent names 0)."""
    names = SearchSpace(task_type).vector_names
    x = np.asarray(x, dtype=float)
    x = np.zeros((0, len(names))) if x.size == 0 else np.atleast_2d(x)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise InvalidParameterError(
            f"Config encodings of a {task_type} task must have {len(names)} columns. "
            f"Got shape {x.shape} instead.")
    out = np.zeros((len(x), len(layout)))
    out[:, [layout.index(n) for n in names]] = x
    return out


def infer_task_type(metafeatures: Mapping[str, float], width: int) -> str:
    """The task type a config width and NumberOfClasses point to (0 classes: regression)."""
    widths = {t: len(SearchSpace(t).vector_names) for t in TASK_TYPES}
    fits = [t for t in TASK_TYPES if widths[t] == width]
    classes = float(metafeatures.get("NumberOfClasses", math.nan))
    by_classes = "regression" if classes == 0 else "multiclass" if classes > 2 else "binary"
    if by_classes in fits or not fits:
        return by_classes
    return fits[0]


def normal_scores(losses: np.ndarray) -> np.ndarray:
    """Phi^-1((rank - 1/2) / n) of each loss (average ranks; NaN and inf tied last)."""
    losses = np.where(np.isfinite(losses), losses, np.inf)
    return norm.ppf((rankdata(losses) - 0.5) / len(losses))


# -- the surrogate ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Surrogate:
    """A meta-trained (or randomly initialised) ensemble, ready to be adapted to a task.

    `weights`: the first layer's config and task parts and bias, then each further layer's
    W and b, stacked over the members (W of shape (members, in, out)).
    """

    settings: SurrogateSettings
    representation: ScaledMetafeatures
    weights: tuple[np.ndarray, ...]
    layout: tuple[str, ...]
    metabase_hash: str = ""
    task_names: tuple[str, ...] = ()
    metrics: Mapping[str, str] = field(default_factory=dict)
    history: tuple[tuple[int, float], ...] = ()  # (meta-step, meta-validation loss)
    validation_loss: float = math.nan
    train_seconds: float = 0.0

    def adapt(self, task_metafeatures: Mapping[str, float], x: np.ndarray, losses: np.ndarray,
              task_type: str | None = None) -> AdaptedSurrogate:
        """Fine-tune on a task's observations with the inner loop of meta-training.

        `x`: the observed configs' `SearchSpace(task_type).encode` rows; `losses`: lower is
        better, NaN or inf for a failed trial (worse than any success). 0 or 1 observation
        leaves the prior. `task_type` is inferred from x's width and NumberOfClasses if None.
        """
        x = np.asarray(x, dtype=float)
        losses = np.asarray(losses, dtype=float).reshape(-1)
        task_type = task_type or infer_task_type(task_metafeatures,
                                                 x.shape[1] if x.ndim == 2 else 0)
        if task_type not in TASK_TYPES:
            raise InvalidParameterError(
                f"The 'task_type' parameter must be one of {list(TASK_TYPES)}. "
                f"Got {task_type!r} instead.")
        rows = to_layout(self.layout, task_type, x)
        if len(rows) != len(losses):
            raise InvalidParameterError(
                f"adapt needs one loss per observed config. Got {len(rows)} configs and "
                f"{len(losses)} losses.")
        task = self._task_vector(task_type, task_metafeatures)
        keys = np.where(np.isfinite(losses), losses, np.inf)
        with one_torch_thread() as torch:
            weights = [torch.as_tensor(w, dtype=torch.float32) for w in self.weights]
            task_t = torch.as_tensor(task, dtype=torch.float32)[None, None]
            fast = _fast_weights(torch, weights, task_t.expand(len(self.weights[0]), 1, -1))
            adapted = _inner_loop(torch, fast, torch.as_tensor(rows, dtype=torch.float32)[None],
                                  torch.as_tensor(keys, dtype=torch.float32)[None], self.settings)
            fast = tuple(p.numpy() for p in adapted)
        return AdaptedSurrogate(self, task_type, fast, rows, keys)

    def _task_vector(self, task_type: str, metafeatures: Mapping[str, float]) -> np.ndarray:
        onehot = np.array([float(t == task_type) for t in TASK_TYPES])
        return np.concatenate([onehot, self.representation.vector(metafeatures)])

    def save(self, path: str | Path) -> Path:
        """Write settings, representation, layout, weights and the meta-base hash to one .npz
        file (no pickles): reading it back needs numpy only, so `fit` starts its first
        trial before torch is imported."""
        path = Path(path)
        header = {"format_version": FORMAT_VERSION, "space_version": SPACE_VERSION,
                  "settings": asdict(self.settings), "representation": self.representation.state(),
                  "layout": list(self.layout), "metabase_hash": self.metabase_hash,
                  "task_names": list(self.task_names), "metrics": dict(self.metrics),
                  "history": [list(h) for h in self.history],
                  "validation_loss": float(self.validation_loss),
                  "train_seconds": float(self.train_seconds), "n_weights": len(self.weights)}
        arrays = {f"w{i}": np.ascontiguousarray(w) for i, w in enumerate(self.weights)}
        try:
            with open(path, "wb") as fh:  # np.savez would append .npz to any other name
                np.savez(fh, header=np.array(json.dumps(header)), **arrays)
        except OSError as exc:
            raise InvalidParameterError(f"Cannot write the surrogate to {path}: {exc}") from None
        return path

    @classmethod
    def load(cls, path: str | Path, expected_hash: str | None = None) -> Surrogate:
        """Read a surrogate written by `save`; with `expected_hash`, refuse one trained on
        another meta-base content (MetaBaseError naming both hashes)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                state = json.loads(str(data["header"]))
                version = state["format_version"]
                weights = tuple(data[f"w{i}"] for i in range(int(state["n_weights"])))
        except Exception as exc:  # numpy and json raise many kinds on a missing or foreign file
            raise MetaBaseError(f"Cannot read a surrogate from {path}: {exc}") from None
        if version != FORMAT_VERSION or state["space_version"] != SPACE_VERSION:
            raise MetaBaseError(
                f"{path} holds a surrogate of format {version}, search space "
                f"{state['space_version']}; this version reads format {FORMAT_VERSION}, space "
                f"{SPACE_VERSION}. Retrain it with `automl metabase train-surrogate --out {path}`.")
        if expected_hash is not None:
            check_trained_on(state["metabase_hash"], expected_hash, path, "surrogate")
        kind = state["representation"]["kind"]
        settings = state["settings"]
        known = {f.name for f in fields(SurrogateSettings)}
        return cls(SurrogateSettings(**{k: v for k, v in settings.items() if k in known}),
                   REPRESENTATIONS[kind].from_state(state["representation"]),
                   weights, tuple(state["layout"]),
                   state["metabase_hash"], tuple(state["task_names"]), dict(state["metrics"]),
                   tuple((int(s), float(v)) for s, v in state["history"]),
                   float(state["validation_loss"]), float(state["train_seconds"]))


@dataclass(frozen=True, eq=False)
class AdaptedSurrogate:
    """A surrogate fine-tuned on one task's observations: predicts candidates' losses."""

    surrogate: Surrogate
    task_type: str
    weights: tuple[np.ndarray, ...]  # per member, the task's first-layer bias folded in
    observed: np.ndarray  # the observations' rows in the shared layout
    losses: np.ndarray  # their losses, inf = failed

    def predict(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and std per candidate encoding, in normal-score units (lower = better)."""
        rows = to_layout(self.surrogate.layout, self.task_type, candidates)
        members = self._members(rows)
        return members.mean(axis=0), members.std(axis=0)

    def _members(self, rows: np.ndarray) -> np.ndarray:
        with one_torch_thread() as torch, torch.no_grad():
            fast = [torch.from_numpy(w) for w in self.weights]
            out = _forward(torch, fast, torch.as_tensor(rows, dtype=torch.float32)[None])
        return out.numpy().astype(float)

    def incumbent(self) -> float:
        """The predicted mean at the best observed config (+inf when none succeeded)."""
        ok = np.isfinite(self.losses)
        if not ok.any():
            return math.inf
        best = self.observed[[int(np.argmin(np.where(ok, self.losses, np.inf)))]]
        return float(self._members(best).mean())

    def prediction(self, candidates: np.ndarray) -> Prediction:
        """The candidates' predicted losses, measured from the incumbent's predicted mean
        (with no success yet: from the best candidate's), for an acquisition to score."""
        mean, std = self.predict(candidates)
        best = self.incumbent()
        return Prediction(mean, std, best if math.isfinite(best) else float(mean.min()))


# -- building ---------------------------------------------------------------------------------


def scratch_surrogate(config_dim: int, task: RobustScaling | int,
                      settings: SurrogateSettings = SurrogateSettings()) -> Surrogate:
    """The same network and fine-tuning, randomly initialised: the `surrogate-scratch` ablation.

    `config_dim`: the width of the encodings it will see (any task type's is accepted);
    `task`: the meta-feature scaling, or a number of meta-features (a neutral scaling);
    ignored unless `settings.metafeatures`.
    """
    layout = config_layout()
    widths = {len(SearchSpace(t).vector_names) for t in TASK_TYPES}
    if config_dim not in widths:
        raise InvalidParameterError(
            f"The 'config_dim' parameter must be a config encoding width, one of "
            f"{sorted(widths)}. Got {config_dim!r} instead.")
    if not settings.metafeatures:
        task = 0
    if not isinstance(task, RobustScaling):
        n = int(task)
        task = RobustScaling(tuple(f"f{i}" for i in range(n)), np.zeros(n), np.ones(n))
    representation = ScaledMetafeatures(task)
    with one_torch_thread() as torch:
        weights = _init_weights(torch, settings, len(layout), len(TASK_TYPES) + representation.dim)
    return Surrogate(settings, representation, tuple(w.numpy() for w in weights), layout)


@dataclass(frozen=True)
class TaskTable:
    """Meta-training data: per task its config rows, normal scores and task vector, padded."""

    names: tuple[str, ...]
    fingerprints: tuple[str, ...]
    x: np.ndarray  # (tasks, configs, layout)
    z: np.ndarray  # (tasks, configs) normal scores; padding is NaN
    counts: np.ndarray  # (tasks,) evaluated configs
    tasks: np.ndarray  # (tasks, task vector)


def task_table(metabase, task_names: Sequence[str] | None = None,
               metrics: Mapping[str, str] | None = None, metafeatures: bool = True
               ) -> tuple[TaskTable, ScaledMetafeatures, dict[str, str]]:
    """Read what meta-training learns from, of `task_names` only (all when None), sorted by name.

    The meta-feature columns are those seen on the chosen tasks, sorted, and the scaling is
    fitted on them: nothing of the other tasks enters. Without `metafeatures`, none.
    """
    features = feature_table(metabase, task_names, seen_only=True)
    records = {r.name: r for r in metabase.tasks() if r.name in set(features.names)}
    chosen = sorted(records)
    if not chosen:
        raise InvalidParameterError("meta_train needs at least one task of the meta-base.")
    representation = ScaledMetafeatures(
        features.scaling() if metafeatures and features.features
        else RobustScaling((), np.zeros(0), np.ones(0)))
    layout = config_layout()
    used = {t: check_metric((metrics or {}).get(t, DEFAULT_METRIC[t]), t) for t in TASK_TYPES}
    tables = {t: loss_table(metabase, t, used[t], chosen) for t in {r.task_type for r in records.values()}}
    rows = []
    for name in chosen:
        record = records[name]
        table = tables[record.task_type]
        if name not in table.names:
            continue
        losses = table.losses[table.names.index(name)]
        keep = np.flatnonzero(~np.isnan(losses))  # configs run on the task, failed ones too
        if len(keep) < 2:
            continue
        x = to_layout(layout, record.task_type, metabase.pool_vectors(record.task_type)[keep])
        onehot = [float(t == record.task_type) for t in TASK_TYPES]
        task = np.concatenate([onehot, representation.vector(record.metafeatures)])
        rows.append((name, record.fingerprint, x, normal_scores(losses[keep]), task))
    if not rows:
        raise InvalidParameterError(
            "meta_train needs tasks with at least 2 evaluated configs; the chosen tasks have none.")
    width = max(len(r[3]) for r in rows)
    x = np.zeros((len(rows), width, len(layout)))
    z = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        x[i, :len(r[3])], z[i, :len(r[3])] = r[2], r[3]
    table = TaskTable(tuple(r[0] for r in rows), tuple(r[1] for r in rows), x, z,
                      np.array([len(r[3]) for r in rows]), np.array([r[4] for r in rows]))
    return table, representation, used


def meta_train(metabase, task_names: Sequence[str] | None = None,
               settings: SurrogateSettings = SurrogateSettings(),
               metrics: Mapping[str, str] | None = None,
               on_progress: Callable[[int, int, float], None] | None = None) -> Surrogate:
    """Meta-train the surrogate on `task_names` of the meta-base (all tasks when None).

    `metrics` maps a task type to the metric whose ranking is learned (default DEFAULT_METRIC).
    `on_progress(step, meta_steps, validation_loss)` is called every `eval_every` steps (the
    loss is NaN without held-out tasks). Same seed, same weights.
    """
    started = time.monotonic()
    table, representation, used = task_table(metabase, task_names, metrics,
                                             settings.metafeatures)
    held = _held_out(table.fingerprints, settings.validation, settings.seed)
    with one_torch_thread() as torch:
        weights, history = _meta_optimise(torch, table, held, settings, on_progress)
    best = min((v for _, v in history), default=math.nan)
    return Surrogate(settings, representation, weights, config_layout(),
                     metabase.content_hash(), table.names, used, tuple(history), best,
                     time.monotonic() - started)


def _held_out(fingerprints: Sequence[str], share: float, seed: int) -> np.ndarray:
    """A mask of meta-validation tasks (whole fingerprint groups); none if too few groups."""
    groups = sorted(set(fingerprints))
    n_out = int(round(share * len(groups)))
    if n_out < 1 or len(groups) - n_out < 2:
        return np.zeros(len(fingerprints), dtype=bool)
    out = set(np.random.default_rng(seed).permutation(groups)[:n_out].tolist())
    return np.array([f in out for f in fingerprints])


# -- torch internals ---------------------------------------------------------------------------


def _init_weights(torch, settings: SurrogateSettings, config_dim: int, task_dim: int) -> list:
    """[W_config, W_task, b, then W, b of each further layer], stacked over the members
    (W: (members, in, out)); uniform(+-1/sqrt(in)) as nn.Linear."""
    generator = torch.Generator().manual_seed(settings.seed)
    sizes = [config_dim + task_dim, *settings.hidden, 1]
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        for shape in ((settings.n_members, fan_in, fan_out), (settings.n_members, fan_out)):
            out.append((torch.rand(shape, generator=generator) * 2 - 1) * bound)
    first = out[0]
    return [first[:, :config_dim].contiguous(), first[:, config_dim:].contiguous(), *out[1:]]


def _fast_weights(torch, weights: Sequence, task) -> list:
    """What the inner loop adapts, per copy (member x task): the first layer's task part is
    constant within a task, so it folds into that layer's bias. task: (members, n, t)."""
    members, n = task.shape[:2]
    bias = (torch.matmul(task, weights[1]) + weights[2][:, None]).reshape(members * n, -1)
    copies = [w.repeat_interleave(n, dim=0) for w in (weights[0], *weights[3:])]
    return [copies[0], bias, *copies[1:]]


def _forward(torch, fast: Sequence, x):
    """Outputs (copies, n) of the stacked networks on x (copies or 1, n, config)."""
    h = torch.matmul(x, fast[0]) + fast[1][:, None]
    for i in range(2, len(fast), 2):
        h = torch.matmul(torch.relu(h), fast[i]) + fast[i + 1][:, None]
    return h[..., 0]


def _pairwise(torch, out, keys, mask):
    """Per copy, mean over pairs (i better than j, both in mask) of log(1 + exp(f_i - f_j))."""
    better = (keys[:, :, None] < keys[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    better = better.to(out.dtype)
    loss = torch.nn.functional.softplus(out[:, :, None] - out[:, None, :])
    return (loss * better).sum(dim=(1, 2)) / better.sum(dim=(1, 2)).clamp(min=1.0)


def _inner_loop(torch, fast: Sequence, x, keys, settings: SurrogateSettings, mask=None) -> list:
    """`inner_steps` SGD steps of the pairwise loss; first order (no graph kept through them)."""
    mask = ~torch.isnan(keys) if mask is None else mask
    fast = [p.detach() for p in fast]
    if settings.inner_steps == 0 or x.shape[1] < 2:
        return fast
    for _ in range(settings.inner_steps):
        fast = [p.requires_grad_(True) for p in fast]
        loss = _pairwise(torch, _forward(torch, fast, x), keys, mask).sum()
        grads = torch.autograd.grad(loss, fast)
        fast = [(p - settings.inner_lr * g).detach() for p, g in zip(fast, grads)]
    return fast


def _squared_error(out, z, mask):
    return ((out - z) ** 2 * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def _draw(rng: np.random.Generator, table: TaskTable, tasks: np.ndarray, k: int, q: int):
    """Support and query of each drawn task: rows, targets and masks (numpy)."""
    k = min(k, table.x.shape[1] - 1)
    valid = np.isfinite(table.z[tasks])
    order = np.argsort(np.where(valid, rng.random(valid.shape), 2.0), axis=1, kind="stable")
    counts = table.counts[tasks][:, None]
    support, query = order[:, :k], order[:, k:k + q]
    s_mask = np.arange(k)[None] < np.minimum(k, counts - 1)
    q_mask = (k + np.arange(query.shape[1]))[None] < counts
    pick = tasks[:, None]
    return (table.x[pick, support], np.nan_to_num(table.z[pick, support]), s_mask,
            table.x[pick, query], np.nan_to_num(table.z[pick, query]), q_mask)


def _query_loss(torch, weights: Sequence, batch, task, settings: SurrogateSettings):
    """Adapt copies of the weights on each support; the query's squared error (per copy) at
    the adapted weights, and those weights. task: (members, tasks per member, t)."""
    f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    xs, zs, ms, xq, zq, mq = batch
    fast = _inner_loop(torch, _fast_weights(torch, [w.detach() for w in weights], task), f32(xs),
                       f32(zs), settings, torch.as_tensor(ms))
    fast = [p.requires_grad_(True) for p in fast]
    return _squared_error(_forward(torch, fast, f32(xq)), f32(zq), f32(mq)), fast


def _outer_gradients(torch, fast: Sequence, loss, task) -> list:
    """First-order MAML: the gradient at the adapted copies, summed back onto the weights."""
    members, n = task.shape[:2]
    grads = torch.autograd.grad(loss.sum() / n, fast)
    summed = [g.reshape(members, n, *g.shape[1:]).sum(dim=1) for g in grads]
    bias = grads[1].reshape(members, n, -1)
    return [summed[0], torch.matmul(task.transpose(1, 2), bias), summed[1], *summed[2:]]


def _meta_optimise(torch, table: TaskTable, held: np.ndarray, settings: SurrogateSettings,
                   on_progress) -> tuple[tuple[np.ndarray, ...], list[tuple[int, float]]]:
    """First-order MAML with Adam; keeps the weights of the best meta-validation loss."""
    rng = np.random.default_rng(settings.seed)
    members, batch_size = settings.n_members, settings.meta_batch
    weights = [w.requires_grad_(True) for w in _init_weights(
        torch, settings, table.x.shape[2], table.tasks.shape[1])]
    optimizer = torch.optim.Adam(weights, lr=settings.meta_lr, weight_decay=settings.weight_decay)
    train = np.flatnonzero(~held)
    validate = _validation_batch(table, np.flatnonzero(held), settings)
    tasks_t = torch.as_tensor(table.tasks, dtype=torch.float32)
    history: list[tuple[int, float]] = []
    best = (math.inf, [w.detach().clone() for w in weights])
    for step in range(settings.meta_steps + 1):
        if validate is not None and (step % settings.eval_every == 0
                                     or step == settings.meta_steps):
            loss = _validation_loss(torch, weights, validate, tasks_t, settings)
            history.append((step, loss))
            if loss < best[0]:
                best = (loss, [w.detach().clone() for w in weights])
        if on_progress is not None and step % settings.eval_every == 0:
            on_progress(step, settings.meta_steps, history[-1][1] if history else math.nan)
        if step == settings.meta_steps:
            break
        drawn = train[rng.integers(len(train), size=members * batch_size)]
        k = int(rng.integers(1, settings.support_max + 1))
        task = tasks_t[drawn].reshape(members, batch_size, -1)
        loss, fast = _query_loss(torch, weights, _draw(rng, table, drawn, k, settings.query_size),
                                 task, settings)
        optimizer.zero_grad()
        for w, g in zip(weights, _outer_gradients(torch, fast, loss, task)):
            w.grad = g
        optimizer.step()
    final = best[1] if validate is not None else weights
    return tuple(w.detach().numpy().copy() for w in final), history


def _validation_batch(table: TaskTable, held: np.ndarray, settings: SurrogateSettings):
    """Fixed draws on the held-out tasks: each support size, the rest of the task as query."""
    if len(held) == 0:
        return None
    rng = np.random.default_rng(settings.seed + 1)
    draws = []
    for k in VALIDATION_SUPPORTS:  # the same draws for every member
        batch = _draw(rng, table, held, k, table.x.shape[1])
        draws.append((held, tuple(np.concatenate([a] * settings.n_members) for a in batch)))
    return draws


def _validation_loss(torch, weights: Sequence, validate, tasks_t, settings) -> float:
    """Mean over members, held-out tasks and support sizes of the adapted query loss."""
    losses = []
    for held, batch in validate:
        task = tasks_t[held][None].expand(settings.n_members, -1, -1)
        loss, _ = _query_loss(torch, weights, batch, task, settings)
        losses.append(loss.detach())
    return float(torch.cat(losses).mean())
