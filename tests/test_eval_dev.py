"""The shipped model on real posts by real brands (../shared/eval/dev.jsonl, never trained on)."""
from postlens.corpus import read_labelled
from postlens.evaluate import evaluate


def test_dev_macro_f1(model, dev_path):
    report = evaluate(model, read_labelled([dev_path], model.classes_))
    assert report.n_posts == 550
    assert report.macro_f1 >= 0.70, report.format()
