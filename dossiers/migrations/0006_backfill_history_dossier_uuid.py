from django.db import migrations
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    """History written before the column knew its dossier only by a key the purge nulls."""
    History = apps.get_model("profiles", "FieldValueHistory")
    Dossier = apps.get_model("dossiers", "Dossier")
    History.objects.filter(dossier__isnull=False, dossier_uuid__isnull=True).update(
        dossier_uuid=Subquery(Dossier.objects.filter(pk=OuterRef("dossier_id")).values("uuid")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0005_review_and_attribution"),
        ("profiles", "0003_evidence_and_attribution"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
