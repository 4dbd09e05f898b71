"""The field's group now lives in monitoring's GroupField (monitoring 0009 copied it)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0009_schema_group_fields"),
        ("profiles", "0010_schema_field_key"),
    ]

    operations = [
        migrations.RemoveField(model_name="datafield", name="update_group"),
    ]
