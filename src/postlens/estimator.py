"""scikit-learn's estimator conventions, without importing scikit-learn.

postlens's transformers and classifier keep their parameters in ``__init__`` and offer
``get_params`` / ``set_params`` / ``fit`` / ``transform`` / ``predict_proba``, so
``sklearn.base.clone``, ``Pipeline`` and ``GridSearchCV`` work with them. They do not inherit
from ``sklearn.base``: importing scikit-learn costs every process about 100 MB and 2 s, and
labelling needs none of it; scikit-learn is imported only to train.
"""
from __future__ import annotations

import inspect
from typing import Any

__all__ = ["Estimator", "PostClassifierMixin"]


class Estimator:
    """Parameter handling in the manner of ``sklearn.base.BaseEstimator``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values()
                      if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their values (with ``name__sub`` entries if ``deep``)."""
        out: dict[str, Any] = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> "Estimator":
        """Set constructor parameters (``name__sub`` reaches into a nested estimator)."""
        valid = self._param_names()
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid ones: {', '.join(valid)}")
            if sub:
                getattr(self, name).set_params(**{sub: value})
            else:
                setattr(self, name, value)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        return self.fit(X, y).transform(X)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params(deep=False).items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"


class PostClassifierMixin:
    """``predict_proba`` / ``predict`` / ``score`` on raw texts, from a classifier's ``classes_`` and
    ``predict_proba_normalized`` (probabilities of texts already normalised)."""

    def predict_proba(self, texts: Any) -> Any:
        """Calibrated probabilities, one row per text, columns in ``classes_`` order."""
        from .text import check_text, normalize_many

        return self.predict_proba_normalized(normalize_many([check_text(t) for t in texts]))  # type: ignore[attr-defined]

    def predict(self, texts: Any) -> Any:
        """The most likely label id of each text."""
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]  # type: ignore[attr-defined]

    def score(self, texts: Any, labels: Any) -> float:
        """Accuracy on ``texts`` against ``labels`` (as scikit-learn classifiers score)."""
        import numpy as np

        return float(np.mean(self.predict(texts) == np.asarray(labels, dtype=object)))
