# A separate migration from the data copy: PostgreSQL refuses to alter a
# table with pending trigger events in the same transaction.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workers", "0013_consent_texts_by_language"),
    ]

    operations = [
        migrations.RemoveField(model_name="consenttext", name="text_ko"),
        migrations.RemoveField(model_name="consenttext", name="text_en"),
        migrations.AlterField(
            model_name="consenttext",
            name="texts",
            field=models.JSONField(verbose_name="texts by language"),
        ),
    ]
