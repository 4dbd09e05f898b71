"""Audit entries are written by actions only (DESIGN.md, "Doors, actions and selectors").

A view, a viewset, a serializer, a form, a task or a command parses its input and calls an
action; the action records the entry through its actor. This scan of the product's modules
finds every call that writes an entry: `record_audit(…)`, `audit(…)` imported from
organizations.models, `<anything>.audit(…)` (an actor's, a viewset's `self.audit`) and
`AuditEntry.<manager>.create(…)` and its kin; any of them outside a module named
`actions.py` fails the test, naming the file and the line. The two definitions
(organizations/models.py, organizations/actors.py) are where the writing is done.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The product's code; the tests, the benchmark harness and the migrations are not.
SKIPPED_DIRS = {".venv", "tests", "bench", "migrations", "node_modules", "staticfiles", "var"}
# Where an entry is written for the actions: the model's helpers and the actor.
DEFINITIONS = {Path("organizations/models.py"), Path("organizations/actors.py")}

MODELS = "organizations.models"
# The manager methods that insert rows.
INSERTS = {"create", "bulk_create", "get_or_create", "update_or_create"}


def _imported_from_models(tree: ast.AST) -> dict[str, str]:
    """The local names of what the module imports from organizations.models, by original."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == MODELS and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = alias.name
    return names


def _names_audit_entry(node: ast.expr, local: dict[str, str]) -> bool:
    """`AuditEntry` as imported (or aliased), or `<module>.AuditEntry`."""
    if isinstance(node, ast.Name):
        return node.id == "AuditEntry" or local.get(node.id) == "AuditEntry"
    return isinstance(node, ast.Attribute) and node.attr == "AuditEntry"


def _write(func: ast.expr, local: dict[str, str]) -> str | None:
    """How a call of `func` writes an audit entry, or None when it does not."""
    if isinstance(func, ast.Name):
        original = local.get(func.id, func.id)
        if original == "record_audit":
            return "record_audit(…)"
        if func.id in local and original == "audit":
            return "audit(…) from organizations.models"
        return None
    if not isinstance(func, ast.Attribute):
        return None
    inserts_an_entry = (
        func.attr in INSERTS
        and isinstance(func.value, ast.Attribute)
        and _names_audit_entry(func.value.value, local)
    )
    if func.attr in {"audit", "record_audit"} or inserts_an_entry:
        return f"{ast.unparse(func)}(…)"
    return None


def audit_writes(source: str) -> list[tuple[int, str]]:
    """(line, call) of each call in a module's source that writes an audit entry."""
    tree = ast.parse(source)
    local = _imported_from_models(tree)
    found = [
        (node.lineno, write)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (write := _write(node.func, local)) is not None
    ]
    return sorted(found)


def _product_modules() -> list[Path]:
    modules = []
    for folder, dirs, files in os.walk(ROOT):
        # Pruned as the walk goes: the virtual environment alone holds thousands of modules.
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
        modules += [Path(folder, name) for name in files if name.endswith(".py")]
    return sorted(modules)


def writes_outside_actions() -> list[str]:
    """`path:line: call` of each audit write in the product outside an action."""
    modules = _product_modules()
    assert len(modules) > 100, "the scan found too few modules to be looking in the right place"
    writes = []
    for path in modules:
        relative = path.relative_to(ROOT)
        if relative.name == "actions.py" or relative in DEFINITIONS:
            continue
        for line, call in audit_writes(path.read_text(encoding="utf-8")):
            writes.append(f"{relative}:{line}: {call}")
    return writes


def test_no_door_of_the_organisations_writes_an_audit_entry():
    writes = [w for w in writes_outside_actions() if w.startswith("organizations/")]
    assert not writes, "Write audit entries in organizations/actions.py:\n" + "\n".join(writes)


def test_audit_entries_are_written_by_actions_only():
    writes = writes_outside_actions()
    assert not writes, "Write audit entries in an actions.py:\n" + "\n".join(writes)


@pytest.mark.parametrize(
    "source",
    [
        "from organizations.models import record_audit\nrecord_audit(org, user, 'a.b.c', x)",
        "from organizations.models import record_audit as log\nlog(org, user, 'a.b.c', x)",
        "from organizations import models\nmodels.record_audit(org, user, 'a.b.c', x)",
        "from organizations.models import audit\naudit(request, 'a.b.c', x)",
        "from organizations.models import audit as note\nnote(request, 'a.b.c', x)",
        "from organizations import models\nmodels.audit(request, 'a.b.c', x)",
        "actor.audit(org, 'a.b.c', x)",
        "Actor.member(user).audit(org, 'a.b.c', x)",
        "class V:\n    def post(self):\n        self.audit('a.b.c', x)",
        "from organizations.models import AuditEntry\nAuditEntry.objects.create(action='a.b.c')",
        "from organizations.models import AuditEntry\nAuditEntry.objects.bulk_create(rows)",
        "from organizations.models import AuditEntry as E\nE.objects.get_or_create(action='a')",
        "from organizations import models\nmodels.AuditEntry.objects.create(action='a.b.c')",
        "def f():\n    return [record_audit(o, u, a, t) for o in orgs]",
    ],
)
def test_the_scan_sees_each_way_to_write_an_audit_entry(source):
    assert audit_writes(source)


@pytest.mark.parametrize(
    "source",
    [
        # Defining a helper is not writing; reading entries is not either.
        "def audit(self, action, target):\n    pass",
        "from organizations.models import AuditEntry\nAuditEntry.objects.filter(action='a.b.c')",
        "from organizations.models import AuditEntry\nAuditEntry.objects.count()",
        # Other models' inserts, and the registry of action names.
        "from profiles.models import Profile\nProfile.objects.create(kind='contact')",
        "from organizations import audit\naudit.discover()",
        "from organizations import audit as audit_actions\naudit_actions.action('a.b.c', 'A')",
        # A local function that happens to be named audit, not the model's helper.
        "def audit(x):\n    return x\naudit(1)",
        # Calling an action is what doors do.
        "from organizations import actions\nactions.invite_member(org, actor=a, email=e, role=r)",
    ],
)
def test_the_scan_lets_reads_other_models_and_actions_through(source):
    assert not audit_writes(source)


def test_the_scan_names_the_line_of_each_write():
    source = "x = 1\nactor.audit(org, 'a.b.c', x)\n\nrecord_audit(org, None, 'a.b.c', x)\n"
    assert audit_writes(source) == [(2, "actor.audit(…)"), (4, "record_audit(…)")]
