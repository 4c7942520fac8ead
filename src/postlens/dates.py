"""When posts were published: dates in the forms archives hold them, and the order they put posts in."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Sequence

import numpy as np

__all__ = ["to_weeks", "in_time_order", "period_of"]

_EPOCH = dt.datetime(1970, 1, 1)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T,]*(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def to_weeks(value: Any, where: Any = None) -> float | None:
    """A date as weeks since 1970-01-01 (``None`` for a missing value).

    Accepts ``datetime``/``date`` objects, numpy and pandas timestamps, ISO-8601 strings
    (``2024-05-01``, ``2024-05-01T08:30:00+08:00``), ``2024/5/1 8:30``, ``2024.05.01``,
    ``2024年5月1日``, ``20240501``, and Unix times in seconds or milliseconds (as numbers or
    digits: what WeChat and Weibo exports hold). A time zone, when given, is converted to UTC.
    Raises ``ValueError`` naming ``where`` for anything else.
    """
    def bad() -> ValueError:
        return ValueError(f"date {value!r}" + (f" at {where}" if where is not None else "")
                          + " is not a date (expected e.g. 2024-05-01, 2024-05-01 08:30, 2024年5月1日 or a Unix time)")

    if value is None or (isinstance(value, float) and value != value) or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    elif isinstance(value, np.datetime64):
        value = value.astype("datetime64[s]").astype(dt.datetime)
    elif isinstance(value, np.generic):
        value = value.item()
    moment: Any = value
    if isinstance(value, str) and value.strip().isdigit():
        moment = int(value.strip())
    if isinstance(moment, (int, float)) and not isinstance(moment, bool):
        if 19000101 <= moment <= 21001231 and float(moment).is_integer():  # YYYYMMDD
            try:
                moment = dt.datetime.strptime(str(int(moment)), "%Y%m%d")
            except ValueError:
                raise bad() from None
        elif 1e8 <= moment < 1e11:  # Unix seconds (1973-5138)
            moment = _EPOCH + dt.timedelta(seconds=float(moment))
        elif 1e11 <= moment < 1e14:  # Unix milliseconds
            moment = _EPOCH + dt.timedelta(milliseconds=float(moment))
        else:
            raise bad()
    elif isinstance(moment, str):
        text = moment.strip()
        if not text:
            return None
        try:
            moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            m = _DATE.match(text)
            if not m:
                raise bad() from None
            try:
                moment = dt.datetime(*(int(g) if g else 0 for g in m.groups()))
            except ValueError:
                raise bad() from None
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return (moment - _EPOCH).total_seconds() / (7 * 86400)
    if isinstance(moment, dt.date):
        return (moment - _EPOCH.date()).days / 7
    raise bad()


def in_time_order(weeks: Sequence[float | None]) -> list[int]:
    """Positions of posts in publishing order (by :func:`to_weeks` values); undated posts last, ties kept."""
    return sorted(range(len(weeks)), key=lambda i: (weeks[i] is None, weeks[i] or 0.0, i))


def period_of(week: float, unit: str) -> str:
    """The week (its Monday, ``2024-04-29``) or month (``2024-05``) a :func:`to_weeks` value falls in."""
    day = _EPOCH + dt.timedelta(days=week * 7)
    if unit == "month":
        return f"{day.year}-{day.month:02d}"
    return (day - dt.timedelta(days=day.weekday())).strftime("%Y-%m-%d")
