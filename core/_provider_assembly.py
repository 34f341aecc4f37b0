"""Load the AWS provider's jsii assembly with a lazy JavaScript index.

The Python package imports every submodule eagerly; so does the npm package's
``lib/index.js`` inside the jsii tarball (``exports.x = require("./x")`` × ~2,100), which
costs ~3.4 s of JavaScript parsing on every synth. We repack the tarball once, with the
index turned into lazy getters (``require`` on first access), cache it under
``$PAYMENTS_CACHE_DIR`` (default ``~/.cache/payments-platform``), and load that instead.
jsii resolves types by walking the exports, so only the resource modules a stack uses are
ever parsed. Anything unexpected in the index, or any I/O problem, falls back to the stock
tarball: this is a speed-up, never a requirement.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
import sys
import tarfile
import tempfile
import types
from pathlib import Path

PROVIDER_PACKAGE = "cdktf_cdktf_provider_aws"
TARBALL = "provider-aws@20.1.0.jsii.tgz"
INDEX_MEMBER = "package/lib/index.js"
TRANSFORM_VERSION = "1"

_EXPORT = re.compile(r'^exports\.([A-Za-z0-9_$]+) = require\("(\./[A-Za-z0-9_-]+)"\);$')
_KEEP = re.compile(
    r'^("use strict";|Object\.defineProperty\(exports, "__esModule", \{ value: true \}\);|\s*\*.*|/\*\*|//.*|)$'
)
_VOID_INIT = re.compile(r"^exports\.[A-Za-z0-9_$.= ]+ = void 0;$")


def cache_dir() -> Path:
    root = os.environ.get("PAYMENTS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "payments-platform"
    )
    return Path(root) / "jsii"


def lazy_index(source: str) -> str | None:
    """The index with every ``exports.x = require(...)`` made a lazy getter; ``None`` if the
    file has any line we do not recognise (then the stock tarball is used)."""
    out = ['"use strict";', 'Object.defineProperty(exports, "__esModule", { value: true });']
    exports = 0
    for line in source.splitlines():
        match = _EXPORT.match(line)
        if match:
            name, path = match.groups()
            out.append(
                f'Object.defineProperty(exports, "{name}", {{ enumerable: true, configurable: true, '
                f'get: () => require("{path}") }});'
            )
            exports += 1
        elif _VOID_INIT.match(line) or _KEEP.match(line):
            continue
        else:
            return None
    return "\n".join(out) + "\n" if exports else None


def lazy_tarball(original: Path) -> Path | None:
    stat = original.stat()
    key = hashlib.sha256(f"{original}:{stat.st_size}:{stat.st_mtime_ns}:{TRANSFORM_VERSION}".encode()).hexdigest()[:16]
    target = cache_dir() / f"provider-aws-20.1.0-lazy-{key}.jsii.tgz"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(original, "r:gz") as source:
        members = source.getmembers()
        index = source.extractfile(INDEX_MEMBER)
        if index is None:
            return None
        rewritten = lazy_index(index.read().decode("utf-8"))
        if rewritten is None:
            return None
        fd, scratch = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        os.close(fd)
        try:
            with tarfile.open(scratch, "w:gz", compresslevel=1) as repacked:
                for member in members:
                    if member.name == INDEX_MEMBER:
                        data = rewritten.encode("utf-8")
                        member.size = len(data)
                        repacked.addfile(member, io.BytesIO(data))
                    else:
                        repacked.addfile(member, source.extractfile(member) if member.isfile() else None)
            os.replace(scratch, target)
        finally:
            if os.path.exists(scratch):
                os.unlink(scratch)
    return target


def install_lazy_assembly_module() -> bool:
    """Pre-create ``cdktf_cdktf_provider_aws._jsii`` loading the lazy tarball. Returns whether
    it did; on any problem it leaves the stock module to load normally."""
    name = f"{PROVIDER_PACKAGE}._jsii"
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            return False
        package_dir = Path(spec.origin).parent
        tarball = lazy_tarball(package_dir / TARBALL)
        if tarball is None:
            return False
        source = Path(spec.origin).read_text(encoding="utf-8")
        if f'"{TARBALL}"' not in source:
            return False
        # jsii resolves the file against the package; an absolute path resolves to itself.
        code = compile(source.replace(f'"{TARBALL}"', repr(str(tarball))), spec.origin, "exec")
    except (OSError, tarfile.TarError, UnicodeDecodeError):
        return False
    module = types.ModuleType(name)
    module.__spec__ = spec
    module.__file__ = spec.origin
    module.__path__ = [str(package_dir)]
    module.__package__ = name
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return True
