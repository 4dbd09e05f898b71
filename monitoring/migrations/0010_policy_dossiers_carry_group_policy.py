from django.db import migrations


def hand_over(apps, schema_editor):
    """Each group's dossiers, whatever their status, carry the group's policy as it is now:
    what they read through the foreign key until then."""
    UpdateGroup = apps.get_model("monitoring", "UpdateGroup")
    Dossier = apps.get_model("dossiers", "Dossier")
    groups = UpdateGroup.objects.values_list(
        "pk", "review_required", "remind_after", "remind_before"
    )
    for pk, review_required, remind_after, remind_before in groups.iterator():
        Dossier.objects.filter(update_group_id=pk).update(
            review_required=review_required,
            remind_after=list(remind_after or []),
            remind_before=list(remind_before or []),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0009_schema_group_fields"),
        ("dossiers", "0017_policy_dossier_carries_policy"),
    ]

    operations = [migrations.RunPython(hand_over, migrations.RunPython.noop)]
