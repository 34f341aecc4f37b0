"""Versioned, rotatable fingerprint keys (checkov CKV2_AWS_57; PCI DSS 3.6.1.3 key changes).

Every card fingerprint and idempotency record names the key version it was made with. A
container holds a *keyring*: the secret's current version and its previous one. It writes with
one (the *writing* key) and, in the same DynamoDB transaction, checks that the key has no record
under any other -- so a replay of a request first seen under another key version is found,
never doubled.

Rotation is one step (a new secret version; Secrets Manager moves AWSCURRENT to it and
AWSPREVIOUS to the old one) and safe while containers still hold the old keyring, because:

* a container reloads its keyring every KEYRING_REFRESH_SECONDS;
* a new version is only *checked* until it is KEY_ACTIVATION_DELAY_SECONDS old, and written with
  after that -- by then every container has reloaded and checks it too.

A version is named ``k`` + 10 hex digits of an HMAC of a constant under the key: stable, and it
reveals nothing about the key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .logging_config import get_logger
from .settings import FingerprintKeys

KEYRING_REFRESH_SECONDS = 300
KEY_ACTIVATION_DELAY_SECONDS = (
    600  # > KEYRING_REFRESH_SECONDS: every container checks a key before anyone writes with it
)


@dataclass(frozen=True)
class KeyVersion:
    keys: FingerprintKeys
    created_at: float | None = None  # epoch seconds; None: active at once (keys given directly)

    def active(self, now: float) -> bool:
        return self.created_at is None or now - self.created_at >= KEY_ACTIVATION_DELAY_SECONDS


@dataclass(frozen=True)
class FingerprintKeyring:
    versions: tuple[KeyVersion, ...]  # newest first

    def writing(self, now: float) -> FingerprintKeys:
        """The newest active version; the only version when there is one (a fresh secret has no
        records under any other key)."""
        for version in self.versions:
            if version.active(now):
                return version.keys
        return self.versions[-1].keys

    def checked(self, now: float) -> tuple[FingerprintKeys, ...]:
        """Every other version: a request's key must have no record under any of them."""
        writing = self.writing(now)
        return tuple(v.keys for v in self.versions if v.keys.version != writing.version)

    def by_version(self, version: str) -> FingerprintKeys | None:
        return next((v.keys for v in self.versions if v.keys.version == version), None)

    @property
    def all_keys(self) -> tuple[FingerprintKeys, ...]:
        return tuple(v.keys for v in self.versions)


class KeyringSource:
    """The container's keyring, reloaded every KEYRING_REFRESH_SECONDS. A failed reload keeps the
    keyring it has (logged) and tries again on the next request."""

    def __init__(self, load: Callable[[], FingerprintKeyring], clock: Callable[[], float] = time.time):
        self._load = load
        self._clock = clock
        self._lock = threading.Lock()
        self._keyring: FingerprintKeyring | None = None
        self._loaded_at = 0.0

    def __call__(self) -> FingerprintKeyring:
        now = self._clock()
        if self._keyring is not None and now - self._loaded_at < KEYRING_REFRESH_SECONDS:
            return self._keyring
        with self._lock:
            if self._keyring is not None and now - self._loaded_at < KEYRING_REFRESH_SECONDS:
                return self._keyring
            try:
                keyring = self._load()
            except Exception as error:
                if self._keyring is None:
                    raise
                get_logger().warning("fingerprint_keyring.refresh_failed", error_class=type(error).__name__)
                return self._keyring
            self._keyring, self._loaded_at = keyring, now
            return keyring
