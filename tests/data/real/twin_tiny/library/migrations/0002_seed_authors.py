from django.db import migrations


def seed(apps, schema_editor):
    Author = apps.get_model("library", "Author")
    Author.objects.bulk_create([Author(name="Ann"), Author(name="Bob")])


def unseed(apps, schema_editor):
    apps.get_model("library", "Author").objects.filter(name__in=["Ann", "Bob"]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("library", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
