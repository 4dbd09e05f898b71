"""The layers of DESIGN.md as a test: import-linter's contracts (.importlinter) hold.

`.ci/run` runs `lint-imports` among the static checks; this runs it in `make test` too, so
that an import against the layers fails the suite where it is written.
"""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_layers_contract_is_the_order_the_readme_states():
    """The README names the order; the contract checks the same one, top layer first."""
    stated = re.search(r"Imports run one way: `([^`]+)`", (ROOT / "README.md").read_text())
    assert stated is not None
    order = [app.strip() for app in stated.group(1).split("←")]
    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    layers = contracts["importlinter:contract:layers"]["layers"].split()
    # config wires every app: the top layer, which no app imports.
    assert layers == ["config", *reversed(order)]
