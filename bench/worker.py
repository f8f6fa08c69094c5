"""Fit one system on one table's training rows in a process of its own, and sample from it.

``python -m bench.worker SPEC.json`` is started by :mod:`bench.compare` once per (table, system)
so that each fit starts from a fresh interpreter: the peak memory (VmHWM of this process, see
:func:`peak_rss_mib`) belongs to that system alone, nothing one library caches or leaks reaches
the next, and every system runs under the same thread limits. The thread variables are set by
the parent before this interpreter starts (OpenMP and BLAS read them once, at load time);
:func:`limit_threads` repeats them for torch, which keeps its own pools.

The worker reads the tables from pickles written by the parent (trusted files of this run) and
writes the synthetic table and a JSON record of times and memory into the spec's output folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PSYGENTAB = "psygentab"
SDV_SYSTEMS = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
}
SYSTEMS = (PSYGENTAB, *SDV_SYSTEMS)
# OpenMP, MKL and OpenBLAS threads, and joblib's process count: CTGAN and TVAE transform their
# columns with joblib.Parallel(n_jobs=-1), which would otherwise start a pool of worker
# processes whose CPU time and memory this process's rusage would not see.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "LOKY_MAX_CPU_COUNT",
)
# SDV marks columns that look like personal data (an Australian state, a test code) as PII or
# id sdtypes and then replaces them by fake values instead of learning them. Our schema models
# those columns as categories, and the evaluation compares them, so SDV gets the same view.
SDV_MODELLED_SDTYPES = frozenset({"numerical", "categorical", "boolean", "datetime", "ordinal"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSpec:
    """What one worker fits, on which rows, and where it writes."""

    system: str
    table: str
    target: str
    # The whole table (PSyGenTAB splits it itself, with the same code and seed as the harness)
    # and the training rows (what the SDV systems are given).
    full_path: str
    train_path: str
    # Columns the schema models; the SDV systems see only these.
    columns: tuple[str, ...]
    # Row positions of the harness's holdout: PSyGenTAB's own split must keep exactly these out.
    holdout_rows: tuple[int, ...]
    rows: int
    seed: int
    threads: int
    output: str
    # None: each system's default; a number only in a --quick smoke run.
    epochs: int | None = None

    def write(self, path: Path) -> None:
        """Save as JSON for the worker process."""
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> WorkerSpec:
        """Inverse of :meth:`write`."""
        data = json.loads(path.read_text())
        data["columns"] = tuple(data["columns"])
        data["holdout_rows"] = tuple(data["holdout_rows"])
        return cls(**data)


def core_digest() -> str:
    """SHA-256 of psygentab_core's sources as they are now: which model code a fit ran.

    Others edit the working tree while benchmarks run; each worker records the code it
    imported so that a result can be tied to it.
    """
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted((root / "psygentab_core").rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def peak_rss_mib() -> float:
    """Peak resident memory of this process's own address space so far (VmHWM), in MiB.

    Not ``ru_maxrss``: Linux carries the high-water mark of the address space an ``exec``
    replaces into ``ru_maxrss``, and that is the parent's, copied at fork. A worker started by
    a benchmark parent holding 700 MiB of evaluation data would report at least 700 MiB
    whatever it fitted. VmHWM belongs to the image this worker runs.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0  # reported in kB
    raise RuntimeError("no VmHWM in /proc/self/status: peak memory needs Linux")


def ru_maxrss_mib() -> float:
    """``ru_maxrss`` in MiB (KiB on Linux), kept to show how it differs from VmHWM."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """User plus system CPU time so far of this process (all its threads) and of the child
    processes it has waited for.

    With one thread per system this is close to the wall time on an idle machine, and unlike
    the wall time it does not grow when other work shares the cores.
    """
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def limit_threads(threads: int) -> None:
    """Same thread budget for every system: torch's intra- and inter-op pools and BLAS."""
    import torch

    for variable in THREAD_VARIABLES:
        if os.environ.get(variable) != str(threads):
            raise RuntimeError(
                f"{variable} must be {threads} before the worker starts (it is read at load "
                f"time); got {os.environ.get(variable)!r}."
            )
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)


def seed_everything(seed: int) -> None:
    """SDV draws from the global generators of random, NumPy and torch."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - SDV and CTGAN read the legacy global generator
    torch.manual_seed(seed)


def fit_psygentab(spec: WorkerSpec) -> dict[str, Any]:
    """The path ``psygentab fit`` takes: infer the schema, split, train, release.

    The whole table goes in, as with the command line; the pipeline's split (same code, same
    seed) keeps the harness's holdout out of training, which is checked here.
    """
    import numpy as np
    import pandas as pd

    from psygentab_core.config import TrainConfig
    from psygentab_core.pipeline import finish
    from psygentab_core.schema import infer_schema
    from psygentab_core.training import TrainingRun, prepare_data

    frame = pd.read_pickle(spec.full_path)
    epochs = {} if spec.epochs is None else {"epochs": spec.epochs}
    config = TrainConfig(seed=spec.seed, **epochs)
    before = peak_rss_mib()
    started, cpu = time.perf_counter(), cpu_seconds()
    data = prepare_data(frame, infer_schema(frame, target=spec.target), config)
    if not np.array_equal(data.split.holdout, np.asarray(spec.holdout_rows)):
        raise RuntimeError(
            "PSyGenTAB's own split differs from the harness's: the holdout would not be shared."
        )
    run = TrainingRun(data, config)
    for _ in run.epochs():
        pass
    fit_seconds, fit_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    started, cpu = time.perf_counter(), cpu_seconds()
    result = finish(run, rows=spec.rows, fit_seconds=fit_seconds, dataset_name=spec.table)
    sample_seconds, sample_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    result.synthetic.to_pickle(Path(spec.output) / "synthetic.pkl")
    return {
        "fit_seconds": fit_seconds,
        "sample_seconds": sample_seconds,
        "fit_cpu_seconds": fit_cpu,
        "sample_cpu_seconds": sample_cpu,
        "rss_before_fit_mib": before,
        "epochs": config.epochs,
        "members": len(data.members),
        "reference": len(data.reference),
        "release": {
            "drawn": result.release.drawn,
            "rejected": result.release.rejected,
            "rejection_rate": result.release.rejection_rate,
        },
        "constraints_on_release": result.summary.constraints,
    }


def sdv_metadata(train: Any, table: str) -> tuple[Any, dict[str, str]]:
    """SDV's own detection on the training rows, with PII/id sdtypes turned into categories.

    Returns the metadata and the columns whose sdtype was changed (detected sdtype by column).
    """
    from sdv.metadata import Metadata

    metadata = Metadata.detect_from_dataframes({table: train})
    detected = metadata.to_dict()["tables"][table]["columns"]
    changed = {
        column: info["sdtype"]
        for column, info in detected.items()
        if info["sdtype"] not in SDV_MODELLED_SDTYPES
    }
    for column in changed:
        metadata.update_column(column_name=column, table_name=table, sdtype="categorical")
    return metadata, changed


def fit_sdv(spec: WorkerSpec) -> dict[str, Any]:
    """One SDV single-table synthesizer with its defaults, on the training rows."""
    import pandas as pd
    import sdv.single_table

    seed_everything(spec.seed)
    train = pd.read_pickle(spec.train_path)[list(spec.columns)]
    synthesizer_class = getattr(sdv.single_table, SDV_SYSTEMS[spec.system])
    # GaussianCopula has no epochs; the neural systems take the smoke run's count.
    options = (
        {} if spec.epochs is None or spec.system == "gaussian_copula" else {"epochs": spec.epochs}
    )
    before = peak_rss_mib()
    started, cpu = time.perf_counter(), cpu_seconds()
    metadata, changed = sdv_metadata(train, spec.table)
    synthesizer = synthesizer_class(metadata, **options)
    synthesizer.fit({spec.table: train})
    fit_seconds, fit_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    started, cpu = time.perf_counter(), cpu_seconds()
    synthetic = synthesizer.sample(num_rows=spec.rows)[spec.table]
    sample_seconds, sample_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    synthetic.to_pickle(Path(spec.output) / "synthetic.pkl")
    return {
        "fit_seconds": fit_seconds,
        "sample_seconds": sample_seconds,
        "fit_cpu_seconds": fit_cpu,
        "sample_cpu_seconds": sample_cpu,
        "rss_before_fit_mib": before,
        "epochs": getattr(synthesizer, "epochs", None),
        "sdtypes_changed_to_categorical": changed,
        "metadata": metadata.to_dict(),
    }


def run(spec: WorkerSpec) -> dict[str, Any]:
    """Fit, sample and measure one system; the record the parent reads back."""
    digest = core_digest()  # before the imports, as close as can be to the code they load
    limit_threads(spec.threads)
    fitted = fit_psygentab(spec) if spec.system == PSYGENTAB else fit_sdv(spec)
    import torch

    return fitted | {
        "system": spec.system,
        "table": spec.table,
        "psygentab_core_sha256": digest,
        "peak_rss_mib": peak_rss_mib(),
        "ru_maxrss_mib": ru_maxrss_mib(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "thread_variables": {v: os.environ.get(v) for v in THREAD_VARIABLES},
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m bench.worker SPEC.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m bench.worker SPEC.json\n")
        return 2
    spec = WorkerSpec.read(Path(args[0]))
    if spec.system not in SYSTEMS:
        sys.stderr.write(f"unknown system {spec.system!r}; one of {', '.join(SYSTEMS)}\n")
        return 2
    record = run(spec)
    (Path(spec.output) / "record.json").write_text(json.dumps(record, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
