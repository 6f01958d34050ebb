# Publishes the first consent text (workers/consent.py), in Korean and
# English: what is collected, why, who sees it and for how long. Published
# texts are never changed; a correction is a new version in a new migration.

from django.db import migrations

from workers.consent import INITIAL_PUBLISHED_AT, INITIAL_TEXT_EN, INITIAL_TEXT_KO, INITIAL_VERSION


def publish_v1(apps, schema_editor):
    ConsentText = apps.get_model("workers", "ConsentText")
    ConsentText.objects.get_or_create(
        version=INITIAL_VERSION,
        defaults={"text_ko": INITIAL_TEXT_KO, "text_en": INITIAL_TEXT_EN, "published_at": INITIAL_PUBLISHED_AT},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("workers", "0004_consent"),
    ]

    operations = [
        # Going back leaves the text in place (unapplying 0004 drops the table).
        migrations.RunPython(publish_v1, migrations.RunPython.noop),
    ]
