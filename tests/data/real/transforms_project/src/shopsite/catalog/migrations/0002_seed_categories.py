from django.db import migrations

DEFAULT_CATEGORIES = ["Books", "Music"]


def seed_categories(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    Category.objects.bulk_create([Category(name=name) for name in DEFAULT_CATEGORIES])


def unseed_categories(apps, schema_editor):
    apps.get_model("catalog", "Category").objects.filter(name__in=DEFAULT_CATEGORIES).delete()


class Migration(migrations.Migration):

    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(seed_categories, unseed_categories)]
