"""The models a search fits on its trials so far to predict candidates' losses: a Gaussian
process, or the meta-trained surrogate fine-tuned on the task. Each returns an
acquisition.Prediction, whatever acquisition then scores it."""

from __future__ import annotations

import numpy as np

from automl_meta.learning.acquisition import Prediction
from automl_meta.learning.gp import gp_predict

GP_REFIT_EVERY = 5  # observations between two optimisations of the GP's kernel


class GPModel:
    """A GP on the config encodings. Its kernel's hyperparameters are re-optimised while
    observations are few and then every GP_REFIT_EVERY observations; in between the last
    ones are kept (most of GP-BO's cost is that optimisation, and one more point barely
    moves it)."""

    warm_up: tuple[str, ...] = ()

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._kernel = None

    def predict(self, x: np.ndarray, losses: np.ndarray, candidates: np.ndarray,
                n_told: int) -> Prediction:
        """`x`, `losses`: the observations it is fitted on; `n_told`: trials told so far."""
        reuse = self._kernel is not None and n_told > GP_REFIT_EVERY and n_told % GP_REFIT_EVERY
        prediction, self._kernel = gp_predict(x, losses, candidates, self._seed + n_told,
                                              self._kernel if reuse else None)
        return prediction


class SurrogateModel:
    """A surrogate.Surrogate, fine-tuned on the observations at each step (MAML's inner
    loop) and predicting from the task's meta-features."""

    warm_up = ("torch",)  # seconds of imports, worth doing while the first trials run

    def __init__(self, surrogate, metafeatures, task_type: str) -> None:
        self.surrogate, self.metafeatures, self.task_type = surrogate, metafeatures, task_type

    def predict(self, x: np.ndarray, losses: np.ndarray, candidates: np.ndarray,
                n_told: int) -> Prediction:
        adapted = self.surrogate.adapt(self.metafeatures, x, losses, task_type=self.task_type)
        return adapted.prediction(candidates)
