"""The labelling core beneath every entry point: which model a name or directory means, and a batch labelled into arrays.

``score``/``score_many``/``assess`` (:mod:`postlens.api`), the archive functions
(:mod:`postlens.batch`), the account report, the spaCy component and the CLI all resolve their
``model`` argument with :func:`resolve_model` and label posts with :func:`label_texts`.

A model is either of the two classifiers, which label the same way (``classes_``,
``predict_proba_normalized``, ``uncertain_below``, ``explain``):

- :class:`~postlens.model.PostClassifier`, the fast n-gram model (``postlens-base``);
- :class:`~postlens.accurate.AccurateClassifier`, the fast model's features plus a pretrained
  sentence encoder (``postlens-accurate``, needs ``pip install "postlens[encoder]"``).
"""
from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple, Sequence, Union

import numpy as np

from . import ngrams
from .accurate import AccurateClassifier
from .guidelines import BALANCED, GuidelineProfile, ProfileLike, resolve_profile
from .model import ModelError, PostClassifier
from .text import languages, normalize_many

__all__ = ["SHIPPED_MODELS", "DEFAULT_MODEL", "Classifier", "ModelLike", "shipped_model_path", "load_model",
           "resolve_model", "model_profile", "Labelled", "label_texts", "default_jobs"]

#: The models that ship with postlens, by name: the fast one (the default) and the accurate one.
SHIPPED_MODELS = ("postlens-base", "postlens-accurate")
DEFAULT_MODEL = "postlens-base"

#: A fitted model.
Classifier = Union[PostClassifier, AccurateClassifier]
#: What the ``model`` argument of every entry point takes: a fitted classifier, a shipped model's
#: name (:data:`SHIPPED_MODELS`), a model directory, or ``None`` (the default shipped model).
ModelLike = Union[PostClassifier, AccurateClassifier, str, os.PathLike, None]

_lock = threading.Lock()


def shipped_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Where a shipped model lives: inside the installed package, or ``models/`` of a source checkout."""
    if name not in SHIPPED_MODELS:
        raise ModelError(f"{name!r} is not a shipped model ({', '.join(SHIPPED_MODELS)})")
    packaged = Path(str(resources.files("postlens"))) / "models" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "models" / name


def _path_of(model: str | os.PathLike | None) -> Path:
    if model is None:
        return shipped_model_path()
    if isinstance(model, str) and model in SHIPPED_MODELS:
        return shipped_model_path(model)
    return Path(model)


def _kind(path: Path) -> str:
    """``"accurate"`` or ``"fast"``, as the model's ``model.json`` says (its checks are the loader's)."""
    try:
        with open(path / "model.json", "rb") as f:
            meta = json.loads(f.read(1 << 20))
        return "accurate" if isinstance(meta, dict) and meta.get("kind") == "accurate" else "fast"
    except (OSError, ValueError, RecursionError):
        return "fast"


def load_model(model: str | os.PathLike | None = None) -> Classifier:
    """Load a model: a shipped one by name (``"postlens-base"``, ``"postlens-accurate"``), a
    model directory, or ``None`` for the default (``postlens-base``).

    Raises :class:`~postlens.ModelError` if the directory is not a sound postlens model, and
    :class:`~postlens.encoder.EncoderError` (a ``ModelError``) if an accurate model's encoder
    is not installed or not the one it was trained with.
    """
    path = _path_of(model)
    loaded = AccurateClassifier.load(path) if _kind(path) == "accurate" else PostClassifier.load(path)
    loaded.path_ = str(path)
    return loaded


@lru_cache(maxsize=4)
def _load_once(path: str, version: tuple[int, ...]) -> Classifier:
    return load_model(path)


def resolve_model(model: ModelLike) -> Classifier:
    """The model ``model`` means. Names and directories are loaded once per process (a directory
    again when one of its files changes, e.g. after retraining into it)."""
    if model is None or isinstance(model, (str, os.PathLike)):
        try:
            path = _path_of(model).resolve()
        except (RuntimeError, OSError) as exc:  # a symbolic link loop
            raise ModelError(f"{model}: cannot open the model directory ({exc}); check the path and any symbolic "
                             "links on it") from None

        files = (path / "model.json", path / "weights.npz", path / "head.npz", path / "taught.npz")
        with _lock:
            return _load_once(str(path), tuple(f.stat().st_mtime_ns if f.is_file() else 0 for f in files))
    if not isinstance(model, (PostClassifier, AccurateClassifier)) or not hasattr(model, "classes_"):
        raise TypeError("model must be a fitted PostClassifier or AccurateClassifier, a shipped model's name "
                        f"({', '.join(SHIPPED_MODELS)}) or a model directory; got {type(model).__name__}")
    return model


def model_profile(model: Classifier) -> GuidelineProfile:
    """The guideline profile stored with ``model`` when it was trained (``BALANCED`` if none was); read once per model."""
    profile = model.__dict__.get("_profile_cache")
    if profile is None:
        stored = getattr(model, "metadata_", {}).get("profile")
        profile = GuidelineProfile.from_dict(stored, "the model's profile") if stored else BALANCED
        model.__dict__["_profile_cache"] = profile
    return profile


def default_jobs(model: Classifier | None = None) -> int:
    """Processes to label with: every core this process may use; one for an accurate model, whose
    encoder spreads each batch over the cores itself."""
    if isinstance(model, AccurateClassifier):
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


class Labelled(NamedTuple):
    """A batch of posts labelled, as arrays (what ``score_many`` and archive labelling build on)."""

    docs: list[str]  #: the posts, normalised
    labels: list[str]  #: the model's label ids, in column order
    best: np.ndarray  #: column of each post's label
    proba: np.ndarray  #: calibrated probabilities, one row per post
    values: np.ndarray  #: user value of each post
    uncertain: np.ndarray
    languages: list[str]


def label_texts(model: Classifier, texts: Sequence[str], profile: ProfileLike = None) -> Labelled:
    """Label ``texts`` (usable posts: non-empty strings) with ``model``; user values from ``profile``
    (a profile, a shipped profile's name or a TOML file's path; ``None``: the model's own)."""
    profile = resolve_profile(profile) or model_profile(model)
    docs = normalize_many(texts)
    enc = ngrams.encode(docs)
    proba = model.predict_proba_normalized(docs, enc)
    labels = [str(c) for c in model.classes_]
    best = proba.argmax(axis=1)
    return Labelled(docs, labels, best, proba, profile.values_of(labels, proba),
                    proba[np.arange(len(docs)), best] < model.uncertain_below, languages(enc))
