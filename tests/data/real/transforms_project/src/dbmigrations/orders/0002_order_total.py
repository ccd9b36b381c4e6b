from django.db import migrations, models


def widen_quantity(apps, schema_editor):
    # Large shops overflowed INTEGER; on SQLite the column takes any integer, so only PostgreSQL is altered.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE orders_order ALTER COLUMN quantity TYPE bigint")


class Migration(migrations.Migration):

    dependencies = [("orders", "0001_initial")]

    operations = [
        migrations.AddField(model_name="order", name="total",
                            field=models.DecimalField(decimal_places=2, default=0, max_digits=10)),
        migrations.RunSQL("UPDATE orders_order SET total = 0 WHERE total IS NULL"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(widen_quantity, migrations.RunPython.noop)],
            state_operations=[migrations.AlterField(model_name="order", name="quantity",
                                                    field=models.BigIntegerField(default=1))],
        ),
    ]
