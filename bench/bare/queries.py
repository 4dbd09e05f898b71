"""Counts the bare page's queries in process, as the pages' section counts ours:
`python -m bench.bare.queries SESSION_KEY` prints the number."""

from __future__ import annotations

import os
import sys


def main(session: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies["sessionid"] = session
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/bare/")
    assert response.status_code == 200, response.status_code
    return len(queries)


if __name__ == "__main__":
    print(main(sys.argv[1]))
