"""docs/openapi.yaml and runtime/schemas/create_transaction.schema.json stay true to the handler."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate as validate_openapi

from payments_platform.runtime.cards import SUPPORTED_BRANDS
from payments_platform.runtime.currencies import CURRENCIES, GLOBAL_MAX_AMOUNT
from payments_platform.runtime.errors import CardError, InvalidRequestError, error_catalogue
from payments_platform.runtime.transaction_records import TRANSACTION_STATUSES
from payments_platform.runtime.validation import validate_create_transaction

from .support import AMEX, VISA, api_event, body_of, create, read, status_event, valid_body

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "runtime/schemas/create_transaction.schema.json").read_text())
OPENAPI = yaml.safe_load((ROOT / "docs/openapi.yaml").read_text())
COMPONENTS = OPENAPI["components"]["schemas"]
TODAY = date.today()
GATEWAY = jsonschema.Draft4Validator(SCHEMA)


def handler_accepts(payload) -> bool:
    try:
        validate_create_transaction(payload, TODAY)
        return True
    except (InvalidRequestError, CardError):
        return False


def gateway_accepts(payload) -> bool:
    return GATEWAY.is_valid(payload)


def with_card(**changes):
    body = valid_body()
    body["card"] = {**body["card"], **changes}
    return body


def without(key):
    body = valid_body()
    del body[key]
    return body


VALID_SAMPLES = [
    valid_body(),
    valid_body(description="Two coffees", metadata={"table": "7", "waiter.id": "w-12"}),
    valid_body(currency="JPY", amount=1500),
    valid_body(currency="KWD", amount=12_340),
    valid_body(amount=1, merchant_reference="a"),
    with_card(number=AMEX, cvc="1234"),
    with_card(number="5555555555554444"),
    valid_body(metadata={}),
]

# Both the gateway model and the handler reject these.
INVALID_SAMPLES = [
    [],
    "text",
    {},
    without("amount"),
    without("card"),
    {**valid_body(), "extra": True},
    valid_body(amount=0),
    valid_body(amount=12.5),
    valid_body(amount="1250"),
    valid_body(amount=True),
    valid_body(amount=GLOBAL_MAX_AMOUNT + 1),
    valid_body(currency="XXX"),
    valid_body(currency="usd"),
    valid_body(merchant_reference=""),
    valid_body(merchant_reference="has space"),
    valid_body(merchant_reference="x" * 65),
    valid_body(description=""),
    valid_body(description="x" * 256),
    valid_body(description="caf\u00e9"),
    valid_body(description="tab\there"),
    valid_body(metadata={f"k{i}": "v" for i in range(21)}),
    valid_body(metadata={"k": 1}),
    valid_body(metadata={"bad key": "v"}),
    valid_body(metadata={"k": "x" * 256}),
    valid_body(card=VISA),
    with_card(number="4242-4242-4242-4242"),
    with_card(number=4242424242424242),
    with_card(number="42424242424"),
    with_card(exp_month=13),
    with_card(exp_month=0),
    with_card(exp_year=25),
    with_card(cvc="12"),
    with_card(cvc=123),
    {**valid_body(), "card": {**valid_body()["card"], "holder": "A"}},
]

# Draft-04 cannot express these; the handler is deliberately stricter (documented in RUNTIME.md).
HANDLER_ONLY_REJECTS = [
    with_card(number="4242424242424241"),  # Luhn
    with_card(number="9999999999999995"),  # no major scheme's BIN range
    with_card(exp_year=TODAY.year - 1),  # expired
    with_card(exp_year=TODAY.year + 30),  # implausibly far
    with_card(number=AMEX, cvc="123"),  # brand-specific CVC length
    valid_body(currency="JPY", amount=GLOBAL_MAX_AMOUNT),  # per-currency maximum
    valid_body(currency="KWD", amount=1005),  # three-decimal currency step
    valid_body(merchant_reference=VISA),  # card number in free text
    valid_body(description=f"card {VISA}"),
    valid_body(metadata={"note": "4242 4242 4242 4242"}),
]


@pytest.mark.parametrize("sample", VALID_SAMPLES)
def test_valid_samples_pass_gateway_and_handler(sample):
    assert gateway_accepts(sample) and handler_accepts(sample)


@pytest.mark.parametrize("sample", INVALID_SAMPLES)
def test_invalid_samples_fail_gateway_and_handler(sample):
    assert not gateway_accepts(sample)
    assert not handler_accepts(sample)


@pytest.mark.parametrize("sample", HANDLER_ONLY_REJECTS)
def test_handler_is_stricter_only_where_draft_04_cannot_express_the_rule(sample):
    assert gateway_accepts(sample)
    assert not handler_accepts(sample)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**10), st.floats(allow_nan=False), st.text(max_size=8))


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "amount": st.one_of(st.integers(-1, GLOBAL_MAX_AMOUNT + 1), scalars),
            "currency": st.one_of(st.sampled_from(sorted(CURRENCIES)), scalars),
            "merchant_reference": st.one_of(st.from_regex(r"\A[A-Za-z0-9._:/ -]{0,66}\Z"), scalars),
            "card": st.fixed_dictionaries(
                {
                    "number": st.sampled_from([VISA, AMEX, "5555555555554444", "4242424242424241", "424242"]),
                    "exp_month": st.one_of(st.integers(-1, 13), scalars),
                    "exp_year": st.one_of(st.integers(TODAY.year - 1, TODAY.year + 3), scalars),
                    "cvc": st.sampled_from(["123", "1234", "12", "abc"]),
                }
            ),
        },
        optional={
            "description": st.one_of(st.text(max_size=20), scalars),
            "metadata": st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6), scalars), max_size=3),
        },
    )
)
def test_whatever_the_handler_accepts_the_gateway_accepts(payload):
    if handler_accepts(payload):
        assert gateway_accepts(payload)


def test_the_openapi_document_is_valid():
    validate_openapi(copy.deepcopy(OPENAPI))


def test_the_openapi_request_schema_is_the_gateway_model():
    file_schema = {k: v for k, v in SCHEMA.items() if k != "$schema"}
    assert COMPONENTS["CreateTransactionRequest"] == file_schema
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-04/schema#"


def test_the_gateway_model_uses_only_draft_04_and_is_self_contained():
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    text = json.dumps(SCHEMA)
    for keyword in ('"const"', '"$defs"', '"$ref"', '"propertyNames"', '"if"', '"examples"'):
        assert keyword not in text


def test_gateway_model_bounds_match_the_runtime_tables():
    assert SCHEMA["properties"]["currency"]["enum"] == sorted(CURRENCIES)
    assert SCHEMA["properties"]["amount"]["maximum"] == GLOBAL_MAX_AMOUNT
    assert COMPONENTS["Transaction"]["properties"]["status"]["enum"] == list(TRANSACTION_STATUSES)
    assert COMPONENTS["Transaction"]["properties"]["card"]["properties"]["brand"]["enum"] == list(SUPPORTED_BRANDS)


def _validator(name):
    schema = {**COMPONENTS[name], "components": OPENAPI["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_handler_responses_match_the_documented_response_schemas(aws):
    created = create(api_event(valid_body(description="d", metadata={"k": "v"})))
    _validator("Transaction").validate(body_of(created))
    _validator("Transaction").validate(body_of(read(status_event(body_of(created)["transaction_id"]))))
    for response in (
        create(api_event(raw_body="{")),
        read(status_event("nope")),
        create(api_event(valid_body(), api_key_id=None)),
    ):
        _validator("Error").validate(body_of(response))


def test_documented_status_codes_cover_what_the_handler_returns():
    documented = set(OPENAPI["paths"]["/transactions"]["post"]["responses"]) | set(
        OPENAPI["paths"]["/status"]["get"]["responses"]
    )
    assert {str(status) for status, _ in error_catalogue().values()} <= documented


def test_every_error_code_is_documented_in_runtime_md():
    runtime_md = (ROOT / "docs/RUNTIME.md").read_text()
    missing = [code for code in error_catalogue() if f"`{code}`" not in runtime_md]
    assert missing == []


# -- what API Gateway answers by itself, the link, the headers (issue #12) ---------------------------------

OPERATIONS = {
    "createTransaction": OPENAPI["paths"]["/transactions"]["post"],
    "getTransactionStatus": OPENAPI["paths"]["/status"]["get"],
}
# Gateway response type → (status, error code) as the deployed API answers it (plugins/api/responses.py,
# core/local/apigw/gateway.py). A throttled function reaches the client as INTEGRATION_FAILURE, deployed as 503.
GATEWAY_ANSWERS = {
    "INVALID_API_KEY": ("403", "invalid_api_key"),
    "MISSING_AUTHENTICATION_TOKEN": ("403", "missing_authentication_token"),
    "REQUEST_TOO_LARGE": ("413", "body_too_large"),
    "THROTTLED": ("429", "rate_limited"),
    "INTEGRATION_FAILURE": ("503", "service_unavailable"),
    "DEFAULT_5XX": ("502", "internal_error"),
    "INTEGRATION_TIMEOUT": ("504", "gateway_timeout"),
}


def _response(operation: dict, status: str) -> dict:
    response = operation["responses"][status]
    if "$ref" in response:
        response = OPENAPI["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def _header(reference: dict) -> dict:
    return OPENAPI["components"]["headers"][reference["$ref"].rsplit("/", 1)[-1]] if "$ref" in reference else reference


@pytest.mark.parametrize("response_type", sorted(GATEWAY_ANSWERS))
@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_gateway_answers_are_documented_with_their_code(operation_id, response_type):
    status, code = GATEWAY_ANSWERS[response_type]
    response = _response(OPERATIONS[operation_id], status)
    assert f"`{code}`" in response["description"] and response_type in response["description"]


def test_gateway_answers_carry_the_codes_the_api_plugin_deploys():
    from payments_platform.plugins.api.responses import GATEWAY_ERRORS

    deployed = {error.response_type: error.code for error in GATEWAY_ERRORS}
    assert {kind: code for kind, (_, code) in GATEWAY_ANSWERS.items()} == {
        kind: deployed[kind] for kind in GATEWAY_ANSWERS
    }


@pytest.mark.parametrize("status", ["429", "503"])
@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_capacity_answers_are_documented_with_retry_after(operation_id, status):
    headers = _response(OPERATIONS[operation_id], status)["headers"]
    assert _header(headers["Retry-After"])["required"] is True


def test_a_missing_or_unknown_api_key_is_documented_as_403():
    forbidden = _response(OPERATIONS["createTransaction"], "403")["description"]
    assert "`invalid_api_key`" in forbidden and "INVALID_API_KEY" in forbidden


def test_a_created_transaction_links_to_its_status():
    link = OPERATIONS["createTransaction"]["responses"]["201"]["links"]["GetTransactionStatus"]
    assert link["operationId"] == "getTransactionStatus"
    assert link["parameters"] == {"transaction_id": "$response.body#/transaction_id"}
    assert [p["name"] for p in OPERATIONS["getTransactionStatus"]["parameters"]] == ["transaction_id"]


def test_every_response_documents_the_cors_and_caching_headers():
    for operation in OPERATIONS.values():
        for status in operation["responses"]:
            headers = {name: _header(ref) for name, ref in _response(operation, status)["headers"].items()}
            for name, value in (
                ("Access-Control-Allow-Origin", "*"),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
            ):
                assert headers[name]["required"] is True and headers[name]["schema"]["enum"] == [value], (status, name)


def test_the_documented_headers_are_the_ones_the_runtime_and_gateway_send():
    from payments_platform.plugins.api.responses import GATEWAY_RESPONSE_HEADERS
    from payments_platform.runtime.responses import BASE_HEADERS

    for name in ("Access-Control-Allow-Origin", "Cache-Control", "X-Content-Type-Options"):
        (documented,) = _header(OPERATIONS["createTransaction"]["responses"]["201"]["headers"][name])["schema"]["enum"]
        assert documented == BASE_HEADERS[name] == GATEWAY_RESPONSE_HEADERS[name]


def test_retry_after_is_required_where_the_handler_sends_it():
    for status in ("409", "503"):
        headers = _response(OPERATIONS["createTransaction"], status)["headers"]
        assert _header(headers["Retry-After"])["required"] is True
    assert "Idempotent-Replayed" in OPERATIONS["createTransaction"]["responses"]["201"]["headers"]


SCHEMA_VALID_REJECTIONS = OPERATIONS["createTransaction"]["responses"]["400"]["x-schema-valid-rejections"]


@pytest.mark.parametrize("sample", HANDLER_ONLY_REJECTS)
def test_what_only_the_handler_rejects_is_documented_as_a_schema_valid_rejection(sample):
    with pytest.raises((InvalidRequestError, CardError)) as rejected:
        validate_create_transaction(sample, TODAY)
    assert rejected.value.code in SCHEMA_VALID_REJECTIONS


def test_schema_valid_rejections_are_400_codes_described_on_the_response():
    description = OPERATIONS["createTransaction"]["responses"]["400"]["description"]
    catalogue = error_catalogue()
    for code in SCHEMA_VALID_REJECTIONS + OPERATIONS["createTransaction"]["responses"]["400"]["x-draft-04-rejections"]:
        assert f"`{code}`" in description
        assert catalogue[code][0] == 400


def test_the_request_example_is_accepted_by_gateway_and_handler():
    example = OPERATIONS["createTransaction"]["requestBody"]["content"]["application/json"]["examples"]["visa"]["value"]
    assert gateway_accepts(example) and handler_accepts(example)
