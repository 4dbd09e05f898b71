"""A group's next occurrence moves to a narrow table of its own (`GroupDue`), the rows the
dispatcher claims and rewrites; every group's row is copied there before its columns go."""

import django.db.models.deletion
from django.db import migrations, models

# One statement each way, whatever the number of groups; SQLite and PostgreSQL alike.
COPY_FORWARD = """
    INSERT INTO monitoring_groupdue (group_id, next_index, next_run_at, dispatched)
    SELECT id, next_index, next_run_at, is_active AND cadence = 'calendar'
    FROM monitoring_updategroup
"""
COPY_BACKWARD = """
    UPDATE monitoring_updategroup SET
        next_index = (SELECT d.next_index FROM monitoring_groupdue d
                      WHERE d.group_id = monitoring_updategroup.id),
        next_run_at = (SELECT d.next_run_at FROM monitoring_groupdue d
                       WHERE d.group_id = monitoring_updategroup.id)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0014_cadence_rolling_tiered"),
    ]

    operations = [
        migrations.CreateModel(
            name="GroupDue",
            fields=[
                (
                    "group",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="due",
                        serialize=False,
                        to="monitoring.updategroup",
                    ),
                ),
                ("next_index", models.PositiveIntegerField(default=0)),
                ("next_run_at", models.DateTimeField(verbose_name="next update")),
                ("dispatched", models.BooleanField(default=True)),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("dispatched", True)),
                        fields=["next_run_at"],
                        name="group_due_at",
                    )
                ],
            },
        ),
        # Nullable first, so that going back can add the column before refilling it.
        migrations.AlterField(
            model_name="updategroup",
            name="next_run_at",
            field=models.DateTimeField(null=True, verbose_name="next update"),
        ),
        migrations.RunSQL(COPY_FORWARD, COPY_BACKWARD),
        migrations.RemoveIndex(
            model_name="updategroup",
            name="group_due",
        ),
        migrations.RemoveField(
            model_name="updategroup",
            name="next_index",
        ),
        migrations.RemoveField(
            model_name="updategroup",
            name="next_run_at",
        ),
    ]
