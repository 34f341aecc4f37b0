"""What the api plugin shows an assessor: its PCI DSS evidence, registered with ``ctx.compliance``.

Attribute values are read from the synth when the control map is built, so a row breaks
(and is flagged) as soon as the configuration stops meeting what its note says.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from payments_platform.core import PluginContext, keys

from .definition import ROUTES
from .gateway import BuiltApi


def register_evidence(
    ctx: PluginContext, functions: Mapping[str, keys.Function], api: BuiltApi, secret: Any, signed: Any = None
) -> None:
    """``signed``: the code-signing resources (code_signing.SignedCode), where the environment signs its code."""
    evidence = ctx.compliance.evidence
    evidence(
        "3.3.1",
        api.method_settings,
        expect={"settings.data_trace_enabled": False},
        note="full request/response logging is off: a card number or CVC never reaches execution logs",
    )
    evidence(
        "3.3.1",
        api.stage,
        attributes=("access_log_settings.format",),
        note="access log lines hold request metadata only: never bodies, headers or query strings",
    )
    evidence(
        "4.2.1",
        api.rest_api,
        attributes=("endpoint_configuration.types",),
        note="API Gateway serves the execute-api endpoint over HTTPS only; card data never travels in clear",
    )
    evidence(
        "6.2.4",
        api.validators["body"],
        expect={"validate_request_body": True, "validate_request_parameters": True},
        note="malformed requests are rejected at the gateway before any code runs",
    )
    for route in ROUTES:
        method = api.methods[f"{route.path} {route.http_method}"]
        checked = (
            "its body against the JSON schema the runtime uses" if route.request_models else "its required parameters"
        )
        evidence(
            "6.2.4",
            method,
            attributes=("request_validator_id",),
            note=f"{route.http_method} /{route.path}: API Gateway validates {checked}",
        )
    evidence(
        "10.2",
        api.stage,
        expect={"xray_tracing_enabled": True},
        attributes=("access_log_settings.destination_arn",),
        note="every API call is logged (who, what, when, outcome) and traced",
    )
    evidence(
        "3.6",
        secret,
        attributes=("kms_key_id",),
        note="the card-fingerprint HMAC key is encrypted under the platform CMK; only the transaction processor and the key's rotation function read it",
    )
    for log_group in (api.access_log_group, api.execution_log_group, *(f.log_group for f in functions.values())):
        evidence(
            "10.3",
            log_group,
            attributes=("kms_key_id", "retention_in_days"),
            note="log events are encrypted under the platform CMK; nothing but the platform's roles writes them",
        )
    if signed is not None:
        evidence(
            "6.5.1",
            signed.code_signing_config,
            expect={"policies.untrusted_artifact_on_deployment": "Enforce"},
            note="Lambda refuses any package not signed by this environment's AWS Signer profile",
        )
        for key, function in functions.items():
            evidence(
                "6.5.1",
                function.resource,
                attributes=("code_signing_config_arn", "s3_key"),
                note=f"{key} runs the signed package from the artifacts bucket",
            )
