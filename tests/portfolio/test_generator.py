"""The synthetic portfolio generator: contract shape, consistency with its organisation
file, realism of the distributions, determinism. No database needed."""

import csv
import io
import math
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from portfolio.generator import _n_agencies, default_org_path, generate_portfolio

CONTRACT = [  # DOMAIN.md 7.1, in this order
    "credit_code",
    "client_code",
    "client_name",
    "document_id",
    "product",
    "currency",
    "disbursed_amount",
    "principal_balance",
    "overdue_amount",
    "overdue_installments",
    "total_installments",
    "days_past_due",
    "agency_code",
    "next_due_date",
    "origin_officer_code",
    "phone",
    "email",
    "address",
    "lat",
    "lon",
    "quadrant_code",
    "late_interest",
    "collection_fees",
    "commissions",
]
CREDITS = 4000
BUSINESS_DATE = date(2025, 3, 3)
USD_RATE = 3.75
METRES_PER_DEGREE = 111_320.0


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    result = generate_portfolio(
        credits=CREDITS,
        seed=7,
        out=folder / "snap.csv",
        org_out=folder / "snap.organisation.yaml",
        business_date=BUSINESS_DATE,
    )
    raw = result.out.read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    org = yaml.safe_load(result.org_out.read_text(encoding="utf-8"))
    return result, raw, rows, org


def test_header_is_the_contract_and_one_row_per_credit(generated):
    result, raw, rows, _org = generated
    assert raw.split(b"\n", 1)[0].decode() == ",".join(CONTRACT)
    assert len(rows) == CREDITS == result.credits
    assert raw.endswith(b"\n") and raw.count(b"\n") == CREDITS + 1
    assert result.csv_bytes == len(raw)
    assert [r["credit_code"] for r in rows] == [f"CR{k:08d}" for k in range(1, CREDITS + 1)]


def test_csv_is_well_formed(generated):
    """Parsing and rewriting with the csv module gives the same bytes: every field that
    needs quotes has them, and nothing else does."""
    _result, raw, _rows, _org = generated
    text = raw.decode("utf-8")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert {len(r) for r in parsed} == {len(CONTRACT)}
    again = io.StringIO(newline="")
    csv.writer(again, lineterminator="\n").writerows(parsed)
    assert again.getvalue() == text


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def run(seed, name):
        r = generate_portfolio(
            credits=1500,
            seed=seed,
            out=tmp_path / f"{name}.csv",
            org_out=tmp_path / f"{name}.yaml",
            business_date=BUSINESS_DATE,
        )
        return r.out.read_bytes(), r.org_out.read_bytes()

    first, again, other = run(1, "a"), run(1, "b"), run(2, "c")
    assert first == again
    assert first[0] != other[0]


def test_every_code_in_the_snapshot_exists_in_the_organisation(generated):
    _result, _raw, rows, org = generated
    assert list(org) == [
        "zones",
        "agencies",
        "subzones",
        "quadrants",
        "officers",
        "external_agencies",
        "people",
    ]
    agencies = {a["code"]: a for a in org["agencies"]}
    subzones = {s["code"]: s for s in org["subzones"]}
    quadrants = {q["code"]: q for q in org["quadrants"]}
    officers = {o["code"]: o for o in org["officers"]}
    for r in rows:
        assert r["agency_code"] in agencies
        assert r["origin_officer_code"] in officers
        assert officers[r["origin_officer_code"]]["agency"] == r["agency_code"]
        assert officers[r["origin_officer_code"]]["external_agency"] is None
        if r["quadrant_code"]:
            quadrant_agency = subzones[quadrants[r["quadrant_code"]]["subzone"]]["agency"]
            assert quadrant_agency == r["agency_code"]


def test_organisation_is_consistent(generated):
    result, _raw, _rows, org = generated
    zones = {z["code"] for z in org["zones"]}
    agencies = {a["code"]: a for a in org["agencies"]}
    subzones = {s["code"]: s for s in org["subzones"]}
    externals = {e["code"] for e in org["external_agencies"]}
    assert all(a["zone"] in zones for a in agencies.values())
    assert all(s["agency"] in agencies for s in subzones.values())
    per_agency = Counter(s["agency"] for s in subzones.values())
    assert set(per_agency) == set(agencies) and all(3 <= n <= 8 for n in per_agency.values())
    for q in org["quadrants"]:
        assert q["subzone"] in subzones and q["size_m"] == 200
        assert -19 < q["lat"] < -3 and -82 < q["lon"] < -68  # Peru
    assert all(any(q["subzone"] == s for q in org["quadrants"]) for s in subzones)

    usernames = [o["username"] for o in org["officers"]] + [p["username"] for p in org["people"]]
    assert len(usernames) == len(set(usernames))
    assert all(u == u.lower() and u.isascii() for u in usernames)
    internal = defaultdict(list)
    for o in org["officers"]:
        assert o["agency"] in agencies
        assert o["subzones"] and all(subzones[s]["agency"] == o["agency"] for s in o["subzones"])
        assert o["tramos"] and set(o["tramos"]) <= {1, 2, 3, 4, 5}
        if o["external_agency"] is None:
            internal[o["agency"]].append(o)
        else:
            assert o["external_agency"] in externals
    assert all(len(internal[a]) >= 2 for a in agencies)
    # Every subzone and tramo has an internal officer to hand cases to.
    for code, subzone in subzones.items():
        covered = {
            t for o in internal[subzone["agency"]] if code in o["subzones"] for t in o["tramos"]
        }
        assert covered == {1, 2, 3, 4, 5}
    assert len(externals) >= 2
    assert all(any(o["external_agency"] == e for o in org["officers"]) for e in externals)

    roles = Counter(p["role"] for p in org["people"])
    assert roles == {"jefe_agencia": len(agencies), "jefe_zonal": len(zones), "gerente": 1}
    assert {"username": "gerencia", "role": "gerente"} in org["people"]
    assert {p["agency"] for p in org["people"] if p["role"] == "jefe_agencia"} == set(agencies)
    assert {p["zone"] for p in org["people"] if p["role"] == "jefe_zonal"} == zones
    assert (result.agencies, result.quadrants) == (len(agencies), len(org["quadrants"]))


def _inside(lat: float, lon: float, q: dict) -> bool:
    half = q["size_m"] / 2
    dy = abs(lat - q["lat"]) * METRES_PER_DEGREE
    dx = abs(lon - q["lon"]) * METRES_PER_DEGREE * math.cos(math.radians(q["lat"]))
    return dy < half and dx < half


def test_coordinates_lie_in_a_quadrant_of_the_clients_agency(generated):
    _result, _raw, rows, org = generated
    subzone_agency = {s["code"]: s["agency"] for s in org["subzones"]}
    quadrants = {q["code"]: q for q in org["quadrants"]}
    by_agency = defaultdict(list)
    for q in org["quadrants"]:
        by_agency[subzone_agency[q["subzone"]]].append(q)
    for r in rows:
        if not r["lat"]:
            assert not r["lon"] and not r["quadrant_code"]
            continue
        lat, lon = float(r["lat"]), float(r["lon"])
        if r["quadrant_code"]:
            assert _inside(lat, lon, quadrants[r["quadrant_code"]])
        else:  # what the importer's lookup will find: exactly one cell, of the right agency
            hits = [q for q in org["quadrants"] if _inside(lat, lon, q)]
            assert len(hits) == 1 and hits[0] in by_agency[r["agency_code"]]


def test_clients_one_agency_about_1_4_credits_each(generated):
    _result, _raw, rows, _org = generated
    by_client = defaultdict(list)
    for r in rows:
        by_client[r["client_code"]].append(r)
    assert 1.3 < len(rows) / len(by_client) < 1.55
    assert max(len(v) for v in by_client.values()) <= 4
    assert sum(len(v) >= 2 for v in by_client.values()) > 0.15 * len(by_client)
    same = ("client_name", "document_id", "agency_code", "phone", "email", "address", "lat")
    for credits in by_client.values():
        assert all(len({c[k] for c in credits}) == 1 for k in same)
    documents = [v[0]["document_id"] for v in by_client.values()]
    assert len(set(documents)) == len(documents)


def _ruc_valid(ruc: str) -> bool:
    total = sum(int(d) * w for d, w in zip(ruc[:10], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10 == int(ruc[10])


def test_documents_names_and_contact_data(generated):
    _result, _raw, rows, _org = generated
    n = len(rows)
    for r in rows:
        doc = r["document_id"]
        assert doc.isdigit() and len(doc) in (8, 11)
        if len(doc) == 11:
            assert doc[:2] in ("10", "20") and _ruc_valid(doc)
        assert len(r["client_name"].split()) >= 3
        assert r["phone"] == "" or (len(r["phone"]) == 9 and r["phone"].startswith("9"))
        assert r["email"] == "" or ("@" in r["email"] and r["email"].isascii())
        assert r["address"].startswith(("Av. ", "Jr. ", "Calle ", "Psje. ", "Mz. "))
    kinds = Counter(len(r["document_id"]) for r in rows)
    assert kinds[8] > 0.8 * n and kinds[11] > 0
    assert 0.08 < sum(r["phone"] == "" for r in rows) / n < 0.25
    assert 0.1 < sum(r["email"] != "" for r in rows) / n < 0.5
    no_quadrant = sum(r["quadrant_code"] == "" and r["lat"] != "" for r in rows) / n
    no_coordinates = sum(r["lat"] == "" for r in rows) / n
    assert 0.05 < no_quadrant < 0.15
    assert 0.01 < no_coordinates < 0.06


def test_both_management_types(generated):
    """Type B (selectiva) is a total exposure above S/ 30,000, USD at 3.75: about 10 %."""
    _result, _raw, rows, _org = generated
    exposure = defaultdict(float)
    for r in rows:
        rate = USD_RATE if r["currency"] == "USD" else 1.0
        exposure[r["client_code"]] += float(r["principal_balance"]) * rate
    share_b = sum(v > 30_000 for v in exposure.values()) / len(exposure)
    assert 0.05 < share_b < 0.2
    assert 0.02 < sum(r["currency"] == "USD" for r in rows) / len(rows) < 0.09
    assert len({r["product"] for r in rows}) >= 5


def _bucket(dpd: int) -> str:
    for upper, name in ((0, "0"), (30, "1-30"), (60, "31-60"), (90, "61-90")):
        if dpd <= upper:
            return name
    return "91+"


def test_days_past_due_and_amounts_are_consistent(generated):
    _result, _raw, rows, _org = generated
    buckets = Counter()
    for r in rows:
        dpd = int(r["days_past_due"])
        buckets[_bucket(dpd)] += 1
        overdue_n, total_n = int(r["overdue_installments"]), int(r["total_installments"])
        disbursed, balance = float(r["disbursed_amount"]), float(r["principal_balance"])
        overdue = float(r["overdue_amount"])
        charges = [float(r[k]) for k in ("late_interest", "collection_fees", "commissions")]
        assert 6 <= total_n <= 48 and 0 < balance <= disbursed
        assert 0 <= overdue_n <= min(total_n, math.ceil(dpd / 30))
        assert date.fromisoformat(r["next_due_date"])
        if dpd == 0:
            assert overdue_n == 0 and overdue == 0 and charges == [0, 0, 0]
            assert 0 <= (date.fromisoformat(r["next_due_date"]) - BUSINESS_DATE).days < 31
        else:
            assert overdue_n >= 1 and overdue > 0 and charges[0] > 0
        for k in ("disbursed_amount", "principal_balance", "overdue_amount", "late_interest"):
            assert len(r[k].split(".")[1]) == 2
    n = len(rows)
    assert 0.55 < buckets["0"] / n < 0.75
    assert buckets["1-30"] > buckets["31-60"] > buckets["61-90"] > 0
    assert buckets["91+"] > 0


def test_agencies_scale_with_the_portfolio():
    assert 3 <= _n_agencies(3_000) <= 8
    assert 60 <= _n_agencies(1_000_000) <= 100


def test_default_org_path():
    assert default_org_path(Path("/x/snap.csv")) == Path("/x/snap.organisation.yaml")


def test_command_writes_both_files(tmp_path):
    out = io.StringIO()
    call_command(
        "generate_portfolio",
        "--credits=300",
        "--seed=3",
        f"--out={tmp_path / 'snap.csv'}",
        "--date=2025-03-03",
        stdout=out,
    )
    assert (tmp_path / "snap.csv").read_text(encoding="utf-8").count("\n") == 301
    assert yaml.safe_load((tmp_path / "snap.organisation.yaml").read_text(encoding="utf-8"))
    assert "300 credits" in out.getvalue() and "snap.organisation.yaml" in out.getvalue()
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(
    "args", [["--credits=0"], ["--credits=10", "--date=2025-02-30"], ["--credits=x"]]
)
def test_command_rejects_bad_arguments(tmp_path, args):
    with pytest.raises(CommandError):
        call_command("generate_portfolio", *args, f"--out={tmp_path / 'snap.csv'}")
