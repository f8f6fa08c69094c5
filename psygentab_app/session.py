"""Everything one browser session shares between pages, in one typed object.

Pages never read ``st.session_state`` by string keys of their own: they call :func:`current`
and work with :class:`Session`. Nothing here is shared between sessions (no module globals, no
``st.cache_resource``), so two users never see each other's data or runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from psygentab_app.privacy_mode import DpChoice, with_public_outcome
from psygentab_core import DEMO_DATASETS, TableSchema, TrainConfig, infer_schema, load_demo
from psygentab_core.config import dp_train_config
from psygentab_core.constraints import Constraint
from psygentab_core.datasets import DEFAULT_DEMO
from psygentab_core.evaluation.evaluate import Evaluation
from psygentab_core.jobs import JobSnapshot, JobState, TrainingJob
from psygentab_core.presets import matching_preset, preset
from psygentab_core.runs import dataset_fingerprint
from psygentab_core.store import RunEntry, RunStore

SESSION_KEY = "psygentab_session"
RUNS_FOLDER_VARIABLE = "PSYGENTAB_RUNS"
DEFAULT_RUNS_FOLDER = Path("runs")
# Dashboard runs are shorter than the command line's 20 epochs only if the user asks.
DEFAULT_EPOCHS = TrainConfig().epochs


@dataclass(frozen=True, slots=True)
class Dataset:
    """The table the session works on and where it came from."""

    name: str
    frame: pd.DataFrame
    source: str  # "demo" or "upload"
    description: str = ""
    # Identifies the table's values; runs are listed only for the table they were trained on,
    # so that two people working on different tables never see each other's runs.
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", dataset_fingerprint(self.frame))

    @property
    def label(self) -> str:
        """What the sidebar shows."""
        rows, columns = self.frame.shape
        return f"{self.name} ({rows:,} rows × {columns} columns)"


@dataclass(frozen=True, slots=True)
class EvaluationKey:
    """An evaluation depends on the run and on the sensitive attributes chosen for it."""

    run_id: str
    sensitive: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DpTarget:
    """The (ε, δ) a DP run of this session was started with, for its live view."""

    epsilon: float
    delta: float
    rows: int  # n, the training rows the guarantee is about


@dataclass
class Session:
    """The state of one browser session."""

    dataset: Dataset
    schema: TableSchema
    sensitive: tuple[str, ...]
    constraints: tuple[Constraint, ...] = field(default_factory=lambda: preset("balanced"))
    # Differential privacy: off unless the user turns it on (Privacy thresholds page).
    dp: DpChoice = field(default_factory=DpChoice)
    dp_message: str | None = None  # why the last declared ranges could not be used
    epochs: int = DEFAULT_EPOCHS
    seed: int = 0
    runs_folder: Path = field(default_factory=lambda: default_runs_folder())
    current_run: str | None = None
    job: TrainingJob | None = None
    job_dp: DpTarget | None = None  # the target of the running job, if it trains with DP
    last_job: JobSnapshot | None = None  # how this session's latest training job ended
    sweep: object | None = None  # a SweepJob while the trade-off explorer runs one
    evaluations: dict[EvaluationKey, Evaluation] = field(default_factory=dict)
    upload_message: str | None = None  # why the last upload was refused
    # The upload already read, so a rerun does not read it again.
    upload_id: str | None = None
    column_message: str | None = None  # why the last column change was refused
    column_notice: str | None = None  # what the last column change did
    train_message: str | None = None  # why the last run could not start
    # Distances behind the hints of the thresholds page (psygentab_app.thresholds).
    reference_distances: object | None = None
    # Train in a worker process (a server shared by several people stays responsive); tests that
    # patch the training code set False to train in a thread of this process.
    train_in_process: bool = True
    # The training figures last drawn, with the (view, epochs) they were drawn for.
    training_figures: tuple | None = None
    _store: RunStore | None = None

    @classmethod
    def on_demo(cls, name: str = DEFAULT_DEMO) -> Session:
        """A fresh session on a bundled demo table."""
        dataset, demo = demo_dataset(name), DEMO_DATASETS[name]
        return cls(
            dataset=dataset,
            schema=infer_schema(dataset.frame, target=demo.target),
            sensitive=tuple(c for c in demo.sensitive if c in dataset.frame.columns),
            dp=DpChoice().for_table(dataset.name, dataset.source),
        )

    def use_dataset(self, dataset: Dataset, *, target: str | None = None) -> None:
        """Switch to another table; its column kinds are inferred afresh.

        The schema is inferred before anything changes, so a table it refuses leaves the
        session on the previous table.
        """
        schema = infer_schema(dataset.frame, target=target)
        self.dataset = dataset
        self.schema = schema
        self.current_run = None
        self.sensitive = ()
        self.upload_message = None
        self.column_message = None
        self.column_notice = None
        # Declared ranges belong to a table: another table starts from its own code book.
        self.dp = self.dp.for_table(dataset.name, dataset.source)
        self.dp_message = None

    @property
    def preset_name(self) -> str | None:
        """lenient, balanced or strict; None once thresholds were set by hand."""
        return matching_preset(self.constraints)

    def train_config(self) -> TrainConfig:
        """The configuration a run started now would use: with differential privacy, the
        DP-suited model of :func:`dp_train_config` (the constraints are then only measured on
        the release); otherwise the constraints are trained on."""
        if self.dp.enabled:
            return dp_train_config(
                self.dp.dp_config(self.schema),
                epochs=self.epochs,
                seed=self.seed,
                constraints=self.constraints,
            )
        return self.constraint_config()

    def constraint_config(self) -> TrainConfig:
        """The configuration without differential privacy, whatever the user chose: the
        thresholds' hints and the strictness sweep are about the empirical constraints."""
        return TrainConfig(epochs=self.epochs, seed=self.seed, constraints=self.constraints)

    def training_schema(self) -> TableSchema:
        """The schema a run started now would use: in DP mode with the outcome's classes
        declared public if the user said so."""
        if self.dp.enabled and self.dp.public_outcome:
            return with_public_outcome(self.schema, self.dataset.frame)
        return self.schema

    @property
    def store(self) -> RunStore:
        """The run store in the chosen folder (opened once per folder)."""
        if self._store is None or self._store.folder != self.runs_folder:
            self._store = RunStore(self.runs_folder)
        return self._store

    def set_runs_folder(self, folder: str | Path) -> None:
        """Use another folder for runs (created if missing); the current run is forgotten."""
        folder = Path(folder).expanduser()
        RunStore(folder)  # fails here, with the OS's reason, if the folder cannot be used
        self.runs_folder = folder
        self._store = None
        self.current_run = None

    @property
    def training(self) -> bool:
        """Whether a run of this session is training now."""
        return self.job is not None and self.job.snapshot().state is JobState.RUNNING

    def runs(self) -> list[RunEntry]:
        """The runs in the runs folder that were trained on this session's table."""
        return self.store.runs(fingerprint=self.dataset.fingerprint)

    def run_entry(self) -> RunEntry | None:
        """The index entry of the current run, if any (None if it vanished from the store)."""
        if self.current_run is None:
            return None
        try:
            return self.store.entry(self.current_run)
        except KeyError:
            return None

    def evaluation_key(self) -> EvaluationKey | None:
        """The key of the current run's evaluation with today's sensitive attributes."""
        if self.current_run is None:
            return None
        return EvaluationKey(self.current_run, self.sensitive)

    def with_constraint(self, updated: Constraint) -> None:
        """Replace the constraint of the same kind."""
        self.constraints = tuple(updated if c.key == updated.key else c for c in self.constraints)


def default_runs_folder() -> Path:
    """``$PSYGENTAB_RUNS`` if set, else ``runs/`` under the working folder."""
    return Path(os.environ.get(RUNS_FOLDER_VARIABLE) or DEFAULT_RUNS_FOLDER)


@st.cache_data(show_spinner=False)
def _demo_frame(name: str) -> pd.DataFrame:
    # Bundled public data only, so sharing the cached copy between sessions is safe.
    return load_demo(name)


def demo_dataset(name: str) -> Dataset:
    """A bundled table as a :class:`Dataset`."""
    demo = DEMO_DATASETS[name]
    return Dataset(
        name=name, frame=_demo_frame(name).copy(), source="demo", description=demo.description
    )


def current() -> Session:
    """This browser session's state, created on the default demo table on first use."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = Session.on_demo()
    return st.session_state[SESSION_KEY]
