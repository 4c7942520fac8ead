"""postlens as a spaCy pipeline component: ``nlp.add_pipe("postlens")`` fills ``doc.cats``.

The factory is registered through the ``spacy_factories`` entry point, so any spaCy pipeline
can use it once postlens is installed, without importing postlens first::

    nlp = spacy.blank("zh")
    nlp.add_pipe("postlens")                       # or config={"model": "postlens-accurate"} or a directory
    nlp("限时5折！点击链接立即抢购").cats            # {"hard_ad": 0.99, ...}

``nlp.pipe`` labels documents in batches, as fast as :func:`postlens.score_many`.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc

from .core import Classifier

__all__ = ["PostlensCategorizer", "make_postlens"]


class PostlensCategorizer:
    """Sets ``doc.cats`` to postlens's calibrated probability of each label (they sum to 1)."""

    def __init__(self, name: str, model: Classifier, batch_size: int = 1024):
        self.name, self.model, self.batch_size = name, model, batch_size
        self.labels = [str(c) for c in model.classes_]

    def _set(self, docs: list[Doc]) -> None:
        usable = [d for d in docs if d.text.strip()]
        if usable:
            proba = self.model.predict_proba([d.text for d in usable])
            for doc, row in zip(usable, proba.tolist()):
                doc.cats = dict(zip(self.labels, row))
        for doc in docs:
            if not doc.text.strip():
                doc.cats = {}  # nothing to label

    def __call__(self, doc: Doc) -> Doc:
        self._set([doc])
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        size = batch_size or self.batch_size
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= size:
                self._set(batch)
                yield from batch
                batch = []
        if batch:
            self._set(batch)
            yield from batch


@Language.factory("postlens", default_config={"model": None, "batch_size": 1024})
def make_postlens(nlp: Language, name: str, model: str | None, batch_size: int) -> PostlensCategorizer:
    """Build the component; ``model`` is a shipped model's name or a model directory (default: ``postlens-base``)."""
    from .core import load_model

    return PostlensCategorizer(name, load_model(model), batch_size)
