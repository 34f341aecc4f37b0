"""The emulator's administrator: the identity Terraform and the local tooling use.

The provider synthesized for an emulator endpoint signs with the access key ``emulator`` /
``emulator`` (core/host/emulator_identity.py). With IAM enforcement on, that key must belong to a user who may
do everything -- so it is seeded here, in the emulator's own account, before the first request and
again after every ``/moto-api/reset`` (which wipes every backend, users included).
"""

from __future__ import annotations

import json
import re
from typing import Any

from payments_platform.core.host.emulator_identity import EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY
from payments_platform.core.local.emulator.patching import Patches

ACCOUNT_ID = "123456789012"  # moto's default account: where requests signed with an unknown key land
ADMIN_USER_NAME = "emulator-admin"
ADMIN_ACCESS_KEY_ID = EMULATOR_ACCESS_KEY_ID
ADMIN_SECRET_ACCESS_KEY = EMULATOR_SECRET_ACCESS_KEY
ADMIN_POLICY_NAME = "AdministratorAccess"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def seed_administrator() -> None:
    """Create the administrator user and its fixed access key in moto's IAM backend (idempotent)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT_ID]["aws"]
    if ADMIN_ACCESS_KEY_ID in backend.access_keys:
        return
    user = backend.users.get(ADMIN_USER_NAME) or backend.create_user("us-east-1", ADMIN_USER_NAME)
    backend.put_user_policy(ADMIN_USER_NAME, ADMIN_POLICY_NAME, json.dumps(ADMIN_POLICY))
    key = backend.create_access_key(user.name)
    # moto generates random key material; the provider's is fixed. Re-key the one moto made.
    del backend.access_keys[key.access_key_id]
    key.access_key_id, key.secret_access_key = ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
    backend.access_keys[key.access_key_id] = key


PATCHES = Patches("administrator")


def keep_administrator_across_resets() -> None:
    """Re-seed the administrator whenever moto's backends are reset (idempotent)."""
    PATCHES.install()


@PATCHES.replaces("moto.moto_api._internal.models:MotoAPIBackend", "reset")
def administrator_survives_reset(original_reset: Any) -> Any:
    """``/moto-api/reset`` keeps the emulator's administrator, as AWS keeps an account's root.

    Upstream: none needed in moto (a reset is meant to wipe everything); the emulator layer's own
    choice, kept here so the patch is applied and tested like the others."""

    def reset(self: Any) -> None:
        original_reset(self)
        seed_administrator()

    return reset


_CREDENTIAL = re.compile(r"Credential=(?P<access_key>[^/,\s]+)/")


@PATCHES.replaces("moto.core.responses:BaseResponse", "get_access_key")
def signed_access_key(original_get_access_key: Any) -> Any:
    """The access key a SigV4 request was signed with, whatever its format -- so GetCallerIdentity
    (and IAM's GetUser) name the administrator, ``arn:aws:iam::…:user/emulator-admin``, as they name
    a user on AWS. Terraform reads the deploying principal from GetCallerIdentity and the emulator's
    bucket-policy check (moto_bucket_policy.principal_arn) resolves the same key through IAM: both
    must see the same ARN, or a policy naming the deployer refuses the deployer.

    Upstream: moto.core.responses.BaseResponse.access_key_regex accepts only 20-character
    upper-case ids (``[A-Z0-9]{20}``) and falls back to ``AKIAEXAMPLE`` (the anonymous
    ``user/moto``) for any other; it should take the id from SigV4's ``Credential=`` field."""

    def get_access_key(self: Any) -> str:
        match = _CREDENTIAL.search(self.headers.get("Authorization") or "")
        return match.group("access_key") if match else original_get_access_key(self)

    return get_access_key
