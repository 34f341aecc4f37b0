import json

import pytest

from payments_platform.core.errors import RegistrationError
from payments_platform.core.roles import RoleRegistry


class FakeRole:
    arn = "arn:aws:iam::123456789012:role/r"


@pytest.fixture
def registry():
    reg = RoleRegistry(lambda scope, key, name, service, description: (FakeRole(), None))
    reg.role("fn", service="lambda.amazonaws.com", description="d", plugin="api", scope=None, name="fn-role-test")
    return reg


def grant(registry, **kw):
    args = dict(sid="Read", actions=["dynamodb:GetItem"], resources=["arn:aws:dynamodb:::table/t"], plugin="api")
    args.update(kw)
    return registry.grant("fn", **args)


def test_grant_renders_one_statement_per_sid(registry):
    grant(registry)
    grant(registry, sid="Send", actions=["sqs:SendMessage"], resources=["arn:aws:sqs:::q"])
    document = json.loads(registry.get("fn").policy_document())
    assert [s["Sid"] for s in document["Statement"]] == ["Read", "Send"]


@pytest.mark.parametrize("action", ["*", "dynamodb:*", "dynamodb:Get*", "GetItem"])
def test_wildcard_or_malformed_action_is_refused(registry, action):
    with pytest.raises(RegistrationError, match="no wildcards"):
        grant(registry, actions=[action])


def test_any_resource_needs_a_reason(registry):
    with pytest.raises(RegistrationError, match="any_resource_reason"):
        grant(registry, resources=["*"])


def test_any_resource_with_reason_is_reported(registry):
    grant(registry, sid="Xray", actions=["xray:PutTraceSegments"], resources=["*"], any_resource_reason="no ARNs")
    assert [(r, s.sid) for r, s in registry.wildcard_resource_grants()] == [("fn", "Xray")]


def test_duplicate_sid_names_the_plugin(registry):
    grant(registry)
    with pytest.raises(RegistrationError, match="plugin 'api'.*already has a statement 'Read'"):
        grant(registry)


def test_second_role_with_same_key_names_the_owner(registry):
    with pytest.raises(RegistrationError, match="already created by plugin 'api'"):
        registry.role("fn", service="lambda.amazonaws.com", description="d", plugin="other", scope=None, name="x")


def test_grant_to_unknown_role_lists_known_roles(registry):
    with pytest.raises(RegistrationError, match=r"no role 'nope' .*known: fn"):
        registry.grant("nope", sid="A", actions=["sqs:SendMessage"], resources=["arn"], plugin="api")
