"""Labelling a Spark ``DataFrame`` on the executors (``pip install "postlens[spark]"``).

    labelled = postlens.spark.label_dataframe(spark.read.parquet("posts/"))
    labelled.write.parquet("labelled/")

pyspark is imported only when :func:`label_dataframe` is called, so ``import postlens.spark``
works without it.
"""
from __future__ import annotations

from typing import Any, Iterator

from .archive import _unique, resolve_text_columns
from .batch import frame_dtypes, label_frame
from .core import ModelLike, resolve_model
from .guidelines import ProfileLike, resolve_profile

__all__ = ["label_dataframe", "added_fields"]


def added_fields(columns: Any, labels: Any) -> list:
    """The Spark ``StructField`` of each column :func:`label_dataframe` adds to a ``DataFrame``
    with ``columns``, for a model with ``labels``: text as ``StringType``, probabilities and
    ``user_value`` as ``DoubleType``, ``uncertain`` as ``BooleanType``; all nullable (a row without
    text has only ``postlens_error``)."""
    from pyspark.sql.types import BooleanType, DoubleType, StringType, StructField

    types = {"string": StringType, "float64": DoubleType, "boolean": BooleanType}
    return [StructField(name, types[dtype](), True) for name, dtype in frame_dtypes(list(columns), list(labels)).items()]


def label_dataframe(df: Any, text_column: str | None = None, model: ModelLike = None,
                    profile: ProfileLike = None) -> Any:
    """``df`` (a ``pyspark.sql.DataFrame``) with the columns of :func:`postlens.label_frame` added.

    Lazy, like any Spark transformation: rows are labelled on the executors when the result is
    written or collected, one Arrow batch at a time (``mapInPandas``), each Python worker loading
    the model once. Every input column and row is kept, in place; a row without text gets
    ``postlens_error`` and nulls in the other added columns. If ``df`` already has a column of an
    added name (``label``, say), the added columns are all prefixed ``postlens_``.

    ``text_column`` names the text column ("title+digest" joins two; by default found by name),
    ``model`` a shipped model or a model directory (which every executor must be able to read
    at that path) or a loaded model (sent with the tasks), ``profile`` the guideline profile for
    ``user_value`` (a profile, a shipped profile's name or a TOML file's path). A missing text
    column or two columns of one name raise :class:`postlens.archive.ArchiveError` here, before
    any Spark job.
    """
    if not (hasattr(df, "mapInPandas") and hasattr(df, "schema")):
        raise TypeError(f"label_dataframe takes a pyspark.sql.DataFrame, not {type(df).__name__} "
                        "(for a pandas DataFrame use postlens.label_frame)")
    from pyspark.sql.types import StructType

    columns = _unique([str(c) for c in df.columns], "dataframe")
    resolve_text_columns(columns, text_column, "dataframe")
    labels = [str(c) for c in resolve_model(model).classes_]
    profile = resolve_profile(profile)  # read here, sent with the tasks: executors need not see the file
    schema = StructType(list(df.schema.fields) + added_fields(columns, labels))

    def label_frames(frames: Iterator[Any]) -> Iterator[Any]:
        for frame in frames:
            yield label_frame(frame, text_column=text_column, model=model, profile=profile)

    return df.mapInPandas(label_frames, schema)
