"""A Gaussian process fitted on config encodings and their losses, predicting candidates."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from automl_meta.learning.acquisition import Prediction


def gp_predict(x: np.ndarray, y: np.ndarray, candidates: np.ndarray, seed: int = 0,
               kernel=None) -> tuple[Prediction, object]:
    """The candidates' losses under a GP fitted on (x, y), measured from min(y); and the kernel.

    scikit-learn GaussianProcessRegressor: constant x Matern(2.5) + white noise, targets
    standardised, kernel hyperparameters by maximum likelihood within bounds that keep
    it a model (length scale >= 0.1 on the [0, 1] encodings, noise <= 10% of the
    variance): with few points, unbounded likelihood explains everything as noise.
    Given a fitted `kernel`, its hyperparameters are kept as they are (no optimisation).
    """
    optimise = kernel is None
    if optimise:
        kernel = (ConstantKernel(1.0, (1e-2, 1e2)) * Matern(1.0, (0.1, 10.0), nu=2.5)
                  + WhiteKernel(1e-3, (1e-6, 1e-1)))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed,
                                  n_restarts_optimizer=0,
                                  optimizer="fmin_l_bfgs_b" if optimise else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of the kernel optimiser
        gp.fit(x, y)
        mu, sigma = gp.predict(candidates, return_std=True)
    return Prediction(mu, sigma, float(np.min(y))), gp.kernel_
