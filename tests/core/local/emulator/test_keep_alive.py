"""The emulator's server keeps a connection for the next request once it has read the request's
body whole (core/local/emulator/keep_alive.py): the real server process (the session's emulator),
real sockets."""

from __future__ import annotations

import http.client

from payments_platform.core.local.emulator.keep_alive import DRAIN_LIMIT

STATIC = "/moto-api/lib.js"  # moto's dashboard script: answers any method, never reads a body


def test_requests_on_one_connection_are_answered_on_it(emulator):
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    connection.connect()
    opened = connection.sock
    for _ in range(3):
        connection.request("GET", STATIC)
        answer = connection.getresponse()
        assert answer.status == 200 and answer.getheader("Connection") is None
        assert answer.read()
    assert connection.sock is opened  # never closed by the server, so never reopened
    connection.close()


def test_a_body_the_emulator_left_unread_is_drained_and_the_connection_carries_the_next_request(emulator):
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    connection.request("POST", STATIC, body=b"x" * 10_000)  # unread by moto: drained, not taken for a request line
    opened = connection.sock
    first = connection.getresponse()
    first.read()
    connection.request("GET", STATIC)
    second = connection.getresponse()
    assert (first.status, second.status, connection.sock is opened) == (200, 200, True)
    assert second.read()
    connection.close()


def test_an_unread_body_past_the_drain_limit_still_closes_the_connection(emulator):
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    connection.request("POST", STATIC, body=b"x" * (DRAIN_LIMIT + 1))
    answer = connection.getresponse()
    answer.read()
    assert (answer.status, answer.getheader("Connection")) == (200, "close")
    connection.close()


def test_a_client_asking_to_close_is_closed_on(emulator):
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    connection.request("GET", STATIC, headers={"Connection": "close"})
    answer = connection.getresponse()
    answer.read()
    assert answer.getheader("Connection") == "close"
    connection.close()
