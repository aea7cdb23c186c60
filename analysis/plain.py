"""JSON-ready values for summary.json: numpy scalars become Python, NaN becomes None
(JSON has no NaN). One helper for every part of the summary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
