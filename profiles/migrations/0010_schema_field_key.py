from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0009_audit_actor"),
        ("profiles", "0009_schema_history_references"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="datafield",
            constraint=models.UniqueConstraint(
                fields=("id", "organization", "applies_to"), name="field_id_org_type"
            ),
        ),
    ]
