"""A history row keeps the API key and the dossier it names by reference, not by a foreign
key into an app to the right of profiles (api, dossiers).

The key's UUID and name are copied from the key (the name as it reads today, which is what
the history page showed); `dossier_uuid` is filled where an older row lacked it. Then the two
foreign keys go.
"""

from django.db import migrations, models

FORWARDS = [
    """
    UPDATE profiles_fieldvaluehistory SET
        api_key_uuid = (SELECT k.uuid FROM api_apikey k
                        WHERE k.id = profiles_fieldvaluehistory.api_key_id),
        api_key_name = (SELECT k.name FROM api_apikey k
                        WHERE k.id = profiles_fieldvaluehistory.api_key_id)
    WHERE api_key_id IS NOT NULL
    """,
    """
    UPDATE profiles_fieldvaluehistory SET
        dossier_uuid = (SELECT d.uuid FROM dossiers_dossier d
                        WHERE d.id = profiles_fieldvaluehistory.dossier_id)
    WHERE dossier_id IS NOT NULL AND dossier_uuid IS NULL
    """,
]
BACKWARDS = [
    """
    UPDATE profiles_fieldvaluehistory SET
        api_key_id = (SELECT k.id FROM api_apikey k
                      WHERE k.uuid = profiles_fieldvaluehistory.api_key_uuid)
    WHERE api_key_uuid IS NOT NULL
    """,
    """
    UPDATE profiles_fieldvaluehistory SET
        dossier_id = (SELECT d.id FROM dossiers_dossier d
                      WHERE d.uuid = profiles_fieldvaluehistory.dossier_uuid)
    WHERE dossier_uuid IS NOT NULL
    """,
]


def _run(statements):
    def run(apps, schema_editor):
        for statement in statements:
            schema_editor.execute(statement)
        if schema_editor.connection.vendor == "postgresql":
            # The checks of the foreign keys written above run now, not at commit: the
            # table is altered next, which PostgreSQL refuses while checks are pending.
            schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0003_lighter_delivery_indexes"),
        ("dossiers", "0011_item_remove_requested"),
        ("profiles", "0008_profile_newest_first"),
    ]

    operations = [
        migrations.AddField(
            model_name="fieldvaluehistory",
            name="api_key_uuid",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="fieldvaluehistory",
            name="api_key_name",
            field=models.CharField(blank=True, db_default="", default="", max_length=100),
        ),
        migrations.RunPython(_run(FORWARDS), _run(BACKWARDS), elidable=False),
        migrations.RemoveField(model_name="fieldvaluehistory", name="api_key"),
        migrations.RemoveField(model_name="fieldvaluehistory", name="dossier"),
    ]
