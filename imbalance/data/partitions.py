"""Which date partitions of a source a run trains on: a window of days up to an as-of date.

A source laid out hive-style by date holds one folder per day, named `key=YYYY-MM-DD`
(any key: `date=`, `dt=`, `day=`), with files in it or in folders below it:

    events/date=2026-11-27/part-0.parquet
    events/date=2026-11-28/part-0.parquet
    events/date=2026-11-28/hour=03/part-1.parquet
    events/date=2026-11-29/part-0.parquet

A run with as-of date A and `window_days` W reads the partitions whose date d has
A - W < d <= A: the window (A - W, A], W days ending with A itself. With A = 2026-11-29
and W = 2 that is (2026-11-27, 2026-11-29]: the 28th and the 29th, not the 27th.

A file's date is that of the first folder of its path (relative to the source's root)
that looks like `key=<date>`; the file's own name is not a folder and does not count.
A folder that looks like one but is no real ISO date (`date=2026-02-30`,
`date=2026-11-28T00:00`) is refused rather than skipped: silently leaving out a day
would train on less than the window says. Nothing here touches a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from imbalance.data.spec import DataError

# key=<value that starts like a date>: what a date partition looks like, right or wrong.
_DATEISH = re.compile(r"[^=]+=([0-9]{1,4}-[0-9]{1,2}-[0-9].*)", re.ASCII)
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)


@dataclass(frozen=True)
class Window:
    """The days (as_of - days, as_of]: `days` of them, `as_of` the last."""

    as_of: date
    days: int

    def __post_init__(self) -> None:
        if isinstance(self.as_of, datetime):  # a datetime does not compare with a date
            object.__setattr__(self, "as_of", self.as_of.date())
        if not isinstance(self.as_of, date):
            raise DataError(f"the window's as-of date must be a date, got {self.as_of!r}")
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 1:
            raise DataError(f"window_days must be a whole number of days >= 1, got {self.days!r}")

    @property
    def start(self) -> date:
        """The day before the window's first: not in it."""
        return self.as_of - timedelta(days=self.days)

    @property
    def end(self) -> date:
        """The window's last day: in it."""
        return self.as_of

    def contains(self, d: date) -> bool:
        return self.start < d <= self.end

    def __str__(self) -> str:
        return f"({self.start.isoformat()}, {self.end.isoformat()}]"


def partition_date(relative_path: str) -> date | None:
    """Return the date of the first `key=YYYY-MM-DD` folder of `relative_path`, or None.

    None when no folder looks like `key=<date>`; DataError when the first that does
    is not a real date in ISO form.
    """
    return _date(relative_path, relative_path)


def select(
    relative_paths: Iterable[str], window: Window, source: str = ""
) -> tuple[tuple[str, ...], tuple[date, ...]]:
    """Return the paths whose partition lies in `window` (in their order), and its dates.

    The dates are those of the partitions selected, sorted and unique. Every path must
    have a date partition. `source`, the folder the paths are relative to, only names
    things in messages.
    """
    chosen: list[str] = []
    found: set[date] = set()
    for relative in relative_paths:
        name = f"{source.rstrip('/')}/{relative}" if source else relative
        day = _date(relative, name)
        if day is None:
            raise DataError(
                f"{name} has no date partition (key=YYYY-MM-DD) in its path; "
                "source.window_days needs a folder partitioned by date"
            )
        found.add(day)
        if window.contains(day):
            chosen.append(relative)
    dates = tuple(sorted(d for d in found if window.contains(d)))
    if not chosen:
        where = f" of {source}" if source else ""
        if found:
            first, last = min(found), max(found)
            seen = f"its {len(found)} date partition(s) run from {first} to {last}"
        else:
            seen = "it has no file"
        raise DataError(f"no date partition{where} falls in the window {window}: {seen}")
    return tuple(chosen), dates


def _date(relative: str, name: str) -> date | None:
    """`partition_date`, naming the file as `name` in the message."""
    for folder in relative.split("/")[:-1]:
        dateish = _DATEISH.fullmatch(folder)
        if dateish is None:
            continue
        value = dateish.group(1)
        iso = _ISO.fullmatch(value)
        try:
            if iso is None:
                raise ValueError(value)
            return date(*map(int, iso.groups()))
        except ValueError:
            raise DataError(
                f"{name} lies in the partition {folder!r}, but {value!r} is not a real "
                "date of the form YYYY-MM-DD"
            ) from None
    return None
