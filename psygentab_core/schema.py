"""The table schema: the kind of every column, why it was chosen, and validation against the data.

Inference is a first guess with a reason a person can check; every choice can be overridden with
:meth:`TableSchema.with_kind`, and :func:`validate_schema` then says, column by column, what does
not fit.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from psygentab_core.errors import SchemaError


class ColumnKind(StrEnum):
    """How a column is modelled."""

    CONTINUOUS = "continuous"
    INTEGER = "integer"
    CATEGORICAL = "categorical"
    BINARY = "binary"
    ORDINAL = "ordinal"
    DATETIME = "datetime"
    EXCLUDED = "excluded"

    @property
    def is_numeric(self) -> bool:
        """Continuous, integer and datetime columns are modelled as numbers."""
        return self in (ColumnKind.CONTINUOUS, ColumnKind.INTEGER, ColumnKind.DATETIME)

    @property
    def is_discrete(self) -> bool:
        """Categorical, binary and ordinal columns are modelled as a choice among levels."""
        return self in (ColumnKind.CATEGORICAL, ColumnKind.BINARY, ColumnKind.ORDINAL)


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column: its kind, the reason for it, and what the user needs to know about it."""

    name: str
    kind: ColumnKind
    reason: str
    identifier: bool = False
    datetime_format: str | None = None
    levels: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "reason": self.reason,
            "identifier": self.identifier,
            "datetime_format": self.datetime_format,
            "levels": None if self.levels is None else list(self.levels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """Inverse of :meth:`to_dict`."""
        try:
            kind = ColumnKind(data["kind"])
        except ValueError as error:
            known = ", ".join(k.value for k in ColumnKind)
            raise SchemaError(
                f"Column {data.get('name')!r}: unknown kind {data['kind']!r} (known: {known}).",
                column=data.get("name"),
            ) from error
        levels = data.get("levels")
        return cls(
            name=str(data["name"]),
            kind=kind,
            reason=str(data.get("reason", "")),
            identifier=bool(data.get("identifier", False)),
            datetime_format=data.get("datetime_format"),
            levels=None if levels is None else tuple(levels),
        )


@dataclass(frozen=True, slots=True)
class TableSchema:
    """The columns of a table in order, and the target column if there is one."""

    columns: tuple[ColumnSpec, ...]
    target: str | None = None
    _by_name: dict[str, ColumnSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(
                f"Column names must be unique; repeated: {', '.join(duplicates)}.",
                column=duplicates[0],
            )
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})
        if self.target is not None:
            if self.target not in self._by_name:
                raise SchemaError(
                    f"Target {self.target!r} is not a column of the table "
                    f"(columns: {_preview(names)}).",
                    column=self.target,
                )
            if not self._by_name[self.target].kind.is_discrete:
                raise SchemaError(
                    f"Target {self.target!r} is {self._by_name[self.target].kind.value}; "
                    "the target must be a class label (binary, categorical or ordinal).",
                    column=self.target,
                )

    @property
    def names(self) -> tuple[str, ...]:
        """All column names, in table order."""
        return tuple(c.name for c in self.columns)

    @property
    def modelled(self) -> tuple[ColumnSpec, ...]:
        """The columns the generator learns (everything not excluded)."""
        return tuple(c for c in self.columns if c.kind is not ColumnKind.EXCLUDED)

    @property
    def identifiers(self) -> tuple[ColumnSpec, ...]:
        """Columns flagged as likely direct identifiers."""
        return tuple(c for c in self.columns if c.identifier)

    def column(self, name: str) -> ColumnSpec:
        """The spec of one column, or a SchemaError naming the known columns."""
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(
                f"No column named {name!r} (columns: {_preview(self.names)}).", column=name
            ) from None

    def with_kind(
        self,
        name: str,
        kind: ColumnKind | str,
        *,
        reason: str = "set by the user",
        datetime_format: str | None = None,
        levels: Iterable[Any] | None = None,
    ) -> TableSchema:
        """A copy with one column's kind overridden."""
        spec = self.column(name)
        try:
            new_kind = ColumnKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in ColumnKind)
            raise SchemaError(
                f"Column {name!r}: unknown kind {kind!r} (known: {known}).", column=name
            ) from None
        updated = replace(
            spec,
            kind=new_kind,
            reason=reason,
            datetime_format=datetime_format
            if datetime_format is not None
            else (spec.datetime_format if new_kind is ColumnKind.DATETIME else None),
            levels=tuple(levels) if levels is not None else None,
        )
        columns = tuple(updated if c.name == name else c for c in self.columns)
        target = None if new_kind is ColumnKind.EXCLUDED and self.target == name else self.target
        return TableSchema(columns, target=target)

    def with_target(self, name: str | None) -> TableSchema:
        """A copy with another target (or none)."""
        return TableSchema(self.columns, target=name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"target": self.target, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(ColumnSpec.from_dict(c) for c in data["columns"]), target=data.get("target")
        )


# ---------------------------------------------------------------------------------------------
# Inference

# Few distinct whole numbers are usually codes or scores (education level, NYHA class) rather
# than measurements; above this they are treated as counts.
MAX_ORDINAL_LEVELS = 10
# A text or integer column where this share of values is distinct points at single patients.
NEAR_UNIQUE_SHARE = 0.95
MIN_ROWS_FOR_UNIQUENESS = 20
# A text column with more levels than this, seen in fewer than MIN_ROWS_PER_LEVEL rows each on
# average, is mostly rare values: slow to learn (one output per level) and a rare value can
# single out a patient, so it is left out unless the user includes it.
MANY_LEVELS = 200
MIN_ROWS_PER_LEVEL = 10
# Share of a text column's sampled values that must read as dates for it to be a date column.
DATE_SHARE = 0.95

DATETIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
)

_ID_TOKENS = {"id", "mrn", "ssn", "nhs", "uuid", "guid", "seqn", "record", "patientid"}
_NAME_TOKENS = {"name", "firstname", "lastname", "surname", "fullname", "forename"}
# A bare "name" next to one of these is the name of a thing (clinic_name, drug_name), not a person.
_THING_TOKENS = {
    "clinic", "hospital", "site", "centre", "center", "ward", "unit", "department", "dept",
    "facility", "practice", "lab", "laboratory", "drug", "medication", "medicine", "product",
    "brand", "test", "study", "trial", "vaccine", "device", "procedure", "diagnosis", "disease",
    "country", "state", "city", "region", "county", "district", "file", "variable",
}  # fmt: skip
_CONTACT_TOKENS = {
    "email": "an e-mail address",
    "mail": "an e-mail address",
    "phone": "a telephone number",
    "telephone": "a telephone number",
    "mobile": "a telephone number",
    "fax": "a fax number",
    "address": "a postal address",
    "street": "a postal address",
    "postcode": "a postcode",
    "zipcode": "a postcode",
    "zip": "a postcode",
    "postal": "a postcode",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")


def infer_schema(frame: pd.DataFrame, *, target: str | None = None) -> TableSchema:
    """Guess every column's kind, with a reason, and flag likely direct identifiers."""
    _check_column_names(frame.columns)
    specs = [_infer_column(str(name), frame[name]) for name in frame.columns]
    if target is not None:
        if target not in frame.columns:
            raise SchemaError(
                f"Target {target!r} is not a column of the table "
                f"(columns: {_preview(map(str, frame.columns))}).",
                column=target,
            )
        specs = [_as_target(s, frame[s.name]) if s.name == target else s for s in specs]
    return TableSchema(tuple(specs), target=target)


def _check_column_names(columns: pd.Index) -> None:
    names = [str(c) for c in columns]
    blank = [i + 1 for i, n in enumerate(names) if not n.strip() or n.startswith("Unnamed: ")]
    if blank:
        first = names[blank[0] - 1]
        # A header such as "Unnamed: 0" was written by pandas for a column that had no name,
        # most often a row index saved with the table; the user sees the literal text.
        why = (
            f" ({first!r} is what pandas writes for a nameless column, such as a saved row "
            "index; delete the column or name it)"
            if first.startswith("Unnamed: ")
            else ""
        )
        raise SchemaError(
            f"Column {blank[0]} has no name{why}; give every column a header "
            f"(blank headers at positions {', '.join(map(str, blank[:10]))})."
        )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaError(
            f"Column names must be unique; repeated: {', '.join(duplicates)}.",
            column=duplicates[0],
        )


def _as_target(spec: ColumnSpec, values: pd.Series) -> ColumnSpec:
    if spec.kind.is_discrete:
        return replace(spec, reason=f"{spec.reason}; chosen as the target", identifier=False)
    distinct = values.dropna().nunique()
    if spec.kind in (ColumnKind.INTEGER, ColumnKind.CONTINUOUS) and distinct <= 20:
        return replace(
            spec,
            kind=ColumnKind.CATEGORICAL,
            reason=f"chosen as the target: its {distinct} distinct values are treated as classes",
            identifier=False,
        )
    raise SchemaError(
        f"Target {spec.name!r} has {distinct} distinct values; the target must be a class label "
        "(for example death 0/1 or a diagnosis), not a measurement.",
        column=spec.name,
    )


def _infer_column(name: str, values: pd.Series) -> ColumnSpec:
    present = values.dropna()
    if present.empty:
        return ColumnSpec(name, ColumnKind.EXCLUDED, "every value is missing: nothing to learn")

    identifier_reason = _identifier_reason(name, present)
    if identifier_reason is not None:
        return ColumnSpec(
            name,
            ColumnKind.EXCLUDED,
            f"likely direct identifier: {identifier_reason}; excluded by default",
            identifier=True,
        )

    distinct = present.nunique()
    if pd.api.types.is_bool_dtype(values.dtype):
        return ColumnSpec(name, ColumnKind.BINARY, "true/false values")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return ColumnSpec(name, ColumnKind.DATETIME, "stored as dates")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return _infer_numeric(name, present.astype(float), distinct)
    text = present.astype(str)
    date_formats = _date_formats(text)
    if len(date_formats) == 1:
        return ColumnSpec(
            name,
            ColumnKind.DATETIME,
            f"dates written as {date_formats[0]}",
            datetime_format=date_formats[0],
        )
    if date_formats:
        # Guessing which day 03/04/2023 is would silently move dates by months.
        return ColumnSpec(
            name,
            ColumnKind.EXCLUDED,
            f"dates written in more than one way ({' and '.join(date_formats[:4])}); excluded: "
            "write them all one way (for example 2023-01-31) to model them as dates",
        )
    if _looks_like_free_text(text, distinct):
        return ColumnSpec(
            name, ColumnKind.EXCLUDED, "free text (long, mostly distinct entries); excluded"
        )
    if distinct == 1:
        return ColumnSpec(name, ColumnKind.CATEGORICAL, "a single value, reproduced as is")
    if distinct == 2:
        return ColumnSpec(name, ColumnKind.BINARY, "two distinct values")
    numeric = pd.to_numeric(text, errors="coerce").notna()
    numeric_share = numeric.mean()
    if 0 < numeric_share < 1:
        words = ", ".join(repr(v) for v in text[~numeric].drop_duplicates().head(3))
        return ColumnSpec(
            name,
            ColumnKind.CATEGORICAL,
            f"mixes numbers and text ({numeric_share:.0%} numeric); each value is a level. To "
            f"model it as numbers, fix or empty the text cells (e.g. {words})",
        )
    if distinct > MANY_LEVELS and len(present) < MIN_ROWS_PER_LEVEL * distinct:
        return ColumnSpec(
            name,
            ColumnKind.EXCLUDED,
            f"{distinct:,} distinct values, about {len(present) / distinct:.1f} rows each: too "
            "many rare levels to learn, and a rare value can point at one patient; excluded by "
            "default (group the values into fewer categories, or include it as categorical)",
        )
    return ColumnSpec(name, ColumnKind.CATEGORICAL, f"text with {distinct} distinct values")


def _infer_numeric(name: str, present: pd.Series, distinct: int) -> ColumnSpec:
    if not np.isfinite(present.to_numpy()).all():
        return ColumnSpec(
            name,
            ColumnKind.CONTINUOUS,
            "numbers, some infinite (validation will ask you to fix them)",
        )
    if distinct == 1:
        return ColumnSpec(name, ColumnKind.CATEGORICAL, "a single value, reproduced as is")
    if distinct == 2:
        return ColumnSpec(name, ColumnKind.BINARY, "two distinct values")
    whole = _whole_numbers(present)
    if whole and distinct <= MAX_ORDINAL_LEVELS:
        return ColumnSpec(
            name,
            ColumnKind.ORDINAL,
            f"{distinct} distinct whole numbers: treated as ordered levels "
            "(choose categorical if the codes have no order)",
        )
    if whole:
        return ColumnSpec(name, ColumnKind.INTEGER, f"whole numbers ({distinct} distinct values)")
    skew = float(present.skew()) if len(present) > 2 else 0.0
    shape = " with a long tail" if abs(skew) > 1 else ""
    return ColumnSpec(name, ColumnKind.CONTINUOUS, f"numbers with decimals{shape}")


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _identifier_reason(name: str, present: pd.Series) -> str | None:
    tokens = _tokens(name)
    joined = "".join(tokens)
    unique_share = present.nunique() / len(present)
    enough_rows = len(present) >= MIN_ROWS_FOR_UNIQUENESS

    named = [t for t in tokens if t in _NAME_TOKENS]
    if named or joined in _NAME_TOKENS:
        of_a_thing = (
            joined not in _NAME_TOKENS
            and set(named) == {"name"}
            and any(t in _THING_TOKENS for t in tokens)
        )
        if not of_a_thing and not pd.api.types.is_numeric_dtype(present.dtype):
            return "the column name says it holds personal names"
    for token in tokens:
        if token in _CONTACT_TOKENS:
            return f"the column name says it holds {_CONTACT_TOKENS[token]}"
    if "dob" in tokens or ("birth" in tokens and ("date" in tokens or "day" in tokens)):
        return "an exact date of birth"
    # Every test below reads at most the first 2,000 values; converting only those keeps a
    # million-row column cheap.
    text = present.head(2000).astype(str)
    sample = text.head(500)
    # Dates (2020-01-31, 31.01.2020) look like phone numbers and are often all distinct, but an
    # event date is modelled like a measurement; only a date of birth (by name, above) is flagged.
    is_date = pd.api.types.is_datetime64_any_dtype(present.dtype) or (
        not pd.api.types.is_numeric_dtype(present.dtype) and bool(_date_formats(text))
    )
    if not pd.api.types.is_numeric_dtype(present.dtype) and not is_date:
        if sample.str.match(_EMAIL).mean() > 0.5:
            return "the values are e-mail addresses"
        digits = sample.str.replace(r"\D", "", regex=True).str.len()
        if (
            sample.str.match(_PHONE).mean() > 0.8
            and digits.between(7, 15).mean() > 0.8
            and sample.str.contains(r"[\s().+-]").mean() > 0.5
        ):
            return "the values look like telephone numbers"
    # Record numbers never have decimals; a measurement such as uric_acid or lipid (which end in
    # "id") does, so neither rule below applies to it.
    is_float = pd.api.types.is_float_dtype(present.dtype) and not _whole_numbers(present)
    id_named = any(t in _ID_TOKENS for t in tokens) or (joined.endswith("id") and len(joined) <= 12)
    if id_named and unique_share > 0.5 and not is_float:
        return f"an identifier-like name and {unique_share:.0%} distinct values"
    if (
        enough_rows
        and unique_share >= NEAR_UNIQUE_SHARE
        and not is_float
        and not is_date
        and (pd.api.types.is_numeric_dtype(present.dtype) or _mostly_short_codes(text))
    ):
        return f"{unique_share:.0%} of values are distinct, so each one points at one record"
    return None


def _whole_numbers(present: pd.Series) -> bool:
    """True when every finite value has no fractional part (infinities are ignored)."""
    numbers = present.to_numpy(dtype=float)
    finite = numbers[np.isfinite(numbers)]
    return bool(np.all(np.mod(finite, 1) == 0))


def _mostly_short_codes(text: pd.Series) -> bool:
    # Record numbers are short tokens without spaces; long distinct strings are free text.
    sample = text.head(500)
    return bool((~sample.str.contains(r"\s")).mean() > 0.9 and sample.str.len().median() <= 24)


def _looks_like_free_text(text: pd.Series, distinct: int) -> bool:
    if distinct / len(text) <= 0.5:
        return False
    sample = text.head(1000)
    return bool(sample.str.len().mean() >= 30 or sample.str.split().str.len().mean() >= 4)


def _date_formats(text: pd.Series) -> tuple[str, ...]:
    """The formats a text column's dates are written in, most common first.

    One format for a date column; several when the dates are written in more than one way
    (2023-01-31 and 31/01/2023); none when the column is not dates (fewer than DATE_SHARE of
    the sampled values read as a date in any known format, impossible dates such as 2023-02-30
    included).
    """
    sample = text.head(2000)
    if not sample.str.contains(r"\d").all() or not sample.str.contains(r"[-/.]").all():
        return ()
    parsed = {
        fmt: pd.to_datetime(sample, format=fmt, errors="coerce").notna().to_numpy()
        for fmt in DATETIME_FORMATS
    }
    # max() keeps the first of equal shares, so the order of DATETIME_FORMATS breaks ties.
    best = max(parsed, key=lambda fmt: parsed[fmt].mean())
    if parsed[best].mean() >= DATE_SHARE:
        return (best,)
    # Otherwise the fewest formats (greedily) that together read the dates.
    covered = np.zeros(len(sample), dtype=bool)
    chosen: list[str] = []
    while True:
        fmt = max(parsed, key=lambda f: int((parsed[f] & ~covered).sum()))
        if not (parsed[fmt] & ~covered).any():
            break
        chosen.append(fmt)
        covered |= parsed[fmt]
    return tuple(chosen) if covered.mean() >= DATE_SHARE else ()


def _preview(names: Iterable[str], limit: int = 8) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


# ---------------------------------------------------------------------------------------------
# Validation


def validate_schema(schema: TableSchema, frame: pd.DataFrame) -> None:
    """Check that the data fit the schema; the first problem found is raised, naming its column.

    Example values in messages come with their line: row ``i`` (from 0) of the table is line
    ``i + 2``, as in the CSV file it was read from (the header is line 1) and in a spreadsheet.
    """
    _check_column_names(frame.columns)
    missing = [n for n in schema.names if n not in frame.columns]
    if missing:
        raise SchemaError(
            f"Column {missing[0]!r} is in the schema but not in the table.", column=missing[0]
        )
    extra = [str(n) for n in frame.columns if n not in schema.names]
    if extra:
        raise SchemaError(
            f"Column {extra[0]!r} is in the table but not in the schema.", column=extra[0]
        )
    if len(frame) == 0:
        raise SchemaError("The table has no rows.")
    if not schema.modelled:
        raise SchemaError(
            "Every column is excluded, so there is nothing to learn; include at least one column."
        )
    if schema.target is not None and len(schema.modelled) == 1:
        excluded = [c.name for c in schema.columns if c.kind is ColumnKind.EXCLUDED]
        raise SchemaError(
            f"Only the target {schema.target!r} is left to learn: every other column is excluded "
            f"({_preview(excluded)}). Include at least one other column.",
            column=schema.target,
        )
    for spec in schema.columns:
        # Positions, not index labels, so that messages can give line numbers.
        _validate_column(spec, frame[spec.name].reset_index(drop=True))
    if schema.target is not None:
        _validate_target(schema.column(schema.target), frame[schema.target].reset_index(drop=True))


def _validate_column(spec: ColumnSpec, values: pd.Series) -> None:
    present = values.dropna()
    where = f"Column {spec.name!r}"
    if spec.kind is ColumnKind.EXCLUDED or present.empty:
        return
    if spec.kind in (ColumnKind.CONTINUOUS, ColumnKind.INTEGER):
        numbers = pd.to_numeric(present, errors="coerce")
        bad = present[numbers.isna()]
        if len(bad):
            raise SchemaError(
                f"{where}: kind {spec.kind.value!r} needs numbers, but "
                f"{_count(len(bad), 'value is not a number', 'values are not numbers')} "
                f"(e.g. {_examples(bad)}). Fix {_them(len(bad))} or choose 'categorical'.",
                column=spec.name,
            )
        infinite = numbers[~np.isfinite(numbers.astype(float))]
        if len(infinite):
            raise SchemaError(
                f"{where}: {_count(len(infinite), 'value is', 'values are')} infinite "
                f"(e.g. {_examples(infinite)}). Replace {_them(len(infinite))} with a real value "
                "or leave the cell empty.",
                column=spec.name,
            )
        if spec.kind is ColumnKind.INTEGER:
            fractional = numbers[np.mod(numbers.astype(float), 1) != 0]
            if len(fractional):
                raise SchemaError(
                    f"{where}: kind 'integer' needs whole numbers, but "
                    f"{_count(len(fractional), 'value has', 'values have')} decimals "
                    f"(e.g. {_examples(fractional)}). Choose 'continuous'.",
                    column=spec.name,
                )
    elif spec.kind is ColumnKind.DATETIME:
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            return
        with warnings.catch_warnings():
            # Without a known format pandas parses value by value and says so; unparsable
            # values are reported below, naming the column, which is what the user needs.
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(
                present.astype(str), format=spec.datetime_format, errors="coerce"
            )
        bad = present[parsed.isna().to_numpy()]
        if len(bad):
            written = f" as {spec.datetime_format}" if spec.datetime_format else ""
            raise SchemaError(
                f"{where}: "
                f"{_count(len(bad), 'value is not a valid date', 'values are not valid dates')}"
                f"{written} (e.g. {_examples(bad)}). Fix {_them(len(bad))}, leave "
                f"{_them(len(bad))} empty, or choose 'categorical'.",
                column=spec.name,
            )
    elif spec.kind is ColumnKind.BINARY:
        distinct = present.nunique()
        if distinct > 2:
            raise SchemaError(
                f"{where}: kind 'binary' allows two values, but there are {distinct} "
                f"(e.g. {_examples(present.drop_duplicates())}). Choose 'categorical'.",
                column=spec.name,
            )
    elif spec.kind is ColumnKind.ORDINAL and spec.levels is not None:
        known = {str(v) for v in spec.levels}
        unknown = present[~present.astype(str).isin(known)]
        if len(unknown):
            raise SchemaError(
                f"{where}: {_count(len(unknown), 'value is', 'values are')} not among the "
                f"declared levels (e.g. {_examples(unknown)}); add "
                f"{'it' if len(unknown) == 1 else 'them'} to the levels or choose 'categorical'.",
                column=spec.name,
            )


def _validate_target(spec: ColumnSpec, values: pd.Series) -> None:
    where = f"Target {spec.name!r}"
    missing = np.flatnonzero(values.isna().to_numpy())
    if missing.size:
        raise SchemaError(
            f"{where} has {_count(missing.size, 'missing value', 'missing values')} (first on "
            f"line {_line(missing[0])}); drop {'that row' if missing.size == 1 else 'those rows'} "
            "or choose another target.",
            column=spec.name,
        )
    counts = values.value_counts()
    if len(counts) < 2:
        raise SchemaError(
            f"{where} has only one class ({_scalar(counts.index[0])!r}); a target needs at "
            "least two. Choose another target, or none.",
            column=spec.name,
        )
    rare = counts[counts < 2]
    if len(rare):
        level = rare.index[0]
        row = int(np.flatnonzero((values == level).to_numpy(dtype=bool, na_value=False))[0])
        raise SchemaError(
            f"{where}: class {_scalar(level)!r} has a single row (line {_line(row)}), too few to "
            "split between training, reference and holdout rows; merge it with another class "
            "or choose another target.",
            column=spec.name,
        )


def _scalar(value: Any) -> Any:
    # numpy 2 writes np.int64(1) for repr(1); messages show the plain value.
    return value.item() if isinstance(value, np.generic) else value


def _examples(values: pd.Series, limit: int = 3) -> str:
    """Up to ``limit`` values with their lines; the index holds row positions."""
    shown = values.head(limit)
    return ", ".join(
        f"{str(value)!r} on line {_line(row)}"
        for row, value in zip(shown.index, shown, strict=True)
    )


def _line(row: int) -> int:
    """The line of row ``row`` (from 0) in a CSV file with a one-line header."""
    return int(row) + 2


def _count(n: int, singular: str, plural: str) -> str:
    """``1 value is`` / ``3 values are``."""
    return f"{n} {singular if n == 1 else plural}"


def _them(n: int) -> str:
    return "it" if n == 1 else "them"
