# Languages (issue 11): Vietnamese among the worker's languages, the language a consent
# decision was read in, and consent texts keyed by language instead of one
# column per language. 0013 carries the texts over, 0014 drops the columns.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workers", "0011_worker_event_identity_changed"),
    ]

    operations = [
        migrations.AlterField(
            model_name="worker",
            name="language",
            field=models.CharField(
                choices=[("ko", "한국어"), ("en", "English"), ("vi", "Tiếng Việt")],
                default="ko",
                max_length=8,
                verbose_name="language",
            ),
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
