import pytest
from django.core.management import CommandError, call_command

from portfolio.exceptions import OrganisationError
from portfolio.models import Agency, Officer, Quadrant, Role, StaffMember, Subzone, Zone
from portfolio.services import organisation_load
from tests.support import ORGANISATION


@pytest.mark.django_db
def test_load_creates_everything_with_roles(organisation):
    assert Zone.objects.count() == 2
    assert Agency.objects.get(code="AG01").zone.code == "Z1"
    assert Quadrant.objects.get(code="Q0002").subzone.code == "SZ02"
    rosa = Officer.objects.get(code="AS001")
    assert rosa.tramos == [1, 2, 3]
    assert [s.code for s in rosa.subzones.all()] == ["SZ01"]
    assert rosa.user.username == "rquispe"
    assert rosa.user.staff_member.role == Role.ASESOR
    assert rosa.user.groups.filter(name="asesor").exists()
    jefe = StaffMember.objects.get(user__username="jcastro")
    assert (jefe.role, jefe.agency.code) == (Role.JEFE_AGENCIA, "AG01")
    assert StaffMember.objects.get(user__username="mflores").zone.code == "Z1"
    gerente = StaffMember.objects.get(user__username="gerencia")
    assert gerente.role == Role.GERENTE and gerente.user.is_staff
    assert gerente.user.has_perm("strategy.change_bastransition")


@pytest.mark.django_db
def test_reload_updates_by_code_and_deletes_nothing(organisation):
    organisation_load(
        document="""
agencies: [{code: AG01, name: Comas Renovada, zone: Z2}]
officers: [{code: AS003, name: Ana Huamán, agency: AG01, subzones: [SZ02], tramos: [4, 5]}]
"""
    )
    agency = Agency.objects.get(code="AG01")
    assert agency.name == "Comas Renovada" and agency.zone.code == "Z2"
    assert Agency.objects.count() == 2
    assert Subzone.objects.count() == 3 and Quadrant.objects.count() == 3
    assert set(Officer.objects.values_list("code", flat=True)) == {"AS001", "AS002", "AS003"}
    # Loading the same file again changes nothing.
    result = organisation_load(document=ORGANISATION)
    assert result.created == {}


@pytest.mark.django_db
def test_unknown_reference_names_the_row_and_loads_nothing():
    with pytest.raises(OrganisationError) as error:
        organisation_load(
            document="""
zones: [{code: Z1, name: Lima}]
agencies: [{code: AG01, name: Comas, zone: Z9}]
"""
        )
    assert "agencies[0] (code AG01): unknown zone Z9" in error.value.errors
    assert Zone.objects.count() == 0


@pytest.mark.django_db
def test_command_reports_errors(tmp_path):
    path = tmp_path / "org.yaml"
    path.write_text("zones: [{code: Z1}]\n")
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load_organisation", str(path))
    assert Zone.objects.count() == 0
