# Languages (issue 11): the worker's chosen language, the language a consent
# decision was read in, and consent texts keyed by language instead of one
# column per language. 0010 carries the texts over, 0011 drops the columns.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workers", "0008_append_only_triggers"),
    ]

    operations = [
        migrations.AddField(
            model_name="worker",
            name="language",
            field=models.CharField(blank=True, default="", max_length=16, verbose_name="language"),
        ),
        migrations.AddField(
            model_name="consent",
            name="language",
            field=models.CharField(blank=True, default="", max_length=16, verbose_name="language read"),
        ),
        migrations.AddField(
            model_name="consenttext",
            name="texts",
            field=models.JSONField(null=True, verbose_name="texts by language"),
        ),
    ]
