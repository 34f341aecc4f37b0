"""schemathesis checks of our own, loaded through ``hooks`` in schemathesis.toml.

``schema_valid_rejection_is_documented`` makes the one relaxation of positive_data_acceptance
precise: a request the contract calls valid may be answered 400 only with a code its operation's
400 response lists under ``x-schema-valid-rejections`` (rules JSON Schema cannot express), or under
``x-draft-04-rejections`` when the body really fails API Gateway's draft-04 request model (whose
``integer`` excludes ``3.0``, which OpenAPI 3.1's JSON Schema counts as an integer).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

import jsonschema
import schemathesis

SCHEMA_VALID_REJECTIONS = "x-schema-valid-rejections"
DRAFT_04_REJECTIONS = "x-draft-04-rejections"
# API Gateway's request model, as the api plugin deploys it.
GATEWAY_MODEL = ("payments_platform.runtime", "schemas/create_transaction.schema.json")


@functools.lru_cache(maxsize=1)
def _gateway_model() -> jsonschema.Draft4Validator:
    package, name = GATEWAY_MODEL
    return jsonschema.Draft4Validator(json.loads(importlib.resources.files(package).joinpath(name).read_text("utf-8")))


def _error_code(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _is_positive(case: Any) -> bool:
    meta = case.meta
    return (
        meta is not None
        and meta.generation.mode.is_positive
        and not any(component.mode.is_negative for component in meta.components.values())
    )


@schemathesis.check
def schema_valid_rejection_is_documented(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code != 400 or not _is_positive(case):
        return None
    documented = case.operation.responses.find_by_status_code(400)
    definition = documented.definition if documented is not None else {}
    code = _error_code(response)
    if code in (definition.get(SCHEMA_VALID_REJECTIONS) or []):
        return None
    if code in (definition.get(DRAFT_04_REJECTIONS) or []) and not _gateway_model().is_valid(case.body):
        return None
    raise AssertionError(
        f"A schema-valid request was answered 400 `{code}`, which its operation's 400 response does not document "
        "as a rule beyond the schema"
    )
