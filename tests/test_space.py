"""SearchSpace contract: sampling, ids, encoding, validation, and pipelines that fit and pickle."""

from __future__ import annotations

import json
import pickle
import pickletools
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from automl_meta.core.boosting import ROUNDS
from automl_meta.core.errors import InvalidConfigError, InvalidParameterError
from automl_meta.core.families import BOOSTING_FAMILIES
from automl_meta.core.space import (
    FAMILIES,
    INACTIVE,
    SPACE_VERSION,
    SVM_MAX_ROWS,
    TASK_TYPES,
    SearchSpace,
    canonical_json,
    config_id,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore:.*Skipping features without any observed values.*:UserWarning",
)

NUMERIC = ["x0", "x1", "x2"]
CATEGORICAL = ["colour", "size"]
ALLOWED_PICKLE_MODULES = {"sklearn", "numpy", "scipy", "builtins", "functools", "copyreg",
                          "_codecs", "collections", "pandas", *BOOSTING_FAMILIES}


@pytest.fixture(scope="module", autouse=True)
def single_threaded():
    """One OpenMP/BLAS thread, as in the search (parallelism is outside the pipeline)."""
    with threadpool_limits(limits=1):
        yield


def make_xy(task: str, n: int = 120, seed: int = 0, numeric: bool = True,
            categorical: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """A loader-shaped frame (float64 with NaN, object str with NaN) and a learnable target."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "grey"], size=n)
    size = rng.choice(["S", "M", "L"], size=n)
    x = rng.normal(size=(n, len(NUMERIC)))
    signal = x[:, 0] + (colour == "red") - 0.5 * (size == "L")
    frame = pd.DataFrame({}, index=range(n))
    if numeric:
        for j, name in enumerate(NUMERIC):
            frame[name] = x[:, j].astype("float64")
            frame.loc[rng.choice(n, size=n // 8, replace=False), name] = np.nan
    if categorical:
        for name, values in (("colour", colour), ("size", size)):
            frame[name] = pd.Series(values, dtype=object)
            frame.loc[rng.choice(n, size=n // 10, replace=False), name] = np.nan
    if task == "regression":
        return frame, 100.0 * signal + rng.normal(size=n)
    if task == "binary":
        return frame, np.where(signal > np.median(signal), "yes", "no")
    terciles = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
    return frame, np.array(["low", "mid", "high"])[terciles]


def with_unseen_category(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "colour" in out:
        out.loc[out.index[:3], "colour"] = "purple"
    return out


def choices(space: SearchSpace, family: str, name: str) -> tuple[str, ...]:
    return space.domains(family)[name].options


def family_config(space: SearchSpace, family: str, **params) -> dict:
    (config,) = [c for c in space.default_configs() if c["family"] == family]
    config["params"].update(params)
    return config


def check_predictions(pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, task: str) -> None:
    predictions = pipe.predict(X)
    assert predictions.shape == (len(X),)
    if task == "regression":
        assert np.all(np.isfinite(predictions))
        return
    assert set(predictions) <= set(y)
    proba = pipe.predict_proba(X)
    assert proba.shape == (len(X), len(set(y)))
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def pickle_modules(data: bytes) -> set[str]:
    """Modules of every global a pickle refers to (GLOBAL, and STACK_GLOBAL through the memo)."""
    memo: dict[int, object] = {}
    pushed: list[object] = []
    modules: set[str] = set()
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name in ("GLOBAL", "INST"):
            modules.add(arg.split(" ")[0])
        elif opcode.name == "STACK_GLOBAL":
            modules.add(pushed[-2])
        elif opcode.name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif opcode.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = pushed[-1] if pushed else None
        elif opcode.name in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(arg))
        else:
            pushed.append(arg if isinstance(arg, str) else None)
    return modules


# --- construction --------------------------------------------------------------------------


@pytest.mark.parametrize("task_type", ["classification", "Binary", "", None, 3])
def test_bad_task_type_is_rejected_with_sklearn_style_message(task_type):
    message = ("The 'task_type' parameter must be one of {'binary', 'multiclass', "
               f"'regression'}}. Got {task_type!r} instead.")
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        SearchSpace(task_type)


@pytest.mark.parametrize("n_rows", [0, -5, 2.5, True, "100"])
def test_bad_n_rows_is_rejected(n_rows):
    with pytest.raises(InvalidParameterError, match="'n_rows' parameter"):
        SearchSpace("binary", n_rows=n_rows)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_space_is_versioned_and_offers_every_family(task_type):
    space = SearchSpace(task_type)
    assert space.version == SPACE_VERSION and isinstance(SPACE_VERSION, str)
    assert space.families == FAMILIES
    assert len(set(space.vector_names)) == len(space.vector_names)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_svm_is_dropped_above_the_row_limit(task_type):
    assert "svm" in SearchSpace(task_type, n_rows=SVM_MAX_ROWS).families
    big = SearchSpace(task_type, n_rows=SVM_MAX_ROWS + 1)
    assert big.families == tuple(f for f in FAMILIES if f != "svm")
    assert "svm" not in {c["family"] for c in big.default_configs()}
    assert "svm" not in {c["family"] for c in big.sample(60, seed=0)}
    svm = family_config(SearchSpace(task_type), "svm")
    with pytest.raises(InvalidConfigError, match="'family'.*Got 'svm'"):
        big.validate(svm)
    assert big.vector_names == SearchSpace(task_type).vector_names
    np.testing.assert_array_equal(big.encode(svm), SearchSpace(task_type).encode(svm))


# --- defaults and sampling -----------------------------------------------------------------


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_defaults_are_one_valid_config_per_family(task_type):
    space = SearchSpace(task_type)
    defaults = space.default_configs()
    assert [c["family"] for c in defaults] == list(FAMILIES)
    for config in defaults:
        space.validate(config)
        json.dumps(config)  # plain JSON-able
    defaults[0]["params"]["impute"] = "changed"
    assert space.default_configs()[0]["params"]["impute"] == "median"


def test_defaults_follow_sklearn_where_representable():
    by_family = {c["family"]: c["params"] for c in SearchSpace("regression").default_configs()}
    assert by_family["linear"]["alpha"] == 1.0
    assert by_family["random_forest"]["n_estimators"] == 100
    assert by_family["random_forest"]["max_features"] == 1.0
    assert by_family["hist_gradient_boosting"]["max_leaf_nodes"] == 31
    assert by_family["hist_gradient_boosting"]["categorical"] == "native"
    assert by_family["knn"]["n_neighbors"] == 5
    assert by_family["mlp"]["width"] == 100 and by_family["mlp"]["depth"] == 1


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_sampling_is_seeded_valid_and_distinct(task_type):
    space = SearchSpace(task_type)
    first = space.sample(40, seed=7)
    assert first == space.sample(40, seed=7)
    assert first != space.sample(40, seed=8)
    assert len(first) == 40
    assert len({config_id(c) for c in first}) == 40
    for config in first:
        space.validate(config)
        json.dumps(config)
    assert space.sample(0, seed=1) == []


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_sampling_draws_families_uniformly_and_explores_every_choice(task_type):
    space = SearchSpace(task_type)
    configs = space.sample(100 * len(FAMILIES), seed=0)
    counts = pd.Series([c["family"] for c in configs]).value_counts()
    assert set(counts.index) == set(FAMILIES)
    assert counts.min() >= 70 and counts.max() <= 130  # expected 100 each
    for family in FAMILIES:
        params = [c["params"] for c in configs if c["family"] == family]
        for name, domain in space.domains(family).items():
            seen = {p[name] for p in params}
            if hasattr(domain, "options"):
                assert seen == set(domain.options), (family, name)
            else:
                assert len(seen) > 1, (family, name)


@pytest.mark.parametrize("n", [-1, 2.0, True])
def test_bad_sample_size_is_rejected(n):
    with pytest.raises(InvalidParameterError, match="'n' parameter"):
        SearchSpace("binary").sample(n, seed=0)


# --- ids and canonical JSON ----------------------------------------------------------------


def test_config_id_ignores_key_order_and_is_12_hex():
    config = family_config(SearchSpace("binary"), "mlp")
    reordered = {"params": dict(reversed(list(config["params"].items()))),
                 "family": config["family"]}
    assert config_id(config) == config_id(reordered)
    assert canonical_json(config) == canonical_json(reordered)
    assert re.fullmatch(r"[0-9a-f]{12}", config_id(config))


def test_canonical_json_is_compact_sorted_and_rounds_floats():
    config = {"family": "linear", "params": {"scale": "robust", "C": 0.1 + 1e-15}}
    assert canonical_json(config) == '{"family":"linear","params":{"C":0.1,"scale":"robust"}}'
    same = {"family": "linear", "params": {"C": 0.1, "scale": "robust"}}
    assert config_id(config) == config_id(same)
    as_int = {"family": "linear", "params": {"C": 1, "scale": "robust"}}
    as_float = {"family": "linear", "params": {"C": 1.0, "scale": "robust"}}
    assert config_id(as_int) == config_id(as_float)
    numpy_typed = {"family": "linear", "params": {"C": np.float64(0.1), "scale": "robust"}}
    assert config_id(numpy_typed) == config_id(same)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object()])
def test_canonical_json_rejects_non_json_values(value):
    with pytest.raises(InvalidConfigError):
        canonical_json({"family": "linear", "params": {"C": value}})


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_ids_differ_between_distinct_configs(task_type):
    space = SearchSpace(task_type)
    configs = space.default_configs() + space.sample(200, seed=3)
    assert len({config_id(c) for c in configs}) == len({canonical_json(c) for c in configs})
    base = family_config(space, "hist_gradient_boosting")
    changed = family_config(space, "hist_gradient_boosting", learning_rate=0.2)
    assert config_id(base) != config_id(changed)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_config_round_trips_through_canonical_json(task_type):
    space = SearchSpace(task_type)
    for config in space.default_configs() + space.sample(50, seed=5):
        loaded = json.loads(canonical_json(config))
        assert config_id(loaded) == config_id(config)
        space.validate(loaded)
        np.testing.assert_allclose(space.encode(loaded), space.encode(config), atol=1e-9)


# --- encoding ------------------------------------------------------------------------------


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_encoding_is_fixed_length_finite_unit_and_distinct(task_type):
    space = SearchSpace(task_type)
    configs = space.default_configs() + space.sample(300, seed=11)
    vectors = np.array([space.encode(c) for c in configs])
    assert vectors.shape == (len(configs), len(space.vector_names))
    assert np.all(np.isfinite(vectors))
    assert vectors.min() >= 0.0 and vectors.max() <= 1.0
    family_block = vectors[:, : len(FAMILIES)]
    assert np.all(family_block.sum(axis=1) == 1.0)
    assert len(np.unique(vectors.round(9), axis=0)) == len(configs)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_inactive_params_are_encoded_as_the_sentinel(task_type, family):
    space = SearchSpace(task_type)
    vector = dict(zip(space.vector_names, space.encode(family_config(space, family))))
    active = space.domains(family)
    for name, value in vector.items():
        key = name.split("=")[0]
        param = key.split(".", 1)[1] if "." in key else key
        owner = key.split(".", 1)[0] if "." in key else None
        if key == "family":
            assert value == float(name == f"family={family}")
        elif owner is not None and owner != family:
            assert value == INACTIVE, name
        elif owner is None and param not in active:
            assert value == INACTIVE, name  # e.g. "scale" on trees, "impute" on HGB
    for name, domain in active.items():
        if hasattr(domain, "options"):
            key = name if f"{name}={domain.options[0]}" in vector else f"{family}.{name}"
            assert sum(vector[f"{key}={option}"] for option in domain.options) == 1.0


def test_encoding_uses_log_scale_and_domain_bounds():
    space = SearchSpace("binary")
    index = space.vector_names.index("linear.C")
    low, mid, high = (space.encode(family_config(space, "linear", C=c))[index]
                      for c in (1e-3, 1.0, 1e3))
    assert (low, high) == (0.0, 1.0)
    assert mid == pytest.approx(0.5)


# --- validation ----------------------------------------------------------------------------


def _mutate(space: SearchSpace, family: str, **changes) -> dict:
    config = family_config(space, family)
    for name, value in changes.items():
        if value is ...:
            del config["params"][name]
        else:
            config["params"][name] = value
    return config


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: {"family": "tabpfn", "params": {}}, "'family'.*Got 'tabpfn' instead"),
        (lambda s: _mutate(s, "linear", colour="red"), "Unknown parameter 'colour'"),
        (lambda s: _mutate(s, "linear", C=...), "Missing parameter 'C' for family 'linear'"),
        (lambda s: _mutate(s, "linear", C=0.0), r"'C' parameter of family 'linear'.*Got 0\.0"),
        (lambda s: _mutate(s, "linear", C=1e6), "'C' parameter.*Got 1000000.0"),
        (lambda s: _mutate(s, "linear", C="1"), "'C' parameter.*Got '1'"),
        (lambda s: _mutate(s, "random_forest", n_estimators=1000), "'n_estimators'.*Got 1000"),
        (lambda s: _mutate(s, "random_forest", n_estimators=10.5), "'n_estimators'.*Got 10.5"),
        (lambda s: _mutate(s, "random_forest", scale="standard"), "Unknown parameter 'scale'"),
        (lambda s: _mutate(s, "random_forest", categorical="native"), "'categorical'.*'native'"),
        (lambda s: _mutate(s, "linear", scale="none"), "'scale'.*Got 'none'"),
        (lambda s: _mutate(s, "knn", n_neighbors=True), "'n_neighbors'.*Got True"),
        (lambda s: _mutate(s, "knn", missing_indicator="yes"), "'missing_indicator'.*'yes'"),
        (lambda s: _mutate(s, "mlp", width=512), "'width'.*Got 512"),
        (lambda s: _mutate(s, "mlp", alpha=float("nan")), "'alpha'.*Got nan"),
        (lambda s: {"family": "knn"}, "exactly the keys 'family' and 'params'"),
        (lambda s: {"family": "knn", "params": {}, "id": "x"}, "exactly the keys"),
        (lambda s: {"family": "knn", "params": []}, "'params' of a config must be a dict"),
        (lambda s: ["knn", {}], "must be a dict"),
    ],
)
def test_validate_rejects_configs_outside_the_space(make, message):
    space = SearchSpace("binary")
    with pytest.raises(InvalidConfigError, match=message):
        space.validate(make(space))


def test_validate_rejects_params_of_the_other_task_type():
    config = family_config(SearchSpace("regression"), "linear")  # alpha, not C
    with pytest.raises(InvalidConfigError, match="Unknown parameter 'alpha'"):
        SearchSpace("binary").validate(config)
    with pytest.raises(InvalidConfigError, match="Missing parameter 'epsilon'"):
        SearchSpace("regression").validate(family_config(SearchSpace("binary"), "svm"))


# --- pipelines -----------------------------------------------------------------------------


ENCODING_CASES = [
    (family, encoding)
    for family in FAMILIES
    for encoding in choices(SearchSpace("binary"), family, "categorical")
]


@pytest.mark.parametrize(("family", "encoding"), ENCODING_CASES)
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_pipeline_fits_and_predicts_with_missing_and_unseen_values(task_type, family, encoding):
    space = SearchSpace(task_type)
    X, y = make_xy(task_type)
    config = family_config(space, family, categorical=encoding)
    pipe = space.to_pipeline(config, NUMERIC, CATEGORICAL, seed=0)
    assert isinstance(pipe, Pipeline) and [name for name, _ in pipe.steps] == ["prep", "model"]
    pipe.fit(X, y)
    check_predictions(pipe, with_unseen_category(X), y, task_type)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task_type", TASK_TYPES)
@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_pipeline_works_with_one_kind_of_column(kind, task_type, family):
    space = SearchSpace(task_type)
    X, y = make_xy(task_type, numeric=kind == "numeric", categorical=kind == "categorical")
    numeric, categorical = (NUMERIC, []) if kind == "numeric" else ([], CATEGORICAL)
    pipe = space.to_pipeline(family_config(space, family), numeric, categorical)
    pipe.fit(X, y)
    check_predictions(pipe, with_unseen_category(X), y, task_type)


def test_pipeline_accepts_pandas_string_dtype():
    space = SearchSpace("binary")
    X, y = make_xy("binary")
    X = X.astype({name: "str" for name in CATEGORICAL})
    for config in space.default_configs():
        pipe = space.to_pipeline(config, NUMERIC, CATEGORICAL).fit(X, y)
        check_predictions(pipe, with_unseen_category(X), y, "binary")


def test_pipeline_takes_every_random_state_from_seed():
    space = SearchSpace("binary")
    for config in space.default_configs():
        params = space.to_pipeline(config, NUMERIC, CATEGORICAL, seed=42).get_params()
        states = {k: v for k, v in params.items() if k.endswith("random_state")}
        assert all(v == 42 for v in states.values()), (config["family"], states)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_pipelines_keep_cost_bounded(task_type):
    space = SearchSpace(task_type)
    for config in space.default_configs() + space.sample(150, seed=2):
        params = space.to_pipeline(config, NUMERIC, CATEGORICAL).get_params()
        # the boosting libraries' rounds are a cap that early stopping cuts short
        most = ROUNDS.high if config["family"] in BOOSTING_FAMILIES else 500
        for key, value in params.items():
            if key.endswith(("n_estimators", "max_iter", "iterations")) and value is not None:
                assert value <= most, (key, value)
            if key.endswith("hidden_layer_sizes"):
                assert max(value) <= 256 and len(value) <= 3
            if key.endswith(("n_jobs", "thread_count")) and key.startswith("model"):
                assert value in (None, 1), (key, value)


def test_hgb_native_points_at_the_ordinal_encoded_columns():
    space = SearchSpace("binary")
    native = family_config(space, "hist_gradient_boosting", categorical="native")
    pipe = space.to_pipeline(native, NUMERIC, CATEGORICAL)
    assert pipe.named_steps["model"].categorical_features == [0, 1]
    numeric_only = space.to_pipeline(native, NUMERIC, [])
    assert numeric_only.named_steps["model"].categorical_features is None


@pytest.mark.parametrize(
    ("numeric", "categorical", "message"),
    [([], [], "at least one numeric or categorical column"),
     (["x0", "colour"], ["colour"], r"both numeric and categorical. Got \['colour'\]")],
)
def test_pipeline_rejects_bad_column_lists(numeric, categorical, message):
    space = SearchSpace("binary")
    with pytest.raises(InvalidParameterError, match=message):
        space.to_pipeline(space.default_configs()[0], numeric, categorical)


def test_pipeline_rejects_invalid_config():
    space = SearchSpace("binary")
    with pytest.raises(InvalidConfigError, match="'C'"):
        space.to_pipeline(_mutate(space, "linear", C=-1.0), NUMERIC, CATEGORICAL)


def test_pipeline_accepts_a_json_loaded_config_with_integral_floats():
    space = SearchSpace("binary")
    config = json.loads(canonical_json(family_config(space, "random_forest", max_features=1.0)))
    assert type(config["params"]["max_features"]) is int  # canonical JSON wrote 1.0 as 1
    pipe = space.to_pipeline(config, NUMERIC, CATEGORICAL)
    assert pipe.named_steps["model"].max_features == 1.0
    assert isinstance(pipe.named_steps["model"].max_features, float)  # a fraction, not 1 column


# --- pickles -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_defaults() -> list[tuple[str, str, Pipeline]]:
    out = []
    for task_type in ("multiclass", "regression"):
        space = SearchSpace(task_type)
        X, y = make_xy(task_type)
        for config in space.default_configs():
            pipe = space.to_pipeline(config, NUMERIC, CATEGORICAL, y=y)
            out.append((task_type, config["family"], space.fit(config, pipe, X, y)))
    return out


def test_fitted_pipelines_pickle_with_only_sklearn_and_numpy_globals(fitted_defaults):
    for task_type, family, pipe in fitted_defaults:
        data = pickle.dumps(pipe)
        modules = pickle_modules(data)
        assert modules, family
        assert not [m for m in modules if m.startswith("automl_meta")], (family, modules)
        assert {m.split(".")[0] for m in modules} <= ALLOWED_PICKLE_MODULES, (family, modules)
        X, _ = make_xy(task_type, seed=1)
        np.testing.assert_array_equal(pickle.loads(data).predict(X), pipe.predict(X))


def test_pickle_loads_where_automl_meta_cannot_be_imported(fitted_defaults, tmp_path):
    path = tmp_path / "models.pkl"
    path.write_bytes(pickle.dumps([pipe for _, _, pipe in fitted_defaults]))
    X, _ = make_xy("regression", seed=2)
    X.to_pickle(tmp_path / "X.pkl")
    script = (
        "import sys, pickle, pandas as pd\n"
        "sys.modules['automl_meta'] = None  # any import of the package now fails\n"
        f"models = pickle.load(open({str(path)!r}, 'rb'))\n"
        f"X = pd.read_pickle({str(tmp_path / 'X.pkl')!r})\n"
        "print(sum(len(m.predict(X)) for m in models))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(X) * len(fitted_defaults)


# --- random configs fit --------------------------------------------------------------------


def _table(task_type: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A 200-row make_classification / make_regression table plus a categorical column."""
    if task_type == "regression":
        X, y = make_regression(n_samples=200, n_features=6, noise=10.0, random_state=0)
    else:
        n_classes = 2 if task_type == "binary" else 3
        X, y = make_classification(n_samples=200, n_features=6, n_informative=4,
                                   n_classes=n_classes, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(6)])
    frame.iloc[::11, 0] = np.nan
    frame["kind"] = pd.Series(np.array(["a", "b", "c", "d"])[np.arange(200) % 4], dtype=object)
    frame.loc[::13, "kind"] = np.nan
    return frame, y


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_random_configs_fit_on_a_small_table(task_type):
    space = SearchSpace(task_type)
    X, y = _table(task_type)
    numeric = [c for c in X.columns if c != "kind"]
    failures = []
    for config in space.sample(30, seed=123):
        try:
            pipe = space.to_pipeline(config, numeric, ["kind"], seed=1).fit(X, y)
            check_predictions(pipe, X, y, task_type)
        except Exception as exc:  # collect every failing config, not only the first
            failures.append(f"{canonical_json(config)}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)


def test_the_light_list_of_family_names_matches_the_declarations():
    """The command line checks --families against core/families.py without importing the
    model libraries; it must name exactly the declared families, in order."""
    from automl_meta.core.families import FAMILY_NAMES

    assert FAMILIES == FAMILY_NAMES
