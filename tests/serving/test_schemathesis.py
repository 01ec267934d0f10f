"""Schemathesis against the app's own OpenAPI schema, in process, bounded to a few examples.

Authenticated with a key of a role the operation is open to, every operation must answer
without a server error and as its schema says; with no or a bad key, only 401 or 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from serving.access.keys import Role
from serving.access.policy import ROUTE_POLICIES, policy_for
from serving.app import create_app
from serving.settings import ServiceSettings
from tests.serving.access_keys import KeyedClient
from tests.serving.conftest import TrainedModel

PREFERRED = (Role.OFFICER, Role.RISK_MANAGER, Role.ADMIN)
# The JSON schema cannot say everything validation checks (an HS code's digit count once its
# separators go, an itinerary string's countries, unique ids): schema-valid declarations may
# still get 422.
SCHEMA_LOOSER_THAN_VALIDATION = [checks.positive_data_acceptance]
BOUNDED = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture
def keyed(store: TrainedModel, tmp_path: Any) -> Iterator[KeyedClient]:
    """The app with its lifespan running (model loaded, store open) and one key per role."""
    service = ServiceSettings(
        model_uri=store.model_uri,
        num_threads=1,
        database_url=f"sqlite:///{tmp_path / 'shiprisk.db'}",
    )
    with KeyedClient(create_app(service)) as client:
        yield client


def operations(client: KeyedClient) -> list[Any]:
    """Every operation of the app's OpenAPI document, loaded in process from the app."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    return [result.ok() for result in schema.get_all_operations()]


def key_for(keyed: KeyedClient, method: str, path: str) -> str | None:
    policy = policy_for(method, path)
    if policy is None:
        return None
    return keyed.keys[next(role for role in PREFERRED if role in policy.roles)]


def test_the_schema_covers_every_keyed_route(keyed: KeyedClient) -> None:
    found = {(op.method.upper(), op.path) for op in operations(keyed)}
    assert set(ROUTE_POLICIES) <= found
    assert found - set(ROUTE_POLICIES) == {
        ("GET", "/livez"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    }


def answers_as_documented(operation: Any, headers: dict[str, str]) -> None:
    """A few generated requests: no server error, every response as the schema says."""

    @given(case=operation.as_strategy())
    @BOUNDED
    def run(case: Any) -> None:
        response = case.call_and_validate(
            headers=headers, excluded_checks=SCHEMA_LOOSER_THAN_VALIDATION
        )
        assert response.status_code not in (401, 403), operation.path  # the key was used

    run()


def test_authenticated_operations_answer_as_documented(keyed: KeyedClient) -> None:
    for operation in operations(keyed):
        key = key_for(keyed, operation.method, operation.path)
        answers_as_documented(operation, {} if key is None else {"Authorization": f"Bearer {key}"})


BAD_CREDENTIALS = [
    {"Authorization": ""},
    {"Authorization": "Bearer srk_0123456789ab_" + "A" * 43},
    {"X-API-Key": "not a key"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
]


def refused_without_a_key(operation: Any) -> None:
    """A few generated requests, each sent with every kind of bad credentials: 401 or 403."""

    @given(case=operation.as_strategy())
    @BOUNDED
    def run(case: Any) -> None:
        for credentials in BAD_CREDENTIALS:
            # Drop whatever credentials the generator made up, then send the bad ones.
            case.headers = {
                k: v
                for k, v in (case.headers or {}).items()
                if k.lower() not in {"authorization", "x-api-key"}
            }
            response = case.call(headers=credentials)
            assert response.status_code in (401, 403), (credentials, response.status_code)

    run()


def test_without_a_valid_key_only_401_or_403(keyed: KeyedClient) -> None:
    for operation in operations(keyed):
        if policy_for(operation.method, operation.path) is not None:  # probes stay open
            refused_without_a_key(operation)
