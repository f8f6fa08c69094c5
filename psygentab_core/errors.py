"""The exceptions that cross the package boundary; each carries a message meant for a person."""

from __future__ import annotations


class PsygentabError(Exception):
    """Base class: anything the user can fix, said in one sentence."""


class DataError(PsygentabError):
    """The input file or table cannot be used (missing, empty, unreadable, malformed)."""


class SchemaError(PsygentabError):
    """A column's kind, the target or the schema as a whole does not fit the data."""

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class ConfigError(PsygentabError):
    """A configuration value is out of range or inconsistent with another one."""


class ModelFileError(PsygentabError):
    """A saved model or run cannot be loaded (missing, tampered or from another version)."""


class ReleaseError(PsygentabError):
    """The release filter could not assemble the requested number of acceptable rows."""


class TrainingError(PsygentabError):
    """Training cannot go on (the loss diverged, memory ran out); the run is marked failed."""
