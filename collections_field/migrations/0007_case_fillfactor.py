"""PostgreSQL: leave a fifth of each case page free, so the nightly updates that
touch no indexed column (the day's figures, the code and visits after a result)
are HOT: the new row version stays on its page and no index is written."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE collections_field_case SET (fillfactor = 80)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE collections_field_case RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("collections_field", "0006_dashboard_figures")]
    operations = [migrations.RunPython(forwards, backwards)]
