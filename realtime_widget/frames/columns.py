"""Fast selections on the events table's categorical columns (shared by tables and plots)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["category_mask"]


def category_mask(df: Any, column: str, names: Iterable[str]) -> np.ndarray:
    """Rows whose categorical ``column`` is one of ``names`` (on the codes: fast)."""
    col = df[column]
    cats = list(col.cat.categories)
    wanted = [cats.index(n) for n in names if n in cats]
    codes = col.cat.codes.to_numpy()
    if not wanted:
        return np.zeros(len(codes), dtype=bool)
    if len(wanted) == 1:
        return codes == wanted[0]
    return np.isin(codes, wanted)
