"""The ``postlens`` command line.

    postlens score "text"            label one post (or read it from stdin); --json for machines
    postlens evaluate FILE.jsonl     accuracy, macro-F1, per-label scores and confusions
    postlens train DATA --out DIR    build a model from labelled JSONL (how models/ is made)
    postlens label INPUT -o OUTPUT   label every post of a CSV/TSV/JSONL/Parquet file or saved dataset

Errors in the input are reported in one line on stderr with exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from .labels import TAXONOMY

_NAMES = {label.id: f"{label.name} ({label.name_zh})" for label in TAXONOMY}


class UsageError(Exception):
    """Bad input from the user: printed in one line, exit status 2."""


def _load(path: str | None):
    from .api import load_model

    return load_model(path)


def _cmd_score(args: argparse.Namespace) -> int:
    from .api import score

    if args.text is not None:
        text = args.text
    elif sys.stdin is None or sys.stdin.isatty():
        raise UsageError("give the post as an argument or on standard input")
    else:
        text = sys.stdin.read()
    if not text.strip():
        raise UsageError("the post is empty")
    result = score(text, model=_load(args.model))
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    top = result.probabilities[result.label]
    print(f"{_NAMES.get(result.label, result.label)}  {top:.0%}" + ("  (uncertain)" if result.uncertain else ""))
    print(f"user value: {result.user_value:.0f}/100   language: {result.language}")
    print("probabilities: " + "  ".join(f"{k} {v:.2f}" for k, v in
                                        sorted(result.probabilities.items(), key=lambda kv: -kv[1])))
    if result.evidence:
        print("why: " + "; ".join(result.evidence))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .corpus import read_labelled
    from .evaluate import evaluate

    model = _load(args.model)
    report = evaluate(model, read_labelled(args.file, [str(c) for c in model.classes_]))
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.format())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import train

    _, reports = train(args.data, args.out, eval_data=args.eval or ())
    for name, report in reports.items():
        print(f"== {name}\n{report.format()}\n")
    print(f"model written to {args.out}")
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    from .batch import label_file

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    if args.resume and args.input == "-":
        raise UsageError("--resume needs an input file, not standard input")
    log = (lambda message: None) if args.quiet else (lambda message: print(f"postlens label: {message}", file=sys.stderr))
    try:
        summary = label_file(args.input, args.output, text_column=args.text_column, model=args.model, jobs=args.jobs,
                             resume=args.resume, progress=not args.quiet and sys.stderr.isatty(),
                             encoding=args.encoding, log=log)
    except KeyboardInterrupt:
        if args.output and args.output != "-":
            print("postlens label: interrupted; the finished parts are kept: run the same command with --resume "
                  "to continue", file=sys.stderr)
        raise
    log(summary.format())
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="postlens", description="Label what social accounts publish and weigh "
                                     "the mix against user-value guidelines.")
    parser.add_argument("--version", action="version", version=f"postlens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("score", help="label one post", description="Label one post and say why.")
    p.add_argument("text", nargs="?", help="the post (default: read from standard input)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("evaluate", help="score a model on labelled posts",
                       description="Accuracy, macro-F1, per-label precision/recall/F1 and the confusion matrix "
                                   "on labelled JSONL files (fields: text, label, optional lang).")
    p.add_argument("file", nargs="+", help="labelled .jsonl file(s) or directories of them")
    p.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("train", help="build a model from labelled posts",
                       description="Fit a model on labelled JSONL (minus a 10%% test split), print its scores "
                                   "and save it. `postlens train data/corpus --out models/postlens-base` "
                                   "rebuilds the shipped model.")
    p.add_argument("data", nargs="+", help="labelled .jsonl file(s) or directories of them")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write the model to")
    p.add_argument("--eval", nargs="*", metavar="FILE", help="also score the model on these labelled files")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("label", help="label every post of an archive",
                       description="Label every post of a CSV/TSV/JSONL/Parquet file, a Hugging Face dataset "
                                   "saved with save_to_disk, or standard input (-). Every input column is kept; "
                                   "label, p_<label> per label, user_value, uncertain and language are added. "
                                   "Rows without usable text go to OUTPUT.errors.jsonl with the reason.")
    p.add_argument("input", help="input file, saved dataset directory, or - for standard input")
    p.add_argument("-o", "--output", metavar="OUTPUT",
                   help="output file; its extension picks the format (.csv, .tsv, .jsonl, .parquet). "
                        "Default: JSONL on standard output")
    p.add_argument("--text-column", metavar="NAME", help="the column with the post's text; join several with + "
                   "(title+digest). Default: found by name (text, content, body, tweet, 正文, or title+digest)")
    p.add_argument("--jobs", type=int, metavar="N", help="processes to label with (default: all cores)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run into the same OUTPUT")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--encoding", default="utf-8", help="encoding of a CSV/TSV/JSONL input (default: utf-8)")
    p.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    p.set_defaults(func=_cmd_label)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    from .corpus import DataError
    from .model import ModelError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `postlens score ... | head -1`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UsageError, DataError, ModelError, ValueError, TypeError, OSError) as exc:
        print(f"postlens {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("postlens: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
