import uuid

from django.db import migrations, models


def give_each_membership_a_uuid(apps, schema_editor):
    Membership = apps.get_model("organizations", "Membership")
    for membership in Membership.objects.all().only("pk"):
        membership.uuid = uuid.uuid4()
        membership.save(update_fields=["uuid"])


class Migration(migrations.Migration):
    dependencies = [("organizations", "0002_auditentry")]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="uuid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(give_each_membership_a_uuid, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
