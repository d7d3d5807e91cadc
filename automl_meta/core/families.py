"""The names of the model families, in the search space's order: a light module, so that
the command line can list and check them without importing the libraries behind them."""

SKLEARN_FAMILIES = (
    "linear", "random_forest", "extra_trees", "hist_gradient_boosting", "knn", "svm", "mlp",
)
BOOSTING_FAMILIES = ("lightgbm", "xgboost", "catboost")  # search space version 3 on
FAMILY_NAMES = SKLEARN_FAMILIES + BOOSTING_FAMILIES
