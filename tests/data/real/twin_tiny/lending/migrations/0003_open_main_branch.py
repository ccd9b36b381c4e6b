from django.db import migrations


def open_branch(apps, schema_editor):
    apps.get_model("lending", "Branch").objects.create(code="MAIN")


class Migration(migrations.Migration):

    dependencies = [
        ("lending", "0002_branches"),
    ]

    operations = [
        migrations.RunPython(open_branch, migrations.RunPython.noop),
    ]
