"""The dossier and recipient of each outgoing message move from the outbox's row to the
dossiers app's link table; outbox 0004 then drops the outbox's columns. Every message that
named a dossier keeps its dossier and recipient."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0011_item_remove_requested"),
        ("outbox", "0003_lighter_message_indexes"),
        ("profiles", "0011_schema_drop_update_group"),
    ]

    operations = [
        migrations.CreateModel(
            name="DossierMessage",
            fields=[
                (
                    "message",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="dossier_link",
                        serialize=False,
                        to="outbox.message",
                    ),
                ),
                (
                    "dossier",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="message_links",
                        to="dossiers.dossier",
                    ),
                ),
                (
                    "profile",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="profiles.profile",
                    ),
                ),
            ],
            options={
                "verbose_name": "message of a dossier",
                "verbose_name_plural": "messages of dossiers",
            },
        ),
        migrations.RunSQL(
            """
            INSERT INTO dossiers_dossiermessage (message_id, dossier_id, profile_id)
            SELECT id, dossier_id, profile_id FROM outbox_message
            WHERE dossier_id IS NOT NULL
            """,
            """
            UPDATE outbox_message SET
                dossier_id = (SELECT l.dossier_id FROM dossiers_dossiermessage l
                              WHERE l.message_id = outbox_message.id),
                profile_id = (SELECT l.profile_id FROM dossiers_dossiermessage l
                              WHERE l.message_id = outbox_message.id)
            """,
            elidable=False,
        ),
    ]
