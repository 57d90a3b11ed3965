"""The scanner of code and prose: ids, pasted data, counts in words and personal paths in every RA language.

Each language has a clean script (seeds, years, recodes, loops, formats, versions, CBS data paths) that gives no
finding, and dirty twins with one injection each, found at its line.
"""

from __future__ import annotations

import pytest

from cbs_export_lab.checks.text import kernel_language, language_of, scan_script, scan_text
from cbs_export_lab.rules import load_rules

RULES = load_rules()

CLEAN = {
    "r": [
        "# Analyse inkomen per gemeente, versie 1.2 (R 4.3.1)",
        "library(dplyr)  # 1.1.4",
        "set.seed(12345)",
        'personen <- haven::read_sav("G:/Bevolking/GBAPERSOONTAB/2020/GBAPERSOON2020TABV1.sav")',
        'gemeenten <- read.csv("K:\\\\Utilities\\\\Code_Listings\\\\gemeenten.csv")',
        "jaren <- 2015:2030",
        "alle_jaren <- c(2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025, 2026, 2027, 2028, 2029)",
        "personen <- personen %>% filter(jaar >= 2010, jaar <= 2020)",
        "personen$klasse <- cut(personen$leeftijd, breaks = c(0, 15, 25, 45, 65, 120), right = FALSE)",
        "hist(personen$inkomen, breaks = 30)",
        "for (i in seq_len(10)) print(i)",
        'personen$geslacht <- dplyr::recode(personen$geslacht, `1` = "man", `2` = "vrouw")',
        'sprintf("%.2f en %5.1f%%", mean(personen$inkomen), 12.5)',
        'format(x, nsmall = 2, big.mark = ".")',
        "# Cellen met minder dan 10 personen worden onderdrukt.",
        "# Huishoudens van 2 personen tellen als paar; stap 1, stap 2 en stap 3.",
        "n_eenheden <- n_distinct(personen$RINPERSOON)",
        "model <- lm(inkomen ~ leeftijd + geslacht, data = personen)",
        "tabel <- table(personen$gemeente, personen$klasse)  # zie ~/.Rprofile",
    ],
    "stata": [
        "* Analyse inkomen per gemeente",
        "version 17",
        "set seed 2024",
        'use "G:\\Bevolking\\GBAPERSOONTAB\\2020\\GBAPERSOON2020TABV1.dta", clear',
        'do "K:\\Utilities\\Code_Listings\\labels.do"',
        "keep if inrange(jaar, 2010, 2020)",
        "forvalues i = 1/10 {",
        "    display `i'",
        "}",
        "recode leeftijd (0/14=1) (15/24=2) (25/64=3) (65/120=4), gen(klasse)",
        'label define geslacht 1 "man" 2 "vrouw"',
        "format inkomen %12.0fc",
        "histogram inkomen, bin(30)",
        "// cellen onder 10 personen worden onderdrukt",
        "/* versie 2.1, 2024-05-01 */",
        "* Wave  1",
        "* Wave  2",
        "* Wave  3",
        "tabulate gemeente klasse",
        "gen ratio = inkomen * 2 // verdubbeld",
        "egen n_personen = tag(rinpersoon)",
    ],
    "spss": [
        "* Analyse inkomen per gemeente.",
        "GET FILE='G:\\Bevolking\\GBAPERSOONTAB\\2020\\GBAPERSOON2020TABV1.sav'.",
        "SET SEED=12345.",
        "SELECT IF (jaar >= 2015 AND jaar <= 2030).",
        "RECODE leeftijd (0 thru 14=1) (15 thru 24=2) (25 thru 64=3) (65 thru HI=4) INTO klasse.",
        "FORMATS inkomen (F12.2).",
        "COMMENT cellen met minder dan 10 personen worden onderdrukt.",
        "FREQUENCIES VARIABLES=klasse /HISTOGRAM.",
        "VALUE LABELS geslacht 1 'man' 2 'vrouw'.",
        "LOOP #i = 1 TO 10.",
        "END LOOP.",
        "EXECUTE.",
    ],
    "python": [
        '"""Analyse inkomen per gemeente (versie 1.2, pandas 2.2.1)."""',
        "import numpy as np",
        "import pandas as pd",
        "",
        "rng = np.random.default_rng(12345)",
        'personen = pd.read_parquet(r"G:\\Bevolking\\GBAPERSOONTAB\\2020\\personen.parquet")',
        'personen = personen[personen["jaar"].between(2010, 2020)]',
        "for i in range(10):",
        '    print(f"{i:>3d} {i / 10:.2f}")',
        "bins = [0, 15, 25, 45, 65, 120]",
        "jaren = list(range(2015, 2031))",
        "# cellen onder 10 personen worden onderdrukt",
        "np.random.seed(2024)",
    ],
    "sas": [
        "* Analyse inkomen per gemeente;",
        'libname bron "G:\\Bevolking\\GBAPERSOONTAB\\2020";',
        "data werk; set bron.personen; where 2015 <= jaar <= 2030; run;",
        "proc format; value klasse 0-14 = 'jong' 15-64 = 'midden' 65-high = 'oud'; run;",
        "/* versie 9.4, seed 12345 */",
        "proc surveyselect data=werk out=steekproef seed=12345 samprate=0.1; run;",
        "proc freq data=werk; tables gemeente*klasse; run;",
        "%let jaar = 2020;",
    ],
}

# (language, lines to add at the end, rule, severity, offset of the finding's line in the added lines)
INJECTED = [
    ("r", ['verdacht <- personen[personen$RINPERSOON == "012345678", ]'], "identifier", "fail", 0),
    ("r", ["# man     92", "# vrouw   108", "# totaal  200"], "data", "fail", 0),
    ("r", ["# In Leiden 3 mannen en 2 vrouwen boven de grens"], "data", "fail", 0),
    ("r", ['setwd("H:/Werkmap Jansen/analyse")'], "personal_path", "review", 0),
    ("r", ["aantallen <- c(120, 45, 33, 12, 91, 80, 17, 52, 44, 28)"], "data", "fail", 0),
    ("stata", ['list if rinpersoon == "012345678"'], "identifier", "fail", 0),
    ("stata", ['keep if id == "P012345678"'], "identifier", "fail", 0),
    (
        "stata",
        ["* geslacht |  Freq.  Percent", "*      man |     92    46.00", "*    vrouw |    108    54.00"],
        "data",
        "fail",
        0,
    ),
    ("stata", ["/*", "man     92", "vrouw   108", "totaal  200", "*/"], "data", "fail", 1),
    ("stata", ["// man     92", "// vrouw   108", "// totaal  200"], "data", "fail", 0),
    ("stata", ['cd "H:\\Werkmap Jansen\\analyse"'], "personal_path", "review", 0),
    ("stata", ["input x y", "12 7", "31 5", "18 22", "end"], "data", "fail", 1),
    ("spss", ["SELECT IF (RINPERSOON = '012345678')."], "identifier", "fail", 0),
    ("spss", ["* Frequenties geslacht", "  man     92", "  vrouw   108", "  totaal  200."], "data", "fail", 1),
    ("spss", ["COMMENT waarvan 4 personen in Urk."], "data", "fail", 0),
    ("spss", ["GET FILE='C:\\Users\\jansen\\data.sav'."], "personal_path", "review", 0),
    ("spss", ["DATA LIST FREE / x y.", "BEGIN DATA", "12 7", "31 5 18 22", "END DATA."], "data", "fail", 2),
    ("python", ['x = persons[persons.RINPERSOON == "012345678"]'], "identifier", "fail", 0),
    ("python", ['"""', "man     92", "vrouw   108", "totaal  200", '"""'], "data", "fail", 1),
    ("python", ["# 3 mannen en 2 vrouwen"], "data", "fail", 0),
    ("python", ['home = Path(r"C:\\Users\\pjansen\\Documents")'], "personal_path", "review", 0),
    ("python", ['print("waarvan 4 personen")'], "data", "fail", 0),
    ("sas", ["where rinpersoon = '012345678';"], "identifier", "fail", 0),
    ("sas", ["* man     92", "  vrouw   108", "  totaal  200;"], "data", "fail", 0),
    ("sas", ["/* waarvan 4 personen */"], "data", "fail", 0),
    ("sas", ['libname eigen "/home/jansen/sas";'], "personal_path", "review", 0),
    ("sas", ["data t; input x y; datalines;", "12 7", "31 5", "18 22", ";"], "data", "fail", 1),
]
SUFFIX = {"r": "R", "stata": "do", "spss": "sps", "python": "py", "sas": "sas"}


@pytest.mark.parametrize("language", sorted(CLEAN))
def test_clean_scripts_have_no_findings(language):
    text = "\n".join(CLEAN[language])
    found = scan_script(text, f"analyse.{SUFFIX[language]}", rules=RULES)
    assert found == [], [f.text() for f in found]


@pytest.mark.parametrize(
    "language, added, rule, severity, offset",
    [c for c in INJECTED if c[4] >= 0],
    ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(INJECTED) if c[4] >= 0],
)
def test_each_injection_is_found_at_its_line(language, added, rule, severity, offset):
    lines = CLEAN[language] + added
    name = f"analyse.{SUFFIX[language]}"
    found = scan_script("\n".join(lines), name, rules=RULES)
    line = len(CLEAN[language]) + offset + 1
    assert [(f.rule, f.severity, f.where) for f in found] == [(rule, severity, f"{name}, line {line}")], [
        f.text() for f in found
    ]
    assert all(f.fix for f in found)
    assert "012345678" not in found[0].message and "Jansen" not in found[0].message


def test_comment_markers_of_each_language():
    """A table in a Stata `*`, `//` or `/* */` comment, an SPSS comment command or a SAS `*;` comment is found."""
    table = ["man     92", "vrouw   108", "totaal  200"]
    cases = {
        "stata": [f"* {t}" for t in table],
        "spss": ["COMMENT Frequenties.", *[f"* {t}." for t in table]],
        "sas": [f"* {t};" for t in table],
        "r": [f"#' {t}" for t in table],
    }
    for language, lines in cases.items():
        found = scan_text("\n".join(lines), cell="script", rules=RULES, language=language)
        assert [f.rule for f in found] == ["data"], (language, [f.text() for f in found])


def test_stars_and_slashes_in_code_are_not_comments():
    """Stata's `*` is a comment only at the start of a line and `//` only after a space; a URL is no comment."""
    code = 'gen x = a * 92\ngen y = b * 108\nlocal url "https://www.cbs.nl/man  92"\ndisplay 200'
    assert scan_text(code, cell="script", rules=RULES, language="stata") == []


def test_prose_counts_in_markdown():
    rules = RULES
    text = "We vonden 3 mannen en 2 vrouwen met een inkomen boven de grens, waarvan 1 persoon in Urk."
    found = scan_text(text, cell="cell 2 (markdown)", rules=rules, kind="markdown")
    assert [(f.rule, f.severity, f.where) for f in found] == [("data", "fail", "cell 2 (markdown), line 1")]
    single = scan_text("Het bestand telt 1.234 personen.", cell="cell 1", rules=rules, kind="markdown")
    assert [(f.rule, f.severity) for f in single] == [("data", "fail")]
    lone = scan_text("Er zijn 5 gemeentelijke bedrijven bekeken.", cell="cell 1", rules=rules, kind="markdown")
    assert [(f.rule, f.severity) for f in lone] == [("data", "review")]
    for rule_text in (
        "Cellen met minder dan 10 personen worden onderdrukt.",
        "Huishoudens met 3 kinderen.",
        "At least 10 persons per cell.",
        "In 2020 personen zonder adres.",
        "stap 1, stap 2, stap 3",
    ):
        assert scan_text(rule_text, cell="cell 1", rules=rules, kind="markdown") == [], rule_text


def test_personal_paths_and_standard_folders():
    personal = [
        'setwd("C:/Users/jansen/Documents")',
        "cd /home/pjansen/project",
        r'use "H:\Werkmap Jansen\x.dta"',
        r"x = r'\\cbsp.nl\home\jansen\data.csv'",
        "source('~jansen/lib.R')",
        'GET FILE="H:\\\\Prive_Jansen\\\\a.sav".',
    ]
    for line in personal:
        found = scan_text(line, cell="script", rules=RULES, language="r")
        assert [(f.rule, f.severity) for f in found] == [("personal_path", "review")], line
    standard = [
        r'use "G:\Bevolking\GBAPERSOONTAB\2020\x.dta"',
        r'do "K:\Utilities\Code_Listings\x.do"',
        'setwd("C:/Users/Public/Documents")',
        "path = os.path.expanduser('~/data')",
        r'x <- "C:\Users\%USERNAME%\x"',
        r'use "H:\Werkmap\analyse\x.dta"',
        "y <- a / b",
        "lm(y~x)",
    ]
    for line in standard:
        assert scan_text(line, cell="script", rules=RULES, language="r") == [], line


def test_personal_path_severity_and_standard_folders_come_from_the_rules(tmp_path):
    override = tmp_path / "rules.toml"
    override.write_text("[personal_path]\nseverity = \"fail\"\nstandard_folders = ['G:\\']\n", encoding="utf-8")
    strict = load_rules(override)
    assert strict.compliant
    found = scan_text(r'do "K:\Utilities\Werkmap Jansen\x.do"', cell="s", rules=strict, language="stata")
    assert [(f.rule, f.severity) for f in found] == [("personal_path", "fail")]
    assert [
        f.rule for f in scan_text(r'do "K:\Utilities\Werkmap Jansen\x.do"', cell="s", rules=RULES, language="stata")
    ] == []


def test_pasted_table_size_comes_from_the_rules(tmp_path):
    text = "# man     92\n# vrouw   108"
    assert scan_text(text, cell="s", rules=RULES, language="r") == []
    override = tmp_path / "rules.toml"
    override.write_text("[data]\nmin_labelled_numbers = 2\n", encoding="utf-8")
    strict = load_rules(override)
    assert strict.compliant
    assert [f.rule for f in scan_text(text, cell="s", rules=strict, language="r")] == ["data"]
    loose = tmp_path / "loose.toml"
    loose.write_text("[data]\nmin_labelled_numbers = 4\n", encoding="utf-8")
    assert not load_rules(loose).compliant


def test_languages_from_names_and_kernels():
    assert [language_of(n) for n in ("a.R", "b.do", "c.sps", "d.py", "e.sas", "f.Rmd", "g.csv")] == [
        "r",
        "stata",
        "spss",
        "python",
        "sas",
        "rmarkdown",
        None,
    ]
    assert kernel_language({"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}) == "r"
    assert kernel_language({"kernelspec": {"name": "stata", "display_name": "Stata"}}) == "stata"
    assert kernel_language({}) == "python"


def test_r_markdown_chunks_and_prose():
    text = "# Analyse\n\nWe vonden 3 mannen en 2 vrouwen.\n\n```{r}\nset.seed(1)\nx <- '012345678'\n```\n"
    found = scan_script(text, "verslag.Rmd", rules=RULES)
    assert [(f.rule, f.where) for f in found] == [
        ("data", "verslag.Rmd, line 3"),
        ("identifier", "verslag.Rmd, line 7"),
    ]


def test_lessons_from_real_scripts():
    """Seen in public Stata, SPSS and R scripts: ranges, category code lists and words after `//` are no finding;
    a home folder named by a user number is."""
    clean = {
        "stata": [
            "* The tables default to the age 15-49 for men and women unless indicated otherwise.",
            "* will be 0 for women with at least 1 injection",
            "//Home remedy or other treatment",
        ],
        "r": ["x <- ph_wtr_source %in% c(11, 12, 13, 14, 15, 21, 31, 41, 51, 61, 62, 65, 71, 72, 73)"],
        "python": [
            "y = df[df.bron.isin([11, 12, 13, 14, 15, 21, 31, 41, 51, 61, 62, 65])]",
            "z = bron in (11, 12, 13, 14, 15, 21, 31, 41, 51, 61, 62, 65)",
        ],
        "sas": ["where bron in (11, 12, 13, 14, 15, 21, 31, 41, 51, 61, 62, 65);"],
    }
    for language, lines in clean.items():
        for line in lines:
            assert scan_text(line, cell="s", rules=RULES, language=language) == [], line
    found = scan_text('cd "C:\\Users\\33697\\ICF/Analysis\\Code".', cell="s", rules=RULES, language="spss")
    assert [(f.rule, f.severity) for f in found] == [("personal_path", "review")]
    assert [
        f.rule
        for f in scan_text("n <- c(120, 45, 33, 12, 91, 80, 17, 52, 44, 28)", cell="s", rules=RULES, language="r")
    ] == ["data"]
