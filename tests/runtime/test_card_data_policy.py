"""The one card-data policy (issue #26): ``redaction.contains_card_data`` refuses a PAN in any
formatting and a labelled CVC in every string a request carries (validation: the one 400), and
every writer -- the table codec, the audit queue, the topic -- refuses to write one, naming the
field and never the value. Hypothesis generates PANs of every brand of cards.BIN_RANGES with
arbitrary separators, spacing, digits of other scripts and surrounding text; a second property
bounds the false positives on innocent text."""

from __future__ import annotations

import json
import string
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments_platform.runtime.cards import BIN_RANGES, card_brand, luhn_valid
from payments_platform.runtime.dispatch import TransactionDispatcher
from payments_platform.runtime.errors import InvalidRequestError
from payments_platform.runtime.idempotency import DispatchState, IdempotencyRecord
from payments_platform.runtime.record_codec import CardDataRefused, refuse_card_data, text_map_value, text_value
from payments_platform.runtime.redaction import contains_card_data
from payments_platform.runtime.transaction_records import Transaction, idempotency_item, new_transaction_id
from payments_platform.runtime.validation import idempotency_key, validate_create_transaction

from .support import luhn_complete, valid_body

TODAY = date(2026, 12, 6)
REVIEW_PAN_FORMS = [
    "4000.0566.5566.5556",
    "4000:0566:5566:5556",
    "4000/0566/5566/5556",
    "4000_0566_5566_5556",
    "4000--0566--5566--5556",
    "4000a0566b5566c5556",
    "card 4000  0566  5566  5556",
    "4000 - 0566 - 5566 - 5556",
    "4000,0566,5566,5556",
    "４０００ ０５６６ ５５６６ ５５５６",
    "ref: 4000.0566.5566.5556 thanks",
    "4000abc0566def5566abc5556",
]
LABELLED_CVCS = [
    "cvc: 987",
    "CVV 987",
    "cvv2=987",
    "cid 1234",
    "csc-987",
    "security code is 987",
    "card verification code: 987",
    "card_cvc 987",
    "7cvc234",
]
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refused_param(body: dict[str, Any]) -> str | None:
    try:
        validate_create_transaction(body, TODAY)
    except InvalidRequestError as error:
        assert error.code == "card_data_in_free_text", error.code
        assert "0566" not in error.message
        return error.param
    return None


# --------------------------------------------------------------------- the review's evidence


@pytest.mark.parametrize("text", REVIEW_PAN_FORMS + LABELLED_CVCS)
def test_the_detector_finds_each_form_of_the_review(text):
    assert contains_card_data(text)


@pytest.mark.parametrize("text", REVIEW_PAN_FORMS + LABELLED_CVCS)
def test_each_form_is_the_one_400_in_the_description_and_a_metadata_value(text):
    assert refused_param(valid_body(description=text)) == "description"
    assert refused_param(valid_body(metadata={"note": text})) == "metadata.note"


@pytest.mark.parametrize("text", [t for t in REVIEW_PAN_FORMS if len(t) <= 64])
def test_each_form_is_the_one_400_in_the_merchant_reference(text):
    assert refused_param(valid_body(merchant_reference=text)) == "merchant_reference"


@pytest.mark.parametrize("key", ["cvv", "CVC", "cvv2", "cid", "csc", "security_code", "security-code"])
def test_a_metadata_value_labelled_cvc_by_its_key_is_refused(key):
    # A key that is not a safe parameter name (a dash) is not echoed: the param is "metadata".
    expected = f"metadata.{key}" if "-" not in key else "metadata"
    assert refused_param(valid_body(metadata={key: "987"})) == expected


@pytest.mark.parametrize("key", ["pin", "pan", "card_number", "card-number", "track2"])
def test_a_card_data_key_with_digits_is_refused_and_without_them_passes(key):
    expected = f"metadata.{key}" if "-" not in key else "metadata"
    assert refused_param(valid_body(metadata={key: "1234"})) == expected
    assert refused_param(valid_body(metadata={key: "none"})) is None


def test_a_metadata_key_holding_card_data_is_refused_without_naming_it():
    assert refused_param(valid_body(metadata={"4000.0566.5566.5556": "x"})) == "metadata"
    assert refused_param(valid_body(metadata={"cvc-987": "x"})) == "metadata"


def test_key_and_value_digits_are_not_read_as_one_number():
    # "ord4000" + "0566 5566 5556" would be a Visa were they one text.
    assert refused_param(valid_body(metadata={"ord4000": "0566-5566-5556"})) is None


@pytest.mark.parametrize("header", ["4000.0566.5566.5556", '"4000 - 0566 - 5566 - 5556"', "cvc:987"])
def test_an_idempotency_key_holding_card_data_is_refused(header):
    with pytest.raises(InvalidRequestError) as raised:
        idempotency_key(header)
    assert (raised.value.code, raised.value.param) == ("card_data_in_free_text", "Idempotency-Key")


def test_card_data_is_the_same_400_whatever_else_is_wrong_with_the_text():
    # Unicode digits are not printable ASCII; over-long text is out of range: still card data first.
    assert refused_param(valid_body(description="４０００ ０５６６ ５５６６ ５５５６")) == "description"
    assert refused_param(valid_body(description="x" * 300 + " 4000.0566.5566.5556")) == "description"


# --------------------------------------------------------------------- properties


@st.composite
def branded_pans(draw) -> str:
    """A Luhn-valid PAN of any range and length of cards.BIN_RANGES."""
    bin_range = draw(st.sampled_from(BIN_RANGES))
    length = draw(st.sampled_from(sorted(bin_range.lengths)))
    prefix = str(draw(st.integers(bin_range.low, bin_range.high)))
    rest = draw(st.text(string.digits, min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1))
    pan = luhn_complete(prefix + rest)
    assert card_brand(pan) is not None
    return pan


ZEROS = ["0", "\u0660", "\u06f0", "\u0966", "\u09e6", "\uff10", "\U0001d7ce"]  # ASCII, Arabic-Indic, ..., fullwidth
separators = st.text(
    st.characters(blacklist_categories=("Nd",), blacklist_characters="\n\r"), min_size=1, max_size=3
) | st.sampled_from([" ", "  ", "-", "--", " - ", ".", ":", "/", "_", ",", "a", "x-", " / "])


@st.composite
def written_pans(draw) -> tuple[str, str]:
    """(pan, text): the PAN in groups as cards are written -- four digits, then groups of 3-6 --
    with arbitrary short noise between them, any script's digits, and surrounding text."""
    pan = draw(branded_pans())
    groups, position = [pan[:4]], 4
    while position < len(pan):
        size = draw(st.integers(3, 6))
        if len(pan) - (position + size) in (1, 2):
            size = len(pan) - position  # no group of one or two digits at the end
        groups.append(pan[position : position + size])
        position += size
    zero = draw(st.sampled_from(ZEROS))
    digits = {str(d): chr(ord(zero) + d) for d in range(10)}
    written = "".join(digits[c] for c in groups[0])
    for group in groups[1:]:
        written += draw(separators) + "".join(digits[c] for c in group)
    before = draw(st.text(max_size=20))
    after = draw(st.text(max_size=20))
    return pan, f"{before} {written} {after}"


@PROPERTY
@given(written_pans())
def test_a_pan_of_any_brand_written_any_way_is_card_data(written):
    _, text = written
    assert contains_card_data(text)


@PROPERTY
@given(written_pans())
def test_a_pan_written_any_way_is_the_one_400_in_every_free_text_field(written):
    _, text = written
    assert refused_param(valid_body(description=text[:255])) == "description"
    assert refused_param(valid_body(metadata={"note": text})) == "metadata.note"


CVC_LABELS = ["cvc", "cvv", "cvc2", "cvv2", "cid", "csc", "CVC", "security code", "card verification code"]


@PROPERTY
@given(
    st.sampled_from(CVC_LABELS),
    st.sampled_from([": ", "=", " ", " is ", "-", ":", " = ", "_"]),
    st.text(string.digits, min_size=3, max_size=4),
    st.text(string.ascii_letters + " ", max_size=15),
)
def test_a_labelled_cvc_is_card_data(label, between, cvc, before):
    text = f"{before} {label}{between}{cvc} thanks"
    assert contains_card_data(text)
    assert refused_param(valid_body(description=text)) == "description"


# Innocent text: what the policy guarantees passes. Numbers in it stand at least four characters
# apart (nearer ones are read as the groups of one number), phone numbers have at most 11 digits
# (a longer one written with single spaces or dashes is a Luhn-valid 12-19 digit run, refused
# as before, one time in ten).
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31))
innocent_parts = st.one_of(
    dates.map(lambda d: d.isoformat()),
    dates.map(lambda d: d.strftime("%d/%m/%Y")),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2199, 12, 31)).map(
        lambda t: t.replace(tzinfo=UTC).isoformat(timespec="milliseconds")
    ),
    st.integers(0, 10**11 - 1).map(lambda n: f"ORD-{n}"),
    st.integers(0, 10**9).map(lambda n: f"order #{n:09d}"),
    st.tuples(st.integers(200, 999), st.integers(200, 999), st.integers(0, 9999)).map(
        lambda p: f"+1 ({p[0]}) {p[1]}-{p[2]:04d}"
    ),
    st.tuples(st.integers(200, 999), st.integers(200, 999), st.integers(0, 9999)).map(
        lambda p: f"{p[0]}.{p[1]}.{p[2]:04d}"
    ),
    st.uuids().map(str),
    st.builds(lambda _: new_transaction_id(), st.none()),  # the generator's own ids
    st.from_regex(r"\A(cus|ord|inv)_[A-Za-z]{6}[0-9]{1,8}\Z"),
    st.tuples(st.integers(0, 99999), st.integers(0, 99)).map(lambda a: f"EUR {a[0]}.{a[1]:02d}"),
    st.integers(0, 9999).map(lambda n: f"room {n}, floor 3"),
    st.integers(1024, 65535).map(lambda port: f"http://127.0.0.1:{port}/123456789012/payment-audit-local.fifo"),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2199, 12, 31)).map(
        lambda t: t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"  # logging's asctime
    ),
)


@PROPERTY
@given(st.lists(innocent_parts, min_size=1, max_size=4), st.sampled_from([", then ", " placed ", "; ref "]))
def test_innocent_text_is_not_card_data(parts, joiner):
    text = joiner.join(parts)
    assert not contains_card_data(text), text
    if len(text) <= 255:
        assert refused_param(valid_body(description=text)) is None
    for part in parts:
        assert refused_param(valid_body(metadata={"ref": part})) is None


@pytest.mark.parametrize(
    "text",
    [
        "arn:aws:iam::123456789012:role/payments",
        "1-5759e988-bd862e3fe1be46a994272793",
        "550e8400-e29b-41d4-a716-446655440000",
        "cidr 10.0.0.0/16",
        "acid 123",
        "2026-12-06T01:57:03.123Z",
        "2000-01-30T00:55:01.025+00:00",  # its groups chained: a Diners number from the day on
        "2026-12-06 00:12:34,567 WARNING payments.faults: fault f-0a1b2c hit",
        "http://127.0.0.1:35280/123456789012/payment-audit-local.fifo",  # the port and the account: a JCB
        "AKIAL9CVC418TOM4FE8F",
        "+1 (555) 123-4567",
        "v4.0.0566",
    ],
)
def test_identifiers_of_the_platform_and_common_text_are_not_card_data(text):
    assert not contains_card_data(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-06T00:00:00Z 4000.0566.5566.5556",
        "2026-12-06T00:00:00.1234000056655665556",  # glued to the fraction: no timestamp
        "http://127.0.0.1:8080/4000056655665556/x",
        "AKIA4000056655665556",
        "AKIAL9CVC418TOM4FE8F cvc 418",
    ],
)
def test_card_data_beside_or_inside_what_is_read_as_an_identifier_is_still_card_data(text):
    assert contains_card_data(text)


# --------------------------------------------------------------------- the writers


def _transaction(**overrides: Any) -> Transaction:
    fields: dict[str, Any] = {
        "transaction_id": "txn_" + "a" * 24,
        "created_at_ms": 1_764_000_000_000,
        "client_id": "client-a",
        "status": "received",
        "amount": 1250,
        "currency": "EUR",
        "merchant_reference": "order-1001",
        "card_brand": "visa",
        "card_last4": "4242",
        "card_fingerprint": "cfp_" + "4242424242424242" * 4,  # an identifier: not screened
        "idempotency_record_id": "idem_x",
    }
    fields.update(overrides)
    return Transaction(**fields)


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"merchant_reference": "4000.0566.5566.5556"}, "merchant_reference"),
        ({"description": "cvc: 987"}, "description"),
        ({"metadata": {"note": "4000 - 0566 - 5566 - 5556"}}, "metadata.note"),
        ({"metadata": {"4000_0566_5566_5556": "x"}}, "metadata.<key 0>"),
        ({"client_id": "4000/0566/5566/5556"}, "client_id"),
    ],
)
def test_the_table_codec_refuses_to_write_card_data_naming_the_field(overrides, path):
    with pytest.raises(CardDataRefused) as refused:
        _transaction(**overrides).to_item()
    assert refused.value.path == path
    assert "0566" not in str(refused.value) and "987" not in str(refused.value)


def test_the_table_codec_refuses_a_stored_response_holding_card_data():
    record = IdempotencyRecord(
        record_id="idem_x",
        client_id="client-a",
        request_fingerprint="f",
        transaction_id="txn_" + "a" * 24,
        transaction_timestamp=1,
        dispatch_state=DispatchState.COMPLETE,
        audit_sent=True,
        event_published=True,
        lease_expires_at_ms=0,
        response_body=json.dumps({"description": "card 4000  0566  5566  5556"}),
        request_id="req-1",
        key_version="v1",
    )
    with pytest.raises(CardDataRefused) as refused:
        idempotency_item(record, 1_764_000_000_000)
    assert refused.value.path == "response_body.description"


def test_a_stored_response_is_read_string_by_string_not_across_json_punctuation():
    # Validation accepts this entry (key and value are not one number); its JSON is "ord4000":"0566…".
    accepted = validate_create_transaction(valid_body(metadata={"ord4000": "0566-5566-5556"}), TODAY)
    transaction = _transaction(metadata=accepted.metadata)
    transaction.to_item()
    record = IdempotencyRecord(
        record_id="idem_x",
        client_id="client-a",
        request_fingerprint="f",
        transaction_id=transaction.transaction_id,
        transaction_timestamp=1,
        dispatch_state=DispatchState.COMPLETE,
        audit_sent=True,
        event_published=True,
        lease_expires_at_ms=0,
        response_body=json.dumps(transaction.public_view(), separators=(",", ":")),
    )
    assert idempotency_item(record, 1_764_000_000_000)["response_body"]["S"] == record.response_body


def test_the_codec_writes_innocent_text_and_refuses_non_strings():
    assert text_value("order 2026-0042", "description") == {"S": "order 2026-0042"}
    assert text_map_value({"ref": "ORD-2026-000123"}, "metadata") == {"M": {"ref": {"S": "ORD-2026-000123"}}}
    with pytest.raises(CardDataRefused):
        text_value("cvv 987", "description")


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)

    def publish(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@pytest.mark.parametrize(
    ("overrides", "send", "path"),
    [
        ({"merchant_reference": "4000.0566.5566.5556"}, "send_audit", "audit_message.merchant_reference"),
        ({"client_id": "cvc: 987"}, "send_audit", "audit_message.client_id"),
        ({"description": "4000,0566,5566,5556"}, "publish_event", "payment_event.transaction.description"),
        ({"metadata": {"cvv": "cvv 987"}}, "publish_event", "payment_event.transaction.metadata.cvv"),
    ],
)
def test_the_audit_queue_and_the_topic_are_never_sent_card_data(overrides, send, path):
    sqs, sns = _Recorder(), _Recorder()
    dispatcher = TransactionDispatcher(sqs, sns, "https://queue", "arn:aws:sns:eu-west-1:123456789012:t", "test")
    transaction = _transaction(**overrides)
    with pytest.raises(CardDataRefused) as refused:
        if send == "send_audit":
            dispatcher.send_audit(transaction, "req-1")
        else:
            dispatcher.publish_event(transaction)
    assert refused.value.path == path
    assert sqs.calls == [] and sns.calls == []


def test_the_writers_send_innocent_messages():
    sqs, sns = _Recorder(), _Recorder()
    dispatcher = TransactionDispatcher(sqs, sns, "https://queue", "arn:aws:sns:eu-west-1:123456789012:t", "test")
    transaction = _transaction(client_id="arn:aws:iam::123456789012:user/shop", description="order 2026-0042")
    dispatcher.send_audit(transaction, "550e8400-e29b-41d4-a716-446655440000")
    dispatcher.publish_event(transaction)
    assert len(sqs.calls) == 1 and len(sns.calls) == 1


def test_refuse_card_data_walks_lists_and_names_the_index():
    with pytest.raises(CardDataRefused) as refused:
        refuse_card_data({"a": ["ok", {"b": "4000.0566.5566.5556"}]}, "doc")
    assert refused.value.path == "doc.a[1].b"
    refuse_card_data({"a": [1, 2.5, None, True, "ok"]}, "doc")


def test_luhn_and_brand_of_the_review_pan():
    assert luhn_valid("4000056655665556") and card_brand("4000056655665556") == "visa"
