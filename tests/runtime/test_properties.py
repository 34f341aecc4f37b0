"""Property-based tests: arbitrary bodies, headers and queries never cause a 5xx, and a PAN never
appears in a response, a log line, a table item, an audit message or a payment event."""

from __future__ import annotations

import itertools
import json
import string
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import api_event, aws_environment, create, luhn_complete, read, status_event

SCHEME_PREFIXES = [
    ("4", 16),
    ("4", 13),
    ("51", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("3528", 16),
    ("36", 14),
    ("62", 16),
]
THIS_YEAR = date.today().year
KEY_COUNTER = itertools.count()
PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@st.composite
def pans(draw) -> str:
    prefix, length = draw(st.sampled_from(SCHEME_PREFIXES))
    body = draw(st.text(alphabet=string.digits, min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1))
    return luhn_complete(prefix + body)


def formatted(pan: str, separator: str) -> str:
    return separator.join(pan[i : i + 4] for i in range(0, len(pan), 4))


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def create_requests(draw):
    """(event, pan): a valid request, then zero to three mutations -- wrong types and ranges,
    arbitrary JSON, the PAN smuggled into other fields, keys and headers, broken headers."""
    pan = draw(pans())
    brand_cvc = "1234" if pan[:2] in ("34", "37") else "123"
    smuggled = draw(st.sampled_from([pan, formatted(pan, " "), formatted(pan, "-"), "x" + pan]))
    body = {
        "amount": draw(st.integers(1, 10**6)) * 10,
        "currency": draw(st.sampled_from(["EUR", "USD", "JPY", "KWD", "GBP"])),
        "merchant_reference": draw(st.from_regex(r"\Aord-[a-z]{1,20}\Z")),
        "card": {
            "number": pan,
            "exp_month": draw(st.integers(1, 12)),
            "exp_year": draw(st.integers(THIS_YEAR + 1, THIS_YEAR + 5)),
            "cvc": brand_cvc,
        },
    }
    if draw(st.booleans()):
        body["description"] = draw(st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=50))
    if draw(st.booleans()):
        body["metadata"] = draw(
            st.dictionaries(
                st.from_regex(r"\A[a-z]{1,8}\Z"), st.text(alphabet=string.ascii_letters, max_size=10), max_size=3
            )
        )
    headers: dict = {}
    key = f"key-{next(KEY_COUNTER)}"
    raw_body = None
    base64_body = False
    event_patch: dict = {}

    # Half the examples carry the PAN somewhere else as well, in a form that otherwise passes.
    smuggle = draw(
        st.sampled_from(
            [None, None, None, "merchant_reference", "description", "metadata", "metadata_key", "key", "header"]
        )
    )
    dashed = formatted(pan, "-")
    if smuggle == "merchant_reference":
        body["merchant_reference"] = draw(st.sampled_from([pan, dashed, f"ord-{pan}", f"{dashed}:x"]))
    elif smuggle == "description":
        body["description"] = f"paid with {smuggled}"
    elif smuggle == "metadata":
        body["metadata"] = {"note": smuggled}
    elif smuggle == "metadata_key":
        body["metadata"] = {pan: "v"}
    elif smuggle == "key":
        key = pan
    elif smuggle == "header":
        headers["X-Card"] = smuggled

    mutations = draw(st.lists(st.integers(0, 19), max_size=3))
    for mutation in mutations:
        if mutation == 0:
            body["amount"] = draw(
                st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5), json_scalars)
            )
        elif mutation == 1:
            body["currency"] = draw(json_scalars)
        elif mutation == 2:
            body["merchant_reference"] = draw(st.one_of(st.just(smuggled), st.text(max_size=70), json_scalars))
        elif mutation == 3:
            body["description"] = draw(st.one_of(st.just(f"paid with {smuggled}"), st.text(max_size=300), json_scalars))
        elif mutation == 4:
            body["metadata"] = draw(
                st.one_of(
                    st.just({"note": smuggled}),
                    st.just({pan: "v"}),
                    st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=22),
                    json_values,
                )
            )
        elif mutation == 5 and isinstance(body.get("card"), dict):
            body["card"]["number"] = draw(st.sampled_from([formatted(pan, " "), int(pan), pan + "0", pan[:-1]]))
        elif mutation == 6 and isinstance(body.get("card"), dict):
            body["card"][draw(st.sampled_from(["exp_month", "exp_year", "cvc"]))] = draw(json_scalars)
        elif mutation == 7:
            body["card"] = draw(json_values)
        elif mutation == 8:
            body[draw(st.sampled_from([pan, "extra", "cvv"]))] = draw(json_scalars)
        elif mutation == 9:
            body.pop(draw(st.sampled_from(sorted(body))), None)
        elif mutation == 10:
            raw_body = draw(st.text(max_size=200))
        elif mutation == 11:
            raw_body = json.dumps(draw(json_values))
        elif mutation == 12:
            key = draw(st.one_of(st.just(pan), st.just("shared-key"), st.text(max_size=300)))
        elif mutation == 13:
            headers.update(draw(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=4)))
        elif mutation == 14:
            headers["Content-Type"] = draw(st.sampled_from(["text/plain", "application/json; charset=latin-1", pan]))
        elif mutation == 15:
            base64_body = True
        elif mutation == 16:
            event_patch["headers"] = draw(st.one_of(st.none(), json_values))
        elif mutation == 17:
            event_patch["requestContext"] = draw(st.one_of(st.none(), st.just({"identity": {}}), json_values))
        elif mutation == 18:
            key = None
        elif mutation == 19:
            raw_body = json.dumps(body).replace(
                f'"{pan}"', draw(st.sampled_from([pan, f'"{pan}", "number": "{pan}"', f"1{pan}"]))
            )
    event = api_event(
        body,
        raw_body=raw_body,
        idempotency_key=key,
        headers=headers,
        base64_body=base64_body,
        request_id="req-" + key[:8] if key else "req-none",
    )
    event.update(event_patch)
    return event, pan


def assert_no_pan(text: str, pans_: set[str], where: str) -> None:
    for pan in pans_:
        for form in (pan, formatted(pan, " "), formatted(pan, "-")):
            assert form not in text, f"PAN found in {where}"


def stored_text(aws) -> str:
    return json.dumps(aws.table_items()) + json.dumps(aws.audit_messages()) + json.dumps(aws.topic_messages())


def test_create_never_5xx_and_never_leaks_a_pan(monkeypatch, capsys):
    with aws_environment(monkeypatch) as aws:
        seen: set[str] = set()
        statuses: list[int] = []

        @PROPERTY_SETTINGS
        @given(create_requests())
        def check(request):
            event, pan = request
            seen.add(pan)
            response = create(event)
            statuses.append(response["statusCode"])
            assert response["statusCode"] < 500, response["body"]
            assert_no_pan(json.dumps(response), {pan}, "response")
            logs = capsys.readouterr().out
            assert_no_pan(logs, {pan}, "logs")
            assert '"cvc":"1' not in logs

        check()
        everything = stored_text(aws)
        assert_no_pan(everything, seen, "table, queue or topic")
        assert '"cvc"' not in everything.lower()
        assert 201 in statuses, "the strategy should produce some valid requests"


def test_status_never_5xx_and_never_leaks_a_pan(monkeypatch, capsys):
    with aws_environment(monkeypatch):

        @PROPERTY_SETTINGS
        @given(
            pans(),
            st.one_of(
                st.none(),
                st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=3),
                st.builds(
                    lambda s: {"transaction_id": s},
                    st.one_of(st.from_regex(r"\Atxn_[a-z2-7]{24}\Z"), st.text(max_size=40)),
                ),
            ),
            st.booleans(),
        )
        def check(pan, query, with_pan):
            if with_pan:
                query = {"transaction_id": pan}
            event = status_event(None, query=query)
            response = read(event)
            assert response["statusCode"] < 500
            assert_no_pan(json.dumps(response) + capsys.readouterr().out, {pan}, "status response or logs")

        check()
