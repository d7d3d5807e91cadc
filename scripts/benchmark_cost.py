"""How well the cost model predicts fit seconds on tasks it was not trained on.

Folds over the meta-base's tasks: the model is trained on the other folds; on each
held-out task, k of its trials (a seeded random order) are observed by `TaskCost` and the
rest predicted. Prints, per task type and k, the median absolute error of log seconds
(0.1 is about 10% off) and the share of trials predicted within a factor of 2.

    python scripts/benchmark_cost.py --metabase metabase/default.metabase --observed 0,3,10
"""

from __future__ import annotations

import argparse

import numpy as np

from automl_meta.core.space import TASK_TYPES
from automl_meta.learning.cost import TaskCost, train_cost_model, training_rows
from automl_meta.metabase.locate import default_metabase_path
from automl_meta.metabase.store import MetaBase


def held_out_errors(metabase, observed: list[int], n_folds: int, seed: int) -> dict:
    """(task type, k) -> absolute log errors of the trials not observed, over every task."""
    names = [r.name for r in metabase.tasks()]
    rng = np.random.default_rng(seed)
    fold_of = {n: k % n_folds for k, n in enumerate(rng.permutation(names))}
    errors: dict = {}
    for fold in range(n_folds):
        model = train_cost_model(metabase, [n for n in names if fold_of[n] != fold], held_out_folds=2)
        test = [n for n in names if fold_of[n] == fold]
        for task_type in TASK_TYPES:
            _add_task_errors(errors, model, metabase, task_type, test, observed, rng)
    return errors


def _add_task_errors(errors, model, metabase, task_type, test, observed, rng) -> None:
    design, y, families, task = training_rows(metabase, task_type, test)
    width = len(metabase.pool_vectors(task_type)[0])
    folds = metabase.protocol.n_folds
    for t in np.unique(task):
        rows = np.flatnonzero(task == t)
        order = rng.permutation(rows)
        vectors, size = design[:, :width], design[rows[0], width:width + 4]
        for k in observed:
            if len(rows) <= k:
                continue
            cost = TaskCost(model, task_type, size, folds - 1)  # the protocol's own CV
            for r in order[:k]:
                cost.observe(families[r], vectors[r], float(np.exp(y[r])))
            rest = order[k:]
            predicted = np.log(cost.seconds(families[rest], vectors[rest]))
            errors.setdefault((task_type, k), []).append(np.abs(predicted - y[rest]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metabase", default=None, help="default: the shipped meta-base")
    parser.add_argument("--observed", default="0,3,10")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    observed = [int(k) for k in args.observed.split(",")]
    with MetaBase.open(args.metabase or default_metabase_path()) as metabase:
        errors = held_out_errors(metabase, observed, args.folds, args.seed)
    print("| task type | trials observed | median abs. error of log seconds | within 2x |")
    print("| --- | --- | --- | --- |")
    for (task_type, k), parts in sorted(errors.items()):
        e = np.concatenate(parts)
        print(f"| {task_type} | {k} | {np.median(e):.3f} | {np.mean(e < np.log(2)):.0%} |")


if __name__ == "__main__":
    main()
