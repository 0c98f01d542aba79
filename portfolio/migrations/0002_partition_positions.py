"""On PostgreSQL, credit positions live in a table partitioned by business date:
each snapshot import builds its day's partition apart and attaches it (near 0 s),
and a day can be replaced whole. SQLite keeps the plain table of 0001."""

from django.db import migrations

PARTITIONED = """
DROP TABLE portfolio_creditposition;
CREATE TABLE portfolio_creditposition (
    business_date date NOT NULL,
    credit_id bigint NOT NULL,
    client_id bigint NOT NULL,
    principal_balance numeric(14, 2) NOT NULL,
    overdue_amount numeric(14, 2) NOT NULL,
    overdue_installments smallint NOT NULL CHECK (overdue_installments >= 0),
    total_installments smallint NOT NULL CHECK (total_installments >= 0),
    days_past_due integer NOT NULL CHECK (days_past_due >= 0),
    next_due_date date NULL,
    late_interest numeric(14, 2) NOT NULL DEFAULT 0,
    collection_fees numeric(14, 2) NOT NULL DEFAULT 0,
    commissions numeric(14, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (business_date, credit_id)
) PARTITION BY RANGE (business_date);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PARTITIONED)


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
