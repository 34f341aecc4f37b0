"""The payments API as plain data: routes, auth, validation, models, gateway responses.

Everything that shapes the deployed API is described here first, as literal values, and the
constructs in gateway.py are built from this description. That lets the deployment's
``redeployment`` trigger be a hash of the description itself -- deterministic, and free of
Terraform tokens (whose Python spelling changes from one synth to the next).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .responses import GATEWAY_ERRORS, JSON, preflight_headers
from .settings import ApiSettings

RUNTIME_PACKAGE = "payments_platform.runtime"
CREATE_TRANSACTION_SCHEMA = "schemas/create_transaction.schema.json"
CREATE_TRANSACTION_MODEL = "CreateTransactionRequest"  # alphanumeric: API Gateway model names must be

TRANSACTION_PROCESSOR = "transaction-processor"
STATUS_CHECKER = "status-checker"
TRANSACTION_RECONCILER = "transaction-reconciler"  # scheduled, never behind the API
CARD_FINGERPRINT_ROTATOR = "card-fingerprint-rotator"  # run by Secrets Manager, never behind the API

# Lambda proxy integrations are always invoked with POST, whatever the client's method.
PROXY_INTEGRATION = {"type": "AWS_PROXY", "integration_http_method": "POST"}


@dataclass(frozen=True)
class RequestValidator:
    key: str
    name: str  # scoped to the REST API: no environment suffix needed
    validate_request_body: bool
    validate_request_parameters: bool


VALIDATORS: tuple[RequestValidator, ...] = (
    RequestValidator("body", "validate-body-and-parameters", True, True),
    RequestValidator("params", "validate-parameters", False, True),
)
# CORS preflights declare no parameters, so validating them rejects nothing a browser sends;
# every method then has a validator (checkov CKV2_AWS_53).
PREFLIGHT_VALIDATOR = "params"


@dataclass(frozen=True)
class Route:
    """One method on one resource, served by one function through a proxy integration."""

    path: str
    http_method: str
    function: str  # the function key (transaction-processor / status-checker)
    validator: str
    request_parameters: Mapping[str, bool] = field(default_factory=dict)
    request_models: Mapping[str, str] = field(default_factory=dict)


ROUTES: tuple[Route, ...] = (
    Route("transactions", "POST", TRANSACTION_PROCESSOR, "body", request_models={JSON: CREATE_TRANSACTION_MODEL}),
    Route(
        "status",
        "GET",
        STATUS_CHECKER,
        "params",
        request_parameters={"method.request.querystring.transaction_id": True},
    ),
)


def load_create_transaction_schema() -> dict[str, Any]:
    """The draft-04 schema the runtime validates against, as shipped in the runtime package."""
    text = importlib.resources.files(RUNTIME_PACKAGE).joinpath(CREATE_TRANSACTION_SCHEMA).read_text(encoding="utf-8")
    return json.loads(text)


def method_auth(settings: ApiSettings) -> dict[str, Any]:
    """How every non-OPTIONS method authenticates; the API is never open."""
    if settings.auth == "iam":
        return {"authorization": "AWS_IAM", "api_key_required": False}
    return {"authorization": "NONE", "api_key_required": True}


def paths() -> dict[str, tuple[str, ...]]:
    """Resource path → its methods (CORS preflights answer with these)."""
    result: dict[str, list[str]] = {}
    for route in ROUTES:
        result.setdefault(route.path, []).append(route.http_method)
    return {path: tuple(sorted(methods)) for path, methods in sorted(result.items())}


def api_definition(
    settings: ApiSettings, schema: Mapping[str, Any], function_names: Mapping[str, str]
) -> dict[str, Any]:
    """Everything that shapes the deployed API, as canonical data."""
    return {
        "auth": method_auth(settings),
        "routes": [
            {**asdict(route), "function_name": function_names[route.function], "integration": PROXY_INTEGRATION}
            for route in ROUTES
        ],
        "cors": {path: preflight_headers(methods) for path, methods in paths().items()},
        "models": {CREATE_TRANSACTION_MODEL: {"content_type": JSON, "schema": dict(schema)}},
        "validators": [asdict(v) for v in VALIDATORS],
        "preflight_validator": PREFLIGHT_VALIDATOR,
        "gateway_responses": {
            error.response_type: {
                "template": error.template(),
                "status_code": error.status_code,
                "headers": error.response_headers(),
            }
            for error in GATEWAY_ERRORS
        },
    }


def redeployment_hash(definition: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``definition`` (sorted keys, no whitespace)."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
