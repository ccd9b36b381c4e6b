from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("catalogue_extra", "0002_default_badges")]
    operations = [
        migrations.AddField("badge", "colour", models.CharField(max_length=20, default="grey")),
        migrations.AlterField("badge", "name", models.CharField(max_length=80, unique=True)),
        migrations.RunSQL("UPDATE catalogue_extra_badge SET colour = 'red' WHERE name = 'sale'",
                          migrations.RunSQL.noop),
    ]
