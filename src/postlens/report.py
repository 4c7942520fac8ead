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
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .api import ModelLike, _model, model_profile
from .dates import in_time_order, period_of, to_weeks
from .archive import find_column, open_archive, output_path
from .guidelines import BALANCED, GuidelineProfile, MixReport, weigh_mix, weigh_posts
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

    def colour(self, label: str) -> str:
        extra = [x for x in self.labels if x not in _COLOURS]
        return _COLOURS.get(label) or _EXTRA_COLOURS[extra.index(label) % len(_EXTRA_COLOURS)]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.n_rows, "rejected": self.rejected, "columns": self.columns,
                "overall": self.overall.to_dict(), "period_unit": self.period_unit, "periods": self.periods,
                "trend": self.trend, "accounts": self.accounts, "engagement": self.engagement,
                "examples": self.examples, "notes": self.notes}

    def format(self) -> str:
        """The report as plain text for a terminal."""
        lines = [f"{self.source}: {self.overall.n_posts:,} posts" + (f" ({self.rejected:,} rows without usable text "
                                                                      "left out)" if self.rejected else ""), "",
                 self.overall.format()]
        if self.periods:
            lines += ["", f"mix per {self.period_unit}:",
                      f"  {self.period_unit:<12}{'posts':>7}{'score':>7}  " + "".join(f"{x[:12]:>13}" for x in self.labels)]
            for p in self.periods:
                lines.append(f"  {p['period']:<12}{p['n']:>7}{p['score']:>7.0f}  "
                             + "".join(f"{p['mix'].get(x, 0):>13.0%}" for x in self.labels))
            if self.trend:
                lines.append("  trend (points per " + self.period_unit + "): "
                             + ", ".join(f"{x} {v:+.1f}" for x, v in self.trend.items()))
        if self.accounts:
            lines += ["", "accounts, best score first:",
                      f"  {'account':<24}{'posts':>7}{'score':>7}  top label"]
            for a in self.accounts:
                lines.append(f"  {str(a['account'])[:24]:<24}{a['n']:>7}{a['score']:>7.0f}  {a['top_label']} "
                             f"{a['mix'][a['top_label']]:.0%}")
        for metric, by_label in self.engagement.items():
            lines += ["", f"{metric} per label (lift: against each account's average):"]
            for label, e in by_label.items():
                lines.append(f"  {label:<16}mean {e['mean']:>10,.1f}   lift {e['lift']:.2f}×")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_html(self) -> str:
        """One self-contained HTML page (inline CSS and SVG; no script, nothing fetched)."""
        import jinja2

        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        template = env.from_string(resources.files("postlens").joinpath("templates", "report.html").read_text("utf-8"))
        return template.render(r=self, names=_NAMES, mix_bar=_mix_bar(self), trend_chart=_trend_chart(self),
                               generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


# ---- charts (inline SVG) --------------------------------------------------------------------------------
def _mix_bar(r: AccountReport) -> list[dict]:
    """Segments of the 100% bar: label, x, width (in percent of the bar), share."""
    x, out = 0.0, []
    for label in r.labels:
        share = r.overall.mix.get(label, 0.0)
        out.append({"label": label, "x": round(100 * x, 3), "width": round(100 * share, 3), "share": share,
                    "colour": r.colour(label)})
        x += share
    return out


def _trend_chart(r: AccountReport, width: int = 720, height: int = 240, pad: int = 36) -> dict:
    """Polylines of each label's share per period (0-100% on the y axis)."""
    n = len(r.periods)
    if n == 0:
        return {"lines": [], "ticks": [], "width": width, "height": height}

    def xy(i: int, share: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        return round(x, 1), round(height - pad - (height - 2 * pad) * share, 1)

    lines = [{"label": label, "colour": r.colour(label),
              "points": " ".join(f"{x},{y}" for x, y in (xy(i, p["mix"].get(label, 0.0)) for i, p in enumerate(r.periods)))}
             for label in r.labels]
    step = max(1, math.ceil(n / 8))
    ticks = [{"x": xy(i, 0)[0], "text": p["period"]} for i, p in enumerate(r.periods) if i % step == 0]
    grid = [{"y": xy(0, s)[1], "text": f"{s:.0%}"} for s in (0, 0.25, 0.5, 0.75, 1.0)]
    return {"lines": lines, "ticks": ticks, "grid": grid, "width": width, "height": height, "pad": pad}


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
                 profile: GuidelineProfile | None = None, text_column: str | None = None,
                 date_column: str | None = None, account_column: str | None = None,
                 engagement_columns: Sequence[str] | None = None, jobs: int | None = None,
                 examples_per_label: int = 3) -> AccountReport:
    """Weigh an archive's posts against a guideline profile: overall, per period, per account, with engagement.

    A labelled archive (``postlens label`` output, with ``label`` and ``p_<label>`` columns) is
    read as labelled; anything else is labelled first with ``model`` (default: the shipped
    one). Date, account and engagement columns are found by name (see :data:`DATE_COLUMNS`,
    :data:`ACCOUNT_COLUMNS`, :data:`ENGAGEMENT_COLUMNS`) unless named. A date that cannot be
    read counts as missing (the report says how many); rows without usable text are left out
    and counted. Memory: a few hundred bytes per post.
    """
    from .batch import _added_names, _labelled_chunks, _merge, default_jobs

    archive = open_archive(source, text_column=text_column)
    where = str(source)
    columns = list(archive.columns)
    prefix = "postlens_" if "postlens_label" in columns else ""
    probability_columns = [str(c) for c in columns if str(c).startswith(prefix + "p_")]
    labelled = prefix + "label" in columns and bool(probability_columns)
    if labelled:
        labels = [c[len(prefix) + 2:] for c in probability_columns]
        label_key, p_keys = prefix + "label", probability_columns
        rows_iter = (row for chunk in archive.chunks() for row in ([("rejected", r) for r in chunk.rejected]
                                                                  + [("ok", (n, rec)) for n, rec in
                                                                     zip(chunk.rows, chunk.records)]))
        m = _model(model) if model is not None else None
    else:
        m = _model(model)
        labels = [str(c) for c in m.classes_]
        names = _added_names(archive.columns, labels)
        label_key, p_keys = names[0], names[1:1 + len(labels)]

        def rows_gen():
            for chunk, added in _labelled_chunks(archive, m, None, default_jobs() if jobs is None else max(1, jobs)):
                yield from (("rejected", r) for r in chunk.rejected)
                yield from (("ok", item) for item in zip(chunk.rows, _merge(chunk, added, names)))
        rows_iter = rows_gen()
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

    numbers: list[int] = []
    post_labels: list[str] = []
    proba_rows: list[list[float]] = []
    weeks: list[float | None] = []
    accounts: list[str] = []
    values: dict[str, list[float | None]] = {mm: [] for mm in metrics}
    best: dict[str, list[tuple[float, int, str]]] = {x: [] for x in labels}
    rejected = bad_dates = 0
    for kind, item in rows_iter:
        if kind == "rejected":
            rejected += 1
            continue
        number, record = item
        label = record.get(label_key)
        if not isinstance(label, str) or not label:
            rejected += 1
            continue
        probs = [_number(record.get(k)) or 0.0 for k in p_keys]
        week = None
        if date_col is not None:
            try:
                week = to_weeks(record.get(date_col))
            except ValueError:
                bad_dates += 1
        numbers.append(number)
        post_labels.append(label)
        proba_rows.append(probs)
        weeks.append(week)
        accounts.append(str(record.get(account_col, "")) if account_col else "")
        for mm in metrics:
            values[mm].append(_number(record.get(mm)))
        heap = best.get(label)
        if heap is not None:  # keep the most confident posts of each label; their text only when kept
            key = (probs[labels.index(label)], -number)
            if len(heap) < examples_per_label or key > heap[0][:2]:
                text = " ".join(archive.text_of(record).split())[:280] if archive.text_columns else ""
                (heapq.heappush if len(heap) < examples_per_label else heapq.heapreplace)(heap, (*key, text))

    n = len(post_labels)
    proba = np.array(proba_rows, dtype=np.float64).reshape(n, len(labels))
    notes = []
    if bad_dates:
        notes.append(f"{bad_dates:,} dates in column {date_col!r} could not be read and count as missing")
    known = [w for w in weeks if w is not None]
    order = in_time_order(weeks) if known else list(range(n))
    several = len(set(accounts)) > 1
    overall_profile = dataclasses.replace(profile, max_consecutive={}, no_selling_weeks=None) if several else profile
    if several:
        notes.append("the rules on the order of posts (runs of ads, a community's first weeks) are checked per "
                     "account, in the account table")
    overall = weigh_posts([post_labels[i] for i in order], proba[order], labels, overall_profile,
                          [weeks[i] for i in order] if known else None, [numbers[i] for i in order])
    report = AccountReport(where, labels, overall, n + rejected, rejected,
                           {"text": text_col, "date": date_col, "account": account_col, "engagement": metrics},
                           notes=notes)

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
                            [weeks[i] for i in idx] if known else None, [numbers[i] for i in idx])
            top = max(a.mix, key=lambda x: (a.mix[x], x in labels))
            report.accounts.append({"account": account, "n": a.n_posts, "score": a.score, "user_value": a.user_value,
                                    "mix": {x: round(a.mix.get(x, 0.0), 4) for x in labels}, "top_label": top,
                                    "findings": [f.message for f in a.findings],
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
