"""Lambda packages built from a plugin's own code, the way the runtime's package is built.

:func:`function_package` zips a plugin's handler module or package -- optionally with the
platform's runtime support library (its structlog configuration with card-data redaction) and
vendored pure-Python packages -- and returns a :class:`~payments_platform.core.keys.FunctionPackage`
for :func:`~payments_platform.core.builders.platform_function`::

    package = function_package(ctx, "webhook_package", source="merchant_webhooks.function",
                               runtime_support=True)
    fn = platform_function(ctx, "webhook_sender", key="merchant-webhooks", package=package,
                           handler="merchant_webhooks.function.handler.handle", ...)

The zip is reproducible, as the runtime's is (PCI DSS 6.5.1: what is reviewed is what deploys,
and ``source_code_hash`` changes only when code does): entries sorted, every timestamp
1980-01-01 00:00, every file mode 0644 from a "Unix" creator, STORED (deflate output depends on
the zlib build). Zips land in a content-addressed cache (``<dir>/<sha256>.zip``) written by
rename, so concurrent synths never see half a file.

Where the environment signs the platform's code (``keys.RUNTIME_PACKAGE`` carries a
:class:`~payments_platform.core.keys.CodeSigner`), the plugin's package is uploaded and signed by
the same AWS Signer profile and runs under the same enforcing code signing config; elsewhere it is
deployed from the synth output directly. The runtime (``python3.12``) and architecture are the
runtime package's, so a plugin's function runs where the platform's do.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from payments_platform.core import keys
from payments_platform.core.errors import RegistrationError

if TYPE_CHECKING:
    from payments_platform.core.context import PluginContext

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record
FILE_MODE = 0o100644  # regular file, rw-r--r--
UNIX_CREATOR = 3
DEFAULT_CACHE_DIR_NAME = "payments-platform-build"
# What a handler's package holds: code and the JSON it reads (schemas); never caches or tests' data.
SOURCE_SUFFIXES = (".py", ".json")
VENDORED_SUFFIXES = (".py", ".typed")
UNSIGNED_PREFIX = "unsigned/"
SIGNED_PREFIX = "signed/"


@dataclass(frozen=True)
class BuiltZip:
    """A built deployment package: where it is and the hashes Terraform and tests compare."""

    # the zip in the content-addressed cache
    path: Path
    # hex SHA-256 of the zip (its cache name, the unsigned upload's key)
    sha256_hex: str
    # base64 of the raw SHA-256, what aws_lambda_function's source_code_hash expects
    source_code_hash: str
    # the archive names, sorted
    entries: tuple[str, ...]


def tree_entries(tree: keys.PackageTree) -> list[tuple[str, Path]]:
    """(archive name, file) for each file of ``tree`` with its suffixes, no caches or dot-files."""
    root = Path(tree.path)
    return [(f"{tree.archive_dir}/{name}", path) for name, path in _files(root, tree.suffixes)]


def _files(root: Path, suffixes: Sequence[str]) -> Iterator[tuple[str, Path]]:
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if "__pycache__" in relative.parts or any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.name.endswith(tuple(suffixes)):
            yield relative.as_posix(), path


def zip_bytes(entries: Iterable[tuple[str, Path]]) -> bytes:
    """The zip of ``entries`` (archive name, file), sorted by name, every variable field pinned."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in sorted(entries, key=lambda item: item[0]):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = UNIX_CREATOR
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / DEFAULT_CACHE_DIR_NAME


def store_zip(entries: Sequence[tuple[str, Path]], cache_dir: str | Path | None = None) -> BuiltZip:
    """Zip ``entries`` (:func:`zip_bytes`) into ``cache_dir`` as ``<sha256>.zip``, once per content."""
    names = sorted(name for name, _ in entries)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RegistrationError(f"two files map to the same archive name: {', '.join(duplicates)}")
    data = zip_bytes(entries)
    digest = hashlib.sha256(data)
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{digest.hexdigest()}.zip"
    if not (target.is_file() and target.stat().st_size == len(data)):
        # Write-then-rename: a concurrent synth sees the whole file or none of it.
        fd, scratch = tempfile.mkstemp(prefix=".lambda-", suffix=".zip", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(scratch, 0o644)
            os.replace(scratch, target)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise
    return BuiltZip(
        path=target,
        sha256_hex=digest.hexdigest(),
        source_code_hash=base64.b64encode(digest.digest()).decode("ascii"),
        entries=tuple(names),
    )


def module_tree(module: str, *, suffixes: Sequence[str] = SOURCE_SUFFIXES) -> keys.PackageTree | Path:
    """Where importable ``module`` lives: a package's directory as a :class:`keys.PackageTree`
    archived under its dotted path (``a.b`` → ``a/b/``), or a single module's file."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None and not spec.submodule_search_locations:
        raise RegistrationError(f"function source {module!r} is not an importable module or package")
    if spec.submodule_search_locations:
        locations = list(spec.submodule_search_locations)
        if len(locations) != 1:
            raise RegistrationError(f"function source {module!r} is a namespace package spread over {locations}")
        return keys.PackageTree(archive_dir=module.replace(".", "/"), path=locations[0], suffixes=tuple(suffixes))
    origin = Path(str(spec.origin))
    if origin.suffix != ".py":
        raise RegistrationError(f"function source {module!r} is {origin.name}, not Python source")
    return origin


def package_entries(
    source: str, *, support: Sequence[keys.PackageTree] = (), vendor: Sequence[str] = ()
) -> list[tuple[str, Path]]:
    """Every (archive name, file) of a plugin function's package: ``source`` under its dotted path
    with the ``__init__.py`` of each parent package (and nothing else of them: the plugin's
    registration code stays out), then ``support`` trees and ``vendor`` packages. The parents stay
    regular packages, so the zip's copy is what imports -- locally too, where the distribution is
    also installed."""
    found = module_tree(source)
    if isinstance(found, Path):
        entries = [(f"{source.replace('.', '/')}.py", found)]
    else:
        entries = tree_entries(found)
    entries += _parent_inits(source)
    for tree in support:
        entries += tree_entries(tree)
    for package in vendor:
        vendored = module_tree(package, suffixes=VENDORED_SUFFIXES)
        if isinstance(vendored, Path) or "." in package:
            raise RegistrationError(f"vendored {package!r} must be a top-level package (a directory)")
        entries += tree_entries(vendored)
    return sorted(entries, key=lambda item: item[0])


def _parent_inits(source: str) -> list[tuple[str, Path]]:
    parts = source.split(".")
    inits = []
    for depth in range(1, len(parts)):
        parent = ".".join(parts[:depth])
        found = module_tree(parent)
        init = Path(found.path) / "__init__.py" if isinstance(found, keys.PackageTree) else None
        if init is not None and init.is_file():
            inits.append((f"{parent.replace('.', '/')}/__init__.py", init))
    return inits


def function_package(
    ctx: PluginContext,
    construct_id: str,
    *,
    source: str,
    runtime_support: bool = False,
    vendor: Sequence[str] = (),
    cache_dir: str | Path | None = None,
) -> keys.FunctionPackage:
    """A Lambda package of the plugin's own handler code, for :func:`platform_function`.

    * ``source``: the importable module or package holding the handler (e.g.
      ``"merchant_webhooks.function"``), archived under its dotted path, so the handler is named as
      you import it (``handler="merchant_webhooks.function.handler.handle"``); of its parent packages
      only their ``__init__.py`` come along. Keep it apart from the plugin's registration module,
      and keep the parents' ``__init__.py`` free of imports of it: Lambda has no ``payments_platform.core``.
    * ``runtime_support``: bundle the platform's runtime support library (the trees
      ``keys.RUNTIME_PACKAGE`` lists as ``support``: ``payments_runtime`` with its structlog
      configuration and card-data redaction, and structlog itself), so the handler logs as the
      platform's functions do: ``from payments_runtime.logging_config import configure_logging``.
    * ``vendor``: top-level pure-Python packages installed here to ship inside the zip.
    * ``cache_dir``: where zips are cached (default ``<tmp>/payments-platform-build``).

    Declare ``keys.RUNTIME_PACKAGE`` in ``requires``: its runtime, architecture and signer are
    used. ``construct_id`` names the synth asset (and, where code is signed, the
    ``<construct_id>_unsigned`` upload and ``<construct_id>_signing_job``).
    """
    from payments_platform.core.cdktf_adapter import AssetType, TerraformAsset

    runtime = ctx[keys.RUNTIME_PACKAGE]
    support = runtime.support if runtime_support else ()
    if runtime_support and not support:
        raise RegistrationError(
            f"plugin '{ctx.name}' package '{construct_id}': runtime_support asked, but the provider of "
            f"'{keys.RUNTIME_PACKAGE.name}' lists no support library"
        )
    built = store_zip(package_entries(source, support=support, vendor=vendor), cache_dir)
    asset = TerraformAsset(ctx.scope, construct_id, path=str(built.path), type=AssetType.FILE)
    code: Mapping[str, Any] = {"filename": asset.path}
    if runtime.signer is not None:
        code = sign_package(ctx, construct_id, runtime.signer, asset.path, built.sha256_hex)
    return keys.FunctionPackage(
        code=code,
        source_code_hash=built.source_code_hash,
        runtime=runtime.runtime,
        architecture=runtime.architecture,
        signer=runtime.signer,
    )


def sign_package(
    ctx: PluginContext,
    construct_id: str,
    signer: keys.CodeSigner,
    asset_path: str,
    sha256_hex: str,
    *,
    unsigned_id: str | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    """Upload the zip to the signer's artifacts bucket (``unsigned/<sha256>.zip``), sign that exact
    version with the signer's profile into ``signed/``, and return the function code arguments:
    the signed object and the enforcing code signing config."""
    from payments_platform.core.cdktf_adapter import aws

    unsigned = aws.s3_object.S3Object(
        ctx.scope,
        unsigned_id or f"{construct_id}_unsigned",
        bucket=signer.bucket_name,
        key=f"{UNSIGNED_PREFIX}{sha256_hex}.zip",
        source=asset_path,
        source_hash=sha256_hex,
        kms_key_id=signer.kms_key_arn,
        depends_on=list(signer.bucket_ready) or None,
    )
    job = aws.signer_signing_job.SignerSigningJob(
        ctx.scope,
        job_id or f"{construct_id}_signing_job",
        profile_name=signer.profile_name,
        source={"s3": {"bucket": signer.bucket_name, "key": unsigned.key, "version": unsigned.version_id}},
        destination={"s3": {"bucket": signer.bucket_name, "prefix": SIGNED_PREFIX}},
        ignore_signing_job_failure=False,
    )
    signed = job.signed_object.get(0).s3.get(0)
    return {"s3_bucket": signed.bucket, "s3_key": signed.key, "code_signing_config_arn": signer.code_signing_config_arn}
