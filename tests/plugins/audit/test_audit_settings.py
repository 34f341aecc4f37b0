"""What the audit plugin refuses: each bad setting ends the build with one line naming it."""

from __future__ import annotations

import pytest
from audit_support import LOG_SOURCE, STUB_KEYS

from payments_platform.core import ConfigError
from payments_platform.core.testing import stub_provider, synth


def _build(settings):
    # A fresh stub: a failing build must not share a cached configuration with others.
    synth(
        ["audit"],
        extra_plugins={"stubs": stub_provider("stubs", STUB_KEYS), "logsource": LOG_SOURCE},
        settings={"audit": settings},
        cache=False,
    )


@pytest.mark.parametrize(
    "settings, named",
    [
        ({"retention_days": 365}, "setting 'retention_days'"),
        ({"batch_size": 11}, "setting 'batch_size'"),
        ({"glacier_transition_days": 400}, "glacier_transition_days (400) must be less than retention_days (400)"),
        ({"consumer_log_retention_days": 31}, "setting 'consumer_log_retention_days'"),
        ({"object_lock": True}, "setting 'object_lock'"),
    ],
)
def test_bad_setting_fails_with_one_line_naming_it(settings, named):
    with pytest.raises(ConfigError) as raised:
        _build(settings)
    message = str(raised.value)
    assert "plugin 'audit'" in message and named in message and "\n" not in message


def test_consumer_timeout_beyond_the_queues_visibility_timeout_is_refused():
    with pytest.raises(ConfigError) as raised:
        _build({"consumer_timeout_seconds": 31})
    assert str(raised.value) == (
        "environment 'test', plugin 'audit', setting 'consumer_timeout_seconds': 31 s exceeds the audit queue's "
        "visibility timeout (30 s); Lambda would refuse the event source mapping"
    )
