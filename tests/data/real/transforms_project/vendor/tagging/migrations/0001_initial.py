from django.db import migrations, models


def default_tags(apps, schema_editor):
    apps.get_model("tagging", "Tag").objects.get_or_create(name="new")


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.SlugField(unique=True)),
            ],
        ),
        migrations.RunPython(default_tags, migrations.RunPython.noop),
    ]
