from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [("catalogue_extra", "0003_badge_colour")]
    operations = [
        migrations.CreateModel(
            name="Ribbon",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.TextField(blank=True)),
                ("badge", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="catalogue_extra.badge")),
            ],
        ),
    ]
