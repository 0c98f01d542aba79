import hashlib
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolio import snapshot
from portfolio.exceptions import SnapshotError
from portfolio.models import Address, Client, Credit, CreditPosition, SnapshotImport
from portfolio.services import organisation_load, snapshot_import
from tests.support import ORGANISATION, row, write_snapshot

D1, D2 = date(2026, 11, 23), date(2026, 11, 24)


@pytest.fixture(autouse=True)
def staged_in_halves(monkeypatch):
    """Every file of more than one line here is staged in two halves, as a big file on
    disk is (the other modules' small files and streams take one COPY)."""
    monkeypatch.setattr(snapshot, "HALVES_MIN_BYTES", 0)
    halves = []
    real = snapshot._PostgresStage._copy_halves

    def spy(self, *args, **kwargs):
        halves.append(real(self, *args, **kwargs))
        return halves[-1]

    monkeypatch.setattr(snapshot._PostgresStage, "_copy_halves", spy)
    return halves


def staging_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'snapshot_raw%%'")
        return [name for (name,) in cursor.fetchall()]


def table_state():
    """Everything the import writes, to compare before and after."""
    return (
        list(Client.objects.order_by("code").values()),
        list(Credit.objects.order_by("code").values()),
        list(Address.objects.order_by("id").values()),
        list(CreditPosition.objects.order_by("business_date", "credit_id").values()),
    )


@pytest.fixture
def two_clients(tmp_path, organisation):
    rows = [
        row(),
        row(credit_code="CR2", days_past_due="40", overdue_installments="2", agency_code="AG01"),
        row(
            credit_code="CR3",
            client_code="C2",
            client_name="Juan Mamani Condori",
            document_id="20123456789",
            currency="USD",
            agency_code="AG02",
            days_past_due="0",
            overdue_installments="0",
            overdue_amount="0",
            lat="",
            lon="",
            phone="",
            quadrant_code="",
        ),
    ]
    return write_snapshot(tmp_path / "d1.csv", rows)


@pytest.mark.django_db(transaction=True)
def test_import_loads_clients_credits_positions(two_clients):
    result = snapshot_import(source=two_clients, business_date=D1)
    assert (result.rows, result.credits_new, result.clients_new) == (3, 3, 2)
    rosa = Client.objects.get(code="C1")
    assert rosa.name == "Rosa Quispe Mamani" and rosa.agency.code == "AG01"
    assert rosa.credits.count() == 2
    position = CreditPosition.objects.get(business_date=D1, credit__code="CR1")
    assert position.principal_balance == Decimal("3200.50")
    assert position.days_past_due == 12 and position.client_id == rosa.id
    home = Address.objects.get(client=rosa, kind="home")
    # No quadrant_code: the quadrant containing the coordinates.
    assert home.quadrant.code == "Q0001" and home.subzone.code == "SZ01"
    # No coordinates: the agency's first subzone by code.
    juan_home = Address.objects.get(client__code="C2")
    assert juan_home.quadrant is None and juan_home.subzone.code == "SZ10"
    assert Credit.objects.get(code="CR3").currency == "USD"


@pytest.mark.django_db(transaction=True)
def test_same_snapshot_twice_changes_nothing(two_clients):
    snapshot_import(source=two_clients, business_date=D1)
    before = table_state()
    result = snapshot_import(source=two_clients, business_date=D1)
    assert result.unchanged
    assert table_state() == before
    assert SnapshotImport.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_date_before_the_latest_takes_its_own_file_again_and_no_other(two_clients, tmp_path):
    snapshot_import(source=two_clients, business_date=D1)
    snapshot_import(source=two_clients, business_date=D2)
    before = table_state()
    # The same file, from disk and as a stream (core banking's upload): nothing to do.
    assert snapshot_import(source=two_clients, business_date=D1).unchanged
    with two_clients.open("rb") as stream:
        assert snapshot_import(source=stream, business_date=D1).unchanged
    # Another file for that date: refused, a later date is loaded.
    other = write_snapshot(tmp_path / "other.csv", [row(days_past_due="41")])
    with pytest.raises(SnapshotError, match="a snapshot for a later date"):
        snapshot_import(source=other, business_date=D1)
    assert table_state() == before
    sha = hashlib.sha256(two_clients.read_bytes()).hexdigest()
    assert SnapshotImport.objects.get(business_date=D1).sha256 == sha


@pytest.mark.django_db(transaction=True)
def test_missing_credit_leaves_the_portfolio(two_clients, tmp_path):
    snapshot_import(source=two_clients, business_date=D1)
    next_day = write_snapshot(
        tmp_path / "d2.csv", [row(days_past_due="13"), row(credit_code="CR3", client_code="C2")]
    )
    result = snapshot_import(source=next_day, business_date=D2)
    assert result.credits_left == 1
    assert Credit.objects.get(code="CR2").left_on == D2
    assert Credit.objects.filter(left_on__isnull=True).count() == 2
    assert CreditPosition.objects.filter(business_date=D2).count() == 2
    assert CreditPosition.objects.filter(business_date=D1).count() == 3
    assert CreditPosition.objects.get(business_date=D2, credit__code="CR1").days_past_due == 13
    # The credit that came back re-enters the portfolio.
    back = write_snapshot(tmp_path / "d3.csv", [row(), row(credit_code="CR2")])
    snapshot_import(source=back, business_date=date(2026, 11, 25))
    assert Credit.objects.get(code="CR2").left_on is None


@pytest.mark.django_db(transaction=True)
def test_bad_rows_are_reported_by_line_and_nothing_loads(organisation, tmp_path):
    good = write_snapshot(tmp_path / "good.csv", [row()])
    snapshot_import(source=good, business_date=D1)
    before = table_state()
    bad = write_snapshot(
        tmp_path / "bad.csv",
        [
            row(credit_code="CR10"),
            row(credit_code="CR11", overdue_amount="12,50"),
            row(credit_code="CR12", agency_code="AG99"),
            row(credit_code="CR10", next_due_date="2026-02-30"),
            row(credit_code="CR13", client_name="", currency="EUR"),
            row(credit_code="CR14", overdue_installments="13"),
        ],
    )
    with pytest.raises(SnapshotError) as error:
        snapshot_import(source=bad, business_date=D2)
    found = {(e.line, e.field) for e in error.value.errors}
    assert found == {
        (3, "overdue_amount"),
        (4, "agency_code"),
        (5, "credit_code"),
        (5, "next_due_date"),
        (6, "client_name"),
        (6, "currency"),
        (7, "overdue_installments"),
    }
    message = {str(e) for e in error.value.errors}
    assert (
        "line 4, agency_code: 'AG99' is not a known agency (load the organisation first)" in message
    )
    assert table_state() == before
    assert not SnapshotImport.objects.filter(business_date=D2).exists()


@pytest.mark.django_db(transaction=True)
def test_missing_required_column_and_ragged_row(organisation, tmp_path):
    path = write_snapshot(
        tmp_path / "cols.csv", [row()], columns=["credit_code", "client_code", "currency"]
    )
    with pytest.raises(SnapshotError, match="missing required column"):
        snapshot_import(source=path, business_date=D1)
    ragged = write_snapshot(tmp_path / "ragged.csv", [row(), row(credit_code="CR2")])
    text = ragged.read_text().splitlines()
    text[2] += ",extra"
    ragged.write_text("\n".join(text) + "\n")
    with pytest.raises(SnapshotError) as error:
        snapshot_import(source=ragged, business_date=D1)
    assert [(e.line, e.message) for e in error.value.errors] == [
        (3, "has more fields than the header")
    ]
    assert Credit.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_only_required_columns_is_enough(organisation, tmp_path):
    required = [
        "credit_code", "client_code", "client_name", "document_id", "product", "currency",
        "disbursed_amount", "principal_balance", "overdue_amount", "overdue_installments",
        "total_installments", "days_past_due", "agency_code",
    ]  # fmt: skip
    path = write_snapshot(tmp_path / "min.csv", [row()], columns=required)
    snapshot_import(source=path, business_date=D1)
    position = CreditPosition.objects.get()
    assert position.next_due_date is None and position.late_interest == 0


@pytest.mark.django_db(transaction=True)
def test_command_exits_non_zero_naming_the_line(organisation, tmp_path, capsys):
    bad = write_snapshot(tmp_path / "bad.csv", [row(), row(credit_code="CR9", days_past_due="x")])
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("import_snapshot", str(bad), "--date", "2026-11-24")
    assert "line 3, days_past_due" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_a_changed_row_rewrites_its_client_and_address(two_clients, tmp_path):
    snapshot_import(source=two_clients, business_date=D1)
    changed = write_snapshot(
        tmp_path / "d2.csv",
        [
            row(client_name="Rosa Quispe de Huamán", phone="912345678", address="Jr. Nuevo 1"),
            row(credit_code="CR2", days_past_due="41", overdue_installments="2",
                client_name="Rosa Quispe de Huamán", phone="912345678", address="Jr. Nuevo 1"),
            row(credit_code="CR3", client_code="C2", client_name="Juan Mamani Condori",
                document_id="20123456789", currency="USD", agency_code="AG02",
                days_past_due="0", overdue_installments="0", overdue_amount="0",
                lat="", lon="", phone="", quadrant_code=""),
        ],
    )  # fmt: skip
    result = snapshot_import(source=changed, business_date=D2)
    assert (result.clients_new, result.credits_new, result.credits_left) == (0, 0, 0)
    rosa = Client.objects.get(code="C1")
    assert (rosa.name, rosa.phone) == ("Rosa Quispe de Huamán", "912345678")
    assert Address.objects.get(client=rosa, kind="home").text == "Jr. Nuevo 1"
    assert CreditPosition.objects.get(business_date=D2, credit__code="CR2").days_past_due == 41
    assert Client.objects.get(code="C2").name == "Juan Mamani Condori"


@pytest.mark.django_db(transaction=True)
def test_a_repeated_credit_code_alone_is_refused(organisation, tmp_path):
    path = write_snapshot(tmp_path / "dup.csv", [row(), row(credit_code="CR2"), row()])
    with pytest.raises(SnapshotError) as error:
        snapshot_import(source=path, business_date=D1)
    assert [str(e) for e in error.value.errors] == [
        "line 4, credit_code: 'CR1' appears more than once; first at line 2"
    ]
    assert Credit.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_tie_in_days_past_due_goes_to_the_credit_listed_first(
    organisation, tmp_path, staged_in_halves
):
    """The client's agency is its most delinquent credit's; in a tie, the one listed
    first, also when the two lines were staged in different halves of the file (the
    first one further into its half than the second one into its own)."""
    others = [row(credit_code=f"CR{n}", client_code=f"C{n}") for n in range(20, 26)]
    for first, second, day in (("AG02", "AG01", D1), ("AG01", "AG02", D2)):
        path = write_snapshot(
            tmp_path / f"{day}.csv",
            [
                *others[:3],
                row(credit_code="CR8", agency_code=first, days_past_due="30"),
                row(credit_code="CR9", agency_code=second, days_past_due="30"),
                *others[3:],
            ],
        )
        data = path.read_bytes()
        assert data.index(b"CR8,") < len(data) // 2 < data.index(b"CR9,")
        snapshot_import(source=path, business_date=day)
        assert Client.objects.get(code="C1").agency.code == first
    assert staged_in_halves == ([True, True] if connection.vendor == "postgresql" else [])


# --- Two halves at once ------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_halves_write_what_one_copy_writes_and_leave_no_staging_table(
    two_clients, tmp_path, monkeypatch, staged_in_halves
):
    snapshot_import(source=two_clients, business_date=D1)
    assert staged_in_halves == [True]
    halves = written()
    Address.objects.all().delete()
    CreditPosition.objects.all().delete()
    Credit.objects.all().delete()
    Client.objects.all().delete()
    SnapshotImport.objects.all().delete()
    monkeypatch.setattr(snapshot, "HALVES_MIN_BYTES", 1 << 40)
    snapshot_import(source=two_clients, business_date=D1)
    assert staged_in_halves == [True, False]
    assert written() == halves
    assert staging_tables() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_split_inside_a_quoted_line_break_stages_the_file_in_one_copy(
    organisation, tmp_path, staged_in_halves
):
    """The middle of the file falls inside an address written over two lines: the
    first half ends in an open quote, which COPY refuses, and one COPY reads it."""
    address = (
        "Mz. B Lt. 4, " + "AAHH Los Jardines de Villa El Salvador, " * 5 + "\nfrente al mercado"
    )
    rows = [row(credit_code=f"CR{n}", client_code=f"C{n}") for n in range(1, 3)]
    rows.append(row(credit_code="CR50", client_code="C50", address=address))
    rows += [row(credit_code=f"CR{n}", client_code=f"C{n}") for n in range(3, 7)]
    path = write_snapshot(tmp_path / "quoted.csv", rows)
    data = path.read_bytes()
    start = data.index(b"Mz. B Lt. 4")
    assert start < len(data) // 2 < data.index(b"\nfrente")  # the split lands inside
    result = snapshot_import(source=path, business_date=D1)
    assert result.rows == 7 and staged_in_halves == [False]
    assert Address.objects.get(client__code="C50").text == address
    assert staging_tables() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_a_second_connection_the_file_takes_one_copy(
    two_clients, monkeypatch, staged_in_halves
):
    import psycopg2

    def refused(*args, **kwargs):
        raise psycopg2.OperationalError("sorry, too many clients already")

    monkeypatch.setattr(connection, "get_new_connection", refused)
    result = snapshot_import(source=two_clients, business_date=D1)
    assert result.rows == 3 and staged_in_halves == [False]
    assert CreditPosition.objects.filter(business_date=D1).count() == 3
    assert staging_tables() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refused_or_repeated_file_leaves_no_staging_table_nor_an_orphan(
    two_clients, tmp_path, staged_in_halves
):
    # A staging table of an import whose connection is gone (pid 1 is no backend).
    with connection.cursor() as cursor:
        cursor.execute("CREATE UNLOGGED TABLE snapshot_raw_1 (half smallint)")
        cursor.execute("CREATE UNLOGGED TABLE snapshot_raw_1_1 (half smallint)")
    snapshot_import(source=two_clients, business_date=D1)
    assert staging_tables() == []
    assert snapshot_import(source=two_clients, business_date=D1).unchanged
    bad = write_snapshot(
        tmp_path / "bad.csv", [row(), row(credit_code="CR2"), row(credit_code="CR3"),
                               row(credit_code="CR4", days_past_due="x")]
    )  # fmt: skip
    with pytest.raises(SnapshotError) as error:
        snapshot_import(source=bad, business_date=D2)
    assert [(e.line, e.field) for e in error.value.errors] == [(5, "days_past_due")]
    assert staging_tables() == []


# --- A first load: foreign keys and indexes set aside, then rebuilt in bulk ---------


def catalog() -> tuple[list, list]:
    """The constraints and indexes of the tables a bulk load writes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
            [snapshot.BULK_TABLES],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = ANY(%s::regclass[]) ORDER BY 1",
            [snapshot.BULK_TABLES],
        )
        return constraints, cursor.fetchall()


def written() -> tuple[list, ...]:
    """What the import wrote, by codes (ids and dates differ between two loads)."""
    return (
        list(
            Client.objects.order_by("code").values_list(
                "code", "name", "document_id", "phone", "email", "agency__code"
            )
        ),
        list(
            Credit.objects.order_by("code").values_list(
                "code", "client__code", "product", "currency", "disbursed_amount", "agency__code"
            )
        ),
        list(
            Address.objects.order_by("client__code").values_list(
                "client__code", "kind", "text", "lat", "lon", "quadrant__code", "subzone__code"
            )
        ),
        list(
            CreditPosition.objects.order_by("credit__code").values_list(
                "credit__code", "client__code", "days_past_due", "principal_balance"
            )
        ),
    )


def bulk_statements(queries) -> list[str]:
    """The statements that set keys and indexes aside and back (not the partition's)."""
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("DROP INDEX")
        or any(f"ALTER TABLE {table} " in q["sql"] for table in snapshot.BULK_TABLES)
    ]


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the bulk path is PostgreSQL's (SQLite checks no keys row by row)")


@pytest.mark.django_db(transaction=True)
def test_a_first_load_sets_keys_and_indexes_aside_and_writes_the_same(
    postgres_only, two_clients, monkeypatch
):
    before = catalog()
    snapshot_import(source=two_clients, business_date=D1)  # 3 credits: row by row
    one_by_one = written()
    assert one_by_one[1] and catalog() == before

    call_command("flush", interactive=False)
    organisation_load(document=ORGANISATION)
    monkeypatch.setattr(snapshot, "BULK_NEW_CREDITS", 1)
    with CaptureQueriesContext(connection) as queries:
        snapshot_import(source=two_clients, business_date=D2)
    statements = bulk_statements(queries.captured_queries)
    assert any(s.startswith("DROP INDEX") for s in statements)
    assert any("ADD CONSTRAINT" in s for s in statements)
    assert written() == one_by_one
    assert catalog() == before  # every key and index back, as Django made them


@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_that_fails_leaves_keys_indexes_and_tables_as_they_were(
    postgres_only, two_clients, monkeypatch
):
    before = catalog()
    monkeypatch.setattr(snapshot, "BULK_NEW_CREDITS", 1)

    def fail(cursor, saved):
        raise RuntimeError("server gone")

    monkeypatch.setattr(snapshot, "foreign_keys_restore", fail)
    with pytest.raises(RuntimeError, match="server gone"):
        snapshot_import(source=two_clients, business_date=D1)
    assert catalog() == before
    assert not Client.objects.exists() and not Credit.objects.exists()
    assert not SnapshotImport.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_night_with_fewer_new_credits_than_the_portfolio_holds_is_not_bulk(
    postgres_only, two_clients, tmp_path, monkeypatch
):
    snapshot_import(source=two_clients, business_date=D1)
    monkeypatch.setattr(snapshot, "BULK_NEW_CREDITS", 1)
    rows = [row(), row(credit_code="CR9", client_code="C9", document_id="40999999")]
    with CaptureQueriesContext(connection) as queries:
        snapshot_import(source=write_snapshot(tmp_path / "d2.csv", rows), business_date=D2)
    assert bulk_statements(queries.captured_queries) == []
    assert Credit.objects.filter(code="CR9").exists()
