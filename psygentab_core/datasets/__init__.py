"""Real clinical tables bundled with the package, so the tool works offline (see SOURCES.md)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pandas as pd


@dataclass(frozen=True, slots=True)
class DemoDataset:
    """A bundled table and the roles of its columns."""

    name: str
    title: str
    target: str
    sensitive: tuple[str, ...]
    description: str

    @property
    def filename(self) -> str:
        """File name inside the package."""
        return f"{self.name}.csv.gz"


DEMO_DATASETS: dict[str, DemoDataset] = {
    d.name: d
    for d in (
        DemoDataset(
            "nhefs",
            "NHEFS: smoking, health and death by 1992 (US cohort, 1,629 adults)",
            "death",
            ("sex", "race", "age"),
            "Baseline (1971) health survey of the NHANES I Epidemiologic Follow-up Study; "
            "outcome: death by 1992 (19.5 %).",
        ),
        DemoDataset(
            "covid_testing",
            "COVID-19 tests at a children's hospital, 2020 (15,223 tests)",
            "result",
            ("gender", "age"),
            "Deidentified SARS-CoV-2 PCR tests from the Children's Hospital of Philadelphia; "
            "outcome: positive result (5.7 %).",
        ),
        DemoDataset(
            "births14",
            "US births in 2014 (1,000 births)",
            "lowbirthweight",
            ("whitemom", "mage"),
            "Random sample of the 2014 US natality file; outcome: low birth weight (8.1 %).",
        ),
        DemoDataset(
            "aids2",
            "Australian AIDS survival (2,843 patients, 1982–1991)",
            "status",
            ("sex", "age"),
            "Patients diagnosed with AIDS in Australia before 1 July 1991; outcome: "
            "alive at the end of follow-up (38.1 %).",
        ),
    )
}
# Wide limits of the bundled tables' numeric columns, chosen from what each column means (units
# as stored; dates as days since 1970), never from the rows: the code book a steward would have.
# Used by the dashboard's DP option and the DP benchmark's "codebook" setting.
CODE_BOOKS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "nhefs": (
        ("age", 0, 120),
        ("income", 11, 22),  # the survey's income code
        ("school", 0, 20),  # years of schooling
        ("ht", 120, 220),  # cm
        ("wt71", 30, 250),  # kg
        ("smokeintensity", 0, 100),  # cigarettes a day
        ("smokeyrs", 0, 80),
        ("cholesterol", 50, 600),  # mg/dL
        ("alcoholhowmuch", 0, 60),
        ("pregnancies", 0, 20),
        ("birthplace", 1, 56),  # US state code
        ("price71", 0, 5),  # dollars a pack
        ("tax71", 0, 3),
    ),
    "covid_testing": (
        ("age", 0, 120),
        ("pan_day", 0, 366),  # day of the pandemic in 2020
        ("col_rec_tat", 0, 200),  # hours from collection to receipt
    ),
    "births14": (
        ("fage", 10, 90),
        ("mage", 10, 60),
        ("weeks", 20, 45),  # weeks of gestation
        ("visits", 0, 50),
        ("gained", 0, 150),  # pounds
    ),
    "aids2": (
        ("age", 0, 100),
        ("diag_date", 3652, 8036),  # 1980-01-01 to 1992-01-01
    ),
}
DEFAULT_DEMO = "nhefs"


def load_demo(name: str = DEFAULT_DEMO) -> pd.DataFrame:
    """A bundled table by name."""
    if name not in DEMO_DATASETS:
        known = ", ".join(DEMO_DATASETS)
        raise KeyError(f"No bundled dataset named {name!r} (bundled: {known}).")
    from psygentab_core.io import read_table

    with resources.as_file(resources.files(__name__) / DEMO_DATASETS[name].filename) as path:
        return read_table(path, name=DEMO_DATASETS[name].filename)
