"""On PostgreSQL, the database itself keeps a field in a group of its own organisation and type.

A composite foreign key (update_group_id, organization_id, applies_to) onto the group's
(id, organization_id, applies_to). Django has no composite foreign keys, hence raw SQL; on
SQLite (the laptop default) the forms and services hold this rule alone.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE monitoring_updategroup ADD CONSTRAINT group_id_org_type "
        "UNIQUE (id, organization_id, applies_to)"
    )
    schema_editor.execute(
        "ALTER TABLE profiles_datafield ADD CONSTRAINT field_in_group_of_same_org_and_type "
        "FOREIGN KEY (update_group_id, organization_id, applies_to) "
        "REFERENCES monitoring_updategroup (id, organization_id, applies_to) "
        "DEFERRABLE INITIALLY DEFERRED"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE profiles_datafield DROP CONSTRAINT field_in_group_of_same_org_and_type"
    )
    schema_editor.execute("ALTER TABLE monitoring_updategroup DROP CONSTRAINT group_id_org_type")


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
        ("profiles", "0002_datafield_update_group_fieldvaluehistory_dossier"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
