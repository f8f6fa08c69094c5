"""PSyGenTAB core: synthetic clinical tables trained under user-set privacy constraints.

The package never imports a user interface; the dashboard and the command line are thin layers
over these names.
"""

from psygentab_core.alm import AlmConfig
from psygentab_core.config import TrainConfig, config_to_toml, dp_train_config, load_config
from psygentab_core.constraints import (
    CloseRecordConstraint,
    CompositePrivacyConstraint,
    ExactMatchConstraint,
    MembershipShareConstraint,
    default_constraints,
)
from psygentab_core.datasets import DEMO_DATASETS, load_demo
from psygentab_core.dp import (
    AttackBound,
    Coverage,
    DpConfig,
    LedgerEntry,
    PrivacyLedger,
    attack_bound,
)
from psygentab_core.errors import (
    ConfigError,
    DataError,
    ModelFileError,
    PsygentabError,
    ReleaseError,
    SchemaError,
)
from psygentab_core.io import read_table, write_table
from psygentab_core.model import ModelConfig
from psygentab_core.pipeline import FitResult, finish, fit
from psygentab_core.release import ReleaseResult, release
from psygentab_core.schema import ColumnKind, ColumnSpec, TableSchema, infer_schema, validate_schema
from psygentab_core.split import SplitConfig
from psygentab_core.synthesizer import Synthesizer
from psygentab_core.training import EpochRecord, StopReason, TrainingRun, prepare_data

__version__ = "0.1.0"

__all__ = [
    "DEMO_DATASETS",
    "AlmConfig",
    "AttackBound",
    "CloseRecordConstraint",
    "ColumnKind",
    "ColumnSpec",
    "CompositePrivacyConstraint",
    "ConfigError",
    "Coverage",
    "DataError",
    "DpConfig",
    "EpochRecord",
    "ExactMatchConstraint",
    "FitResult",
    "LedgerEntry",
    "MembershipShareConstraint",
    "ModelConfig",
    "ModelFileError",
    "PrivacyLedger",
    "PsygentabError",
    "ReleaseError",
    "ReleaseResult",
    "SchemaError",
    "SplitConfig",
    "StopReason",
    "Synthesizer",
    "TableSchema",
    "TrainConfig",
    "TrainingRun",
    "__version__",
    "attack_bound",
    "config_to_toml",
    "default_constraints",
    "dp_train_config",
    "finish",
    "fit",
    "infer_schema",
    "load_config",
    "load_demo",
    "prepare_data",
    "read_table",
    "release",
    "validate_schema",
    "write_table",
]
