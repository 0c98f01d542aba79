"""OpenAPI: every operation documents the errors it can answer, in the one JSON shape
that `config.api.api_exception_handler` produces (DOMAIN.md 7.4)."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "machine-readable error code"},
        "message": {"type": "string", "description": "human-readable, in the caller's language"},
        "field": {"type": "string", "nullable": True, "description": "the field at fault"},
        "line": {"type": "integer", "nullable": True, "description": "the file line at fault"},
        "errors": {
            "type": "array",
            "description": "every bad line of a snapshot (up to the configured limit)",
            "items": {
                "type": "object",
                "properties": {
                    "line": {"type": "integer"},
                    "field": {"type": "string", "nullable": True},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "required": ["code", "message"],
}

ERRORS = {
    "400": "Invalid input: `field` (or `line`) names what is wrong; nothing was written.",
    "401": "No credentials, or an unknown or revoked token.",
    "403": "The token lacks the scope, or the role may not do this.",
    "404": "Not found, or outside the caller's scope (the two are not told apart).",
    "429": "Too many requests for this token; retry after the `Retry-After` seconds.",
}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
