"""The shared config pool: deterministic, defaults first, family-balanced and space-filling."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.families import BOOSTING_FAMILIES
from automl_meta.core.space import FAMILIES, SKLEARN_FAMILIES, TASK_TYPES, SearchSpace, config_id
from automl_meta.metabase.pool import (
    build_pool,
    centroidal,
    extended_size,
    family_quotas,
    farthest_points,
    generation_quotas,
)

# sha1 of the comma-joined config ids of the pools of search space version 2 (128 configs,
# seed 0), as the shipped meta-base of that version stored them: version 3 must keep them.
V2_POOL_HASHES = {"binary": "6182f159b51ef45f", "multiclass": "6182f159b51ef45f",
                  "regression": "b157cb555dc159b0"}


@pytest.fixture(scope="module")
def pools() -> dict[str, list[dict]]:
    return {task_type: build_pool(task_type, 176, seed=0) for task_type in TASK_TYPES}


def test_same_arguments_give_the_same_pool(pools):
    assert build_pool("binary", 176, seed=0) == pools["binary"]
    assert [config_id(c) for c in build_pool("binary", 176, seed=1)] != \
        [config_id(c) for c in pools["binary"]]


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_pool_keeps_every_version_2_config_and_its_order(pools, task_type):
    assert extended_size(128) == 176
    ids = ",".join(config_id(c) for c in pools[task_type][:128])
    assert hashlib.sha1(ids.encode()).hexdigest()[:16] == V2_POOL_HASHES[task_type]


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_each_generation_starts_with_its_families_defaults(pools, task_type):
    pool = pools[task_type]
    defaults = SearchSpace(task_type).default_configs()
    assert [c["family"] for c in defaults] == list(FAMILIES)  # svm included: n_rows=None
    assert pool[:len(SKLEARN_FAMILIES)] == defaults[:len(SKLEARN_FAMILIES)]
    assert pool[128:128 + len(BOOSTING_FAMILIES)] == defaults[len(SKLEARN_FAMILIES):]
    assert Counter(c["family"] for c in pool[128:]) == {f: 16 for f in BOOSTING_FAMILIES}


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_pool_configs_are_valid_and_distinct(pools, task_type):
    pool = pools[task_type]
    space = SearchSpace(task_type)
    for config in pool:
        space.validate(config)
    assert len(pool) == 176
    assert len({config_id(c) for c in pool}) == 176


@pytest.mark.parametrize(("size", "per_boosting_family"), [(8, 0), (10, 1), (20, 2), (128, 12),
                                                           (176, 16), (300, 16)])
def test_families_are_balanced_and_interleaved_within_each_generation(size, per_boosting_family):
    pool = build_pool("regression", size, seed=0)
    assert len(pool) == size
    start = 0
    for families, quota in generation_quotas(size):
        generation = pool[start:start + quota]
        start += quota
        if not quota:
            continue
        counts = Counter(c["family"] for c in generation)
        assert counts == Counter(family_quotas(families, quota))
        assert max(counts.values()) - min(counts.values()) <= 1
        rounds = [c["family"] for c in generation]
        assert rounds[:len(families)] == list(families)
        assert rounds[len(families):2 * len(families)] == list(families)[:len(rounds[len(families):2 * len(families)])]
    assert Counter(c["family"] for c in pool)["catboost"] == per_boosting_family
    assert set(c["family"] for c in pool) == set(FAMILIES if per_boosting_family else SKLEARN_FAMILIES)


def test_family_quotas_give_the_remainder_to_the_first_families():
    assert family_quotas(("a", "b", "c"), 8) == {"a": 3, "b": 3, "c": 2}


def _encoded(task_type: str, configs: list[dict]) -> np.ndarray:
    space = SearchSpace(task_type)
    return np.array([space.encode(c) for c in configs])


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_pool_is_space_filling(pools, task_type):
    space = SearchSpace(task_type)
    pool = _encoded(task_type, pools[task_type])
    fresh = _encoded(task_type, space.sample(2000, seed=99))
    for seed in (1, 2, 3):
        random = _encoded(task_type, space.sample(176, seed=seed))
        assert pdist(pool).min() > 5 * pdist(random).min()
        # every region is covered: a fresh random config lies closer to the pool
        nearest_pool = cdist(fresh, pool).min(axis=1).mean()
        assert nearest_pool < 0.85 * cdist(fresh, random).min(axis=1).mean()


def test_farthest_points_takes_the_farthest_candidate_first():
    candidates = np.array([[0.1], [0.5], [1.0], [0.45]])
    assert farthest_points(candidates, np.array([[0.0]]), 2) == [2, 1]
    assert farthest_points(candidates, np.array([[0.0]]), 0) == []


def test_centroidal_moves_a_pick_to_the_middle_of_its_cell():
    candidates = np.array([[0.0], [0.4], [0.5], [0.6], [1.0]])
    # the fixed point at -10 owns no candidate; the pick at 1.0 owns them all: mean 0.5
    assert centroidal(candidates, np.array([[-10.0]]), [4]) == [2]


@pytest.mark.parametrize("size", [6, 0, -1, 7.0, True, "128"])
def test_pool_size_below_the_minimum_is_rejected(size):
    with pytest.raises(InvalidParameterError, match="'size' parameter must be an int >= 7"):
        build_pool("binary", size)


def test_unknown_task_type_is_rejected():
    with pytest.raises(InvalidParameterError, match="'task_type' parameter"):
        build_pool("ranking", 10)
