"""postlens: what an organisation's social accounts actually publish.

Labels posts as brand news, hard ad, service, user-interest or community content
(see ``LABELS`` and ``TAXONOMY``) and weighs an account's mix against user-value guidelines.

    >>> import postlens
    >>> s = postlens.score("Our summer sale ends tonight — 40% off everything, shop now")  # doctest: +SKIP
    >>> s.label, s.user_value                                                                # doctest: +SKIP
    ('hard_ad', 12.3)
"""
from .accurate import AccurateClassifier
from .adapt import AdaptReport, adapt
from .api import MixReport, PostScore, PostScores, assess, default_model_path, load_model, score, score_many
from .archive import ArchiveError, Rejected
from .batch import LabelledArchive, LabelSummary, label_archive, label_batch, label_file, label_frame
from .core import SHIPPED_MODELS
from .corpus import DataError
from .encoder import EncoderError
from .guidelines import BALANCED, Finding, GuidelineProfile, ProfileError, load_profile
from .labels import LABELS, TAXONOMY, Label
from .model import ModelError, PostClassifier
from .review import check_labels, suggest
from .text import detect_language, normalize
from .training import TrainReport, train

__version__ = "0.1.0"

__all__ = [
    "score", "score_many", "assess", "load_model", "default_model_path", "SHIPPED_MODELS",
    "label_archive", "label_file", "label_batch", "label_frame", "LabelledArchive", "LabelSummary", "Rejected", "ArchiveError",
    "train", "TrainReport", "adapt", "AdaptReport", "check_labels", "suggest", "DataError",
    "PostScore", "PostScores", "MixReport", "Finding", "GuidelineProfile", "BALANCED", "load_profile", "ProfileError",
    "PostClassifier", "AccurateClassifier", "ModelError", "EncoderError", "LABELS", "TAXONOMY", "Label",
    "normalize", "detect_language", "__version__",
]
