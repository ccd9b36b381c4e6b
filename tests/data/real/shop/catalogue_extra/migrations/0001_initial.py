from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    initial = True
    dependencies = [("catalogue", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="Badge",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50, unique=True)),
                ("product", models.ForeignKey(null=True, blank=True, on_delete=django.db.models.deletion.CASCADE,
                                              to="catalogue.product")),
            ],
        ),
    ]
