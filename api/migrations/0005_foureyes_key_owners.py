"""Four eyes: an intervention made through an API key names the member who created the key,
so that the member and their key are one pair of eyes (dossiers.foureyes)."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def name_the_key_owners(apps, schema_editor):
    Intervention = apps.get_model("dossiers", "Intervention")
    ApiKey = apps.get_model("api", "ApiKey")
    Intervention.objects.filter(api_key_id__isnull=False, user__isnull=True).update(
        user_id=Subquery(ApiKey.objects.filter(pk=OuterRef("api_key_id")).values("created_by_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0004_audit_delivery_subject"),
        ("dossiers", "0013_secfix_link_addresses"),
    ]

    operations = [migrations.RunPython(name_the_key_owners, migrations.RunPython.noop)]
