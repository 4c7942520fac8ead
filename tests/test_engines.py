"""Labelling on engines that hand out pandas partitions: typed columns, and the README's Dask and
Spark snippets run as written, on a 2-process Dask cluster and on Spark's local[2]."""
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

import postlens
import postlens.spark  # imports pyspark only when used
from postlens.archive import ArchiveError
from postlens.batch import frame_dtypes, frame_meta

pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parents[1]
LABELS = sorted(postlens.LABELS)
ADDED = ["label", *[f"p_{label}" for label in LABELS], "user_value", "uncertain", "language", "postlens_error"]
TYPES = {"label": "string", **{f"p_{label}": "float64" for label in LABELS}, "user_value": "float64",
         "uncertain": "boolean", "language": "string", "postlens_error": "string"}
POSTS = [
    "限时5折！香辣牛肉面新口味上市，点击下方链接立即抢购",
    "@jamie Sorry about the delay — please DM us your order number and we'll sort it out. ^KL",
    None,
    "春节期间营业时间调整通知：除夕至初三闭店，初四起恢复正常营业",
    "",
    "评论区说说你最想去的城市，抽3位送出定制周边",
]


def _posts(n: int = 12):
    """``n`` posts with an id, an account, a date and a text (one in three has none)."""
    return pd.DataFrame({"id": range(n), "account": [f"acct{i % 3}" for i in range(n)],
                         "date": pd.date_range("2024-01-01", periods=n, freq="D"),
                         "text": [POSTS[i % len(POSTS)] for i in range(n)]})


def _readme_snippet(title: str) -> str:
    """The README's code from the line ``# <title> (`` to the end of its paragraph."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^# {title} \(.*?(?=\n\n# |\n```)", readme, re.S | re.M)
    assert found, f"README.md has no '# {title} (' snippet"
    return found.group(0)


def _check_labelled(back, posts) -> None:
    """``back`` (read back from Parquet) is ``posts`` labelled as label_frame labels them, typed."""
    back = back.sort_values("id").reset_index(drop=True)
    assert list(back.columns) == [*posts.columns, *ADDED]
    assert back["id"].tolist() == posts["id"].tolist() and back["account"].tolist() == posts["account"].tolist()
    assert {c: str(back[c].dtype) for c in ADDED} == TYPES
    expected = postlens.label_frame(posts)
    assert back["label"].tolist() == expected["label"].tolist()
    assert back["label"].tolist()[:4] == ["hard_ad", "service", pd.NA, "service"]
    assert back["postlens_error"].tolist() == expected["postlens_error"].tolist()
    assert back["postlens_error"][2] == "field 'text' is empty (null)" and back["postlens_error"][4] == "field 'text' is empty"
    assert back["uncertain"].isna().tolist() == back["label"].isna().tolist() == [i % 6 in (2, 4) for i in range(len(posts))]
    labelled = back[back["label"].notna()]
    assert ((labelled[[f"p_{label}" for label in LABELS]].sum(axis=1) - 1).abs() < 1e-3).all()


# ---- pandas: typed columns, and the empty frame Dask takes as meta -------------------------------
def test_label_frame_types_the_added_columns():
    pa = pytest.importorskip("pyarrow")
    posts = _posts(6)
    out = postlens.label_frame(posts)
    assert {c: str(out[c].dtype) for c in ADDED} == TYPES
    assert out.dtypes.iloc[:4].tolist() == posts.dtypes.tolist()  # its own columns untouched
    assert out["uncertain"].tolist()[:2] == [False, False] and out["uncertain"].isna().tolist()[2]
    assert pd.isna(out["p_hard_ad"][2]) and out["language"].tolist()[:2] == ["zh", "en"]
    schema = pa.Table.from_pandas(out).schema  # what Dask's to_parquet failed on: every column has a type
    assert str(schema.field("uncertain").type) == "bool" and str(schema.field("p_service").type) == "double"
    # A frame with a column of an added name: every added column is prefixed, typed alike.
    own = postlens.label_frame(posts.rename(columns={"account": "label"}))
    assert own["label"].tolist() == posts["account"].tolist() and str(own["postlens_uncertain"].dtype) == "boolean"
    assert frame_dtypes(["text", "label"], LABELS) == {("postlens_" + c if c != "postlens_error" else c): t
                                                       for c, t in TYPES.items()}


def test_an_empty_frame_gives_the_typed_empty_frame_without_labelling(monkeypatch):
    posts = _posts(4)
    full = postlens.label_frame(posts)
    monkeypatch.setattr(postlens.batch, "label_texts", lambda *a, **k: pytest.fail("labelled an empty frame"))
    empty = postlens.label_frame(posts.iloc[:0])
    assert len(empty) == 0 and empty.dtypes.to_dict() == full.dtypes.to_dict()
    assert frame_meta(posts).dtypes.to_dict() == full.dtypes.to_dict()
    assert list(frame_meta(["id", "text"]).columns) == ["id", "text", *ADDED]
    assert frame_meta({"id": "int64", "text": "string"}).dtypes.to_dict() == {
        "id": "int64", "text": "string", **TYPES}
    with pytest.raises(ArchiveError, match="did you mean 'text'"):
        frame_meta(posts, text_column="txt")
    with pytest.raises(TypeError, match="frame_meta takes a DataFrame"):
        frame_meta("text")


def test_frame_meta_loads_a_model_once(tmp_path, monkeypatch):
    from postlens import core

    model_dir = tmp_path / "model"  # a model directory no test has loaded yet
    shutil.copytree(ROOT / "models" / "postlens-base", model_dir)
    loads = []
    real = core.load_model
    monkeypatch.setattr(core, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    for _ in range(3):
        assert list(frame_meta(["text"], model=str(model_dir)).columns) == ["text", *ADDED]
    assert len(loads) == 1


# ---- Dask on a local cluster of 2 worker processes --------------------------------------------
def test_readme_dask_snippet_runs_on_a_local_cluster_through_to_parquet(tmp_path, monkeypatch):
    pytest.importorskip("dask.dataframe", reason="dask is not installed: pip install 'postlens[dask]'")
    pytest.importorskip("distributed", reason="dask.distributed is not installed: pip install 'postlens[dask]'")
    snippet = _readme_snippet("Dask")
    assert "LocalCluster(n_workers=2, processes=True, threads_per_worker=1)" in snippet
    monkeypatch.chdir(tmp_path)
    posts = _posts(12)
    (tmp_path / "posts").mkdir()
    for part in range(3):  # three files: three partitions, for two workers
        posts.iloc[4 * part: 4 * part + 4].to_parquet(f"posts/part.{part}.parquet", index=False)
    names: dict = {"__name__": "readme"}
    try:
        exec(compile(snippet, "README.md (Dask)", "exec"), names)
        client = names["client"]
        assert len(client.scheduler_info()["workers"]) == 2
        # The labelling ran in the worker processes, not in this one.
        assert any(client.run(lambda: "postlens.batch" in sys.modules).values())
    finally:
        if "client" in names:
            cluster = names["client"].cluster
            names["client"].close()
            cluster.close()
    files = sorted((tmp_path / "labelled").glob("*.parquet"))
    assert len(files) == 3
    import pyarrow.parquet as pq

    schema = pq.read_schema(files[0])
    assert {n: str(schema.field(n).type) for n in ("label", "p_hard_ad", "user_value", "uncertain")} == {
        "label": "large_string", "p_hard_ad": "double", "user_value": "double", "uncertain": "bool"}
    _check_labelled(pd.read_parquet(tmp_path / "labelled"), posts)


# ---- Spark on local[2] -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark_dir(tmp_path_factory):
    """The Spark session's working directory, where the README's relative paths point."""
    return tmp_path_factory.mktemp("spark")


@pytest.fixture(scope="module")
def spark(spark_dir):
    """One local Spark session (2 cores) for this module's tests, on the loopback address, started
    in ``spark_dir`` (Spark resolves relative paths against its own working directory, fixed at start)."""
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'postlens[spark]'")
    java_home = os.environ.get("JAVA_HOME")
    if not (shutil.which("java") or (java_home and (Path(java_home) / "bin" / "java").exists())):
        pytest.skip("no Java runtime, which Spark needs: apt-get install default-jre-headless (.ci/run does)")
    from pyspark.sql import SparkSession

    env = {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cwd = os.getcwd()
    os.chdir(spark_dir)
    try:
        session = (SparkSession.builder.master("local[2]").appName("postlens-tests")
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    finally:
        os.chdir(cwd)
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


spark_warnings = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


@spark_warnings
def test_readme_spark_snippet_runs_on_local_2_through_to_parquet(spark, spark_dir, monkeypatch):
    snippet = _readme_snippet("Spark")
    assert "postlens.spark.label_dataframe(sdf)" in snippet
    tmp_path = spark_dir
    monkeypatch.chdir(tmp_path)
    posts = _posts(12)
    (tmp_path / "posts").mkdir()
    for part in range(2):
        posts.iloc[6 * part: 6 * part + 6].to_parquet(f"posts/part.{part}.parquet", index=False)
    names: dict = {"__name__": "readme"}
    exec(compile(snippet, "README.md (Spark)", "exec"), names)
    assert names["spark"] is spark  # getOrCreate() found the test's session
    import pyarrow.parquet as pq

    files = sorted((tmp_path / "labelled-spark").glob("*.parquet"))
    schema = pq.read_schema(files[0])
    assert {n: str(schema.field(n).type) for n in ("label", "p_hard_ad", "user_value", "uncertain", "postlens_error")} == {
        "label": "string", "p_hard_ad": "double", "user_value": "double", "uncertain": "bool", "postlens_error": "string"}
    back = pd.read_parquet(tmp_path / "labelled-spark")
    back = back.astype(TYPES)  # read back as plain pandas types (Spark writes no pandas metadata)
    _check_labelled(back, posts)


@spark_warnings
def test_label_dataframe_types_prefixes_and_joins_text_columns(spark):
    from pyspark.sql.types import BooleanType, DoubleType, StringType

    sdf = spark.createDataFrame([(1, "brand_news", "限时5折！香辣牛肉面新口味上市", "点击下方链接立即抢购"),
                                 (2, "service", None, None), (3, "community", "周末去哪儿玩", None)],
                                "id long, label string, title string, digest string")
    labelled = postlens.spark.label_dataframe(sdf, text_column="title+digest")
    types = {f.name: f.dataType for f in labelled.schema.fields}
    assert list(types) == ["id", "label", "title", "digest", *[f"postlens_{c}" for c in ADDED[:-1]], "postlens_error"]
    assert types["postlens_label"] == StringType() and types["postlens_p_hard_ad"] == DoubleType()
    assert types["postlens_uncertain"] == BooleanType() and types["postlens_user_value"] == DoubleType()
    rows = sorted(labelled.collect(), key=lambda r: r["id"])
    assert [r["label"] for r in rows] == ["brand_news", "service", "community"]  # its own labels kept
    assert rows[0]["postlens_label"] == "hard_ad" and rows[0]["postlens_error"] is None
    assert rows[1]["postlens_label"] is None and rows[1]["postlens_uncertain"] is None
    assert rows[1]["postlens_error"] == "fields 'title' and 'digest' are empty"
    assert rows[2]["postlens_label"] is not None and isinstance(rows[2]["postlens_uncertain"], bool)
    with pytest.raises(ArchiveError, match="did you mean 'title'"):
        postlens.spark.label_dataframe(sdf, text_column="titel")  # refused before any Spark job
    with pytest.raises(TypeError, match="use postlens.label_frame"):
        postlens.spark.label_dataframe(pd.DataFrame({"text": ["a"]}))
