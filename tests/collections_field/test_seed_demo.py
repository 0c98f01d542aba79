import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from portfolio.models import CreditPosition, Role, StaffMember
from strategy.selectors import active_strategy


@pytest.mark.django_db(transaction=True)
def test_seed_demo_prints_a_login_per_role_that_works(client, capsys, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--credits", "300", "--seed", "7")
    out = capsys.readouterr().out
    logins = re.findall(r"^\s+(.+?)\s{2,}(\S+)\s+password: (\S+)$", out, re.MULTILINE)
    assert len(logins) == 5
    assert active_strategy() is not None
    assert CreditPosition.objects.count() == 300
    roles = {StaffMember.objects.get(user__username=u).role for _label, u, _p in logins}
    assert roles == {r.value for r in Role if r != Role.SERVICIO}

    # The asesor can sign in and lands on its list, not empty; a wrong password cannot.
    _label, username, password = logins[0]
    login = reverse("login")
    assert client.post(login, {"username": username, "password": "nope"}).status_code == 200
    response = client.post(login, {"username": username, "password": password}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("worklist")
    assert response.context["user"].username == username
    assert response.context["rows"], "the demo asesor's list is empty"


@pytest.mark.django_db
def test_home_requires_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.mark.django_db
def test_pages_speak_peruvian_spanish_first(client):
    spanish = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es-PE").content.decode()
    assert "Iniciar sesión" in spanish and 'lang="es-pe"' in spanish
    english = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sign in" in english


def test_money_is_shown_as_soles():
    from decimal import Decimal

    from portfolio.templatetags.money import format_money

    assert format_money(Decimal("1234.565")) == "S/ 1,234.57"
    assert format_money(Decimal("-50"), "USD") == "-US$ 50.00"
