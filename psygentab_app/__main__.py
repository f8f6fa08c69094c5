"""Start the dashboard: ``python -m psygentab_app [streamlit options]``.

The same as ``streamlit run app.py``, except that the heavy libraries (PyTorch, scikit-learn,
Plotly) are imported before the server starts listening: the first visitor then waits about a
second for the page instead of the time those imports take.
"""

from __future__ import annotations

import importlib
import os
import sys
from multiprocessing import forkserver
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"
PRELOADED = (
    "psygentab_core.training",
    "psygentab_core.jobs",
    "psygentab_core.store",
    "psygentab_core.evaluation.evaluate",
    "psygentab_core.evaluation.figures.catalogue",
    "psygentab_app.session",
    "psygentab_app.sidebar",
)


def main() -> None:
    for module in PRELOADED:
        importlib.import_module(module)
    # The fork server that training processes start from (psygentab_core.jobs), started now so
    # that the first run does not wait for it.
    forkserver.ensure_running()
    from streamlit.web import cli

    # Streamlit reads .streamlit/config.toml (no usage statistics, 127.0.0.1 only) from the
    # working folder, so start from the project whichever folder the command was typed in.
    os.chdir(APP.parent)
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
