# Carries every published consent text's Korean and English into ``texts``
# and publishes version 1 in Vietnamese (workers/consent.py). The words of a
# version do not change: Vietnamese is the same text in a third language.

from django.db import migrations

from workers.consent import INITIAL_TEXT_VI, INITIAL_VERSION


def to_texts(apps, schema_editor):
    ConsentText = apps.get_model("workers", "ConsentText")
    for text in ConsentText.objects.all():
        text.texts = {"ko": text.text_ko, "en": text.text_en}
        if text.version == INITIAL_VERSION:
            text.texts["vi"] = INITIAL_TEXT_VI
        text.save(update_fields=["texts"])


def to_columns(apps, schema_editor):
    ConsentText = apps.get_model("workers", "ConsentText")
    for text in ConsentText.objects.all():
        text.text_ko = text.texts.get("ko", "")
        text.text_en = text.texts.get("en", "")
        text.save(update_fields=["text_ko", "text_en"])


class Migration(migrations.Migration):
    dependencies = [
        ("workers", "0012_languages"),
    ]

    operations = [
        migrations.RunPython(to_texts, to_columns),
    ]
