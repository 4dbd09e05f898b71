"""The outbox knows messages, not what they are about: the dossier, recipient and
invitation of each message were copied to their apps' link tables (dossiers 0012,
organizations 0010). The partial index of refused messages is now by organisation."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0012_schema_message_links"),
        ("organizations", "0011_schema_invitation_messages"),
        ("outbox", "0003_lighter_message_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="message",
            name="outbox_message_undeliverable",
        ),
        migrations.RemoveIndex(
            model_name="message",
            name="outbox_message_invitation",
        ),
        migrations.RemoveField(
            model_name="message",
            name="dossier",
        ),
        migrations.RemoveField(
            model_name="message",
            name="invitation",
        ),
        migrations.RemoveField(
            model_name="message",
            name="profile",
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("status", "undeliverable")),
                fields=["organization", "id"],
                name="outbox_message_refused",
            ),
        ),
    ]
