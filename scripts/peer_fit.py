"""Fit a peer system on a training CSV and write its predictions for a test CSV.

Runs in the peers' own environment (pandas, numpy, scikit-learn, flaml, autogluon), where
automl_meta is not installed, so it imports nothing from it. `benchmark_online.py` calls it
once per (dataset, peer) on the same split as `automl fit` and scores the predictions
with the same function.

    python scripts/peer_fit.py --system flaml --train t.train.csv --test t.test.csv \
        --target class --task classification --time-budget 60 --out pred.csv

Output: for classification one column `proba_<class>` per class seen in training (the
class label as text, as automl_meta names classes); for regression one column
`prediction`. One row per test row, in order. A JSON beside (`pred.json`) has the
seconds to fit and predict, and what the system reports (FLAML's best estimator,
AutoGluon's best model).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

PEER_METRIC = {  # our metric per task type, in each system's spelling
    "flaml": {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"},
    "autogluon": {"binary": "roc_auc", "multiclass": "log_loss",
                  "regression": "root_mean_squared_error"},
}


def read_split(train_path: str, test_path: str, target: str, task: str):
    """Training features and target (rows without a target dropped), and the test features.

    Only empty cells are missing (the benchmark writes cleaned cells); a classification
    target is read as text so class names match automl_meta's.
    """
    options = {"keep_default_na": False, "na_values": [""], "low_memory": False}
    train = pd.read_csv(train_path, dtype={target: str} if task == "classification" else None,
                        **options)
    test = pd.read_csv(test_path, **options)
    if task == "regression":
        train[target] = pd.to_numeric(train[target], errors="coerce")
    train = train[train[target].notna()].reset_index(drop=True)
    X = train.drop(columns=[target])
    return X, train[target], test[list(X.columns)]


def task_type_of(task: str, y: pd.Series) -> str:
    if task == "regression":
        return "regression"
    return "binary" if y.nunique() == 2 else "multiclass"


def fit_flaml(X, y, X_test, task_type, args):
    from flaml import AutoML

    automl = AutoML()
    automl.fit(X, y, task="regression" if task_type == "regression" else "classification",
               metric=PEER_METRIC["flaml"][task_type], time_budget=args.time_budget,
               n_jobs=args.n_jobs, seed=args.seed, verbose=0)
    info = {"best_estimator": automl.best_estimator, "best_config": automl.best_config,
            "trials": sum(getattr(automl, "_iter_per_learner", {}).values()) or None}
    if task_type == "regression":
        return automl.predict(X_test), (), info
    return automl.predict_proba(X_test), tuple(automl.classes_), info


def fit_autogluon(X, y, X_test, task_type, args):
    from autogluon.tabular import TabularPredictor

    label = "__target__"
    while label in X.columns:
        label += "_"
    with tempfile.TemporaryDirectory() as tmp:
        predictor = TabularPredictor(label=label, problem_type=task_type, path=tmp,
                                     eval_metric=PEER_METRIC["autogluon"][task_type], verbosity=0)
        predictor.fit(X.assign(**{label: y.to_numpy()}), presets="medium_quality",
                      time_limit=args.time_budget, num_cpus=args.n_jobs,
                      ag_args_fit={"random_seed": args.seed})
        info = {"best_model": predictor.model_best, "models": len(predictor.model_names())}
        if task_type == "regression":
            return predictor.predict(X_test).to_numpy(), (), info
        proba = predictor.predict_proba(X_test, as_multiclass=True)
        return proba.to_numpy(), tuple(proba.columns), info


def preprocessor(X: pd.DataFrame, impute: bool):
    """Numbers as they are (median-imputed if asked); other columns ordinally encoded.

    Missing and unseen categories become NaN when the model takes NaN, else -1.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OrdinalEncoder

    numeric = list(X.select_dtypes(include=["number", "bool"]).columns)
    other = [c for c in X.columns if c not in numeric]
    fill = -1 if impute else np.nan
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=fill,
                             encoded_missing_value=fill)
    return ColumnTransformer([("num", SimpleImputer(strategy="median") if impute else "passthrough",
                               numeric), ("cat", encoder, other)])


def fit_sklearn(X, y, X_test, task_type, args):
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    regression = task_type == "regression"
    if args.system == "hgb":
        model = (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(
            random_state=args.seed)
    else:
        model = (RandomForestRegressor if regression else RandomForestClassifier)(
            n_estimators=300, n_jobs=args.n_jobs, random_state=args.seed)
    pipeline = make_pipeline(preprocessor(X, impute=args.system == "rf"), model)
    with threadpool_limits(limits=args.n_jobs):
        pipeline.fit(X, y.to_numpy())
        if regression:
            return pipeline.predict(X_test), (), {}
        return pipeline.predict_proba(X_test), tuple(pipeline.classes_), {}


def fit_boosting_default(X, y, X_test, task_type, args):
    """One CatBoost or LightGBM model with the library's defaults (no early stopping), its
    own categorical handling (CatBoost on the text, LightGBM on pandas categories), on
    --n-jobs threads."""
    regression = task_type == "regression"
    other = [c for c in X.columns if c not in set(X.select_dtypes(include=["number", "bool"]).columns)]
    if args.system == "catboost":
        import catboost

        def text(frame):
            return frame.assign(**{c: frame[c].astype(object).where(frame[c].notna(), "__missing__")
                                   .astype(str) for c in other})

        cls = catboost.CatBoostRegressor if regression else catboost.CatBoostClassifier
        model = cls(thread_count=args.n_jobs, random_seed=args.seed, verbose=False,
                    allow_writing_files=False)
        model.fit(text(X), y.to_numpy(), cat_features=other)
        X_test = text(X_test)
    else:
        import lightgbm

        kinds = {c: pd.CategoricalDtype(sorted(X[c].dropna().astype(str).unique())) for c in other}

        def categories(frame):
            return frame.assign(**{c: frame[c].astype(str).where(frame[c].notna()).astype(kinds[c])
                                   for c in other})

        cls = lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier
        model = cls(n_jobs=args.n_jobs, random_state=args.seed, verbose=-1)
        model.fit(categories(X), y.to_numpy())
        X_test = categories(X_test)
    if regression:
        return model.predict(X_test), (), {}
    return model.predict_proba(X_test), tuple(map(str, model.classes_)), {}


SYSTEMS = {"flaml": fit_flaml, "autogluon": fit_autogluon, "hgb": fit_sklearn, "rf": fit_sklearn,
           "catboost": fit_boosting_default, "lightgbm": fit_boosting_default}


def prediction_frame(prediction, classes: tuple) -> pd.DataFrame:
    """The output columns: `prediction`, or `proba_<class>` named from the system's own order."""
    prediction = np.asarray(prediction, dtype=float)
    if not classes:
        return pd.DataFrame({"prediction": prediction.ravel()})
    return pd.DataFrame(prediction, columns=[f"proba_{c}" for c in map(str, classes)])


def versions(system: str) -> dict:
    import sklearn

    found = {"pandas": pd.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__}
    if system == "flaml":
        import flaml
        found["flaml"] = flaml.__version__
    if system == "autogluon":
        import autogluon.tabular
        found["autogluon.tabular"] = autogluon.tabular.__version__
    if system in ("catboost", "lightgbm"):
        found[system] = __import__(system).__version__
    return found


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", required=True, choices=["classification", "regression"])
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", required=True)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    X, y, X_test = read_split(args.train, args.test, args.target, args.task)
    task_type = task_type_of(args.task, y)
    start = time.monotonic()
    prediction, classes, info = SYSTEMS[args.system](X, y, X_test, task_type, args)
    seconds = time.monotonic() - start
    frame = prediction_frame(prediction, classes)
    if len(frame) != len(X_test):
        sys.exit(f"Error: {args.system} returned {len(frame)} predictions for {len(X_test)} test rows.")
    out = Path(args.out)
    frame.to_csv(out, index=False)
    summary = {"system": args.system, "task_type": task_type, "n_train": len(X),
               "n_test": len(X_test), "time_budget": args.time_budget, "n_jobs": args.n_jobs,
               "seed": args.seed, "fit_predict_seconds": round(seconds, 2),
               "versions": versions(args.system), **info}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
