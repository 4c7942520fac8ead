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

import collections
import ctypes
import errno
import hashlib
import io
import json
import multiprocessing
import os
import re
import secrets
import shutil
import stat
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from . import ngrams
from .cues import CUES, match_cues, strip_cue_phrases
from .estimator import Estimator, PostClassifierMixin
from .features import PostFeatures
from .text import check_text, normalize_many

__all__ = ["PostClassifier", "ModelError", "FORMAT_VERSION"]

#: Version of the on-disk model format; a model with a higher number needs a newer postlens.
FORMAT_VERSION = 1
_WEIGHTS = "weights.npz"
_META = "model.json"
_TAUGHT = "taught.npz"


class ModelError(ValueError):
    """A model directory that is missing, corrupted, tampered with or from a newer postlens."""


class PostClassifier(PostClassifierMixin, Estimator):
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
        self.taught_ = None
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
        del masked  # the fold fits are forked from this process: what it still holds, each of them maps
        n_rows = counts[0].shape[0]
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
            every = len(rows) == n_rows and bool((rows == np.arange(n_rows)).all())  # the final model's fit
            # Float64, what liblinear reads (so not converted again beside); one block's row subset at a time.
            x = feats.weigh((block if every else block[rows] for block in counts), dtype=np.float64)
            lin = self._linear().fit(x, y_rows, sample_weight=weights)
            del x
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
        """Calibrated probabilities for texts that are already normalised.

        A post the model was taught by a teacher (:meth:`remember_taught`) gets the teacher's
        probabilities back: the model has learnt that post's label, and its own probability for
        a post it was fitted on would say more than it knows.
        """
        proba = softmax(self.decision_function_normalized(docs, enc) / self.temperature_, axis=1)
        taught = getattr(self, "taught_", None)
        if taught is not None and len(docs):
            keys, known = taught
            mine = post_keys(docs)
            at = np.searchsorted(keys, mine).clip(max=len(keys) - 1)
            hit = keys[at] == mine
            proba[hit] = known[at[hit]]
        return proba

    def remember_taught(self, docs: Sequence[str], proba: np.ndarray) -> "PostClassifier":
        """Keep a teacher's probabilities ``proba`` of the normalised posts ``docs`` this model was
        fitted on with the teacher's labels (what :func:`postlens.adapt.adapt` does): they are
        given back for those posts instead of the model's own, overconfident, ones. Only a
        64-bit hash of each post is kept, never its text.
        """
        proba = np.asarray(proba, dtype=np.float32)
        if proba.shape != (len(docs), len(self.classes_)):
            raise ValueError(f"got {len(docs)} posts and probabilities of shape {proba.shape}")
        keys, first = np.unique(post_keys(docs), return_index=True)
        self.taught_ = (keys, proba[first])
        return self

    def explain(self, doc: str, label: str, k: int = 4) -> tuple[str, ...]:
        """Up to ``k`` reasons, in words, why normalised text ``doc`` is a ``label`` post: cues first, then phrases.

        Only what pushes towards ``label`` is named: a feature's push is its value times how much
        more its weight favours ``label`` than the likeliest other label for this post (why this
        label rather than that one). Cues (the codebook's
        phrases, :mod:`postlens.cues`) come first, the strongest first; a cue whose meaning is
        another label's (thanks to fans for a brand-news post) is never named, nor is a phrase
        inside it. Then whole words, two-word phrases and runs of 2-4 Chinese characters, each
        pushed by the character and word n-grams over it (an n-gram's push spread over its
        characters); function words ("the", "has", "的") are left out, and no phrase crosses
        punctuation. A post whose label comes from no single phrase gets fewer reasons, or none.
        A quoted phrase is at most :data:`MAX_EVIDENCE_CHARS` characters (a longer one, such as a
        run of letters with no space, is cut at a word boundary, with "…").
        """
        c = int(np.searchsorted(self.classes_, label))
        feats, w, n = self.features_, self._weights, self.features_.n_features
        enc = ngrams.encode([doc], positions=True)
        char, word, cue = feats.blocks([doc], enc)
        margins = char @ w[:n] + word @ w[n:2 * n] + cue @ w[2 * n:]
        margins[0, c] = -np.inf
        rival = int(np.argmax(margins[0]))  # the likeliest other label: evidence says why this one rather than it

        def favour(rows: np.ndarray) -> np.ndarray:
            return rows[:, c] - rows[:, rival]

        def text_of(start: int, end: int) -> str:
            return doc[int(enc.source[start]):int(enc.source[end])].strip()

        # Cues: those that push towards the label and whose codebook meaning agrees with it.
        codebook = label in _CUE_LABELS_ALL
        cue_push = cue[0] * favour(w[2 * n:])
        matches = match_cues(enc)
        reasons: list[tuple[float, str]] = []
        shown: list[tuple[int, int]] = []  # spans already named, or not to be named
        by_cue = np.argsort(matches.cue, kind="stable")
        bounds = np.searchsorted(matches.cue[by_cue], np.arange(len(CUES) + 1))
        for j, spec in enumerate(CUES):
            hits = by_cue[bounds[j]:bounds[j + 1]]
            meaning = _CUE_LABELS.get(spec.id)
            agrees = label in meaning if meaning is not None else not codebook
            if not agrees or cue_push[j] <= 0:
                if meaning is not None and label not in meaning:
                    shown += [(int(matches.start[h]), int(matches.end[h])) for h in hits]
                continue
            snippet = text_of(int(matches.start[hits[0]]), int(matches.end[hits[0]])) if len(hits) else ""
            reasons.append((float(cue_push[j]), spec.description + (f': "{_capped(snippet)}"' if snippet else "")))
            shown += [(int(matches.start[h]), int(matches.end[h])) for h in hits]
        reasons.sort(key=lambda t: -t[0])
        out = [words for _, words in reasons[:k]]
        if len(out) == k:
            return tuple(out)

        # Phrases: each character's share of the n-gram pushes, summed over whole words and phrases.
        size = len(enc.cp)
        diff = np.zeros(size + 1)
        char_grams = feats.char_.grams(enc)
        for block, offset, grams in ((char, 0, char_grams), (word, n, feats.word_.grams(enc))):
            _, cols, starts, ends = grams
            if len(cols):
                push = block.data * favour(w[cols + offset]) / np.maximum(ends - starts, 1)
                diff += np.bincount(starts, push, size + 1) - np.bincount(ends, push, size + 1)
        mass = np.concatenate(([0.0], np.cumsum(np.cumsum(diff[:size]))))  # mass[e] - mass[s]: the push of [s, e)
        # Two characters the corpus often has side by side (a character bigram in twice as many training
        # posts as the rarest bigrams the model keeps, or more) are taken as one word: no phrase cuts them.
        _, cols, starts, ends = char_grams
        pairs = ends - starts == 2
        idf = feats.char_.idf_
        bond = np.zeros(size, dtype=bool)
        bond[starts[pairs]] = (idf[cols[pairs]] > 0) & (idf[cols[pairs]] < idf.max() - np.log(2))
        starts, ends, single = _phrase_spans(enc.cp, bond)
        if not len(starts):
            return tuple(out)
        score = mass[ends] - mass[starts]
        picked: list[tuple[int, int]] = []
        said: set[str] = set()
        for i in np.argsort(-score, kind="stable"):
            if score[i] <= 0 or len(out) == k:
                break
            s, e = int(starts[i]), int(ends[i])
            if any(s < b and a < e for a, b in shown + picked):
                continue
            phrase = text_of(s, e)
            if not phrase or phrase.lower() in said:
                continue
            said.add(phrase.lower())
            picked.append((s, e))
            out.append(f'the {"hashtag" if phrase[0] == "#" else "word" if single[i] else "phrase"} "{_capped(phrase)}"')
        return tuple(out)

    # ---- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write ``model.json`` and ``weights.npz`` into directory ``path``; return it.

        The bytes depend only on the fitted state, so the same data and seed give the same files.
        The write is atomic (:func:`_write_dir`): if it fails, a model already at ``path`` is left whole.
        """
        _write_dir(Path(path), self.files(metadata))
        return Path(path)

    def files(self, metadata: dict[str, Any] | None = None) -> dict[str, bytes]:
        """The files :meth:`save` writes, by name."""
        feat_params, feat_arrays = self.features_.get_state()
        coef = self.coef_.tocsr()
        arrays = {
            "coef_data": coef.data, "coef_indices": coef.indices.astype(np.int32),
            "coef_indptr": coef.indptr.astype(np.int64), "intercept": self.intercept_,
            **{k: v.astype(np.float32) for k, v in feat_arrays.items()},
        }
        blob = _write_npz(arrays)
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
        files = {_WEIGHTS: blob}
        if getattr(self, "taught_", None) is not None:
            files[_TAUGHT] = _write_npz({"keys": self.taught_[0], "proba": self.taught_[1]})
            meta["taught"] = {"posts": len(self.taught_[0]), "sha256": hashlib.sha256(files[_TAUGHT]).hexdigest()}
        text = json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        return {**files, _META: text.encode("utf-8")}

    @classmethod
    def load(cls, path: str | Path) -> "PostClassifier":
        """Load a model directory written by :meth:`save`; raise :class:`ModelError` if it is not sound.

        A model is data, never code, and may come from anyone: nothing is unpickled, and every
        value is checked before use (:func:`_checked_arrays`), so a damaged or crafted model is
        refused with a message naming the file rather than crashing the process.
        """
        path = Path(path)
        meta_path, weights_path = path / _META, path / _WEIGHTS
        try:
            is_dir = stat.S_ISDIR(path.stat().st_mode)
        except OSError as exc:  # e.g. a symlink loop
            raise ModelError(f"{path}: no such model directory" if exc.errno == errno.ENOENT else
                             f"{path}: cannot open the model directory ({exc.strerror}); check the path "
                             "and any symbolic links on it") from None
        if not is_dir:
            raise ModelError(f"{path}: is a file, not a model directory")
        if not meta_path.is_file() or not weights_path.is_file():
            raise ModelError(f"{path}: not a postlens model (expected {_META} and {_WEIGHTS})")
        meta = _read_meta(meta_path)
        if not isinstance(meta, dict) or meta.get("format") != "postlens-model":
            raise ModelError(f"{meta_path}: not a postlens model")
        version = meta.get("format_version")
        if "format_version" not in meta:
            raise _damaged(meta_path, "format_version is missing (every model postlens writes has one)")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise _damaged(meta_path, f"format_version {version!r} is not a model format (a whole number from 1)")
        if version > FORMAT_VERSION:
            raise ModelError(f"{path}: model format {version!r} was written by a newer postlens "
                             f"(this one reads format {FORMAT_VERSION}); upgrade postlens to use it")
        blob = weights_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("weights_sha256"):
            raise ModelError(f"{weights_path}: checksum does not match {_META}; the file is corrupted "
                             "or was modified")
        arrays = _checked_arrays(meta, blob, meta_path, weights_path)
        try:
            self = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()})
            self.features_ = PostFeatures.from_state(meta["features"], arrays)
        except (TypeError, ValueError) as exc:
            raise _damaged(meta_path, f"the settings are incomplete or inconsistent ({exc})") from None
        shape = tuple(meta["coef_shape"])
        if shape[1] != self.features_.n_columns:
            raise _damaged(meta_path, f"coef_shape {list(shape)} does not match the features "
                                      f"({self.features_.n_columns} columns)")
        self.classes_ = np.array(meta["labels"], dtype=object)
        self.coef_ = sp.csr_matrix((arrays["coef_data"], arrays["coef_indices"], arrays["coef_indptr"]), shape=shape)
        self.intercept_ = arrays["intercept"]
        self.temperature_ = float(meta["temperature"])
        self.taught_ = _checked_taught(meta, path / _TAUGHT, len(self.classes_)) if "taught" in meta else None
        self.metadata_ = meta
        return self


#: The codebook label(s) each cue speaks for (:mod:`postlens.cues`); evidence for a codebook label
#: names only cues that speak for it. Cues about a post's form alone (its length, "you") speak for none.
_CUE_LABELS: dict[str, frozenset[str]] = {cue_id: frozenset(labels) for labels, ids in (
    (("hard_ad",), "price discount buy_call paid_signup shopping_festival product_copy"),
    (("hard_ad", "brand_news"), "product_launch"),
    (("service",), "reply_to_customer greeting_customer apology contact_us asks_details clarifying_question "
                   "troubleshooting service_notice how_to safety account_function support_signoff chat_answer"),
    (("community",), "question_to_followers contest thanks_fans join_community greeting invitation rally_fans"),
    (("community", "user_interest"), "quiz_game"),
    (("brand_news",), "honour leadership deal financials milestone csr hiring press_headline corporate_voice "
                      "first_person_plural"),
    (("user_interest",), "knowledge listicle insight entertainment food_recipe health_science travel_place "
                         "people_story throwback humour"),
) for cue_id in ids.split()}
_CUE_LABELS_ALL = frozenset().union(*_CUE_LABELS.values())

#: Words that are no reason on their own (English function words, the placeholders' words).
_STOP_WORDS = frozenset("""
a an the and or but nor so yet if then than as at by for from in into of off on onto out over to up with without
about above after again against all am any are aren't be been before being below between both can can't could did
do does doing don't down during each few further had has have having he he'd he'll he's her here here's hers herself
him himself his how i i'd i'll i'm i've is isn't it it's its itself just let's me more most my myself no not now of
once only other ought our ours ourselves own same she she'd she'll she's should some such that that's their theirs
them themselves there there's these they they'd they'll they're they've this those through too under until very was
wasn't we we'd we'll we're we've were what what's when when's where where's which while who who's whom why why's
will won't would you you'd you'll you're you've your yours yourself yourselves s t re ve ll d m get got also via
may might must shall user url email phone amp rt
""".split())
#: Chinese characters a phrase does not start or end with (particles, pronouns, linking words).
_HAN_EDGE = frozenset("的了是在和与及也就都而之其把被让给对为从向以于这那个着过吗呢吧啊呀哦嘛么我你他她它们有")


#: Longest phrase :meth:`PostClassifier.explain` quotes, in characters (a longer one is cut, with "…").
MAX_EVIDENCE_CHARS = 60


def _capped(phrase: str, limit: int = MAX_EVIDENCE_CHARS) -> str:
    """``phrase`` if it has at most ``limit`` characters, else its start cut at a word boundary
    (if one falls in the second half; else at ``limit - 1`` characters, as for Chinese) with "…"."""
    if len(phrase) <= limit:
        return phrase
    cut = phrase[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _phrase_spans(cp: np.ndarray, bond: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spans of a post's feature text a person would point to: ``(starts, ends, single_word)``.

    Words of space-delimited scripts (Latin, Hangul, ...: runs of letters and digits, with inner
    apostrophes; a hashtag with its "#") of two characters or more that are not function words,
    numbers or short codes; pairs of such words separated by one space; and for Chinese (and
    kana), which has no spaces: a whole run of 2-6 characters between punctuation, or 2-4
    characters of a longer run that hold a pair that ``bond`` and neither start nor end with a
    particle nor cut through such a pair (``bond[i]``: characters ``i`` and ``i + 1`` are a
    word the corpus often has). Nothing crosses punctuation.
    """
    chars = cp[:-1] if len(cp) and cp[-1] == 0 else cp
    text = chars.astype(np.uint32).tobytes().decode("utf-32-le")
    starts: list[int] = []
    ends: list[int] = []
    single: list[bool] = []
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)
             if len(m.group()) > 1 and not m.group().startswith("0") and m.group() not in _STOP_WORDS
             and not ("0" in m.group() and len(m.group()) <= 4)]  # numbers, and codes such as "9/8c" or "A16a"
    for s, e in words:
        tag = s > 0 and text[s - 1] == "#"
        starts.append(s - tag), ends.append(e), single.append(True)  # a hashtag with its "#"
    for (s1, e1), (s2, e2) in zip(words, words[1:]):
        if s2 == e1 + 1 and text[e1] == " " and not (s1 > 0 and text[s1 - 1] == "#"):
            starts.append(s1), ends.append(e2), single.append(False)
    for m in _HAN.finditer(text):
        s0, e0 = m.span()
        if e0 - s0 <= 6:
            starts.append(s0), ends.append(e0), single.append(False)
            continue
        for length in (2, 3, 4):
            for s in range(s0, e0 - length + 1):
                e = s + length
                if (text[s] not in _HAN_EDGE and text[e - 1] not in _HAN_EDGE and bond[s:e - 1].any()
                        and not (s > s0 and bond[s - 1]) and not (e < e0 and bond[e - 1])):
                    starts.append(s), ends.append(e), single.append(False)
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64), np.array(single, dtype=bool)


_HAN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
_WORD = re.compile(r"(?:(?![\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])[^\W_])+"
                   r"(?:['\u2019](?:(?![\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])[^\W_])+)*")


_task: Any = None  # the function _map_forked's worker processes run (inherited, not pickled)


def _run_task(arg: Any) -> Any:
    return _task(arg)


def _start_task_worker(parent: int) -> None:
    from .batch import _exit_with_parent  # imported here: batch imports this module

    _exit_with_parent(parent)


def _map_forked(fn: Any, args: Sequence[Any]) -> list[Any]:
    """``[fn(a) for a in args]``, in forked processes when there are several cores.

    Processes, not threads: liblinear draws from the C library's one global random generator,
    so fits in threads of one process would disturb each other's draws and the model would
    not be reproducible. A forked worker inherits ``fn`` and the data it closes over, so
    nothing large is pickled on the way in. The workers exit when this process dies (kill -9,
    the OOM killer), as labelling's do, rather than wait for work forever holding their memory.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    if (cores < 2 or len(args) < 2 or "fork" not in multiprocessing.get_all_start_methods()
            or multiprocessing.current_process().daemon):  # a pool's worker may not start processes
        return [fn(a) for a in args]
    _trim_heap()
    global _task
    _task = fn
    try:
        with ProcessPoolExecutor(min(cores, len(args)), mp_context=multiprocessing.get_context("fork"),
                                 initializer=_start_task_worker, initargs=(os.getpid(),)) as pool:
            return list(pool.map(_run_task, args))
    finally:
        _task = None


def _trim_heap() -> None:
    """Give the free pages of the C heap back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Counting a training set's n-grams frees more than it keeps, and glibc holds on to freed
    small blocks: before forking, that was some 350 MB per 50,000 posts that every child mapped too.
    """
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _calibration_folds(y: np.ndarray, groups: Sequence[str] | None, k: int, seed: int) -> np.ndarray:
    """The calibration fold (0 .. k-1) of each post.

    Whole groups (e.g. registers or files) go to one fold when there are at least ``2 * k`` of
    them; otherwise each post is its own group. Within each label (a group counts under its most
    common label), groups are taken largest first (ties in the order of a stable hash of the seed
    and their name): the first ``k`` are dealt one to each fold, so every fold holds every label,
    and each of the rest goes to the fold with the fewest posts so far, so folds are of about one
    size. No library's random generator is involved, so the folds do not change with the numpy
    or scikit-learn version.
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
    load = [0] * k
    for label in sorted(by_label):
        for n, name in enumerate(sorted(by_label[label], key=lambda g: (-len(members[g]), stable(g)))):
            f = n if n < k else min(range(k), key=load.__getitem__)
            fold[members[name]] = f
            load[f] += len(members[name])
    return fold


def post_keys(docs: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each normalised post (BLAKE2b): how a model remembers posts without their text."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(d.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                       "little") for d in docs), dtype=np.uint64, count=len(docs))


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


def _write_dir(path: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into directory ``path`` so that a failure at any point leaves what was there.

    The files go into a new directory beside ``path``, which then takes its place: the old one is
    renamed aside, the new one renamed in, and the old one removed. A directory that also holds
    other files (``--out .``), or is the working directory, is not swapped, which would take them
    away: there each file is written beside its target and renamed over it (a crash between the
    two renames leaves a checksum mismatch, which loading refuses).
    """
    path = Path(os.path.realpath(path))  # through a symlink: replace the directory it names
    path.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}.{secrets.token_hex(4)}"
    tops = {name.split("/")[0] for name in files}  # names may reach into subdirectories ("fast/model.json")
    if path.is_dir() and (path == Path.cwd() or any(p.name not in tops for p in path.iterdir())):
        staged = {name: (path / name).with_name(f".{Path(name).name}.{tag}.tmp") for name in files}
        try:
            for name, tmp in staged.items():
                _write_file(tmp, files[name])
            for name, tmp in staged.items():
                os.replace(tmp, path / name)
        finally:
            for tmp in staged.values():
                tmp.unlink(missing_ok=True)
        return
    new, old = path.parent / f".{path.name}.{tag}.new", path.parent / f".{path.name}.{tag}.old"
    try:
        new.mkdir()
        for name, data in files.items():
            _write_file(new / name, data)
        if not path.is_dir():
            new.rename(path)
            return
        os.chmod(new, stat.S_IMODE(path.stat().st_mode))
        path.rename(old)
        try:
            new.rename(path)
        except BaseException:
            old.rename(path)
            raise
        shutil.rmtree(old)  # only the model files (checked above)
    finally:
        shutil.rmtree(new, ignore_errors=True)  # left only by a failure


def _write_file(path: Path, data: bytes) -> None:
    """Create file ``path`` holding ``data``, flushed to disk before it is renamed into place."""
    path.parent.mkdir(exist_ok=True)
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


_MAX_META_BYTES = 2**20  # model.json holds settings and reports: far less than this
_MAX_WEIGHTS = 2**27  # labels × feature columns: the dense weights scoring builds stay under 512 MiB
_MAX_RATIO = 1100  # deflate shrinks data at most about 1032-fold: an array declaring more is a lie
_INTEGERS = ("coef_indices", "coef_indptr")


_MAX_TAUGHT = 2**22  # posts a model remembers its teacher's probabilities of (adapt's sample is 2,000)


def _checked_taught(meta: dict, path: Path, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """The hashes and teacher's probabilities in ``taught.npz``, once they are known to be sound."""
    said = meta["taught"]
    n = said.get("posts") if isinstance(said, dict) else None
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= _MAX_TAUGHT:
        raise _damaged(path.with_name(_META), f"taught must say how many posts (1 to {_MAX_TAUGHT:,}) it holds")
    if not path.is_file():
        raise _damaged(path, "missing (model.json says the model keeps its teacher's probabilities there)")
    if path.stat().st_size > n * (8 + 4 * n_labels) + 4096:
        raise _damaged(path, f"{path.stat().st_size:,} bytes, more than {n:,} posts' probabilities take")
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != said.get("sha256"):
        raise ModelError(f"{path}: checksum does not match {_META}; the file is corrupted or was modified")
    expect = {"keys.npy": (np.dtype(np.uint64), (n,)), "proba.npy": (np.dtype(np.float32), (n, n_labels))}
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            if sorted(zf.namelist()) != sorted(expect):
                raise ValueError(f"holds {zf.namelist()}, expected keys and proba")
            for name, (got_shape, got_dtype) in _npy_headers(zf).items():
                dtype, shape = expect[name]
                if got_dtype != dtype or got_shape != shape:
                    raise ValueError(f"{name} is a {got_dtype} array of shape {got_shape}, expected {dtype} {shape}")
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            keys, proba = npz["keys"], npz["proba"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _damaged(path, f"not the teacher's probabilities this model keeps ({exc})") from None
    if (np.any(keys[1:] <= keys[:-1]) or not np.isfinite(proba).all() or (proba < 0).any()
            or np.abs(proba.sum(axis=1) - 1).max() > 1e-3):
        raise _damaged(path, "the hashes are not in order or the probabilities are not distributions")
    return keys, proba


def _npy_headers(zf: zipfile.ZipFile) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each member's declared shape and dtype, read from its ``.npy`` header before anything is
    allocated; raises ``ValueError`` for a member numpy would not have written."""
    headers = {}
    for info in zf.infolist():
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 1:
            raise ValueError(f"{info.filename} is compressed or encrypted in a way numpy does not write")
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"{info.filename}: unsupported .npy version {version}")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        headers[info.filename] = (shape, dtype)
    return headers


def _damaged(file: Path, what: str) -> ModelError:
    return ModelError(f"{file}: {what}; the model is damaged or was modified: use an intact copy, or retrain it")


def _real(x: Any) -> float | None:
    """``x`` as a float if it is a finite JSON number (not a bool), else None."""
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) < 1e300  # NaN compares False
    return float(x) if ok else None


def _read_meta(meta_path: Path) -> Any:
    """``model.json`` parsed, refusing one too large or too deeply nested to be a model's metadata."""
    with open(meta_path, "rb") as f:
        raw = f.read(_MAX_META_BYTES + 1)
    if len(raw) > _MAX_META_BYTES:
        raise _damaged(meta_path, f"larger than the {_MAX_META_BYTES >> 20} MiB a model's metadata can be")
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # also UnicodeDecodeError
        raise ModelError(f"{meta_path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise _damaged(meta_path, "JSON nested too deeply") from None


def _checked_arrays(meta: dict, blob: bytes, meta_path: Path, weights_path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``weights.npz``, once they and ``meta`` are known to make a sound model.

    Checked, in order: the settings are JSON objects; the labels are unique names, in order; the
    temperature is positive; ``coef_shape`` is (labels, columns) of at most ``_MAX_WEIGHTS``;
    each array's dtype and length, read from its ``.npy`` header before anything is allocated,
    are what ``coef_shape`` implies (and what its compressed size can hold); and the values:
    the sparse weights' row pointers and column indices in bounds (scipy does not check them,
    and one out of range crashes the process), every float finite.
    """
    labels, shape, temperature = meta.get("labels"), meta.get("coef_shape"), _real(meta.get("temperature"))
    for key in ("params", "features"):
        if not isinstance(meta.get(key), dict):
            raise _damaged(meta_path, f"{key!r} must be a JSON object, got {json.dumps(meta.get(key))[:40]}")
    if _real(meta["params"].get("uncertain_below", 0.5)) is None:
        raise _damaged(meta_path, "'params.uncertain_below' must be a number")
    if not (isinstance(labels, list) and len(labels) >= 2 and all(isinstance(x, str) for x in labels)):
        raise _damaged(meta_path, "'labels' must be a list of at least two label names")
    repeated = sorted(name for name, n in collections.Counter(labels).items() if n > 1)
    if repeated or labels != sorted(labels):
        raise _damaged(meta_path, f"label names repeat: {', '.join(repeated)}"[:200] if repeated
                       else "'labels' are not in sorted order")
    if temperature is None or temperature <= 0:
        raise _damaged(meta_path, f"'temperature' must be a positive number, got {meta.get('temperature')!r:.40}")
    if not (isinstance(shape, list) and len(shape) == 2 and all(type(n) is int for n in shape)
            and shape[0] == len(labels) and 0 < shape[1] and shape[0] * shape[1] <= _MAX_WEIGHTS):
        raise _damaged(meta_path, f"'coef_shape' {shape!r:.60} is not ({len(labels)} labels, columns) "
                                  f"with at most {_MAX_WEIGHTS} weights")
    rows, cols = shape
    n_idf = (cols - len(CUES)) // 2
    lengths = {"char_idf": n_idf, "coef_data": None, "coef_indices": None, "coef_indptr": rows + 1,
               "intercept": rows, "word_idf": n_idf}  # None: as many as there are weights, at most rows × cols
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            members = {info.filename: info for info in zf.infolist()}
            if sorted(members) != [f"{key}.npy" for key in lengths]:
                raise _damaged(weights_path, f"holds {', '.join(sorted(members))[:200]}, "
                                             f"not the arrays {', '.join(lengths)}")
            headers = _npy_headers(zf)
            for key, length in lengths.items():
                info = members[f"{key}.npy"]
                dims, dtype = headers[info.filename]
                kind_ok = dtype.kind in "iu" if key in _INTEGERS else (dtype.kind == "f" and dtype.itemsize == 4)
                size_ok = len(dims) == 1 and (dims[0] == length if length is not None else 0 <= dims[0] <= rows * cols)
                if not kind_ok or not size_ok:
                    expected = "integers" if key in _INTEGERS else "float32"
                    raise _damaged(weights_path, f"{key} holds {dtype} of shape {dims}, expected {expected} of shape "
                                                 f"({length if length is not None else f'at most {rows * cols}'},)")
                if dims[0] * dtype.itemsize > _MAX_RATIO * min(info.compress_size, len(blob)) + 4096:
                    raise _damaged(weights_path, f"{key} declares {dims[0] * dtype.itemsize} bytes in "
                                                 f"{info.compress_size} compressed bytes")
                with zf.open(info) as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
    except ModelError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise _damaged(weights_path, f"not a readable numpy .npz archive ({exc})") from None

    data, indices, indptr = arrays["coef_data"], arrays["coef_indices"], arrays["coef_indptr"]
    if len(indices) != len(data):
        raise _damaged(weights_path, f"coef_indices has {len(indices)} entries but coef_data {len(data)}")
    if indptr[0] != 0 or indptr[-1] != len(data) or (indptr[1:] < indptr[:-1]).any():
        raise _damaged(weights_path, f"coef_indptr must rise from 0 to {len(data)}, the number of weights")
    if len(indices) and (indices.min() < 0 or indices.max() >= cols):
        raise _damaged(weights_path, f"coef_indices holds columns outside 0 .. {cols - 1} "
                                     f"({indices.min()} .. {indices.max()})")
    for key in ("coef_data", "intercept", "char_idf", "word_idf"):
        if not np.isfinite(arrays[key]).all():
            raise _damaged(weights_path, f"{key} holds NaN or infinite values")
    return arrays
