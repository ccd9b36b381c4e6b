from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):

    # The product app's migration this one needs, by name (as django-oscar's apps name the
    # migrations of the catalogue app a project forks).
    dependencies = [("tagging", "0001_initial"), ("catalog", "0003_product_sku")]

    operations = [
        migrations.CreateModel(
            name="TaggedProduct",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("product", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="catalog.product")),
                ("tag", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="tagging.tag")),
            ],
        ),
    ]
