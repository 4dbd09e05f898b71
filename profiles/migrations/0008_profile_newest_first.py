from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('profiles', '0007_overview_order_index'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='profile',
            index=models.Index(fields=['organization', '-created_at', '-id'], name='profile_newest_first'),
        ),
    ]
