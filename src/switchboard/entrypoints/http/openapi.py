"""The OpenAPI document: quart-schema's, completed with what every route shares."""

from __future__ import annotations

from typing import Any

from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing import BaseConverter, IntegerConverter, UUIDConverter

from switchboard.entrypoints.http.blueprints.schemas import Problem
from switchboard.entrypoints.http.responses import PROBLEM_JSON

_PROBLEM_REF = "#/components/schemas/Problem"


class SwitchboardOpenAPI(OpenAPIProvider):
    def schema(self) -> dict[str, Any]:
        document = super().schema()
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        document["components"]["schemas"].update(problem.pop("$defs", {}))
        document["components"]["schemas"]["Problem"] = problem
        for operations in document["paths"].values():
            for operation in operations.values():
                # Status keys as strings, as OpenAPI writes them (and "default" sorts among them).
                responses = {str(status): answer for status, answer in operation.get("responses", {}).items()}
                operation["responses"] = responses
                if not any(status.startswith("2") for status in responses):
                    responses["204"] = {"description": "Done; no content."}
                # Every error of every route has the same shape.
                responses["default"] = {
                    "description": "An error: application/problem+json with a stable `code`.",
                    "content": {PROBLEM_JSON: {"schema": {"$ref": _PROBLEM_REF}}},
                }
        return document

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, UUIDConverter):
            parameter["schema"] = {"type": "string", "format": "uuid"}
        if isinstance(converter, IntegerConverter):  # the bounds a route declares, as served
            bounds = {"minimum": converter.min, "maximum": converter.max}
            parameter["schema"] |= {name: value for name, value in bounds.items() if value is not None}
        return parameter
