"""automl-meta: AutoML that warm-starts from what worked on similar past tasks.

    from automl_meta import AutoMLClassifier
    model = AutoMLClassifier(time_budget=30).fit(X_train, y_train)
    model.predict(X_test)
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["AutoMLClassifier", "AutoMLRegressor", "fit_table", "__version__"]


def __getattr__(name: str):
    """The public API, imported on first use: `automl --help` must not wait for scikit-learn."""
    if name in ("AutoMLClassifier", "AutoMLRegressor", "fit_table"):
        from automl_meta import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'automl_meta' has no attribute {name!r}")
