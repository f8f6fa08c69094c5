"""The dashboard's differential-privacy option: what the user chose, how it becomes the run's
``DpConfig`` and schema, and the code books of the bundled tables.

Everything declared public here is taken as the user's statement that it is known without the
table (a code book, clinical limits); it is never read from the rows to be protected, except
the outcome's classes and the category lists, which the user confirms are public by ticking
them (their values are what a code book would list).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import pandas as pd

from psygentab_core import TableSchema
from psygentab_core.datasets import CODE_BOOKS
from psygentab_core.dp import DpConfig, default_delta
from psygentab_core.encoding import sorted_levels
from psygentab_core.errors import PsygentabError
from psygentab_core.schema import ColumnKind
from psygentab_core.split import SplitConfig, split_rows

EPOCH = pd.Timestamp("1970-01-01")
# How many values of δ below 1/n the page offers.
DELTA_CHOICES = 5
_BOUNDS_LINE = re.compile(r"^(?P<name>.+?)\s*=\s*(?P<low>[^:]+?)\s*:\s*(?P<high>.+?)$")


@dataclass(frozen=True, slots=True)
class DpChoice:
    """Whether the next run trains with differential privacy, to which target, and what the
    user declared public."""

    enabled: bool = False
    epsilon: float = 3.0
    delta: float | None = None
    """None: the default, a power of ten below 1/n (:func:`psygentab_core.dp.default_delta`)."""
    public_outcome: bool = True
    """Declare the outcome's classes public (they define the outcome, e.g. died / survived)."""
    public_categories: bool = False
    """Declare every category list public (``DpConfig.public_categories``)."""
    public_bounds: tuple[tuple[str, float, float], ...] = ()
    """Public ranges of numeric columns; the others are estimated under DP."""

    def for_table(self, name: str, source: str) -> DpChoice:
        """The choice on another table: a bundled table comes with its code book (ranges and
        category lists public); an uploaded one with nothing declared. δ returns to its
        default, which depends on the number of rows."""
        book = CODE_BOOKS.get(name, ()) if source == "demo" else ()
        return replace(self, delta=None, public_bounds=book, public_categories=bool(book))

    def dp_config(self, schema: TableSchema) -> DpConfig:
        """The run's DP settings (ranges only of the schema's numeric columns)."""
        numeric = {c.name for c in schema.modelled if c.kind.is_numeric}
        return DpConfig(
            epsilon=self.epsilon,
            delta=self.delta,
            public_categories=self.public_categories,
            public_bounds=tuple(b for b in self.public_bounds if b[0] in numeric),
        )

    def estimated_columns(self, schema: TableSchema) -> list[str]:
        """Numeric columns whose range and quantiles DP estimates from the budget."""
        declared = {name for name, _, _ in self.public_bounds}
        return [c.name for c in schema.modelled if c.kind.is_numeric and c.name not in declared]


def outcome_classes(schema: TableSchema, frame: pd.DataFrame) -> list | None:
    """The outcome's classes, for a discrete outcome without declared levels; else None."""
    target = schema.target
    if target is None:
        return None
    spec = schema.column(target)
    if not spec.kind.is_discrete or spec.levels is not None:
        return None
    return sorted_levels(frame[target].dropna().unique().tolist())


def with_public_outcome(schema: TableSchema, frame: pd.DataFrame) -> TableSchema:
    """The schema with the outcome's classes declared as its levels, which DP mode takes as
    public (no ε spent on finding them; their shares are still counted under DP)."""
    classes = outcome_classes(schema, frame)
    if classes is None:
        return schema
    spec = schema.column(schema.target)
    return schema.with_kind(
        spec.name,
        spec.kind,
        reason=f"{spec.reason}; classes declared public",
        datetime_format=spec.datetime_format,
        levels=classes,
    )


def training_rows(frame: pd.DataFrame, split: SplitConfig, *, seed: int) -> int | None:
    """n, the training rows a DP run would have (its split reads only the row count); None for
    a table too small to split."""
    try:
        return len(split_rows(frame, split, target=None, seed=seed).members)
    except PsygentabError:
        return None


def delta_choices(rows: int) -> list[float]:
    """Powers of ten below 1/n, the default first."""
    first = default_delta(rows)
    return [first / 10**k for k in range(DELTA_CHOICES)]


def format_delta(delta: float) -> str:
    """1e-05."""
    return f"{delta:.0e}"


def _bound_text(value: float, kind: ColumnKind) -> str:
    if kind is ColumnKind.DATETIME:
        return (EPOCH + pd.to_timedelta(round(value), unit="D")).strftime("%Y-%m-%d")
    return f"{value:g}"


def format_bounds(bounds: tuple[tuple[str, float, float], ...], schema: TableSchema) -> str:
    """One line per declared range, ``column = low : high`` (dates as YYYY-MM-DD)."""
    kinds = {c.name: c.kind for c in schema.columns}
    return "\n".join(
        f"{name} = {_bound_text(low, kinds.get(name, ColumnKind.CONTINUOUS))} : "
        f"{_bound_text(high, kinds.get(name, ColumnKind.CONTINUOUS))}"
        for name, low, high in bounds
    )


def _parse_value(text: str, kind: ColumnKind) -> float | None:
    try:
        value = float(text)
    except ValueError:
        if kind is not ColumnKind.DATETIME:
            return None
        try:
            stamp = pd.Timestamp(text)
        except ValueError:
            return None
        if stamp is pd.NaT:
            return None
        value = (stamp.tz_localize(None) - EPOCH) / pd.Timedelta(days=1)
    return value if math.isfinite(value) else None


def parse_bounds(
    text: str, schema: TableSchema
) -> tuple[tuple[tuple[str, float, float], ...], list[str]]:
    """Ranges from ``column = low : high`` lines (blank lines and ``#`` comments skipped), and
    one message per line that cannot be used."""
    kinds = {c.name: c.kind for c in schema.modelled if c.kind.is_numeric}
    bounds: dict[str, tuple[str, float, float]] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _BOUNDS_LINE.match(line)
        if match is None:
            problems.append(
                f"Line {number} ({line!r}): write COLUMN = LOW : HIGH, e.g. age = 0 : 120."
            )
            continue
        name = match["name"].strip()
        if name not in kinds:
            problems.append(
                f"Line {number}: {name!r} is not a numeric column of this table "
                f"(numeric columns: {', '.join(kinds) or 'none'})."
            )
            continue
        kind = kinds[name]
        low, high = _parse_value(match["low"], kind), _parse_value(match["high"], kind)
        if low is None or high is None:
            what = "numbers or dates (YYYY-MM-DD)" if kind is ColumnKind.DATETIME else "numbers"
            problems.append(f"Line {number}: the limits of {name!r} must be {what}.")
            continue
        if not low < high:
            problems.append(f"Line {number}: the low limit of {name!r} must be below the high one.")
            continue
        if name in bounds:
            problems.append(f"Line {number}: {name!r} is declared twice.")
            continue
        bounds[name] = (name, low, high)
    return tuple(bounds.values()), problems
