"""PostgreSQL: leave half of each case-event page free. The events step inserts a
night's items and the transitions step then marks most of them applied; on full
pages that second write is a new row version elsewhere and an entry in every index
(0.5 s a night at 1M credits), with room on the page it stays there (HOT, 0.18 s)."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE collections_field_caseevent SET (fillfactor = 50)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE collections_field_caseevent RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("collections_field", "0010_engine_references")]
    operations = [migrations.RunPython(forwards, backwards)]
