"""Property-based run of the published OpenAPI schema (bounded examples): no request
may produce a 5xx, and no response may break the schema it is documented with."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from config.wsgi import application
from portfolio.services import SCOPES, token_issue


@pytest.fixture
def bearer(world) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_issue(name="core-banking", scopes=SCOPES).raw}


# The schema view needs no database: it is read once, when the module is collected.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_honours_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=[not_a_server_error, response_schema_conformance])
