"""The invitation of each outgoing message moves from the outbox's row to this app's link
table; outbox 0004 then drops the outbox's column. Every message keeps its invitation."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0010_sso_sso_provider"),
        ("outbox", "0003_lighter_message_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="InvitationMessage",
            fields=[
                (
                    "message",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="invitation_link",
                        serialize=False,
                        to="outbox.message",
                    ),
                ),
                (
                    "invitation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="message_links",
                        to="organizations.invitation",
                    ),
                ),
            ],
            options={
                "verbose_name": "message of an invitation",
                "verbose_name_plural": "messages of invitations",
            },
        ),
        migrations.RunSQL(
            """
            INSERT INTO organizations_invitationmessage (message_id, invitation_id)
            SELECT id, invitation_id FROM outbox_message WHERE invitation_id IS NOT NULL
            """,
            """
            UPDATE outbox_message SET invitation_id = (
                SELECT l.invitation_id FROM organizations_invitationmessage l
                WHERE l.message_id = outbox_message.id
            )
            """,
            elidable=False,
        ),
    ]
