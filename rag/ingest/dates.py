"""Article dates to ISO `YYYY-MM-DD`: the form date filters and recency compare."""
from __future__ import annotations

import re
from datetime import date
from email.utils import parsedate_to_datetime

_YMD = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[\sT_])")
_DMY = re.compile(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:$|\s)")


def iso_date(value: str) -> str:
    """`value` as YYYY-MM-DD when it is a date (ISO, with or without a time; D/M/Y; RFC 2822), else ""."""
    m = _YMD.match(value)
    parts = (m.group(1), m.group(2), m.group(3)) if m else None
    if parts is None and (m := _DMY.match(value)):
        parts = (m.group(3), m.group(2), m.group(1))  # day first: the Arab world's (and Europe's) order
    if parts:
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()
        except ValueError:
            return ""
    try:
        return parsedate_to_datetime(value).date().isoformat() if value.strip() else ""
    except (TypeError, ValueError, IndexError):
        return ""


def normalize_date(value: str) -> str:
    """ISO when parseable; otherwise the text as given (kept, never lost, but not filterable)."""
    return iso_date(value) or value.strip()
