import pytest

from payments_platform.runtime import aws_clients, status, transactions

from .support import api_event, body_of, create, fail_once, read, status_event, valid_body


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError"],
)
def test_dynamodb_throttling_is_503_with_retry_after_and_no_partial_state(aws, code):
    create(api_event(valid_body(), idempotency_key="warm-up"))
    aws.audit_messages(), aws.topic_messages()
    fail_once(aws_clients.client("dynamodb"), "dynamodb.TransactWriteItems", code)
    response = create(api_event(valid_body()))
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"
    assert body_of(response)["error"]["code"] == "service_unavailable"
    assert len(aws.transaction_items()) == 1  # only the warm-up
    assert aws.audit_messages() == [] and aws.topic_messages() == []
    assert create(api_event(valid_body()))["statusCode"] == 201


def test_status_read_throttling_is_503(aws):
    txn = body_of(create(api_event(valid_body())))["transaction_id"]
    fail_once(aws_clients.client("dynamodb"), "dynamodb.Query", "ProvisionedThroughputExceededException")
    response = read(status_event(txn))
    assert response["statusCode"] == 503 and response["headers"]["Retry-After"] == "1"


def test_unhandled_bugs_are_500_in_the_generic_shape_and_logged_with_the_request_id(aws, monkeypatch, capsys):
    def broken():
        raise ZeroDivisionError("bug while handling card 4242424242424242 cvc=123")

    monkeypatch.setattr(transactions, "transaction_creator", broken)
    response = create(api_event(valid_body(), request_id="req-bug-1"))
    assert response["statusCode"] == 500
    assert body_of(response) == {
        "error": {
            "type": "api_error",
            "code": "internal_error",
            "message": "An internal error occurred.",
            "request_id": "req-bug-1",
        }
    }
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out and "req-bug-1" in out
    assert "4242424242424242" not in out and "cvc=123" not in out


def test_missing_configuration_is_500_and_names_the_variable_in_the_log_only(aws, monkeypatch, capsys):
    monkeypatch.delenv("CARD_FINGERPRINT_KEY")
    transactions.transaction_creator.cache_clear()
    response = create(api_event(valid_body()))
    assert response["statusCode"] == 500
    assert "CARD_FINGERPRINT_KEY" not in response["body"]
    assert "CARD_FINGERPRINT_SECRET_ARN is set" in capsys.readouterr().out


def test_non_retryable_aws_errors_are_500(aws, monkeypatch):
    monkeypatch.setenv("TRANSACTIONS_TABLE_NAME", "no-such-table")
    status.transaction_store.cache_clear()
    response = read(status_event("txn_" + "a" * 24))
    assert response["statusCode"] == 500


@pytest.mark.parametrize(
    ("error", "retryable"),
    [("ThrottlingException", True), ("ProvisionedThroughputExceededException", True), ("AccessDeniedException", False)],
)
def test_is_retryable_classifies_client_errors(error, retryable):
    from botocore.exceptions import ClientError

    assert aws_clients.is_retryable(ClientError({"Error": {"Code": error}}, "Op")) is retryable


def test_transport_failures_are_retryable():
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

    assert aws_clients.is_retryable(EndpointConnectionError(endpoint_url="http://x"))
    assert aws_clients.is_retryable(ConnectTimeoutError(endpoint_url="http://x"))
    assert aws_clients.is_retryable(ReadTimeoutError(endpoint_url="http://x"))


def test_clients_honour_the_endpoint_environment_variables(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000")
    aws_clients.reset_clients()
    try:
        assert aws_clients.client("sqs").meta.endpoint_url == "http://localhost:4566"
        assert aws_clients.client("dynamodb").meta.endpoint_url == "http://localhost:8000"
        assert aws_clients.client("sqs") is aws_clients.client("sqs")
        assert aws_clients.client("dynamodb").meta.config.connect_timeout == 1
    finally:
        aws_clients.reset_clients()
