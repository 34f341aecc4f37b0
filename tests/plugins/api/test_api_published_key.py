"""keys.REST_API as a consumer sees it: every field a reference to the resource it names, so
what a consumer builds from it (a WAF association) is ordered after the API's stage."""

from __future__ import annotations

import dataclasses

import pytest
from api_support import API_KEY_SETTINGS, STUBS, ref

from payments_platform.core import PluginDeclaration, hookimpl, keys
from payments_platform.core.cdktf_adapter import aws
from payments_platform.core.testing import SynthesizedStack, synth

WEB_ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/consumer/0000"


class RestApiConsumer:
    """A third-party plugin building on the published API, as a WAF distribution would."""

    @hookimpl
    def payments_declare(self) -> PluginDeclaration:
        return PluginDeclaration(name="consumer", description="reads keys.REST_API", requires=(keys.REST_API,))

    @hookimpl
    def payments_wiring(self, ctx) -> None:
        api = ctx[keys.REST_API]
        aws.wafv2_web_acl_association.Wafv2WebAclAssociation(
            ctx.scope, "web_acl_association", resource_arn=api.stage_arn, web_acl_arn=WEB_ACL_ARN
        )
        for field in dataclasses.fields(api):
            ctx.outputs.add(f"consumer_{field.name}", getattr(api, field.name), description=field.name)


CONSUMER = RestApiConsumer()


@pytest.fixture(scope="module")
def consumer_stack() -> SynthesizedStack:
    return synth(["api"], extra_plugins={"stubs": STUBS, "consumer": CONSUMER}, settings={"api": API_KEY_SETTINGS})


def test_waf_association_built_from_stage_arn_references_the_stage(consumer_stack):
    association = consumer_stack.one("aws_wafv2_web_acl_association")
    assert association["resource_arn"] == ref(consumer_stack, "aws_api_gateway_stage", "/stage", "arn")


@pytest.mark.parametrize(
    ("field", "resource_type", "path", "attribute"),
    [
        ("rest_api_id", "aws_api_gateway_rest_api", "/rest_api", "id"),
        ("arn", "aws_api_gateway_rest_api", "/rest_api", "arn"),
        ("execution_arn", "aws_api_gateway_rest_api", "/rest_api", "execution_arn"),
        ("stage_name", "aws_api_gateway_stage", "/stage", "stage_name"),
        ("stage_arn", "aws_api_gateway_stage", "/stage", "arn"),
        ("usage_plan_id", "aws_api_gateway_usage_plan", "/usage_plan", "id"),
    ],
)
def test_published_rest_api_field_references_its_resource(consumer_stack, field, resource_type, path, attribute):
    assert consumer_stack.outputs()[f"consumer_{field}"]["value"] == ref(consumer_stack, resource_type, path, attribute)


def test_published_rest_api_name_and_invoke_url_are_the_stage_s(consumer_stack):
    outputs = consumer_stack.outputs()
    rest_api_id = ref(consumer_stack, "aws_api_gateway_rest_api", "/rest_api", "id")
    assert outputs["consumer_name"]["value"] == "payments-api-test"
    assert outputs["consumer_invoke_url"]["value"] == f"https://{rest_api_id}.execute-api.us-east-1.amazonaws.com/prod"
