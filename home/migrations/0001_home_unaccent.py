from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    """The header's search ignores accents on PostgreSQL (home.search); elsewhere a no-op."""

    dependencies: list[tuple[str, str]] = []

    operations = [UnaccentExtension()]
