"""A group's fields move to monitoring's own table, GroupField, from the column
`DataField.update_group` that pointed from profiles up to monitoring.

The field is GroupField's primary key, so a field still belongs to one group at most. Every
field's group is copied; profiles' migration 0011 then drops the column. On PostgreSQL the
composite foreign key that kept a field in a group of its organisation and type (0002) is
replaced by two on GroupField, one to the group and one to the field, each on (id,
organization, type): the same guarantee, from the upper app's table.
"""

import django.db.models.deletion
from django.db import migrations, models

COPY = """
    INSERT INTO monitoring_groupfield (field_id, group_id, organization_id, applies_to)
    SELECT id, update_group_id, organization_id, applies_to FROM profiles_datafield
    WHERE update_group_id IS NOT NULL
"""
UNCOPY = """
    UPDATE profiles_datafield SET update_group_id = (
        SELECT g.group_id FROM monitoring_groupfield g WHERE g.field_id = profiles_datafield.id
    )
"""


def forwards(apps, schema_editor):
    schema_editor.execute(COPY)
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE profiles_datafield DROP CONSTRAINT field_in_group_of_same_org_and_type"
    )
    schema_editor.execute(
        "ALTER TABLE monitoring_groupfield ADD CONSTRAINT group_field_group_of_org_and_type "
        "FOREIGN KEY (group_id, organization_id, applies_to) "
        "REFERENCES monitoring_updategroup (id, organization_id, applies_to) "
        "DEFERRABLE INITIALLY DEFERRED"
    )
    schema_editor.execute(
        "ALTER TABLE monitoring_groupfield ADD CONSTRAINT group_field_field_of_org_and_type "
        "FOREIGN KEY (field_id, organization_id, applies_to) "
        "REFERENCES profiles_datafield (id, organization_id, applies_to) "
        "DEFERRABLE INITIALLY DEFERRED"
    )
    # The checks of the rows copied above run now: the tables are altered next.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE monitoring_groupfield DROP CONSTRAINT group_field_field_of_org_and_type"
        )
        schema_editor.execute(
            "ALTER TABLE monitoring_groupfield DROP CONSTRAINT group_field_group_of_org_and_type"
        )
    schema_editor.execute(UNCOPY)
    if schema_editor.connection.vendor == "postgresql":
        # The checks of the column written above run now: the table is altered next.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(
            "ALTER TABLE profiles_datafield ADD CONSTRAINT field_in_group_of_same_org_and_type "
            "FOREIGN KEY (update_group_id, organization_id, applies_to) "
            "REFERENCES monitoring_updategroup (id, organization_id, applies_to) "
            "DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0008_run_group_index_covered"),
        ("organizations", "0009_audit_actor"),
        ("profiles", "0010_schema_field_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="GroupField",
            fields=[
                (
                    "field",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="group_membership",
                        serialize=False,
                        to="profiles.datafield",
                    ),
                ),
                (
                    "applies_to",
                    models.CharField(
                        choices=[("contact", "Contact"), ("company", "Company")], max_length=10
                    ),
                ),
                (
                    "group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="monitoring.updategroup",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="organizations.organization",
                    ),
                ),
            ],
            options={
                "verbose_name": "field of a group",
                "verbose_name_plural": "fields of groups",
            },
        ),
        migrations.AddField(
            model_name="updategroup",
            name="fields",
            field=models.ManyToManyField(
                blank=True,
                related_name="+",
                through="monitoring.GroupField",
                to="profiles.datafield",
            ),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
