from django.db import migrations, models


def fill_skus(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    for product in Product.objects.filter(sku=""):
        product.sku = "P%05d" % product.pk
        product.save(update_fields=["sku"])


class Migration(migrations.Migration):

    dependencies = [("catalog", "0002_seed_categories")]

    operations = [
        migrations.AddField(model_name="product", name="sku", field=models.CharField(blank=True, default="", max_length=20)),
        migrations.RunPython(fill_skus),
        migrations.RunSQL(
            "CREATE INDEX catalog_product_name_sku ON catalog_product (name, sku)",
            "DROP INDEX catalog_product_name_sku",
        ),
    ]
