"""CSV for spreadsheets: no cell a spreadsheet could run, whatever separator it splits on."""

from __future__ import annotations

import csv
import io

import pytest

from organizations.csvexport import csv_lines, neutralise, restore

FORMULA = "=cmd|' /C calc'!A0"


def _cells(text: str, delimiter: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row]


def _written(value: str) -> str:
    return "".join(csv_lines([[value]])).lstrip("\ufeff")


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize(
    "value",
    [
        FORMULA,
        f"Dupont;{FORMULA};",
        f"Dupont,{FORMULA}",
        f"Dupont\t{FORMULA}",
        f"Dupont\n{FORMULA}",
        "Dupont; +1+1",
        "Dupont;@SUM(A1)",
        "-2+3",
    ],
)
def test_no_cell_starts_a_formula_whatever_the_separator_excel_splits_on(value, delimiter):
    # French Excel splits a comma-separated file on `;`; others on tabs: every piece a
    # spreadsheet could make a cell of must read as text.
    for cell in _cells(_written(value), delimiter):
        assert not cell.lstrip(' "').startswith(("=", "+", "-", "@")), (value, cell)


@pytest.mark.parametrize(
    "value",
    [FORMULA, f"Dupont;{FORMULA};", "'=already quoted", "''=twice", "plain; text", "-5", "a;'b"],
)
def test_the_import_reads_back_what_was_exported(value):
    assert restore(neutralise(value)) == value


def test_ordinary_text_is_left_as_it_is():
    assert neutralise("Dupont; Durand, 12 rue de la Paix") == "Dupont; Durand, 12 rue de la Paix"
