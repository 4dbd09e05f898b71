"""The lock files pin every dependency that pyproject.toml names, within its range."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins(name: str) -> dict[str, Version]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            package, version = line.split("==", 1)
            pins[canonicalize_name(package.strip())] = Version(version.split()[0])
    return pins


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("requirements.lock", PROJECT["dependencies"]),
        (
            "requirements-test.lock",
            PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"],
        ),
    ],
)
def test_the_lock_pins_every_dependency_within_its_range(lock, requirements):
    pins = _pins(lock)
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {lock}: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {name}=={pins[name]}, outside {requirement.specifier}: run make lock"
        )


def test_no_release_with_a_published_advisory_is_allowed():
    minimums = {
        canonicalize_name(Requirement(text).name): Requirement(text).specifier
        for text in PROJECT["dependencies"]
    }
    # Django 5.2 before its latest security release, gunicorn before 23.0 (request smuggling).
    assert not minimums["django"].contains("5.2.18")
    assert not minimums["gunicorn"].contains("22.0.0")
