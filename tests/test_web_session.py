"""Signed sessions and the key that signs them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from arcbench.errors import ConfigError
from arcbench.web.session import SessionSigner, User, session_key


def test_a_signed_session_reads_back_and_a_forged_one_does_not() -> None:
    signer = SessionSigner(b"k" * 32)
    value = signer.sign(User("Ada <b>", admin=True), now=1000)
    assert signer.verify(value, now=1001) == User("Ada <b>", admin=True)
    payload, mac = value.split(".")
    assert SessionSigner(b"other-key-0123456").verify(value, now=1001) is None
    assert signer.verify(f"{payload}x.{mac}", now=1001) is None
    assert signer.verify(f"{payload}.{mac[:-1]}", now=1001) is None
    for junk in (None, "", ".", "a.b.c", "%%%.###"):
        assert signer.verify(junk, now=1001) is None


def test_a_session_expires() -> None:
    signer = SessionSigner(b"k" * 32, max_age_s=60)
    value = signer.sign(User("ada"), now=1000)
    assert signer.verify(value, now=1060) == User("ada")
    assert signer.verify(value, now=1061) is None
    assert signer.verify(value, now=999) is None  # issued in the future


def test_the_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    first = session_key(None, tmp_path / "data")
    path = tmp_path / "data" / "session_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_key(None, tmp_path / "data") == first
    assert session_key("configured-secret", tmp_path / "data") == b"configured-secret"
    assert not list((tmp_path / "data").glob(".*.tmp"))


def test_a_damaged_or_unwritable_key_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "session_secret").write_text("short\n")
    with pytest.raises(ConfigError, match="too short: delete the file"):
        session_key(None, tmp_path)
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(ConfigError, match="cannot keep the session key"):
        session_key(None, blocked / "data")
