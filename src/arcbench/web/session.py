"""Signed session cookies: who is making a change, without accounts or a session table.

A session is a display name (and whether its holder gave the admin token), signed with
HMAC-SHA256 so a browser cannot forge or alter it. The key comes from the `session_secret`
setting, else from `<data-dir>/session_secret`, generated on first start (mode 0600) so sessions
survive a restart. The cookie is HttpOnly and SameSite=Strict: scripts cannot read it and other
sites cannot make the browser send it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from arcbench.errors import ConfigError

COOKIE = "arcbench_session"
MAX_AGE_S = 30 * 24 * 3600
SECRET_FILE = "session_secret"


@dataclass(frozen=True)
class User:
    """The holder of a valid session."""

    name: str
    admin: bool = False


class SessionSigner:
    """Turns a `User` into a cookie value and back; a tampered or stale value is no session."""

    def __init__(self, key: bytes, *, max_age_s: int = MAX_AGE_S) -> None:
        self._key = key
        self.max_age_s = max_age_s

    def sign(self, user: User, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        payload = _b64(orjson.dumps({"name": user.name, "admin": user.admin, "iat": issued}))
        return f"{payload}.{self._mac(payload)}"

    def verify(self, value: str | None, now: float | None = None) -> User | None:
        if not value or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, orjson.JSONDecodeError, ValueError):
            return None
        current = time.time() if now is None else now
        if not isinstance(data, dict) or not isinstance(data.get("iat"), int):
            return None
        if not 0 <= current - data["iat"] <= self.max_age_s:
            return None
        name, admin = data.get("name"), data.get("admin")
        if not isinstance(name, str) or not isinstance(admin, bool):
            return None
        return User(name, admin)

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def session_key(configured: str | None, data_dir: Path) -> bytes:
    """The signing key: the configured secret, else the one kept in the data directory
    (created, readable by its owner only, if missing)."""
    if configured:
        return configured.encode()
    path = data_dir / SECRET_FILE
    try:
        if not path.exists():
            _create_key_file(path)
        key = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot keep the session key in {path} ({exc.strerror}): make the data directory "
            "writable, or set ARCBENCH_SESSION_SECRET"
        ) from None
    if len(key) < 16:
        raise ConfigError(
            f"the session key in {path} is too short: delete the file to have a new one made"
        )
    return key.encode()


def _create_key_file(path: Path) -> None:
    """Write a new key beside `path`, then link it into place: a second process starting at the
    same moment finds either no file or the whole key, and keeps whichever link won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
