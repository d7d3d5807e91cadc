"""Where proposals come from: random configs (of the space, or of a fixed pool offline),
and the candidates a model ranks (fresh samples and neighbours of the best online; the
untried pool in a replay)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from automl_meta.core.errors import InvalidParameterError
from automl_meta.core.space import SearchSpace, config_id

N_SAMPLED_CANDIDATES = 500  # online: random configs scored at each step
N_PERTURBED_CANDIDATES = 200  # online: neighbours of the best configs so far
PERTURB_PROBABILITY = 0.3  # each param of a perturbed config is resampled with this chance
RANDOM_DRAWS = 20  # random proposals drawn to find one predicted to fit in the time left


class RandomDesign:
    """Uniform random configs of the space, or of the `candidates` (a pool, offline). With a
    `cost` (a cost.TaskCost) and a finite time left, one predicted to fit in it."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator,
                 candidates: Sequence[dict] | None = None, cost=None) -> None:
        self.space, self._rng, self.cost = space, rng, cost
        self._candidates = list(candidates) if candidates is not None else None

    def propose(self, seen: set[str], time_left: float = math.inf) -> dict:
        """A config whose id is not in `seen`."""
        if self._candidates is not None:
            left = self.untried(seen)
            return left[int(self._rng.integers(len(left)))]
        if self.cost is not None and math.isfinite(time_left):
            return self._fitting(seen, time_left)
        return self._draw(seen)

    def untried(self, seen: set[str]) -> list[dict]:
        """Offline: the candidates not proposed yet."""
        left = [c for c in self._candidates if config_id(c) not in seen]
        if not left:
            raise InvalidParameterError("Every candidate config has already been proposed.")
        return left

    def _draw(self, seen: set[str]) -> dict:
        for _ in range(100):
            config = self.space.sample(1, seed=int(self._rng.integers(2**31)))[0]
            if config_id(config) not in seen:
                break
        return config

    def _fitting(self, seen: set[str], time_left: float) -> dict:
        """The first of RANDOM_DRAWS random configs predicted to fit in time_left, else the
        one predicted to take least."""
        draws = [self._draw(seen) for _ in range(RANDOM_DRAWS)]
        seconds = self.cost.seconds([c["family"] for c in draws],
                                    np.array([self.space.encode(c) for c in draws]))
        fits = np.flatnonzero(seconds <= time_left)
        return draws[int(fits[0]) if len(fits) else int(np.argmin(seconds))]


class PoolCandidates:
    """Offline: the candidates are the pool's untried configs (the HPO-B protocol)."""

    def __init__(self, design: RandomDesign) -> None:
        self._design = design

    def generate(self, seen: set[str], best: Sequence[dict]) -> list[dict]:
        return self._design.untried(seen)


class OnlineCandidates:
    """Online: fresh samples of the space, neighbours of the best configs so far, and the
    `extra` configs (a meta-base's pool), each once and none already seen."""

    def __init__(self, space: SearchSpace, rng: np.random.Generator,
                 extra: Sequence[dict] = ()) -> None:
        self.space, self._rng = space, rng
        self._extra = [c for c in extra if c["family"] in space.families]

    def generate(self, seen: set[str], best: Sequence[dict]) -> list[dict]:
        """`best`: the best configs told so far, best first (perturbed in turn)."""
        seed = int(self._rng.integers(2**31))
        fresh = self.space.sample(N_SAMPLED_CANDIDATES, seed=seed)
        perturbed = [perturb(self.space, best[i % len(best)], self._rng)
                     for i in range(N_PERTURBED_CANDIDATES)] if best else []
        out, ids = [], set(seen)
        for config in perturbed + fresh + self._extra:
            if config_id(config) not in ids:
                ids.add(config_id(config))
                out.append(config)
        return out


def perturb(space: SearchSpace, config: dict, rng: np.random.Generator) -> dict:
    """A neighbour of config in its family: each param resampled with PERTURB_PROBABILITY."""
    domains = space.domains(config["family"])
    params = dict(config["params"])
    names = list(domains)
    changed = False
    for name in names:
        if rng.random() < PERTURB_PROBABILITY:
            params[name] = domains[name].sample(rng)
            changed = True
    if not changed:  # always move at least one param
        name = names[int(rng.integers(len(names)))]
        params[name] = domains[name].sample(rng)
    return {"family": config["family"], "params": params}
