"""The emulator says when a client retries a call, and how it answered the earlier attempt
(core/local/emulator/failure_journal.py): the evidence for a create that arrives twice under load."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from payments_platform.core.local.emulator.failure_journal import FailureJournal, read_failures

SIGNED = "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261206/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=x"


def app_answering(*statuses: str) -> Any:
    answers = iter(statuses)

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(next(answers), [("Content-Type", "application/json")])
        return [b"{}"]

    return app


def call(journal: FailureJournal, attempt: int, invocation: str = "inv-1") -> None:
    environ = {
        "HTTP_AUTHORIZATION": SIGNED,
        "HTTP_X_AMZ_TARGET": "TrentService.CreateAlias",
        "HTTP_AMZ_SDK_INVOCATION_ID": invocation,
        "HTTP_AMZ_SDK_REQUEST": f"attempt={attempt}; max=25",
    }
    list(journal(environ, lambda status, headers, *args: None))


def retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "payments.emulator.retries"]


def test_a_retry_of_an_answered_create_names_the_call_and_the_earlier_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = FailureJournal(app_answering("200 OK", "400 Bad Request"), tmp_path / "journal.jsonl")
    with caplog.at_level(logging.WARNING):
        call(journal, attempt=1)
        call(journal, attempt=2)
    assert retries(caplog) == [
        "retried request: kms:CreateAlias attempt 2 (invocation inv-1); the earlier attempt: answered 200"
    ]


def test_a_retry_after_a_5xx_is_journaled_and_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "journal.jsonl"
    journal = FailureJournal(app_answering("500 Internal Server Error", "200 OK"), path)
    with caplog.at_level(logging.WARNING):
        call(journal, attempt=1)
        call(journal, attempt=2)
    assert retries(caplog) == [
        "retried request: kms:CreateAlias attempt 2 (invocation inv-1); the earlier attempt: answered 500"
    ]
    failures, _ = read_failures(path)
    assert [(f.service_action, f.status) for f in failures] == [("kms:CreateAlias", 500)]


def test_first_attempts_and_unknown_calls_say_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = FailureJournal(app_answering("200 OK", "200 OK", "200 OK"), tmp_path / "journal.jsonl")
    with caplog.at_level(logging.WARNING):
        call(journal, attempt=1, invocation="a")
        call(journal, attempt=1, invocation="b")
        call(journal, attempt=3, invocation="never-seen")
    assert retries(caplog) == [
        "retried request: kms:CreateAlias attempt 3 (invocation never-seen); the earlier attempt: not seen"
    ]
