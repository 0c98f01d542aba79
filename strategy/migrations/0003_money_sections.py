"""The money sections of the strategy get their own tables (DOMAIN.md 6, 7.2).

Until now `refinancing_products`, `exoneration_limits` and `commission_scheme` were
kept verbatim as JSON on the version. Their rows are copied into the new tables,
then the JSON columns go. A value the old lenient loader let through without a key
gets the key's default (0, or none for `max_dpd`).

A version published before this migration keeps its old sha256, computed from the
old dump (`fee: 50.0`, now written `fee: 50`): the first `load_strategy` of the same
content afterwards publishes one new, identical version.
"""

import django.db.models.deletion
from decimal import Decimal

from django.db import migrations, models

WAIVERS = ("late_interest", "collection_fees", "commissions")


def _dec(value, default=0) -> Decimal:
    return Decimal(str(default if value is None else value))


def copy_json_to_rows(apps, schema_editor):
    Version = apps.get_model("strategy", "StrategyVersion")
    Product = apps.get_model("strategy", "RefinancingProduct")
    Limit = apps.get_model("strategy", "ExonerationLimit")
    Scheme = apps.get_model("strategy", "CommissionScheme")
    for version in Version.objects.all():
        for position, p in enumerate(version.refinancing_products or []):
            waiver = p.get("max_waiver_pct") or {}
            Product.objects.create(
                version=version,
                position=position,
                code=str(p.get("code", position)),
                name=str(p.get("name", "")),
                min_dpd=int(p.get("min_dpd") or 0),
                max_dpd=p.get("max_dpd"),
                max_term_months=int(p.get("max_term_months") or 1),
                extra_term_months=int(p.get("extra_term_months") or 0),
                fee=_dec(p.get("fee")),
                tea=_dec(p.get("tea")),
                min_down_payment_pct=_dec(p.get("min_down_payment_pct")),
                min_installment=_dec(p.get("min_installment")),
                **{f"waiver_{k}": _dec(waiver.get(k)) for k in WAIVERS},
            )
        for position, row in enumerate(version.exoneration_limits or []):
            Limit.objects.create(
                version=version,
                position=position,
                role=str(row.get("role", "")),
                classification=str(row.get("classification", "")),
                min_installments_paid=int(row.get("min_installments_paid") or 0),
                max_pct=_dec(row.get("max_pct")),
            )
        scheme = version.commission_scheme or {}
        if scheme:
            Scheme.objects.create(
                version=version,
                per_cured_client=_dec(scheme.get("per_cured_client")),
                collected_share=_dec(scheme.get("collected_share")),
                per_refinanced_client=_dec(scheme.get("per_refinanced_client")),
                office_target_multiplier=_dec(scheme.get("office_target_multiplier"), 1),
                external_agency_share=_dec(scheme.get("external_agency_share")),
                effective_days=int(scheme.get("effective_days") or 7),
            )


class Migration(migrations.Migration):

    dependencies = [
        ('strategy', '0002_audit_history'),
    ]

    operations = [
        migrations.CreateModel(
            name='CommissionScheme',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField(default=0, help_text='order in the file')),
                ('per_cured_client', models.DecimalField(decimal_places=2, default=0, max_digits=12, verbose_name='per cured client (PEN)')),
                ('collected_share', models.DecimalField(decimal_places=4, default=0, max_digits=5, verbose_name='share of the amount collected')),
                ('per_refinanced_client', models.DecimalField(decimal_places=2, default=0, max_digits=12, verbose_name='per refinanced client (PEN)')),
                ('office_target_multiplier', models.DecimalField(decimal_places=4, default=1, max_digits=6, verbose_name='multiplier when the office target is reached')),
                ('external_agency_share', models.DecimalField(decimal_places=4, default=0, max_digits=5, verbose_name='external agency share of what it recovered')),
                ('effective_days', models.PositiveSmallIntegerField(default=7, verbose_name='days in which an action counts as effective')),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='strategy.strategyversion')),
            ],
            options={
                'verbose_name': 'commission scheme',
                'verbose_name_plural': 'commission schemes',
                'ordering': ['version', 'position'],
                'abstract': False,
                'constraints': [models.UniqueConstraint(fields=('version',), name='commission_scheme_one')],
            },
        ),
        migrations.CreateModel(
            name='ExonerationLimit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField(default=0, help_text='order in the file')),
                ('role', models.CharField(max_length=20, verbose_name='role')),
                ('classification', models.CharField(max_length=10, verbose_name='classification')),
                ('min_installments_paid', models.PositiveSmallIntegerField(default=0, verbose_name='minimum installments paid')),
                ('max_pct', models.DecimalField(decimal_places=4, max_digits=5, verbose_name='maximum waiver')),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='strategy.strategyversion')),
            ],
            options={
                'verbose_name': 'exoneration limit',
                'verbose_name_plural': 'exoneration limits',
                'ordering': ['version', 'position'],
                'abstract': False,
                'constraints': [models.UniqueConstraint(fields=('version', 'role', 'classification', 'min_installments_paid'), name='exoneration_limit_unique')],
            },
        ),
        migrations.CreateModel(
            name='RefinancingProduct',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField(default=0, help_text='order in the file')),
                ('code', models.CharField(max_length=20, verbose_name='code')),
                ('name', models.CharField(max_length=100, verbose_name='name')),
                ('min_dpd', models.PositiveIntegerField(verbose_name='from days past due')),
                ('max_dpd', models.PositiveIntegerField(blank=True, null=True, verbose_name='to days past due')),
                ('max_term_months', models.PositiveSmallIntegerField(verbose_name='maximum term (months)')),
                ('extra_term_months', models.PositiveSmallIntegerField(default=0, verbose_name='extra months over unpaid installments')),
                ('fee', models.DecimalField(decimal_places=2, default=0, max_digits=12, verbose_name='fee (PEN, financed)')),
                ('tea', models.DecimalField(decimal_places=4, max_digits=7, verbose_name='TEA')),
                ('min_down_payment_pct', models.DecimalField(decimal_places=4, default=0, max_digits=5, verbose_name='minimum down payment')),
                ('min_installment', models.DecimalField(decimal_places=2, default=0, max_digits=12, verbose_name='minimum installment (PEN)')),
                ('waiver_late_interest', models.DecimalField(decimal_places=4, default=0, max_digits=5, verbose_name='maximum waiver of late interest')),
                ('waiver_collection_fees', models.DecimalField(decimal_places=4, default=0, max_digits=5, verbose_name='maximum waiver of collection fees')),
                ('waiver_commissions', models.DecimalField(decimal_places=4, default=0, max_digits=5, verbose_name='maximum waiver of commissions')),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='strategy.strategyversion')),
            ],
            options={
                'verbose_name': 'refinancing product',
                'verbose_name_plural': 'refinancing products',
                'ordering': ['version', 'position'],
                'abstract': False,
                'constraints': [models.UniqueConstraint(fields=('version', 'code'), name='refinancing_product_code')],
            },
        ),
        migrations.RunPython(copy_json_to_rows, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='historicalstrategyversion',
            name='commission_scheme',
        ),
        migrations.RemoveField(
            model_name='historicalstrategyversion',
            name='exoneration_limits',
        ),
        migrations.RemoveField(
            model_name='historicalstrategyversion',
            name='refinancing_products',
        ),
        migrations.RemoveField(
            model_name='strategyversion',
            name='commission_scheme',
        ),
        migrations.RemoveField(
            model_name='strategyversion',
            name='exoneration_limits',
        ),
        migrations.RemoveField(
            model_name='strategyversion',
            name='refinancing_products',
        ),
    ]
