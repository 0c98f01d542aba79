"""The admin: read-only tables, publishing a pasted file, downloading, re-publishing."""

import pytest
from django.urls import reverse

from strategy.models import StrategyVersion
from strategy.services import strategy_dump, strategy_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(small_text) -> StrategyVersion:
    return strategy_publish(document=small_text).version


def test_pages_render_read_only(admin_client, published):
    assert admin_client.get(reverse("admin:strategy_strategyversion_changelist")).status_code == 200
    page = admin_client.get(reverse("admin:strategy_strategyversion_change", args=[published.pk]))
    assert page.status_code == 200
    assert b"Grandes: selectiva" in page.content
    bas = admin_client.get(reverse("admin:strategy_bastransition_changelist"), {"type": "M"})
    assert bas.status_code == 200
    assert b"X1" in bas.content
    assert admin_client.get(reverse("admin:strategy_bastransition_add")).status_code == 403


def test_download_is_the_dump(admin_client, published):
    response = admin_client.get(
        reverse("admin:strategy_strategyversion_download", args=[published.pk])
    )
    assert response.status_code == 200
    assert response.content.decode() == strategy_dump(version=published)


def test_publish_from_the_admin(admin_client, admin_user, published):
    url = reverse("admin:strategy_strategyversion_publish")
    form = admin_client.get(url)
    assert form.status_code == 200
    assert "usd_rate: 3.8" in form.context["form"].initial["document"]

    bad = strategy_dump().replace("to: X2}", "to: Z99}")
    page = admin_client.post(url, {"document": bad, "source_name": "x"})
    assert page.status_code == 200
    assert any('to "Z99" is not a suggested action' in e for e in page.context["errors"])
    assert "to &quot;Z99&quot; is not a suggested action" in page.content.decode()
    assert StrategyVersion.objects.count() == 1

    good = strategy_dump().replace("usd_rate: 3.8", "usd_rate: 3.9").replace("\n", "\r\n")
    response = admin_client.post(url, {"document": good, "source_name": "edited"})
    assert response.status_code == 302
    version = StrategyVersion.objects.get(is_active=True)
    assert (version.number, version.published_by, version.source_name) == (2, admin_user, "edited")


def test_republish_an_older_version(admin_client, published, small_text):
    strategy_publish(document=small_text.replace("usd_rate: 3.8", "usd_rate: 3.9"))
    response = admin_client.post(
        reverse("admin:strategy_strategyversion_changelist"),
        {"action": "republish", "_selected_action": [published.pk]},
    )
    assert response.status_code == 302
    active = StrategyVersion.objects.get(is_active=True)
    assert active.number == 3
    assert active.sha256 == published.sha256
