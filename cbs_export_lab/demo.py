"""Synthetic microdata shaped like CBS RA files, for the demo notebook, the tests and the benchmarks.

Everything here is random: ids are RINPERSOON-like (9 digits, zero-padded) and BEID-like numbers drawn from
a seeded generator. No real person or business is in it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GEMEENTEN = [
    "Amsterdam",
    "Rotterdam",
    "Den Haag",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Apeldoorn",
    "Haarlem",
    "Enschede",
    "Arnhem",
    "Amersfoort",
    "Zaanstad",
    "Den Bosch",
    "Zwolle",
    "Leiden",
    "Maastricht",
    "Schiermonnikoog",
    "Vlieland",
]
# Small island municipalities get few people, so tables by gemeente have genuinely small cells.
_GEMEENTE_WEIGHTS = np.array([12, 9, 8, 6, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0.02, 0.015])
AGE_BANDS = ["0-14", "15-24", "25-44", "45-64", "65-79", "80+"]
_AGE_EDGES = [0, 15, 25, 45, 65, 80, 106]
SECTORS = ["A Landbouw", "C Industrie", "F Bouw", "G Handel", "I Horeca", "J Informatie", "K Financieel", "M Advies"]


def _ids(rng: np.random.Generator, n: int, digits: int = 9) -> np.ndarray:
    """Distinct zero-padded numeric ids, e.g. '000123456'."""
    values = rng.choice(10**digits // 10, size=n, replace=False)
    return np.char.zfill(values.astype(str), digits)


def persons(n: int = 10_000, seed: int = 0, *, string_ids: bool = True) -> pd.DataFrame:
    """One row per person: RINPERSOONS/RINPERSOON, gemeente, leeftijd, leeftijdsklasse, geslacht, inkomen, gewicht.

    `inkomen` has a few dominant values (a handful of very high incomes) so magnitude tables show dominance.
    """
    rng = np.random.default_rng(seed)
    p = _GEMEENTE_WEIGHTS / _GEMEENTE_WEIGHTS.sum()
    gemeente = pd.Categorical.from_codes(rng.choice(len(GEMEENTEN), size=n, p=p), categories=GEMEENTEN)
    age = np.minimum(rng.gamma(4.0, 10.5, size=n).astype(int), 105)
    band = pd.Categorical.from_codes(
        np.searchsorted(_AGE_EDGES, age, side="right") - 1, categories=AGE_BANDS, ordered=True
    )
    sex = pd.Categorical.from_codes(rng.integers(0, 2, size=n), categories=["man", "vrouw"])
    income = np.round(rng.lognormal(10.3, 0.55, size=n), -2)
    income[age < 15] = 0.0
    top = rng.choice(n, size=max(1, n // 2000), replace=False)
    income[top] = np.round(rng.uniform(2e6, 2e7, size=top.size), -3)
    frame = pd.DataFrame(
        {
            "RINPERSOONS": pd.Categorical(["R"] * n),
            "RINPERSOON": _ids(rng, n) if string_ids else rng.choice(10**8, size=n, replace=False),
            "gemeente": gemeente,
            "leeftijd": age,
            "leeftijdsklasse": band,
            "geslacht": sex,
            "inkomen": income,
            "gewicht": np.round(rng.uniform(0.5, 3.0, size=n), 3),
        }
    )
    return frame


def panel(n_persons: int = 2_000, years: tuple[int, ...] = (2019, 2020, 2021, 2022), seed: int = 0) -> pd.DataFrame:
    """Person-year records: the same RINPERSOON in several years, so rows and persons differ."""
    rng = np.random.default_rng(seed + 1)
    base = persons(n_persons, seed=seed)
    present = rng.random((n_persons, len(years))) < 0.85
    present[:, 0] = True
    rows = []
    for j, year in enumerate(years):
        part = base.loc[present[:, j]].copy()
        part.insert(2, "jaar", year)
        part["inkomen"] = np.round(part["inkomen"] * (1.02**j) * rng.uniform(0.9, 1.1, size=len(part)), -2)
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


def businesses(n: int = 5_000, seed: int = 0) -> pd.DataFrame:
    """One row per business: BEID, sector, gemeente, werkzame_personen, omzet (a few very large firms)."""
    rng = np.random.default_rng(seed + 2)
    p = _GEMEENTE_WEIGHTS / _GEMEENTE_WEIGHTS.sum()
    employees = np.maximum(1, rng.pareto(1.3, size=n) * 3).astype(int)
    turnover = np.round(employees * rng.lognormal(11.5, 0.7, size=n), -3)
    giants = rng.choice(n, size=max(1, n // 1000), replace=False)
    turnover[giants] *= 500
    return pd.DataFrame(
        {
            "BEID": _ids(rng, n, 8),
            "sector": pd.Categorical.from_codes(rng.integers(0, len(SECTORS), size=n), categories=SECTORS),
            "gemeente": pd.Categorical.from_codes(rng.choice(len(GEMEENTEN), size=n, p=p), categories=GEMEENTEN),
            "werkzame_personen": employees,
            "omzet": turnover,
        }
    )


def large_persons(n: int, seed: int = 0) -> pd.DataFrame:
    """Many rows fast (benchmarks): categorical keys, numeric ids, no string work."""
    rng = np.random.default_rng(seed)
    p = _GEMEENTE_WEIGHTS / _GEMEENTE_WEIGHTS.sum()
    return pd.DataFrame(
        {
            "RINPERSOON": rng.integers(0, max(1, n // 3), size=n),
            "gemeente": pd.Categorical.from_codes(rng.choice(len(GEMEENTEN), size=n, p=p), categories=GEMEENTEN),
            "leeftijdsklasse": pd.Categorical.from_codes(rng.integers(0, len(AGE_BANDS), size=n), categories=AGE_BANDS),
            "geslacht": pd.Categorical.from_codes(rng.integers(0, 2, size=n), categories=["man", "vrouw"]),
            "inkomen": np.round(rng.lognormal(10.3, 0.55, size=n), -2),
            "gewicht": rng.uniform(0.5, 3.0, size=n),
        }
    )


EXPORTMAP_FOLDERS = {
    "vooraf": ("1_Controle vooraf",),
    "achteraf": ("1_Controle vooraf", "2_Controle achteraf", "3_Achtergrondinformatie (niet vrijgeven)"),
}


def make_exportmap(folder: str | Path, mode: str = "achteraf") -> Path:
    """An empty exportmap as CBS sets it up for a project of the given mode."""
    root = Path(folder)
    for name in EXPORTMAP_FOLDERS[mode]:
        (root / name).mkdir(parents=True, exist_ok=True)
    return root
