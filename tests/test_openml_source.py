"""OpenML source, offline: real openml-python objects read from a cache written under tmp_path.

The fixture writes the files openml-python 0.15 reads before it asks the server, in its
on-disk layout (``<root>/org/openml/www/tasks/<id>/task.xml``, ``.../datasets/<id>/
description.xml``, ``features.xml``, ``dataset.arff`` or ``dataset_<id>.pq``). Every socket
connection and DNS lookup is blocked and recorded, so "it worked" means "it worked from cache".
openml-python never caches suites, so the suite test serves ``study/<id>`` from a local HTTP
server on 127.0.0.1, the only address the guard lets through.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pytest

from automl_meta.core.data import build_dataset
from automl_meta.core.errors import InvalidDataError, InvalidParameterError
from automl_meta.metabase import corpus, sources
from automl_meta.metabase.corpus import ManifestEntry
from automl_meta.metabase.openml_source import (
    configure_openml,
    load_openml_raw,
    openml_entries,
)
from tests.conftest import CORPUS

openml = pytest.importorskip("openml")
arff = pytest.importorskip("arff")

OPENML_SERVER = "https://www.openml.org/api/v1/xml"  # openml's default; its cache lives in org/openml/www
IRIS_TASK, IRIS_DATA = 59, 61  # the real OpenML ids of iris and its 10-fold CV task
REG_TASK, REG_DATA = 990002, 990001  # a synthetic regression dataset stored as parquet
CLUSTER_TASK = 990003  # a clustering task on iris
SUITE = 990099
OML = 'xmlns:oml="http://openml.org/openml"'


# ------------------------------------------------------------------ writing an openml cache


def _description(did: int, name: str, target: str, row_id: str | None = None,
                 ignore: tuple[str, ...] = (), md5: str | None = None, parquet: bool = False) -> str:
    tags = [f"<oml:id>{did}</oml:id>", f"<oml:name>{escape(name)}</oml:name>", "<oml:version>1</oml:version>",
            "<oml:description>Written by the automl-meta tests.</oml:description>",
            "<oml:format>ARFF</oml:format>", "<oml:upload_date>2014-04-06T23:23:39</oml:upload_date>",
            "<oml:licence>Public</oml:licence>",
            f"<oml:url>https://api.openml.org/data/v1/download/{did}/{escape(name)}.arff</oml:url>",
            f"<oml:file_id>{did}</oml:file_id>",
            f"<oml:default_target_attribute>{escape(target)}</oml:default_target_attribute>"]
    if row_id:
        tags.append(f"<oml:row_id_attribute>{escape(row_id)}</oml:row_id_attribute>")
    tags += [f"<oml:ignore_attribute>{escape(c)}</oml:ignore_attribute>" for c in ignore]
    tags += ["<oml:visibility>public</oml:visibility>", "<oml:status>active</oml:status>"]
    if md5:
        tags.append(f"<oml:md5_checksum>{md5}</oml:md5_checksum>")
    if parquet:
        tags.append(f"<oml:parquet_url>http://openml1.win.tue.nl/datasets/0000/{did:04d}/"
                    f"dataset_{did}.pq</oml:parquet_url>")
    return f"<oml:data_set_description {OML}>\n  " + "\n  ".join(tags) + "\n</oml:data_set_description>\n"


def _features(frame: pd.DataFrame, target: str, row_id: str | None, ignore: tuple[str, ...]) -> str:
    parts = []
    for i, col in enumerate(frame.columns):
        values = frame[col]
        nominal = isinstance(values.dtype, pd.CategoricalDtype)
        kind = "nominal" if nominal else "numeric"
        levels = "".join(f"<oml:nominal_value>{escape(str(v))}</oml:nominal_value>"
                         for v in values.cat.categories) if nominal else ""
        parts.append(
            f"<oml:feature><oml:index>{i}</oml:index><oml:name>{escape(col)}</oml:name>"
            f"<oml:data_type>{kind}</oml:data_type>{levels}"
            f"<oml:is_target>{str(col == target).lower()}</oml:is_target>"
            f"<oml:is_ignore>{str(col in ignore).lower()}</oml:is_ignore>"
            f"<oml:is_row_identifier>{str(col == row_id).lower()}</oml:is_row_identifier>"
            f"<oml:number_of_missing_values>{int(values.isna().sum())}</oml:number_of_missing_values>"
            "</oml:feature>")
    return f"<oml:data_features {OML}>\n" + "\n".join(parts) + "\n</oml:data_features>\n"


def _arff(frame: pd.DataFrame, name: str) -> str:
    attributes = [(c, [str(v) for v in frame[c].cat.categories])
                  if isinstance(frame[c].dtype, pd.CategoricalDtype) else (c, "REAL") for c in frame.columns]
    rows = [[None if pd.isna(v) else (str(v) if isinstance(v, str) else float(v)) for v in row]
            for row in frame.astype(object).itertuples(index=False)]
    return arff.dumps({"relation": name, "attributes": attributes, "data": rows})


def write_dataset(cache: Path, did: int, name: str, frame: pd.DataFrame, target: str,
                  row_id: str | None = None, ignore: tuple[str, ...] = (), parquet: bool = False) -> None:
    """A dataset as openml caches it: description, features, and the data (ARFF or parquet)."""
    folder = cache / "datasets" / str(did)
    folder.mkdir(parents=True)
    md5 = None
    if parquet:
        frame.to_parquet(folder / f"dataset_{did}.pq", index=False)
    else:
        text = _arff(frame, name)
        (folder / "dataset.arff").write_text(text, encoding="utf8")
        md5 = hashlib.md5(text.encode("utf8")).hexdigest()
    (folder / "description.xml").write_text(
        _description(did, name, target, row_id, ignore, md5, parquet), encoding="utf8")
    (folder / "features.xml").write_text(_features(frame, target, row_id, ignore), encoding="utf8")


def write_task(cache: Path, tid: int, type_id: int, type_name: str, did: int, target: str | None) -> None:
    """A task as openml caches it: tasks/<id>/task.xml."""
    source = f"<oml:data_set_id>{did}</oml:data_set_id>"
    if target is not None:
        source += f"<oml:target_feature>{escape(target)}</oml:target_feature>"
    inputs = [f'<oml:input name="source_data"><oml:data_set>{source}</oml:data_set></oml:input>']
    if type_id in (1, 2, 3):
        inputs.append(
            '<oml:input name="estimation_procedure"><oml:estimation_procedure><oml:id>1</oml:id>'
            "<oml:type>crossvalidation</oml:type><oml:data_splits_url>https://api.openml.org/api_splits/"
            f"get/{tid}/Task_{tid}_splits.arff</oml:data_splits_url>"
            '<oml:parameter name="number_repeats">1</oml:parameter>'
            '<oml:parameter name="number_folds">10</oml:parameter>'
            '<oml:parameter name="percentage"></oml:parameter>'
            '<oml:parameter name="stratified_sampling">true</oml:parameter>'
            "</oml:estimation_procedure></oml:input>")
    folder = cache / "tasks" / str(tid)
    folder.mkdir(parents=True)
    (folder / "task.xml").write_text(
        f"<oml:task {OML}><oml:task_id>{tid}</oml:task_id><oml:task_type_id>{type_id}</oml:task_type_id>"
        f"<oml:task_type>{type_name}</oml:task_type>{''.join(inputs)}</oml:task>\n", encoding="utf8")


def suite_xml(suite_id: int, tasks: list[int], data: list[int]) -> str:
    return (f"<oml:study {OML}><oml:id>{suite_id}</oml:id><oml:alias>automl-meta-test</oml:alias>"
            "<oml:main_entity_type>task</oml:main_entity_type><oml:name>automl-meta test suite</oml:name>"
            "<oml:description>Two tiny tasks.</oml:description><oml:status>active</oml:status>"
            "<oml:creation_date>2024-01-01T00:00:00</oml:creation_date><oml:creator>1</oml:creator>"
            "<oml:data>" + "".join(f"<oml:data_id>{d}</oml:data_id>" for d in data) + "</oml:data>"
            "<oml:tasks>" + "".join(f"<oml:task_id>{t}</oml:task_id>" for t in tasks) + "</oml:tasks>"
            "</oml:study>\n")


def iris_frame() -> pd.DataFrame:
    path = CORPUS / "openml" / "iris.csv.gz"  # OpenML's dataset 61 as a CSV
    if path.is_file():
        frame = pd.read_csv(path)
    else:
        from sklearn.datasets import load_iris
        bunch = load_iris(as_frame=True)
        frame = bunch.data.set_axis(["sepallength", "sepalwidth", "petallength", "petalwidth"], axis=1)
        frame["class"] = np.array(["Iris-setosa", "Iris-versicolor", "Iris-virginica"])[bunch.target]
    frame["class"] = frame["class"].astype("category")
    return frame


def regression_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(0, 1, n).round(4), rng.normal(0, 1, n).round(4)
    colour = pd.Categorical(rng.choice(["red", "green", "blue"], n), categories=["blue", "green", "red"])
    colour[3] = np.nan
    return pd.DataFrame({"row": np.arange(1, n + 1, dtype="float64"), "x1": x1, "x2": x2, "colour": colour,
                         "batch": pd.Categorical(rng.choice(["a", "b"], n)),
                         "y": (3 * x1 - x2 + (colour == "red") + rng.normal(0, 0.1, n)).round(4)})


def populate(cache: Path) -> None:
    """Iris (ARFF) with a classification and a clustering task, and a regression table (parquet)."""
    write_dataset(cache, IRIS_DATA, "iris", iris_frame(), target="class")
    write_task(cache, IRIS_TASK, 1, "Supervised Classification", IRIS_DATA, "class")
    write_task(cache, CLUSTER_TASK, 5, "Clustering", IRIS_DATA, None)
    write_dataset(cache, REG_DATA, "tiny-regression", regression_frame(), target="y", row_id="row",
                  ignore=("batch", "not_a_column"), parquet=True)
    write_task(cache, REG_TASK, 2, "Supervised Regression", REG_DATA, "y")


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def connections(monkeypatch) -> list[str]:
    """Block and record every DNS lookup and connection except to 127.0.0.1."""
    attempts: list[str] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", b"127.0.0.1"):
            attempts.append(f"dns {host}")
            raise socket.gaierror(socket.EAI_NONAME, "network disabled in tests")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            attempts.append(f"connect {address}")
            raise ConnectionRefusedError("network disabled in tests")
        attempts.append(f"connect {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def openml_config(monkeypatch):
    """openml's global config, restored after the test; one try per request, no retry sleeps."""
    monkeypatch.setattr(openml.config, "server", OPENML_SERVER)
    monkeypatch.setattr(openml.config, "apikey", "")
    monkeypatch.setattr(openml.config, "connection_n_retries", 1)
    monkeypatch.setattr(openml.config, "_root_cache_directory", openml.config._root_cache_directory)
    return openml.config


@pytest.fixture
def cache(tmp_path, openml_config, connections) -> Path:
    """A populated openml cache root under tmp_path, configured as openml's cache."""
    root = tmp_path / "openml-cache"
    configure_openml(root)
    populate(Path(openml.config.get_cache_directory()))
    return root


@pytest.fixture
def suite_server(openml_config, monkeypatch):
    """A local stand-in for the OpenML server that answers only `study/<SUITE>`; records paths."""
    suite = suite_xml(SUITE, [IRIS_TASK, REG_TASK], [IRIS_DATA, REG_DATA])
    unknown = f"<oml:error {OML}><oml:code>601</oml:code><oml:message>Unknown study</oml:message></oml:error>"
    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            paths.append(self.path)
            found = self.path.split("?")[0] == f"/api/v1/xml/study/{SUITE}"
            body = gzip.compress((suite if found else unknown).encode())
            self.send_response(200 if found else 412)  # OpenML answers 412 and an oml:error
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(openml.config, "server", f"http://127.0.0.1:{server.server_port}/api/v1/xml")
    yield paths
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ tests


def test_entries_from_cached_tasks(cache, connections):
    entries = openml_entries([IRIS_TASK, REG_TASK])
    iris, reg = entries
    assert iris == ManifestEntry(name=f"openml-{IRIS_TASK}-iris", source="openml", ref=str(IRIS_TASK),
                                 target="class", task="classification", drop=(), openml_id=IRIS_DATA)
    assert (reg.name, reg.target, reg.task, reg.openml_id) == (
        f"openml-{REG_TASK}-tiny-regression", "y", "regression", REG_DATA)
    assert reg.drop == ("row", "batch")  # row id and ignore attributes; the absent one left out
    assert connections == []


def test_cache_dir_argument_and_duplicates(tmp_path, openml_config, connections):
    root = tmp_path / "elsewhere"
    populate(root / "org" / "openml" / "www")
    entries = openml_entries([REG_TASK, str(REG_TASK), IRIS_TASK], cache_dir=root)
    assert [e.ref for e in entries] == [str(REG_TASK), str(IRIS_TASK)]
    assert Path(openml.config.get_cache_directory()) == root.resolve() / "org" / "openml" / "www"
    assert connections == []


def test_raw_frames_are_clean_text_with_every_column(cache, connections):
    iris = load_openml_raw(IRIS_TASK)
    assert list(iris.columns) == ["sepallength", "sepalwidth", "petallength", "petalwidth", "class"]
    assert iris.shape == (150, 5)
    assert (iris.dtypes == object).all()  # noqa: E721 (numpy dtypes compare by ==)
    assert iris.loc[0].tolist() == ["5.1", "3.5", "1.4", "0.2", "Iris-setosa"]
    assert iris["class"].value_counts().tolist() == [50, 50, 50]

    reg = load_openml_raw(REG_TASK)
    assert list(reg.columns) == ["row", "x1", "x2", "colour", "batch", "y"]
    assert reg["colour"].isna().sum() == 1 and reg["colour"].dropna().isin(["red", "green", "blue"]).all()
    np.testing.assert_allclose(reg["y"].astype(float), regression_frame()["y"])
    assert connections == []


def test_openml_used_its_real_cache_files(cache):
    load_openml_raw(IRIS_TASK)
    load_openml_raw(REG_TASK)
    www = cache / "org" / "openml" / "www"
    assert (www / "datasets" / str(IRIS_DATA) / "dataset.pkl.py3").is_file()  # parsed from our ARFF
    assert (www / "datasets" / str(REG_DATA) / f"dataset_{REG_DATA}.pkl.py3").is_file()  # from parquet
    task = openml.tasks.get_task(IRIS_TASK, download_data=False, download_qualities=False)
    assert task.class_labels == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"]


def test_datasets_build_from_entries(cache, connections):
    for entry, kind, shape in zip(openml_entries([IRIS_TASK, REG_TASK]), ("multiclass", "regression"),
                                  ((150, 4), (60, 3))):
        raw = load_openml_raw(int(entry.ref), cache_dir=cache)
        dataset = build_dataset(raw, target=entry.target, task=entry.task,
                                drop=[c for c in entry.drop if c in raw.columns], name=entry.name)
        assert dataset.task_type == kind and dataset.X.shape[0] == shape[0]
        assert len(dataset.schema.raw_columns) == shape[1]
        assert "row" not in dataset.schema.raw_columns and "batch" not in dataset.schema.raw_columns
    assert connections == []


def test_load_entry_reads_openml_entries(cache, connections):
    iris, reg = openml_entries([IRIS_TASK, REG_TASK])
    assert sources.load_entry(iris).classes == ("Iris-setosa", "Iris-versicolor", "Iris-virginica")
    dataset = sources.load_entry(reg)
    assert dataset.task_type == "regression" and set(dataset.schema.raw_columns) == {"x1", "x2", "colour"}
    assert connections == []


def test_manifest_rows_with_source_openml(cache, tmp_path, connections):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("name,source,ref,target,task,drop,openml_id\n"
                        f"reg,openml,{REG_TASK},y,regression,row;batch,{REG_DATA}\n", encoding="utf8")
    (entry,) = corpus.read_manifest(manifest)
    dataset = sources.load_entry(entry)
    assert dataset.name == "reg" and set(dataset.schema.raw_columns) == {"x1", "x2", "colour"}
    assert connections == []


def test_other_task_types_are_refused(cache):
    with pytest.raises(InvalidDataError, match=rf"OpenML task {CLUSTER_TASK} is a 'Clustering' task \(type 5\)"):
        openml_entries([IRIS_TASK, CLUSTER_TASK])


def test_unreadable_task_type_is_one_line(cache):
    write_task(Path(openml.config.get_cache_directory()), 990004, 9, "Multitask Regression", REG_DATA, "y")
    with pytest.raises(InvalidDataError, match="990004 has a type openml-python cannot read") as info:
        openml_entries([990004])
    assert "\n" not in str(info.value)


def test_broken_cache_file_is_one_line(cache):
    (Path(openml.config.get_cache_directory()) / "tasks" / str(REG_TASK) / "task.xml").write_text("<oml:task")
    with pytest.raises(InvalidDataError, match=rf"OpenML task {REG_TASK} cannot be read from the openml cache at "
                                               r".*: ExpatError: ") as info:
        openml_entries([REG_TASK])
    assert "\n" not in str(info.value)


def test_target_must_be_a_column(cache):
    write_task(Path(openml.config.get_cache_directory()), 990005, 2, "Supervised Regression", REG_DATA, "nope")
    message = f"OpenML task 990005: target 'nope' is not a column of dataset {REG_DATA}"
    with pytest.raises(InvalidDataError, match=message):
        openml_entries([990005])


@pytest.mark.parametrize("server", [OPENML_SERVER, "http://127.0.0.1:9/api/v1/xml"])
@pytest.mark.parametrize("call", [lambda: openml_entries([31]), lambda: load_openml_raw(31)])
def test_uncached_task_is_one_clear_line(cache, connections, monkeypatch, server, call):
    monkeypatch.setattr(openml.config, "server", server)
    with pytest.raises(InvalidDataError) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"OpenML task 31 is not in the openml cache at {openml.config.get_cache_directory()}"
                              " and the OpenML server cannot be reached (")
    assert message.endswith("). Download it once while online, or point the openml cache at a folder that holds it.")
    assert "\n" not in message and len(message) < 700
    assert not (Path(openml.config.get_cache_directory()) / "tasks" / "31").exists()  # openml cleaned up
    assert connections  # it did try, and the guard (or the closed port) refused


def test_suite_lists_its_tasks_from_the_cache(tmp_path, suite_server, connections):
    configure_openml(tmp_path / "cache")
    populate(Path(openml.config.get_cache_directory()))  # the cache folder is per server
    entries = openml_entries([REG_TASK], suite_id=SUITE)
    assert [e.ref for e in entries] == [str(REG_TASK), str(IRIS_TASK)]
    assert [p.split("?")[0] for p in suite_server] == [f"/api/v1/xml/study/{SUITE}"]  # tasks: from cache
    assert all(c.startswith("connect ('127.0.0.1'") for c in connections)


def test_unreachable_suite_is_one_clear_line(cache):
    with pytest.raises(InvalidDataError, match=r"OpenML suite 99 is never cached by openml-python 0\.15 and "
                                               r"the OpenML server cannot be reached \(.*\)\. Give the suite's "
                                               r"task ids instead") as info:
        openml_entries(suite_id=99)
    assert "\n" not in str(info.value)


def test_unknown_suite_on_a_reachable_server(tmp_path, suite_server, connections):
    configure_openml(tmp_path / "cache")
    message = "OpenML suite 12345: the OpenML server answered: .*returned code 601: Unknown study"
    with pytest.raises(InvalidDataError, match=message) as info:
        openml_entries(suite_id=12345)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("args, message", [
    ({}, "Give OpenML task ids, a suite id, or both"),
    ({"task_ids": [0]}, "must be a positive integer. Got 0 instead"),
    ({"task_ids": ["31a"]}, "must be a positive integer. Got '31a' instead"),
    ({"task_ids": [3.5]}, "must be a positive integer. Got 3.5 instead"),
])
def test_bad_arguments(cache, args, message):
    with pytest.raises(InvalidParameterError, match=message):
        openml_entries(**args)


def test_configure_none_restores_openml_default(tmp_path, openml_config):
    default = Path(openml.config.get_config_as_dict()["cachedir"])
    configure_openml(tmp_path / "x")
    assert Path(openml.config.get_config_as_dict()["cachedir"]) == (tmp_path / "x").resolve()
    configure_openml(None)
    assert Path(openml.config.get_config_as_dict()["cachedir"]) == default
