from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX ledger_entry_amount_brin ON ledger_entry USING brin (amount)",
            "DROP INDEX ledger_entry_amount_brin",
        ),
    ]
