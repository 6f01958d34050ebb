"""The API schema says every answer an operation can give, so that a client
(and schemathesis, tests/schemathesis) can rely on it: drf-spectacular
documents the successful answers from the views; this hook adds the errors
that DRF and the views give everywhere, each a JSON object ({"detail": ...}
or field -> messages)."""

from __future__ import annotations

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "description": 'An error: {"detail": "..."}, or the invalid fields with their messages.',
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "The input (query string or body) did not parse; the fields are named.",
    "401": "Not signed in (HTTP Basic with wrong credentials).",
    "403": "Not signed in, or not allowed to do this.",
    "404": "No such object, or not one the requester may see.",
    "409": "The object is not in a state that allows this action.",
}


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the error answers to every
    operation, where they can happen (an explicit one is kept)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            parameters = operation.get("parameters", [])
            in_path = any(p.get("in") == "path" for p in parameters)
            codes = ["401", "403"]
            if parameters or "requestBody" in operation:
                codes.append("400")
            if in_path:
                codes.append("404")
                if method == "post":
                    codes.append("409")  # actions on a consultation or an alert
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code, {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ERROR_REF}}}
                )
    return result
