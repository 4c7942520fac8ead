"""Account reports: an archive's mix weighed against a guideline profile, over time, per account, with engagement.

:func:`build_report` reads a labelled archive (the output of ``postlens label``: a ``label``
and ``p_<label>`` columns) or a raw one (labelled on the way), and finds the date, account and
engagement columns by name. The :class:`AccountReport` renders as text, JSON, or one
self-contained HTML file (inline CSS and SVG charts, no script, nothing fetched), which opens
offline in any browser.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import math
import os
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .core import ModelLike, default_jobs, model_profile, resolve_model
from .dates import in_time_order, period_of, to_weeks
from .archive import find_column, open_archive, output_path
from .guidelines import BALANCED, MixReport, ProfileLike, _plural, resolve_profile, weigh_mix, weigh_posts
from .labels import TAXONOMY

__all__ = ["AccountReport", "build_report", "DATE_COLUMNS", "ACCOUNT_COLUMNS", "ENGAGEMENT_COLUMNS"]

#: Column names found by name (case-insensitive), in order of preference.
DATE_COLUMNS = ("date", "published", "published_at", "publish_time", "created_at", "timestamp", "time", "datetime",
                "发布时间", "日期", "时间")
ACCOUNT_COLUMNS = ("account", "account_name", "brand", "screen_name", "user", "author", "page", "channel",
                   "公众号", "账号", "品牌")
ENGAGEMENT_COLUMNS = ("reads", "views", "impressions", "likes", "shares", "retweets", "reposts", "comments",
                      "replies", "阅读", "阅读数", "点赞", "在看", "转发", "评论", "分享")
_NAMES = {t.id: t.name for t in TAXONOMY}
_COLOURS = {"service": "#2e86ab", "user_interest": "#57a773", "community": "#f4a259", "brand_news": "#8e7dbe",
            "hard_ad": "#d1495b"}
_EXTRA_COLOURS = ("#6c757d", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#9467bd")


@dataclass
class AccountReport:
    """What :func:`build_report` found. ``format()``, ``to_dict()`` and ``to_html()`` render it."""

    source: str
    labels: list[str]
    overall: MixReport
    n_rows: int
    rejected: int
    columns: dict[str, Any]  #: the columns used: text, date, account, engagement
    period_unit: str | None = None  #: "week" or "month" (None without dates)
    periods: list[dict] = field(default_factory=list)  #: per period: period, n, mix, score
    trend: dict[str, float] = field(default_factory=dict)  #: label → change of its share, points per period
    accounts: list[dict] = field(default_factory=list)  #: per account, best score first
    engagement: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  #: metric → label → mean, lift
    examples: dict[str, list[dict]] = field(default_factory=dict)  #: label → its most typical posts
    notes: list[str] = field(default_factory=list)
    limits: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)  #: label → profile's floor, cap

    def colour(self, label: str) -> str:
        extra = [x for x in self.labels if x not in _COLOURS]
        return _COLOURS.get(label) or _EXTRA_COLOURS[extra.index(label) % len(_EXTRA_COLOURS)]

    @property
    def worst_accounts(self) -> list[dict]:
        """The accounts to look at first, worst first (at most 3): with several accounts, those scoring
        under 50, or 10 points or more under all the posts together. A report's headline names
        them, since one bad account hides in the score of all posts together."""
        if len(self.accounts) < 2:
            return []
        low = [a for a in self.accounts if a["score"] < 50 or a["score"] <= self.overall.score - 10]
        return sorted(low, key=lambda a: (a["score"], -a["n"], a["account"]))[:3]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.n_rows, "rejected": self.rejected, "columns": self.columns,
                "overall": self.overall.to_dict(), "period_unit": self.period_unit, "periods": self.periods,
                "trend": self.trend, "accounts": self.accounts,
                "worst_accounts": [a["account"] for a in self.worst_accounts], "engagement": self.engagement,
                "examples": self.examples, "notes": self.notes}

    def format(self) -> str:
        """The report as plain text for a terminal (columns aligned by display width: a CJK character takes two)."""
        lines = [f"{self.source}: {_plural(self.overall.n_posts, 'post')}"
                 + (f" ({_plural(self.rejected, 'row')} without usable text left out)" if self.rejected else "")]
        worst = self.worst_accounts
        if worst:
            lines += ["", f"accounts to look at first (of {len(self.accounts)}):"]
            width = min(30, max(_width(str(a["account"])) for a in worst))
            lines += [f"  {_fit(str(a['account']), width)}  {a['score']:>3.0f}/100"
                      + (f"  {a['top_finding']}" if a["top_finding"] else "") for a in worst]
        lines += ["", ("all accounts together: " if len(self.accounts) > 1 else "") + self.overall.format()]
        if self.periods:
            widths = [max(6, _width(x)) for x in self.labels]
            lines += ["", f"mix per {self.period_unit}:",
                      f"  {self.period_unit:<12}{'posts':>7}{'score':>7}"
                      + "".join("  " + _fit(x, w, right=True) for x, w in zip(self.labels, widths))]
            for p in self.periods:
                lines.append(f"  {p['period']:<12}{p['n']:>7}{p['score']:>7.0f}"
                             + "".join(f"  {p['mix'].get(x, 0):>{w}.0%}" for x, w in zip(self.labels, widths)))
            if self.trend:
                lines.append("  trend (points per " + self.period_unit + "): "
                             + ", ".join(f"{x} {v:+.1f}" for x, v in self.trend.items()))
        if self.accounts:
            width = min(30, max(7, *(_width(str(a["account"])) for a in self.accounts)))
            lines += ["", "accounts, best score first:",
                      f"  {_fit('account', width)}{'posts':>7}{'score':>7}  top label"]
            for a in self.accounts:
                lines.append(f"  {_fit(str(a['account']), width)}{a['n']:>7}{a['score']:>7.0f}  {a['top_label']} "
                             f"{a['mix'][a['top_label']]:.0%}")
        for metric, by_label in self.engagement.items():
            lines += ["", f"{metric} per label (lift: against each account's average):"]
            width = max(16, *(_width(x) + 2 for x in by_label)) if by_label else 16
            for label, e in by_label.items():
                lines.append(f"  {_fit(label, width)}mean {e['mean']:>10,.1f}   lift {e['lift']:.2f}×")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_html(self) -> str:
        """One self-contained HTML page (inline CSS and SVG; no script, nothing fetched)."""
        import jinja2

        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        template = env.from_string(resources.files("postlens").joinpath("templates", "report.html").read_text("utf-8"))
        return template.render(r=self, names=_NAMES, mix_bar=_mix_bar(self), trend_chart=_trend_chart(self),
                               worst=self.worst_accounts, generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


def _width(text: str) -> int:
    """How many terminal columns ``text`` takes: two for wide (CJK) characters, none for combining marks."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, width: int, right: bool = False) -> str:
    """``text`` padded (or cut, ending in "…") to ``width`` terminal columns."""
    if _width(text) > width:
        out, used = "", 0
        for ch in text:
            w = _width(ch)
            if used + w > width - 1:
                break
            out, used = out + ch, used + w
        text = out + "…"
    pad = " " * (width - _width(text))
    return pad + text if right else text + pad


# ---- charts (inline SVG) --------------------------------------------------------------------------------
def _mix_bar(r: AccountReport) -> list[dict]:
    """Segments of the 100% bar: label, x, width (in percent of the bar), share, and the text it can hold."""
    x, out = 0.0, []
    for label in r.labels:
        share = r.overall.mix.get(label, 0.0)
        width = 100 * share
        name = _NAMES.get(label, label)
        text = f"{name} {share:.0%}" if width >= 4 + 0.9 * len(name) else f"{share:.0%}" if width >= 4 else ""
        out.append({"label": label, "x": round(100 * x, 3), "width": round(width, 3), "share": share,
                    "colour": r.colour(label), "text": text})
        x += share
    return out


def _nice_top(value: float) -> float:
    """The y axis's top: ``value`` rounded up to the next 10% (at least 10%, at most 100%)."""
    return min(1.0, max(0.1, math.ceil(value * 10 - 1e-9) / 10))


def _trend_chart(r: AccountReport, width: int = 320, height: int = 150, left: int = 34, right: int = 8,
                 top: int = 10, bottom: int = 22) -> dict:
    """Small multiples of each label's share per period: one panel per label, all on one y axis
    fitted to the data (and the profile's caps and floors), periods with few posts marked."""
    n = len(r.periods)
    if n == 0:
        return {"panels": [], "width": width, "height": height}
    limits = r.limits
    highest = max([p["mix"].get(x, 0.0) for p in r.periods for x in r.labels]
                  + [v for lo_hi in limits.values() for v in lo_hi if v is not None])
    ymax = _nice_top(highest)
    sizes = sorted(p["n"] for p in r.periods)
    few = max(5, sizes[len(sizes) // 2] / 2)  # a period with fewer posts than this: its shares say little

    def xy(i: int, share: float) -> tuple[float, float]:
        x = left + (width - left - right) * (i / (n - 1) if n > 1 else 0.5)
        return round(x, 1), round(height - bottom - (height - top - bottom) * min(share, ymax) / ymax, 1)

    step = ymax / 2 if ymax <= 0.2 else 0.1 * math.ceil(ymax / 0.4)  # 2-4 grid lines
    grid = [{"y": xy(0, k * step)[1], "text": f"{k * step:.0%}"} for k in range(int(round(ymax / step)) + 1)]
    picks = sorted({0, n - 1, (n - 1) // 2}) if n > 2 else list(range(n))
    ticks = [{"x": xy(i, 0)[0], "text": r.periods[i]["period"], "anchor": "start" if i == 0 and n > 1 else
              "end" if i == n - 1 and n > 1 else "middle"} for i in picks]
    panels = []
    for label in r.labels:
        dots = [{"x": xy(i, p["mix"].get(label, 0.0))[0], "y": xy(i, p["mix"].get(label, 0.0))[1],
                 "few": p["n"] < few,
                 "title": f"{p['period']}: {p['mix'].get(label, 0.0):.0%} of {_plural(p['n'], 'post')}"}
                for i, p in enumerate(r.periods)]
        low, high = limits.get(label, (None, None))
        panels.append({"label": label, "name": _NAMES.get(label, label), "colour": r.colour(label),
                       "points": " ".join(f"{d['x']},{d['y']}" for d in dots), "dots": dots,
                       "trend": r.trend.get(label),
                       "cap": None if high is None else {"y": xy(0, high)[1], "text": f"cap {high:.0%}"},
                       "floor": None if low is None else {"y": xy(0, low)[1], "text": f"floor {low:.0%}"}})
    bands = [{"x": xy(i, 0)[0] - (width - left - right) / max(1, 2 * (n - 1)), "width": (width - left - right) / max(1, n - 1)}
             for i, p in enumerate(r.periods) if p["n"] < few]
    return {"panels": panels, "grid": grid, "ticks": ticks, "bands": bands, "width": width, "height": height,
            "left": left, "right": right, "top": top, "bottom": bottom, "few": few, "ymax": ymax,
            "n_few": sum(1 for p in r.periods if p["n"] < few)}


# ---- building ---------------------------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value == value else None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text.endswith(("万", "w", "W")):
            try:
                return float(text[:-1]) * 10_000
            except ValueError:
                return None
        try:
            return float(text) if text else None
        except ValueError:
            return None
    return None


def build_report(source: str | os.PathLike, *, model: ModelLike = None,
                 profile: ProfileLike = None, text_column: str | None = None,
                 date_column: str | None = None, account_column: str | None = None,
                 engagement_columns: Sequence[str] | None = None, jobs: int | None = None,
                 examples_per_label: int = 3, log: Callable[[str], None] | None = None) -> AccountReport:
    """Weigh an archive's posts against a guideline profile: overall, per period, per account, with engagement.

    A labelled archive (``postlens label`` output, with ``label`` and ``p_<label>`` columns) is
    read as labelled (``model`` then only gives the guideline profile, if ``profile`` does not).
    An archive with its own ``label`` column but no ``p_<label>`` columns is read with its labels
    when every row's is one of ``model``'s labels (each post then counts as certain); otherwise,
    and for anything else, the posts are labelled first with ``model`` (default: the shipped
    one). The report's notes say which happened, and ``log`` (e.g. ``print``) hears it before
    the work starts. Posts are named by their row in the archive (``row 1`` is the first row
    after a header), in findings, recommendations and example posts alike. Date, account and
    engagement columns are found by name (see :data:`DATE_COLUMNS`, :data:`ACCOUNT_COLUMNS`,
    :data:`ENGAGEMENT_COLUMNS`) unless named. A date that cannot be read counts as missing (the
    report says how many); rows without usable text are left out and counted. Memory: a few
    hundred bytes per post.
    """
    from .batch import _added_names, _labelled_chunks, _merge

    say = log or (lambda message: None)
    profile = resolve_profile(profile)
    archive = open_archive(source, text_column=text_column)
    where = str(source)
    columns = list(archive.columns)
    prefix = "postlens_" if "postlens_label" in columns else ""
    probability_columns = [str(c) for c in columns if str(c).startswith(prefix + "p_")]
    labelled = prefix + "label" in columns and bool(probability_columns)
    own_column = None if labelled else next((c for c in columns if str(c).lower() == "label"), None)
    notes: list[str] = []

    def read_rows(archive):
        return (row for chunk in archive.chunks() for row in ([("rejected", r) for r in chunk.rejected]
                                                             + [("ok", (n, rec)) for n, rec in
                                                                zip(chunk.rows, chunk.records)]))

    def label_rows(archive):
        names = _added_names(archive.columns, labels)
        for chunk, added in _labelled_chunks(archive, m, None, default_jobs(m) if jobs is None else max(1, jobs)):
            yield from (("rejected", r) for r in chunk.rejected)
            yield from (("ok", item) for item in zip(chunk.rows, _merge(chunk, added, names)))

    if labelled:
        labels = [c[len(prefix) + 2:] for c in probability_columns]
        label_key, p_keys = prefix + "label", probability_columns
        rows_iter = read_rows(archive)
        m = resolve_model(model) if model is not None else None
        text = (f"{where} is already labelled ({label_key} and {prefix}p_* columns): the report reads its labels and "
                "probabilities as they are")
        if model is not None:
            text += ("; --model is ignored" if profile is not None else
                     "; --model does not label it again (only its guideline profile is used)")
            say(text)
        notes.append(text)
    else:
        m = resolve_model(model)
        labels = [str(c) for c in m.classes_]
        names = _added_names(archive.columns, labels)
        label_key, p_keys = names[0], names[1:1 + len(labels)]
        rows_iter = label_rows(archive)
        if own_column is not None:
            say(f"{where} has its own {own_column!r} column and no p_* columns: its labels are used if every row's "
                f"is one of the model's labels ({', '.join(labels)}); otherwise the model labels the posts")
    text_col = " + ".join(archive.text_columns) if archive.text_columns else None
    if profile is None:  # labels read from a file: no model is loaded; its profile is the shipped one
        profile = model_profile(m) if m is not None else BALANCED
    date_col = find_column(columns, date_column, DATE_COLUMNS, where, "date")
    account_col = find_column(columns, account_column, ACCOUNT_COLUMNS, where, "account")
    if engagement_columns:
        metrics = [find_column(columns, c, (), where, "engagement") for c in engagement_columns]
    else:
        lower = {str(c).lower(): c for c in columns}
        metrics = [lower[n] for n in ENGAGEMENT_COLUMNS if n in lower]

    class _NotALabel(Exception):
        """A row of the file's own label column that is not one of the model's labels."""

    def collect(rows_iter, own: bool) -> dict[str, Any]:
        """Read the labelled rows: each post's row, label, probabilities, week, account, engagement."""
        got: dict[str, Any] = {"numbers": [], "labels": [], "proba": [], "weeks": [], "accounts": [],
                               "values": {mm: [] for mm in metrics}, "rejected": 0, "bad_dates": 0,
                               "best": {x: [] for x in labels}}
        class_names = archive.class_names.get(own_column, []) if own else []
        for kind, item in rows_iter:
            if kind == "rejected":
                got["rejected"] += 1
                continue
            number, record = item
            if own:
                label = record.get(own_column)
                if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(class_names):
                    label = class_names[label]  # a saved dataset's ClassLabel column holds class indices
                if not isinstance(label, str) or label.strip() not in labels:
                    raise _NotALabel(number, label)
                label = label.strip()
                probs = [float(x == label) for x in labels]
            else:
                label = record.get(label_key)
                if not isinstance(label, str) or not label:
                    got["rejected"] += 1
                    continue
                probs = [_number(record.get(k)) or 0.0 for k in p_keys]
            week = None
            if date_col is not None:
                try:
                    week = to_weeks(record.get(date_col))
                except ValueError:
                    got["bad_dates"] += 1
            got["numbers"].append(number)
            got["labels"].append(label)
            got["proba"].append(probs)
            got["weeks"].append(week)
            got["accounts"].append(str(record.get(account_col, "")) if account_col else "")
            for mm in metrics:
                got["values"][mm].append(_number(record.get(mm)))
            heap = got["best"].get(label)
            if heap is not None:  # keep the most confident posts of each label; their text only when kept
                key = (round(probs[labels.index(label)], 4), -number)  # rounded as files hold them
                if len(heap) < examples_per_label or key > heap[0][:2]:
                    text = " ".join(archive.text_of(record).split())[:280] if archive.text_columns else ""
                    (heapq.heappush if len(heap) < examples_per_label else heapq.heapreplace)(heap, (*key, text))
        return got

    got = None
    if own_column is not None:
        try:
            got = collect(read_rows(archive), own=True)
        except _NotALabel as exc:
            row, value = exc.args
            what = "no label" if value is None or (isinstance(value, str) and not value.strip()) else repr(value)
            text = (f"the file's own {own_column!r} column is not used: row {row} holds {what}, which is not one of "
                    f"the model's labels ({', '.join(labels)}); the model labelled the posts instead (the column "
                    "itself is left as it is)")
            if where == "-":
                raise ValueError(f"{text.split('; the model')[0]}; standard input cannot be read twice to label the "
                                 "posts: rename the column or give a file") from None
            say(text)
            notes.append(text)
            archive = open_archive(source, text_column=text_column)
        else:
            if got["labels"]:
                text = (f"the posts' labels are the file's own {own_column!r} column (every row's is one of the "
                        f"model's labels); without p_* columns each post counts as certain, so the expected shares "
                        f"are the shares and their 95% ranges have no width" + ("; --model only gave the label set"
                                                                                if model is not None else ""))
                say(text)
                notes.append(text)
            else:
                got = None
                archive = open_archive(source, text_column=text_column)
    if got is None:
        got = collect(rows_iter if labelled or own_column is None else label_rows(archive), own=False)
    numbers, post_labels, proba_rows, weeks, accounts = (got[k] for k in ("numbers", "labels", "proba", "weeks",
                                                                          "accounts"))
    values, best, rejected, bad_dates = got["values"], got["best"], got["rejected"], got["bad_dates"]

    n = len(post_labels)
    proba = np.array(proba_rows, dtype=np.float64).reshape(n, len(labels))
    if bad_dates:
        notes.append(f"{_plural(bad_dates, 'date')} in column {date_col!r} could not be read and count"
                     f"{'s' if bad_dates == 1 else ''} as missing")
    known = [w for w in weeks if w is not None]
    order = in_time_order(weeks) if known else list(range(n))
    several = len(set(accounts)) > 1
    overall_profile = dataclasses.replace(profile, max_consecutive={}, no_selling_weeks=None) if several else profile
    if several:
        notes.append("the rules on the order of posts (runs of ads, a community's first weeks) are checked per "
                     "account, in the account table")
    overall = weigh_posts([post_labels[i] for i in order], proba[order], labels, overall_profile,
                          [weeks[i] for i in order] if known else None, [numbers[i] for i in order], rows=True)
    report = AccountReport(where, labels, overall, n + rejected, rejected,
                           {"text": text_col, "date": date_col, "account": account_col, "engagement": metrics},
                           notes=notes, limits={x: (profile.min_share.get(x), profile.max_share.get(x)) for x in labels})

    # Over time.
    if known:
        span = max(known) - min(known)
        unit = "week" if span <= 26 else "month"
        report.period_unit = unit
        by_period: dict[str, list[int]] = {}
        for i in order:
            if weeks[i] is not None:
                by_period.setdefault(period_of(weeks[i], unit), []).append(i)
        for period in sorted(by_period):
            idx = by_period[period]
            mix = {x: sum(post_labels[i] == x for i in idx) / len(idx) for x in labels}
            report.periods.append({"period": period, "n": len(idx), "mix": mix,
                                   "score": round(weigh_mix(mix, profile)[0], 1)})
        if len(report.periods) >= 3:
            t = np.arange(len(report.periods), dtype=np.float64)
            for x in labels:
                share = np.array([p["mix"][x] for p in report.periods])
                report.trend[x] = round(float(np.polyfit(t, share, 1)[0]) * 100, 2)

    # Per account.
    if account_col:
        groups: dict[str, list[int]] = {}
        for i in order:
            groups.setdefault(accounts[i], []).append(i)
        for account, idx in groups.items():
            a = weigh_posts([post_labels[i] for i in idx], proba[idx], labels, profile,
                            [weeks[i] for i in idx] if known else None, [numbers[i] for i in idx], rows=True)
            top = max(a.mix, key=lambda x: (a.mix[x], x in labels))
            costliest = max(a.findings, key=lambda f: f.penalty, default=None)
            report.accounts.append({"account": account, "n": a.n_posts, "score": a.score, "user_value": a.user_value,
                                    "mix": {x: round(a.mix.get(x, 0.0), 4) for x in labels}, "top_label": top,
                                    "findings": [f.message for f in a.findings],
                                    "top_finding": costliest.message if costliest and costliest.penalty > 0 else "",
                                    "recommendations": list(a.recommendations)})
        report.accounts.sort(key=lambda a: (-a["score"], -a["n"], a["account"]))

    # Engagement per label, and each label's lift over its account's average.
    for mm in metrics:
        vals = values[mm]
        sums: dict[str, list[float]] = {}
        for v, acc in zip(vals, accounts):
            if v is not None:
                sums.setdefault(acc, []).append(v)
        means = {acc: sum(v) / len(v) for acc, v in sums.items()}
        by_label: dict[str, dict[str, float]] = {}
        for x in labels:
            pairs = [(v, means[acc]) for v, acc, lab in zip(vals, accounts, post_labels) if lab == x and v is not None]
            if pairs:
                lifts = [v / base for v, base in pairs if base > 0]
                by_label[x] = {"posts": len(pairs), "mean": round(sum(v for v, _ in pairs) / len(pairs), 2),
                               "lift": round(sum(lifts) / len(lifts), 3) if lifts else 0.0}
        if by_label:
            report.engagement[str(mm)] = by_label

    report.examples = {x: [{"row": -neg, "probability": round(p, 3), "text": text}
                           for p, neg, text in sorted(best[x], reverse=True)] for x in labels if best[x]}
    return report


def write_report(report: AccountReport, path: str | os.PathLike) -> Path:
    """Write the HTML page atomically (a temporary file renamed into place)."""
    path = output_path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report.to_html(), encoding="utf-8")
    os.replace(tmp, path)
    return path
