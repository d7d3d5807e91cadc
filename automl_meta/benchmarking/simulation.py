"""A simulated clock and a runner that answers from stored results: the search loop of
`automl fit` (search.loop.run_search) replayed without fitting anything.

The runner starts each submitted config on a free simulated worker and finishes it its
stored seconds later; `collect` moves the clock to the next finish (syne-tune's simulator
backend does the same). Time limits are not applied: a stored result counts even when it
took longer than the limit it was given, as the offline benchmark has always counted it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

from automl_meta.core.space import config_id
from automl_meta.trials.evaluate import Evaluation, Status, Trial

# What a stored trial gave: its score on the metric (NaN: it failed) and its fit seconds.
Answer = Callable[[dict], tuple[float, float]]


class SimulatedClock:
    """Seconds that pass only when the runner says so."""

    def __init__(self, start: float = 0.0) -> None:
        self.time = start

    def __call__(self) -> float:
        return self.time

    def advance_to(self, when: float) -> None:
        self.time = max(self.time, when)


class StoredRunner:
    """A search.loop runner whose trials take their stored seconds on a simulated clock."""

    def __init__(self, answer: Answer, metric: str, clock: SimulatedClock,
                 n_workers: int = 1) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers must be at least 1, got {n_workers}")
        self.answer, self.metric, self.clock, self.n_workers = answer, metric, clock, n_workers
        self._running: list[tuple[float, int, Evaluation]] = []  # (finish, submit order, job)
        self._submitted = 0

    def idle(self) -> int:
        return self.n_workers - len(self._running)

    def busy(self) -> int:
        return len(self._running)

    def submit(self, kind: str, config: dict, index: int, time_limit: float,
               metadata: dict | None = None) -> None:
        """Start evaluating `config`; it finishes its stored seconds from now."""
        if kind != "evaluate":
            raise ValueError(f"a replay only evaluates stored trials, not {kind!r} jobs")
        if not self.idle():
            raise RuntimeError("no idle worker: check idle() first")
        score, seconds = self.answer(config)
        ok = math.isfinite(score)
        trial = Trial(index=index, config=config, config_id=config_id(config),
                      status=Status.OK if ok else Status.FAILED, fit_seconds=seconds,
                      scores={self.metric: score} if ok else {})
        heapq.heappush(self._running, (self.clock() + seconds, self._submitted, Evaluation(trial)))
        self._submitted += 1

    def collect(self, timeout: float) -> list[Evaluation]:
        """The trials that finish next (the clock moves to their finish), or [] when none
        runs; stored trials have no predictions."""
        if not self._running:
            return []
        finish = self._running[0][0]
        self.clock.advance_to(finish)
        done = []
        while self._running and self._running[0][0] <= finish:
            done.append(heapq.heappop(self._running)[2])
        return done

    def cap_deadlines(self, deadline: float) -> None:
        """Nothing to cap: stored trials are not killed."""

    def cancel(self) -> None:
        self._running.clear()

    def close(self) -> None:
        self.cancel()
