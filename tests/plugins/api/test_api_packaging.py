"""The Lambda package: byte-for-byte reproducible, importable, referenced relatively."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from api_support import IAM_SETTINGS, synth_api

from payments_platform.core.function_packages import FIXED_TIMESTAMP
from payments_platform.plugins.api.packaging import build_lambda_package


def test_two_builds_are_byte_identical(tmp_path):
    first = build_lambda_package(tmp_path / "a")
    second = build_lambda_package(tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.source_code_hash == second.source_code_hash
    assert first.path.name == f"{first.sha256_hex}.zip"


def test_rebuilding_into_the_cache_reuses_the_content_addressed_file(tmp_path):
    first = build_lambda_package(tmp_path)
    second = build_lambda_package(tmp_path)
    assert first.path == second.path
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]


def test_entries_are_sorted_with_fixed_timestamps_and_permissions(tmp_path):
    package = build_lambda_package(tmp_path)
    with zipfile.ZipFile(package.path) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {FIXED_TIMESTAMP}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}


def test_layout_is_payments_runtime_plus_vendored_structlog(tmp_path):
    package = build_lambda_package(tmp_path)
    names = set(package.entries)
    assert {
        "payments_runtime/__init__.py",
        "payments_runtime/transactions.py",
        "payments_runtime/status.py",
        "payments_runtime/schemas/create_transaction.schema.json",
        "structlog/__init__.py",
        "structlog/py.typed",
    } <= names
    assert {n.split("/")[0] for n in names} == {"payments_runtime", "structlog"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_zip_imports_both_handlers(tmp_path):
    package = build_lambda_package(tmp_path / "cache")
    target = tmp_path / "extracted"
    with zipfile.ZipFile(package.path) as archive:
        archive.extractall(target)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import payments_runtime.transactions as t, payments_runtime.status as s, structlog\n"
        "assert callable(t.handler) and callable(s.handler)\n"
        "assert structlog.__file__.startswith(sys.argv[1]), structlog.__file__\n"
        "assert not any(m.startswith('payments_platform') for m in sys.modules)\n"
    )
    # -S: no site-packages, so structlog can only come from the zip (botocore is on Lambda's
    # runtime; here it is added explicitly from the virtualenv).
    import botocore

    botocore_root = str(__import__("pathlib").Path(botocore.__file__).parents[1])
    result = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.append({botocore_root!r})\n" + script, str(target)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


def test_source_code_hash_is_identical_across_two_synths(api_key_stack, iam_stack):
    hashes = {
        body["source_code_hash"]
        for stack in (api_key_stack, iam_stack)
        for body in stack.resources("aws_lambda_function").values()
    }
    # With code signing (the default) the package reaches Lambda through the artifacts bucket.
    sources = {
        body["source"] for stack in (api_key_stack, iam_stack) for body in stack.resources("aws_s3_object").values()
    }
    assert len(hashes) == 1
    assert len(sources) == 1


def test_package_is_referenced_relative_to_the_synth_output(api_key_stack):
    (source,) = {b["source"] for b in api_key_stack.resources("aws_s3_object").values()}
    assert source.startswith("assets/") and source.endswith(".zip")


def test_unsigned_function_code_is_referenced_relative_to_the_synth_output():
    stack = synth_api({**IAM_SETTINGS, "code_signing": False})
    (filename,) = {b["filename"] for b in stack.resources("aws_lambda_function").values()}
    assert filename.startswith("assets/") and filename.endswith(".zip")
