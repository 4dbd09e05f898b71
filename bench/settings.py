"""The settings of the benchmark's server: the project's, plus the page that sets the ceiling."""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
