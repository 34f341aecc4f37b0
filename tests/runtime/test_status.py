import pytest

from .support import api_event, body_of, create, read, status_event, valid_body


def test_status_returns_the_current_record(aws):
    created = body_of(create(api_event(valid_body(metadata={"k": "v"}))))
    response = read(status_event(created["transaction_id"]))
    assert response["statusCode"] == 200
    assert body_of(response) == created
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"


def test_another_clients_transaction_is_404(aws):
    txn = body_of(create(api_event(valid_body(), api_key_id="client-a")))["transaction_id"]
    response = read(status_event(txn, api_key_id="client-b"))
    assert response["statusCode"] == 404
    assert body_of(response)["error"]["code"] == "transaction_not_found"


def test_unknown_transaction_is_404_like_a_foreign_one(aws):
    txn = body_of(create(api_event(valid_body(), api_key_id="client-a")))["transaction_id"]
    foreign = read(status_event(txn, api_key_id="client-b"))
    unknown = read(status_event("txn_" + "b" * 24))
    assert unknown["statusCode"] == 404
    assert body_of(unknown)["error"] | {"request_id": None} == body_of(foreign)["error"] | {"request_id": None}


def test_idempotency_records_cannot_be_read_through_status(aws):
    create(api_event(valid_body()))
    record_id = next(i for i in aws.table_items() if i["record_type"]["S"] == "idempotency_key")["transaction_id"]["S"]
    assert read(status_event(record_id))["statusCode"] == 400


@pytest.mark.parametrize(
    "query",
    [
        None,
        {},
        {"transaction_id": ""},
        {"transaction_id": "TXN_" + "a" * 24},
        {"transaction_id": "4242424242424242"},
        {"id": "x"},
    ],
)
def test_malformed_queries_are_400(aws, query):
    event = status_event(None)
    event["queryStringParameters"] = query
    response = read(event)
    assert response["statusCode"] == 400
    assert "4242424242424242" not in response["body"]


def test_status_without_client_identity_is_401(aws):
    assert read(status_event("txn_" + "a" * 24, api_key_id=None))["statusCode"] == 401


def test_status_rejects_post(aws):
    event = status_event("txn_" + "a" * 24)
    event["httpMethod"] = "POST"
    assert read(event)["statusCode"] == 405
