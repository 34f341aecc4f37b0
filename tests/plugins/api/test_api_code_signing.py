"""Lambda code signing: Signer profile → signing job in the artifacts bucket → enforcing config."""

from __future__ import annotations

import json

import pytest
from api_support import IAM_SETTINGS, ref, synth_api

from payments_platform.core.testing import assert_resource

SIGNER_TYPES = {
    "aws_signer_signing_profile",
    "aws_signer_signing_job",
    "aws_lambda_code_signing_config",
    "aws_s3_bucket",
    "aws_s3_object",
}


def test_functions_run_the_signed_object_under_the_code_signing_config(api_key_stack):
    job = ref(api_key_stack, "aws_signer_signing_job", "/signing_job", "signed_object[0].s3[0]")[:-1]
    config_arn = ref(api_key_stack, "aws_lambda_code_signing_config", "/code_signing_config", "arn")
    functions = api_key_stack.resources("aws_lambda_function").values()
    assert len(functions) == 4  # processor, status checker, reconciler, key rotator: all run the signed package
    for body in functions:
        assert body["s3_bucket"] == job + ".bucket}"
        assert body["s3_key"] == job + ".key}"
        assert body["code_signing_config_arn"] == config_arn
        assert "filename" not in body


def test_code_signing_config_enforces_this_environments_profile(api_key_stack):
    profile = ref(api_key_stack, "aws_signer_signing_profile", "/signing_profile", "version_arn")
    assert_resource(
        api_key_stack,
        "aws_lambda_code_signing_config",
        {
            "allowed_publishers": {"signing_profile_version_arns": [profile]},
            "policies": {"untrusted_artifact_on_deployment": "Enforce"},
        },
    )


def test_signing_profile_is_lambdas_platform_with_a_destroy_safe_name_prefix(api_key_stack):
    (profile,) = api_key_stack.resources("aws_signer_signing_profile").values()
    assert profile["platform_id"] == "AWSLambda-SHA384-ECDSA"
    assert profile["name_prefix"] == "payments_lambda_test_"
    assert profile["signature_validity_period"] == {"type": "MONTHS", "value": 12}


def test_signing_job_signs_the_exact_uploaded_version_into_the_signed_prefix(api_key_stack):
    bucket = ref(api_key_stack, "aws_s3_bucket", "/artifacts_bucket", "id")
    (job,) = api_key_stack.resources("aws_signer_signing_job").values()
    assert job["source"]["s3"] == {
        "bucket": bucket,
        "key": ref(api_key_stack, "aws_s3_object", "/lambda_package_unsigned", "key"),
        "version": ref(api_key_stack, "aws_s3_object", "/lambda_package_unsigned", "version_id"),
    }
    assert job["destination"]["s3"] == {"bucket": bucket, "prefix": "signed/"}
    assert job["ignore_signing_job_failure"] is False


def test_unsigned_package_key_is_its_content_hash(api_key_stack):
    (obj,) = api_key_stack.resources("aws_s3_object").values()
    assert obj["key"] == f"unsigned/{obj['source_hash']}.zip"
    assert len(obj["source_hash"]) == 64


def test_artifacts_bucket_is_cmk_encrypted_versioned_private_and_destroyable(api_key_stack):
    kms_arn = ref(api_key_stack, "aws_kms_key", "/platform_key", "arn")
    (bucket,) = api_key_stack.resources("aws_s3_bucket").values()
    assert bucket["force_destroy"] is True
    (sse,) = api_key_stack.resources("aws_s3_bucket_server_side_encryption_configuration").values()
    assert sse["rule"] == [
        {
            "apply_server_side_encryption_by_default": {"kms_master_key_id": kms_arn, "sse_algorithm": "aws:kms"},
            "bucket_key_enabled": True,
        }
    ]
    assert_resource(api_key_stack, "aws_s3_bucket_versioning", {"versioning_configuration": {"status": "Enabled"}})
    assert_resource(
        api_key_stack,
        "aws_s3_bucket_public_access_block",
        {
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
    )


def test_artifacts_bucket_refuses_requests_without_tls(api_key_stack):
    (policy,) = api_key_stack.resources("aws_s3_bucket_policy").values()
    (statement,) = json.loads(policy["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_superseded_packages_expire(api_key_stack):
    (lifecycle,) = api_key_stack.resources("aws_s3_bucket_lifecycle_configuration").values()
    (rule,) = lifecycle["rule"]
    assert rule["status"] == "Enabled"
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 30}]


@pytest.fixture(scope="module")
def unsigned_stack():
    return synth_api({**IAM_SETTINGS, "code_signing": False})


def test_without_code_signing_the_zip_is_deployed_directly_and_nothing_signs(unsigned_stack):
    assert not SIGNER_TYPES & unsigned_stack.resource_types()
    for body in unsigned_stack.resources("aws_lambda_function").values():
        assert "code_signing_config_arn" not in body and body["filename"].startswith("assets/")
