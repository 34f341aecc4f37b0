import json
import re

import pytest

from payments_platform.plugins.api.local_checks import items_hold_card_data
from payments_platform.runtime import aws_clients

from .support import AMEX, VISA, api_event, body_of, count_calls, create, valid_body, without_timestamps


def test_create_returns_201_with_the_documented_shape(aws):
    response = create(api_event(valid_body(description="Coffee", metadata={"table": "7"})))
    assert response["statusCode"] == 201
    body = body_of(response)
    assert re.fullmatch(r"txn_[a-z2-7]{24}", body["transaction_id"])
    assert body["status"] == "received"
    assert body["card"] == {"brand": "visa", "last4": "4242"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["created_at"])
    assert (body["amount"], body["currency"], body["merchant_reference"]) == (1250, "EUR", "order-1001")
    assert body["description"] == "Coffee" and body["metadata"] == {"table": "7"}


def test_every_response_carries_cors_and_json_content_type(aws):
    for response in (create(api_event(valid_body())), create(api_event(raw_body="{"))):
        assert response["headers"]["Access-Control-Allow-Origin"] == "*"
        assert response["headers"]["Content-Type"] == "application/json"
        assert response["headers"]["Cache-Control"] == "no-store"


def test_happy_path_makes_exactly_four_aws_calls(aws):
    create(api_event(valid_body(), idempotency_key="warm-up"))  # builds the clients
    calls = count_calls(aws_clients.client("dynamodb"), aws_clients.client("sqs"), aws_clients.client("sns"))
    assert create(api_event(valid_body()))["statusCode"] == 201
    assert calls == ["dynamodb.TransactWriteItems", "sqs.SendMessage", "sns.Publish", "dynamodb.UpdateItem"]


def test_the_record_holds_brand_last4_fingerprint_and_client_but_no_card_data(aws):
    create(api_event(valid_body()))
    [item] = aws.transaction_items()
    assert item["card_brand"]["S"] == "visa" and item["card_last4"]["S"] == "4242"
    assert item["card_fingerprint"]["S"].startswith("cfp_")
    assert item["client_id"]["S"] == "apikey:client-a"
    assert int(item["timestamp"]["N"]) > 1_600_000_000_000
    items = aws.table_items()
    assert VISA not in json.dumps(items) and not items_hold_card_data(items)
    assert not {name for item in items for name in item} & {"card_number", "number", "cvc", "expiry", "exp_month"}


def test_audit_message_is_fifo_deduplicated_by_transaction_id(aws):
    txn = body_of(create(api_event(valid_body())))["transaction_id"]
    [message] = aws.audit_messages()
    assert message["Attributes"]["MessageDeduplicationId"] == txn
    assert message["Attributes"]["MessageGroupId"].startswith("client-")
    audit = json.loads(message["Body"])
    assert audit["transaction_id"] == txn and audit["card"] == {"brand": "visa", "last4": "4242"}
    # The CVC ("123") nowhere but by chance inside what the platform generates: the ids, the time.
    generated = without_timestamps(message["Body"]).replace(txn, "").replace(audit["request_id"], "")
    assert VISA not in message["Body"] and "123" not in generated


def test_payment_event_is_published_without_card_data(aws):
    txn = body_of(create(api_event(valid_body())))["transaction_id"]
    [message] = aws.topic_messages()
    event = json.loads(message["Body"])
    assert event["event_type"] == "payment.transaction.received"
    assert event["event_id"] == txn and event["transaction"]["card"]["last4"] == "4242"
    assert VISA not in message["Body"]


def test_amex_is_accepted_with_a_four_digit_cvc(aws):
    body = valid_body(card={"number": AMEX, "exp_month": 1, "exp_year": 2099 - 70, "cvc": "1234"})
    response = create(api_event(body))
    assert response["statusCode"] == 201, response["body"]
    assert body_of(response)["card"] == {"brand": "amex", "last4": "0005"}


def test_base64_encoded_bodies_are_decoded(aws):
    assert create(api_event(valid_body(), base64_body=True))["statusCode"] == 201


def test_header_names_are_case_insensitive(aws):
    event = api_event(
        valid_body(), idempotency_key=None, headers={"idempotency-key": "abc", "content-type": "application/json"}
    )
    del event["headers"]["Content-Type"]
    event["multiValueHeaders"] = None
    assert create(event)["statusCode"] == 201


@pytest.mark.parametrize(
    ("event_changes", "status", "code"),
    [
        ({"requestContext": {"requestId": "r1", "identity": {}}}, 401, "client_identity_missing"),
        ({"requestContext": None}, 401, "client_identity_missing"),
        ({"httpMethod": "PUT"}, 405, "method_not_allowed"),
        ({"headers": {"Content-Type": "application/json"}}, 400, "idempotency_key_missing"),
        ({"headers": {"Idempotency-Key": "k", "Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"headers": {"Idempotency-Key": "k"}}, 415, "unsupported_media_type"),
        ({"body": None}, 400, "invalid_json"),
        ({"body": "not json"}, 400, "invalid_json"),
        ({"body": json.dumps(valid_body()).replace("1250", "1e400")}, 400, "parameter_invalid_type"),
        ({"body": "[" * 3000 + "]" * 3000}, 400, "invalid_json"),
        ({"body": "x" * (16 * 1024 + 1)}, 413, "body_too_large"),
        ({"body": '{"a": "\ud800"}'}, 400, "invalid_encoding"),
        ({"body": "!!!", "isBase64Encoded": True}, 400, "invalid_encoding"),
        ({"body": 42}, 400, "invalid_body"),
        ({"multiValueHeaders": {"Idempotency-Key": ["a", "b"]}}, 400, "parameter_duplicated"),
    ],
)
def test_bad_requests_get_4xx_in_the_error_shape(aws, event_changes, status, code):
    event = api_event(valid_body())
    event.update(event_changes)
    response = create(event)
    assert response["statusCode"] == status
    error = body_of(response)["error"]
    assert error["code"] == code
    assert error["request_id"] == response["headers"]["X-Request-Id"]
    assert set(error) <= {"type", "code", "message", "param", "request_id"}
    assert aws.table_items() == []


def test_validation_errors_name_the_param_and_store_nothing(aws):
    body = valid_body(card={"number": "4242424242424241", "exp_month": 1, "exp_year": 2099 - 70, "cvc": "123"})
    response = create(api_event(body))
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["param"] == "card.number"
    assert "4242424242424241" not in response["body"]
    assert aws.table_items() == [] and aws.audit_messages() == [] and aws.topic_messages() == []


def test_iam_callers_are_identified_by_their_principal(aws):
    event = api_event(valid_body(), api_key_id=None)
    event["requestContext"]["identity"]["userArn"] = "arn:aws:iam::123456789012:user/merchant"
    assert create(event)["statusCode"] == 201
    [item] = aws.transaction_items()
    assert item["client_id"]["S"] == "iam:arn:aws:iam::123456789012:user/merchant"
