"""The emulator's whole state as one file, and back: what makes a second ``local up`` warm (issue #31).

moto has no dump/restore of its own (its maintainers declined one), but its backends are plain
Python objects held in module-level ``BackendDict``s. Every live one is pickled in **one** dump, so
objects shared between services (a KMS key an SQS queue names, an IAM role a function holds) stay
shared. Restoring unpickles everything first and only then swaps the backends in: a file that
cannot be read leaves the running emulator exactly as it was -- never half-restored.

A few objects moto keeps cannot be pickled as they are; the reducers below live in a private
``dispatch_table`` (not ``copyreg``'s global one: moto deep-copies its backends elsewhere).
Key material is written as it is -- KMS keys as PKCS#8 DER, symmetric material byte for byte -- so
old ciphertext decrypts after a restore: never regenerated.
"""

from __future__ import annotations

import collections
import copyreg
import functools
import importlib
import io
import pickle
import threading
import time
import weakref
from typing import Any

# Bumped whenever what a snapshot holds changes shape: an older file is refused, not misread.
FORMAT = 1
_DUMP_ATTEMPTS = 20  # a request in flight may change a dict while it is pickled: try again


class SnapshotUnreadable(Exception):
    """A snapshot this emulator cannot restore (damaged, or written by another moto/patch set)."""


def _private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_private_key(der, password=None)


def _public_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_public_key(der)


def _reduce_private_key(key: Any) -> tuple[Any, tuple[bytes]]:
    """Upstream: cryptography's key objects are not picklable (pyca/cryptography #4011); every moto
    KMS key holds one (an RSA-2048 key even for a symmetric CMK)."""
    from cryptography.hazmat.primitives import serialization

    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _private_key, (der,)


def _reduce_public_key(key: Any) -> tuple[Any, tuple[bytes]]:
    from cryptography.hazmat.primitives import serialization

    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _public_key, (der,)


def _condition() -> threading.Condition:
    return threading.Condition()


def _lock() -> Any:
    return threading.Lock()


def _rlock() -> Any:
    return threading.RLock()


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


_EMPTY_FACTORIES = (dict, list, set)


def _reduce_defaultdict(value: collections.defaultdict[Any, Any]) -> tuple[Any, ...]:
    """Upstream: moto's ``LambdaStorage._aliases`` is ``defaultdict(lambda: {})`` -- a lambda
    cannot be pickled; ``defaultdict(dict)`` does the same. Any other unpicklable factory is refused
    by name rather than guessed."""
    factory = value.default_factory
    if factory is not None and getattr(factory, "__name__", "") == "<lambda>":
        made = factory()
        if type(made) not in _EMPTY_FACTORIES or made:
            raise pickle.PicklingError(f"defaultdict factory {factory.__qualname__} makes {type(made).__name__}")
        factory = type(made)
    return collections.defaultdict, (factory,), None, None, iter(value.items())


@functools.lru_cache(maxsize=1)
def dispatch_table() -> dict[type, Any]:
    """copyreg's table plus ours. The key classes are the concrete (Rust-backed) ones, which only an
    instance names."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    table: dict[type, Any] = dict(copyreg.dispatch_table)
    samples = (
        rsa.generate_private_key(65537, 1024),
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
    )
    for key in samples:
        table[type(key)] = _reduce_private_key
        table[type(key.public_key())] = _reduce_public_key
    # Upstream: SQS queues hold a Condition and locks (Queue._messages_lock), which never pickle;
    # a restored emulator starts with no request in flight, so fresh ones are right.
    table[threading.Condition] = lambda _: (_condition, ())
    table[type(threading.Lock())] = lambda _: (_lock, ())
    table[type(threading.RLock())] = lambda _: (_rlock, ())
    # Upstream: moto's LambdaStorage._arns is a WeakValueDictionary (not picklable).
    table[weakref.WeakValueDictionary] = lambda w: (_weak_values, (dict(w),))
    table[collections.defaultdict] = _reduce_defaultdict
    return table


def _live_backends() -> dict[str, Any]:
    from moto.core.base_backend import BackendDict

    return {bd.service_name: bd for bd in list(BackendDict._instances)}


def _state() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    return {
        (name, type(bd).__module__ if bd.backend is None else bd.backend.__module__): {
            account: dict(regions) for account, regions in list(bd.items())
        }
        for name, bd in sorted(_live_backends().items())
    }


def dumps() -> bytes:
    """Every live backend as one pickle (format header first)."""
    for attempt in range(_DUMP_ATTEMPTS):
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=5)
        pickler.dispatch_table = dispatch_table()  # type: ignore[misc]
        try:
            pickler.dump({"format": FORMAT, "backends": _state()})
        except RuntimeError:  # "dictionary changed size during iteration": a request in flight
            if attempt == _DUMP_ATTEMPTS - 1:
                raise
            time.sleep(0.05)
            continue
        return buffer.getvalue()
    raise AssertionError("unreachable")


def restore(blob: bytes) -> list[str]:
    """Replace every backend with the snapshot's; the services restored. SnapshotUnreadable, with
    nothing changed, when the blob cannot be read whole."""
    from moto.core.base_backend import BackendDict

    try:
        snapshot = pickle.loads(blob)
        if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
            raise SnapshotUnreadable(f"not a format-{FORMAT} emulator snapshot")
        targets = []
        for (name, module), accounts in snapshot["backends"].items():
            owner = importlib.import_module(module)
            found = [v for v in vars(owner).values() if isinstance(v, BackendDict) and v.service_name == name]
            if len(found) != 1:
                raise SnapshotUnreadable(f"no moto backend {name} in {module}")
            targets.append((found[0], accounts))
    except SnapshotUnreadable:
        raise
    except Exception as error:  # pickle raises almost anything on a damaged or foreign file
        raise SnapshotUnreadable(f"{type(error).__name__}: {error}") from None
    # Only plain dict operations from here: nothing that can fail half-way.
    for backend_dict, accounts in targets:
        backend_dict.clear()
        for account, regions in accounts.items():
            per_account = backend_dict[account]  # moto makes (and registers) the account's dict
            per_account.clear()
            for region, backend in regions.items():
                dict.__setitem__(per_account, region, backend)
    return sorted(name for name, _ in snapshot["backends"])


# --------------------------------------------------------------------------- the emulator's routes

SNAPSHOT_ROUTE = "/_payments/snapshot"  # POST ?file=NAME: write the state to <snapshots dir>/NAME
RESTORE_ROUTE = "/_payments/restore"  # POST ?file=NAME: replace the state with <snapshots dir>/NAME


class SnapshotRoutes:
    """WSGI middleware: the two routes ``local up`` drives (core/local/snapshots.py); every other
    request goes to moto. Files are named relative to the snapshots directory given at start and
    never outside it (they hold the emulator's secrets; they never leave the machine)."""

    def __init__(self, app: Any, snapshots_dir: Any) -> None:
        from pathlib import Path

        self.app, self.snapshots_dir = app, Path(snapshots_dir).resolve()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path not in (SNAPSHOT_ROUTE, RESTORE_ROUTE):
            return self.app(environ, start_response)
        import json
        from urllib.parse import parse_qs

        status, body = "200 OK", {}
        try:
            if environ.get("REQUEST_METHOD") != "POST":
                raise ValueError("POST only")
            target = self._file(parse_qs(environ.get("QUERY_STRING", "")).get("file", [""])[0])
            started = time.perf_counter()
            if path == SNAPSHOT_ROUTE:
                body = {"bytes": _write_atomically(target, dumps())}
            else:
                body = {"services": restore(target.read_bytes())}
            body["seconds"] = round(time.perf_counter() - started, 3)
        except SnapshotUnreadable as error:
            status, body = "409 Conflict", {"error": str(error)}
        except (OSError, ValueError, pickle.PicklingError) as error:
            status, body = "400 Bad Request", {"error": f"{type(error).__name__}: {error}"}
        payload = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def _file(self, name: str) -> Any:
        target = (self.snapshots_dir / name).resolve()
        if not name or not target.is_relative_to(self.snapshots_dir):
            raise ValueError(f"{name!r} is not a file in {self.snapshots_dir}")
        return target


def _write_atomically(target: Any, blob: bytes) -> int:
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp: 0600 already
            handle.write(blob)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return len(blob)
