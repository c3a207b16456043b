"""/openapi.json documents every /v1 route truthfully, and /docs renders it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel

from switchboard.entrypoints.http.blueprints.auth import LoginIn, RefreshIn, RegisterIn
from switchboard.entrypoints.http.blueprints.customers import CustomerIn, CustomerPatch
from switchboard.entrypoints.http.blueprints.tenant import TenantPatch

AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}
REQUEST_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("/v1/auth/register", "post"): RegisterIn,
    ("/v1/auth/login", "post"): LoginIn,
    ("/v1/auth/refresh", "post"): RefreshIn,
    ("/v1/auth/logout", "post"): RefreshIn,
    ("/v1/tenant", "patch"): TenantPatch,
    ("/v1/customers", "post"): CustomerIn,
    ("/v1/customers/{customer_id}", "patch"): CustomerPatch,
}
PUBLIC_OPERATIONS = {
    (path, "post")
    for path in [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/mfa/verify",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/auth/password/forgot",
        "/v1/auth/password/reset",
        "/v1/auth/email/verify",
        "/v1/auth/unlock",
        "/v1/auth/invitations/accept",
        "/v1/admin/auth/login",
        "/v1/webhooks/{provider}/{connection_id}",
    ]
} | {
    (path, "get")
    for path in [
        "/v1/auth/sign-in",
        "/v1/auth/sign-in/{provider}",
        "/v1/auth/sign-in/{provider}/callback",
        "/v1/calendar-connections/{provider}/callback",
    ]
}


@pytest.fixture(scope="module")
async def document(client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = await response.get_json()
    return body


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _v1_routes(app) -> set[tuple[str, str]]:
    return {
        (_openapi_path(rule.rule), method.lower())
        for rule in getattr(app, "app", app).url_map.iter_rules()  # the fixture yields a TestApp
        if rule.rule.startswith("/v1/") or rule.rule == "/v1"
        for method in (rule.methods or set()) - AUTOMATIC_METHODS
    }


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(document, node)


async def test_the_document_is_openapi_3_1_with_title_and_version(document):
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Switchboard API"
    assert document["info"]["version"]


async def test_every_v1_route_appears_with_every_method(app, document):
    routes = _v1_routes(app)
    assert len(routes) >= 12

    documented = set(_operations(document))

    assert routes - documented == set()


async def test_nothing_is_documented_that_the_app_does_not_serve(app, document):
    documented = {key for key in _operations(document) if key[0].startswith("/v1/")}

    assert documented - _v1_routes(app) == set()


async def test_health_and_metrics_routes_stay_out_of_the_document(document):
    assert not [path for path in document["paths"] if not path.startswith("/v1/")]


async def test_every_operation_has_tags_and_a_summary(document):
    for (path, method), operation in _operations(document).items():
        assert operation.get("tags"), f"{method.upper()} {path} has no tags"
        assert (operation.get("summary") or "").strip(), f"{method.upper()} {path} has no summary"


async def test_operation_ids_are_unique(document):
    ids = [operation["operationId"] for operation in _operations(document).values()]

    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("key", "model"), list(REQUEST_MODELS.items()), ids=lambda v: str(v))
async def test_request_bodies_are_the_pydantic_models(document, key, model):
    operation = _operations(document)[key]

    schema = _resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])

    expected = model.model_json_schema()
    assert schema["title"] == model.__name__
    assert set(schema["properties"]) == set(model.model_fields)
    assert set(schema.get("required", [])) == set(expected.get("required", []))
    assert schema.get("additionalProperties") is False  # unknown fields are rejected, and say so


async def test_every_documented_request_body_is_a_named_strict_model(document):
    with_bodies = {key: op for key, op in _operations(document).items() if "requestBody" in op}
    assert set(REQUEST_MODELS) <= set(with_bodies)

    for (path, method), operation in with_bodies.items():
        # JSON everywhere but file uploads, which are multipart.
        [(media_type, body)] = operation["requestBody"]["content"].items()
        assert media_type in ("application/json", "multipart/form-data"), (path, method, media_type)
        schema = _resolve(document, body["schema"])
        assert schema.get("title"), f"{method.upper()} {path} has an anonymous body"
        assert schema.get("additionalProperties") is False, f"{method.upper()} {path} accepts unknown fields"


@pytest.mark.parametrize(
    ("key", "status", "model_name"),
    [
        (("/v1/auth/register", "post"), "201", "RegisteredOut"),
        (("/v1/auth/login", "post"), "200", "TokenOut"),
        (("/v1/auth/refresh", "post"), "200", "TokenOut"),
        (("/v1/me", "get"), "200", "MeOut"),
        (("/v1/tenant", "get"), "200", "TenantOut"),
        (("/v1/tenant", "patch"), "200", "TenantOut"),
        (("/v1/customers", "post"), "201", "CustomerOut"),
        (("/v1/customers", "get"), "200", "CustomerListOut"),
        (("/v1/customers/{customer_id}", "get"), "200", "CustomerOut"),
        (("/v1/customers/{customer_id}", "patch"), "200", "CustomerOut"),
    ],
    ids=lambda v: str(v),
)
async def test_success_responses_reference_the_response_models(document, key, status, model_name):
    response = _operations(document)[key]["responses"][status]

    schema = _resolve(document, response["content"]["application/json"]["schema"])

    assert schema["title"] == model_name


async def test_the_list_query_parameters_are_documented_with_their_bounds(document):
    parameters = {p["name"]: p for p in _operations(document)[("/v1/customers", "get")]["parameters"]}

    assert {"limit", "cursor", "q"} <= set(parameters)
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["limit"]["schema"]["maximum"] == 100


async def test_bearer_authentication_is_declared(document):
    scheme = document["components"]["securitySchemes"]["bearer"]

    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


async def test_operations_that_need_no_token_are_documented_as_needing_none(document):
    for key in PUBLIC_OPERATIONS:
        operation = _operations(document)[key]
        effective = operation.get("security", document.get("security", []))
        assert effective in ([], [{}]), f"{key} is documented as needing {effective}"


async def test_operations_that_need_a_token_are_documented_as_needing_the_bearer_scheme(document):
    for key, operation in _operations(document).items():
        if key in PUBLIC_OPERATIONS:
            continue
        effective = operation.get("security", document.get("security", []))
        assert {"bearer": []} in effective, f"{key} does not declare the bearer scheme"


async def test_docs_answers_200_with_html_that_loads_the_document(client):
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = (await response.get_data()).decode()
    assert "<head>" in html
    assert "swagger-ui" in html
    assert 'url: "/openapi.json"' in html


async def test_every_operation_documents_its_errors_as_problem_json(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = operation["responses"]["default"]["content"]["application/problem+json"]
            assert errors["schema"] == {"$ref": "#/components/schemas/Problem"}, (method, path)
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "code",
        "request_id",
    }


async def test_operations_that_answer_without_a_body_document_a_204(document):
    assert "204" in document["paths"]["/v1/customers/{customer_id}"]["delete"]["responses"]
    assert "204" in document["paths"]["/v1/auth/logout"]["post"]["responses"]


async def test_resource_ids_in_paths_are_documented_as_uuids(document):
    (parameter,) = document["paths"]["/v1/customers/{customer_id}"]["get"]["parameters"]
    assert parameter["name"] == "customer_id"
    assert parameter["schema"] == {"type": "string", "format": "uuid"}
