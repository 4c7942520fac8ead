"""The post classifier: features → linear SVM → calibrated probabilities.

:class:`PostClassifier` follows scikit-learn's estimator conventions (parameters in
``__init__``, ``fit`` / ``predict_proba`` / ``predict``). A one-vs-rest linear SVM gives one
margin per label; probabilities are the softmax of those margins divided by a temperature
fitted on out-of-fold margins, so a 0.8 means about 80% of such posts
carry that label in held-out data. A fitted classifier saves to a directory of JSON and
numpy arrays (``model.json`` + ``weights.npz``); loading never unpickles anything and
refuses a weights file whose SHA-256 does not match the metadata.
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from . import ngrams
from .cues import CUES, match_cues, strip_cue_phrases
from .estimator import Estimator
from .features import PostFeatures
from .text import check_text, normalize_many

__all__ = ["PostClassifier", "ModelError", "FORMAT_VERSION"]

#: Version of the on-disk model format; a model with a higher number needs a newer postlens.
FORMAT_VERSION = 1
_WEIGHTS = "weights.npz"
_META = "model.json"


class ModelError(ValueError):
    """A model directory that is missing, corrupted, tampered with or from a newer postlens."""


class PostClassifier(Estimator):
    """Label posts with calibrated probabilities over a fixed label set.

    Parameters:
        C: inverse regularisation strength of the linear SVM.
        char_ngrams, word_ngrams, n_features, min_df, char_weight, word_weight, cue_weight:
            passed to :class:`postlens.features.PostFeatures`.
        masked_copy_weight: weight of extra training copies of the posts with their cue phrases
            cut out (:func:`postlens.cues.strip_cue_phrases`), so the model also learns from what
            surrounds "限时抢购" or "DM us"; 0 trains on the posts alone.
        own_model_share: when ``fit`` is told which posts are a team's own (``own``, as
            ``postlens train --base`` does), the weights are this share of a model fitted on
            those posts alone, with the same features, and the rest of the model fitted on all
            posts. Weighting own posts more in one fit barely moves a linear SVM (it separates a
            few hundred posts at any weight); a model of their own does.
        calibration_folds: folds for the out-of-fold scores the temperature is fitted on.
        uncertain_below: a post whose top probability is below this is flagged uncertain.
        random_state: seed for the calibration folds.

    ``fit`` takes raw post texts (they are normalised here) and label ids.
    """

    def __init__(self, C: float = 1.0, char_ngrams: tuple[int, int] = (1, 4),
                 word_ngrams: tuple[int, int] = (1, 2), n_features: int = 2**18, min_df: int = 2,
                 char_weight: float = 1.0, word_weight: float = 0.7, cue_weight: float = 0.4,
                 masked_copy_weight: float = 0.3, own_model_share: float = 0.3, calibration_folds: int = 3,
                 uncertain_below: float = 0.5, random_state: int = 0):
        self.C = C
        self.char_ngrams = char_ngrams
        self.word_ngrams = word_ngrams
        self.n_features = n_features
        self.min_df = min_df
        self.char_weight = char_weight
        self.word_weight = word_weight
        self.cue_weight = cue_weight
        self.masked_copy_weight = masked_copy_weight
        self.own_model_share = own_model_share
        self.calibration_folds = calibration_folds
        self.uncertain_below = uncertain_below
        self.random_state = random_state

    # ---- training -----------------------------------------------------------------------------
    def _features(self) -> PostFeatures:
        return PostFeatures(self.char_ngrams, self.word_ngrams, self.n_features, self.min_df,
                            self.char_weight, self.word_weight, self.cue_weight)

    def _linear(self):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, class_weight="balanced", max_iter=5000, tol=1e-3, random_state=self.random_state)

    def fit(self, texts: Sequence[str], labels: Sequence[str], groups: Sequence[str] | None = None,
            sample_weight: Sequence[float] | None = None, own: Sequence[bool] | None = None) -> "PostClassifier":
        """Fit features, weights and the calibration temperature on raw texts and label ids.

        ``groups`` (optional, e.g. the file or writer each post came from) keeps each group's
        posts in one calibration fold, so the temperature is fitted on posts unlike those the
        fold trained on, as real posts will be. With fewer than ``2 * calibration_folds``
        groups it is ignored. ``sample_weight`` weighs each post in the fit (default 1). ``own``
        marks a team's own posts among others (see ``own_model_share``); a fit whose own posts
        lack a label (all of them, or those of a calibration fold) is not blended.

        After fitting, ``cv_proba_`` holds each post's out-of-fold probabilities (from a model
        that did not see it; what :mod:`postlens.training` reports and ``check-labels`` reads) and
        ``cv_fold_`` its fold.
        """
        if len(texts) != len(labels) or any(v is not None and len(v) != len(texts) for v in (groups, sample_weight, own)):
            raise ValueError(f"got {len(texts)} texts but {len(labels)} labels"
                             + ("" if groups is None else f", {len(groups)} groups")
                             + ("" if sample_weight is None else f", {len(sample_weight)} sample weights")
                             + ("" if own is None else f", {len(own)} own-post flags"))
        post_weight = np.ones(len(texts)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        docs = normalize_many([check_text(t) for t in texts])
        y = np.asarray(labels, dtype=object)
        self.classes_ = np.array(sorted(set(y)), dtype=object)
        if len(self.classes_) < 2:
            raise ValueError("training needs at least two different labels")
        y_idx = np.searchsorted(self.classes_, y)
        sizes = np.bincount(y_idx, minlength=len(self.classes_))
        if sizes.min() < self.calibration_folds:
            small = ", ".join(f"{label!r} has {n}" for label, n in zip(self.classes_, sizes) if n < self.calibration_folds)
            raise ValueError(f"every label needs at least {self.calibration_folds} posts to calibrate the model; {small}")

        # Counted once: the posts, then the masked copies of those the masking changes.
        masked = strip_cue_phrases(docs) if self.masked_copy_weight > 0 else docs
        copied = np.array([m != d and bool(m) for m, d in zip(masked, docs)])
        counts = self._features().counts(docs + [m for m, c in zip(masked, copied) if c])
        copy_of = np.flatnonzero(copied)  # copy k is of post copy_of[k], at row len(docs) + k
        copy_row = np.full(len(docs), -1)
        copy_row[copy_of] = len(docs) + np.arange(len(copy_of))

        own_mask = None if own is None or self.own_model_share <= 0 else np.asarray(own, dtype=bool)

        def fit_linear(feats: PostFeatures, idx: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Weights (labels × columns) and intercepts of the SVM on posts ``idx`` and their masked copies."""
            copies = copy_row[idx][copy_row[idx] >= 0]
            rows = np.concatenate([idx, copies])
            weights = np.concatenate([weight[idx], self.masked_copy_weight * weight[copy_of[copies - len(docs)]]])
            y_rows = np.concatenate([y_idx[idx], y_idx[copy_of[copies - len(docs)]]])
            lin = self._linear().fit(feats.weigh(tuple(block[rows] for block in counts)), y_rows, sample_weight=weights)
            coef, intercept = lin.coef_, lin.intercept_
            if coef.shape[0] == 1:  # two labels: one margin, for the second label; give each label its own
                coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
            return coef, intercept

        def fit_on(idx: np.ndarray):
            feats = self._features().fit_counts(tuple(block[idx] for block in counts))
            coef, intercept = fit_linear(feats, idx, post_weight)
            mine = idx[own_mask[idx]] if own_mask is not None else idx[:0]
            if len(np.unique(y_idx[mine])) == len(self.classes_):  # own posts of every label (else: no blend)
                own_coef, own_intercept = fit_linear(feats, mine, np.ones(len(docs)))
                share = self.own_model_share
                coef, intercept = (1 - share) * coef + share * own_coef, (1 - share) * intercept + share * own_intercept
            return feats, coef, intercept

        # The model on all posts, and one per calibration fold for out-of-fold margins (IDF refitted
        # per fold, as at prediction time), spread over the cores.
        fold = _calibration_folds(y_idx, groups, self.calibration_folds, self.random_state)
        subsets = [np.arange(len(docs))] + [np.flatnonzero(fold != k) for k in range(self.calibration_folds)]
        (self.features_, coef, intercept), *fold_fits = _map_forked(fit_on, subsets)
        oof = np.zeros((len(docs), len(self.classes_)))
        for k, (feats, fold_coef, fold_intercept) in enumerate(fold_fits):
            held = np.flatnonzero(fold == k)
            oof[held] = feats.weigh(tuple(block[held] for block in counts)) @ fold_coef.T + fold_intercept
        self.temperature_ = _fit_temperature(oof, y_idx)
        self.cv_proba_ = softmax(oof / self.temperature_, axis=1)
        self.cv_fold_ = fold

        self.coef_ = sp.csr_matrix(coef.astype(np.float32))
        self.intercept_ = intercept.astype(np.float32)
        return self

    # ---- prediction ---------------------------------------------------------------------------
    @property
    def _weights(self) -> np.ndarray:
        """``coef_`` as a dense (features × labels) array: fast to multiply and to gather rows from."""
        w = self.__dict__.get("_weights_cache")
        if w is None or w.shape != self.coef_.shape[::-1]:
            w = self.__dict__["_weights_cache"] = np.ascontiguousarray(self.coef_.T.toarray())
        return w

    @property
    def _tables(self) -> tuple[np.ndarray, ...]:
        """:meth:`PostFeatures.tables` of the weights, made once per model."""
        tables = self.__dict__.get("_tables_cache")
        if tables is None:
            tables = self.__dict__["_tables_cache"] = self.features_.tables(self._weights)
        return tables

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        """Feature matrix of texts that are already normalised."""
        return self.features_.transform(docs)

    def decision_function_normalized(self, docs: Sequence[str], enc: ngrams.Encoded | None = None) -> np.ndarray:
        """Linear scores for texts that are already normalised (the labelling hot path).

        ``enc``, if given, is ``ngrams.encode(docs)`` (saves encoding the batch twice). Equal to
        ``transform(docs) @ coef_.T + intercept_``, computed without building the feature matrix.
        """
        enc = ngrams.encode(docs) if enc is None else enc
        return self.features_.scores(docs, enc, self._tables) + self.intercept_

    def predict_proba_normalized(self, docs: Sequence[str], enc: ngrams.Encoded | None = None) -> np.ndarray:
        """Calibrated probabilities for texts that are already normalised."""
        return softmax(self.decision_function_normalized(docs, enc) / self.temperature_, axis=1)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in ``classes_`` order."""
        return self.predict_proba_normalized(normalize_many([check_text(t) for t in texts]))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most likely label id of each text."""
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def score(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        """Accuracy on ``texts`` against ``labels`` (as scikit-learn classifiers score)."""
        return float(np.mean(self.predict(texts) == np.asarray(labels, dtype=object)))

    # ---- explanation --------------------------------------------------------------------------
    def explain(self, doc: str, label: str, k: int = 4) -> tuple[str, ...]:
        """The ``k`` features of normalised text ``doc`` that pushed most towards ``label``, in words.

        A feature's push is its value times how much more its weight favours ``label`` than
        the average label. Overlapping character n-grams are merged into one phrase.
        """
        c = int(np.searchsorted(self.classes_, label))
        feats, w, n = self.features_, self._weights, self.features_.n_features
        enc = ngrams.encode([doc], positions=True)
        char, word, cue = feats.blocks([doc], enc)

        def text_of(start: int, end: int) -> str:
            return doc[int(enc.source[start]):int(enc.source[end])]

        def pushes(block: sp.csr_matrix, cols: np.ndarray) -> np.ndarray:
            rows = w[cols]
            return block.data * (rows[:, c] - rows.mean(axis=1))

        items: list[tuple[float, str]] = []
        _, cols, starts, ends = feats.char_.grams(enc)
        push = pushes(char, cols)
        merged: list[list[float]] = []  # [push, start, end]
        for i in np.argsort(-push, kind="stable")[: 4 * k]:
            p, s, e = float(push[i]), int(starts[i]), int(ends[i])
            if p <= 0:
                break
            for m in merged:
                if s <= m[2] and e >= m[1]:
                    m[0], m[1], m[2] = m[0] + p, min(m[1], s), max(m[2], e)
                    break
            else:
                merged.append([p, s, e])
        for p, s, e in merged:
            phrase = text_of(*_word_bounds(enc.cp, int(s), int(e))).strip()
            if len(phrase) >= 2 and any(ch.isalnum() for ch in phrase):
                items.append((p, f'the phrase "{phrase}"'))

        _, cols, starts, ends = feats.word_.grams(enc)
        push = pushes(word, cols + n)
        for i in np.argsort(-push, kind="stable")[:k]:
            phrase = text_of(int(starts[i]), int(ends[i])).strip()
            if push[i] > 0 and any(ch.isalnum() for ch in phrase):
                items.append((float(push[i]), f'the words "{phrase}"'))

        rows = w[2 * n:]
        cue_push = cue[0] * (rows[:, c] - rows.mean(axis=1))
        matches = match_cues(enc)
        for j in np.flatnonzero(cue_push > 0):
            hit = np.flatnonzero(matches.cue == j)
            snippet = text_of(int(matches.start[hit[0]]), int(matches.end[hit[0]])).strip() if len(hit) else ""
            items.append((float(cue_push[j]), CUES[j].description + (f': "{snippet}"' if snippet else "")))

        items.sort(key=lambda t: -t[0])
        out: list[str] = []
        for _, words in items:
            if words not in out:
                out.append(words)
            if len(out) == k:
                break
        return tuple(out)

    # ---- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write ``model.json`` and ``weights.npz`` into directory ``path``; return it.

        The bytes depend only on the fitted state, so the same data and seed give the same files.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        feat_params, feat_arrays = self.features_.get_state()
        coef = self.coef_.tocsr()
        arrays = {
            "coef_data": coef.data, "coef_indices": coef.indices.astype(np.int32),
            "coef_indptr": coef.indptr.astype(np.int64), "intercept": self.intercept_,
            **{k: v.astype(np.float32) for k, v in feat_arrays.items()},
        }
        blob = _write_npz(arrays)
        (path / _WEIGHTS).write_bytes(blob)
        meta = {
            "format": "postlens-model",
            "format_version": FORMAT_VERSION,
            **(metadata or {}),
            "labels": [str(c) for c in self.classes_],
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()},
            "features": feat_params,
            "temperature": float(self.temperature_),
            "coef_shape": list(coef.shape),
            "weights_sha256": hashlib.sha256(blob).hexdigest(),
        }
        (path / _META).write_text(json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                  encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "PostClassifier":
        """Load a model directory written by :meth:`save`; raise :class:`ModelError` if it is not sound."""
        path = Path(path)
        meta_path, weights_path = path / _META, path / _WEIGHTS
        if not path.is_dir():
            raise ModelError(f"{path}: is a file, not a model directory" if path.exists()
                             else f"{path}: no such model directory")
        if not meta_path.is_file() or not weights_path.is_file():
            raise ModelError(f"{path}: not a postlens model (expected {_META} and {_WEIGHTS})")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{meta_path}: not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != "postlens-model":
            raise ModelError(f"{meta_path}: not a postlens model")
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelError(f"{path}: model format {version!r} was written by a newer postlens "
                             f"(this one reads format {FORMAT_VERSION}); upgrade postlens to use it")
        blob = weights_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("weights_sha256"):
            raise ModelError(f"{weights_path}: checksum does not match {_META}; the file is corrupted "
                             "or was modified")
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
            self = cls(**params)
            self.classes_ = np.array(meta["labels"], dtype=object)
            self.features_ = PostFeatures.from_state(meta["features"], arrays)
            shape = tuple(meta["coef_shape"])
            self.coef_ = sp.csr_matrix((arrays["coef_data"], arrays["coef_indices"], arrays["coef_indptr"]),
                                       shape=shape)
            self.intercept_ = arrays["intercept"]
            self.temperature_ = float(meta["temperature"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: model is incomplete or inconsistent ({exc})") from None
        if shape != (len(self.classes_), self.features_.n_columns) or self.intercept_.shape != (shape[0],):
            raise ModelError(f"{path}: weight shapes do not match the label set and features")
        self.metadata_ = meta
        return self


def _word_bounds(cp: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` of a feature text to whole words where it cuts through a Latin (...) word."""
    def inside(i: int) -> bool:
        ch = chr(int(cp[i]))
        return ch.isalnum() and ord(ch) < 0x2E80  # letters of space-delimited scripts, not CJK

    while start > 0 and inside(start - 1) and inside(start):
        start -= 1
    while end < len(cp) and inside(end) and inside(end - 1):
        end += 1
    return start, end


_task: Any = None  # the function _map_forked's worker processes run (inherited, not pickled)


def _run_task(arg: Any) -> Any:
    return _task(arg)


def _map_forked(fn: Any, args: Sequence[Any]) -> list[Any]:
    """``[fn(a) for a in args]``, in forked processes when there are several cores.

    Processes, not threads: liblinear draws from the C library's one global random generator,
    so fits in threads of one process would disturb each other's draws and the model would
    not be reproducible. A forked worker inherits ``fn`` and the data it closes over, so
    nothing large is pickled on the way in.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    if (cores < 2 or len(args) < 2 or "fork" not in multiprocessing.get_all_start_methods()
            or multiprocessing.current_process().daemon):  # a pool's worker may not start processes
        return [fn(a) for a in args]
    global _task
    _task = fn
    try:
        with ProcessPoolExecutor(min(cores, len(args)), mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_run_task, args))
    finally:
        _task = None


def _calibration_folds(y: np.ndarray, groups: Sequence[str] | None, k: int, seed: int) -> np.ndarray:
    """The calibration fold (0 .. k-1) of each post.

    Whole groups (e.g. files, each written by one writer) go to one fold when there are at least
    ``2 * k`` of them; otherwise each post is its own group. Groups are ordered by a stable hash
    of the seed and their name, then dealt round-robin within each label (a group counts under
    its most common label), so every fold holds every label. No library's random generator is
    involved, so the folds do not change with the numpy or scikit-learn version.
    """
    if groups is None or len(set(groups)) < 2 * k:
        groups = [str(i) for i in range(len(y))]
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(str(g), []).append(i)
    def stable(name: str) -> bytes:
        return hashlib.sha256(f"{seed}:{name}".encode("utf-8")).digest()
    by_label: dict[int, list[str]] = {}
    for name, idx in members.items():
        by_label.setdefault(int(np.bincount(y[idx]).argmax()), []).append(name)
    fold = np.zeros(len(y), dtype=np.int64)
    for label in sorted(by_label):
        for n, name in enumerate(sorted(by_label[label], key=stable)):
            fold[members[name]] = n % k
    return fold


def softmax(z: np.ndarray, axis: int = 1) -> np.ndarray:
    """``exp(z)`` normalised along ``axis`` (as :func:`scipy.special.softmax`, which takes 0.1 s to import)."""
    e = np.exp(z - np.amax(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = 1) -> np.ndarray:
    """``log(softmax(z))``, computed stably (as :func:`scipy.special.log_softmax`)."""
    shifted = z - np.amax(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the log loss of softmax(scores / T) on held-out scores."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        return -log_softmax(scores / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean()

    return float(np.exp(minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded").x))


def _write_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive with fixed timestamps and order, so equal arrays give equal bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, arr.getvalue())
    return buf.getvalue()
