"""assert_resource: dicts as subsets, lists exact or as subsets, a failure that says which rule held."""

from __future__ import annotations

import pytest

from payments_platform.core.testing import SynthesizedStack, assert_resource

pytest_plugins = ["pytester"]

STATEMENTS = [
    {"Sid": "ReadTable", "Action": ["dynamodb:GetItem", "dynamodb:Query"]},
    {"Sid": "SendAudit", "Action": ["sqs:SendMessage"]},
    {"Sid": "Decrypt", "Action": ["kms:Decrypt"]},
]
STACK = SynthesizedStack(
    "payments-test",
    {
        "resource": {
            "aws_iam_policy": {"fn": {"name": "fn-test", "statement": STATEMENTS, "tags": {"team": "payments"}}}
        }
    },
)


def test_dicts_match_as_subsets_at_every_depth():
    assert_resource(
        STACK, "aws_iam_policy", {"statement": [{"Sid": "ReadTable"}, {"Sid": "SendAudit"}, {"Sid": "Decrypt"}]}
    )


def test_exact_lists_accept_the_same_items_in_the_same_order():
    assert_resource(STACK, "aws_iam_policy", {"statement": STATEMENTS}, lists="exact")


def test_exact_lists_refuse_a_shorter_list():
    with pytest.raises(AssertionError):
        assert_resource(STACK, "aws_iam_policy", {"statement": [{"Sid": "SendAudit"}]})


def test_exact_lists_refuse_another_order():
    with pytest.raises(AssertionError):
        assert_resource(STACK, "aws_iam_policy", {"statement": list(reversed(STATEMENTS))})


def test_subset_lists_accept_some_items_in_any_order():
    assert_resource(STACK, "aws_iam_policy", {"statement": [{"Sid": "Decrypt"}, {"Sid": "ReadTable"}]}, lists="subset")


def test_subset_lists_apply_inside_nested_lists_too():
    assert_resource(STACK, "aws_iam_policy", {"statement": [{"Action": ["dynamodb:Query"]}]}, lists="subset")


def test_subset_lists_match_each_expected_item_to_a_different_actual_item():
    with pytest.raises(AssertionError):
        assert_resource(
            STACK, "aws_iam_policy", {"statement": [{"Sid": "Decrypt"}, {"Sid": "Decrypt"}]}, lists="subset"
        )


def test_subset_matching_is_not_fooled_by_a_loose_item_listed_first():
    # {} fits every statement; a greedy matcher would give it ReadTable and then fail the second item.
    assert_resource(
        STACK, "aws_iam_policy", {"statement": [{}, {"Sid": "ReadTable"}, {"Sid": "Decrypt"}]}, lists="subset"
    )


def test_subset_lists_refuse_an_item_that_is_not_there():
    with pytest.raises(AssertionError):
        assert_resource(STACK, "aws_iam_policy", {"statement": [{"Sid": "PublishTopic"}]}, lists="subset")


def test_failure_message_names_the_list_rule_and_shows_a_diff_against_the_closest_resource():
    with pytest.raises(AssertionError) as caught:
        assert_resource(STACK, "aws_iam_policy", {"name": "fn-test", "statement": [{"Sid": "SendAudit"}]})
    message = str(caught.value)
    assert message.startswith(
        "no aws_iam_policy in payments-test has the expected properties "
        "(lists='exact': lists must match in length and order); closest:\n--- expected\n+++ aws_iam_policy.fn\n"
    )
    assert '+      "Sid": "ReadTable"' in message


def test_failure_message_in_subset_mode_says_items_match_in_any_order():
    with pytest.raises(AssertionError, match=r"lists='subset': each expected list item must match a different item"):
        assert_resource(STACK, "aws_iam_policy", {"statement": [{"Sid": "PublishTopic"}]}, lists="subset")


def test_missing_resource_type_is_named():
    with pytest.raises(AssertionError, match="^payments-test has no aws_sqs_queue at all$"):
        assert_resource(STACK, "aws_sqs_queue", {})


def test_unknown_list_mode_is_a_usage_error():
    with pytest.raises(ValueError, match="lists must be one of 'exact', 'subset', not 'sorted'"):
        assert_resource(STACK, "aws_iam_policy", {}, lists="sorted")


def test_pytest_hides_assert_resource_from_the_traceback(pytester):
    pytester.makepyfile(
        """
        from payments_platform.core.testing import SynthesizedStack, assert_resource

        def test_fails():
            stack = SynthesizedStack("s", {"resource": {"aws_sqs_queue": {"q": {"name": "a"}}}})
            assert_resource(stack, "aws_sqs_queue", {"name": "b"})
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert 'assert_resource(stack, "aws_sqs_queue", {"name": "b"})' in output
    assert "__tracebackhide__" not in output and "def assert_resource" not in output
