from django.db import migrations

DEFAULTS = ("new", "sale", "bestseller")


def add_badges(apps, schema_editor):
    Badge = apps.get_model("catalogue_extra", "Badge")
    for name in DEFAULTS:
        Badge.objects.create(name=name)


def remove_badges(apps, schema_editor):
    apps.get_model("catalogue_extra", "Badge").objects.filter(name__in=DEFAULTS).delete()


class Migration(migrations.Migration):
    dependencies = [("catalogue_extra", "0001_initial")]
    operations = [migrations.RunPython(add_badges, remove_badges)]
