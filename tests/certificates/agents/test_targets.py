"""File targets of the agent: atomic writes with the right modes and owners, SHA-256 skip, validate and reload
commands, and the previous files restored when either fails. Runs against real files in a temp dir."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from certctl_agent.targets import TARGETS, DeployError, Material, Policy

LEAF = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n"
CHAIN = "-----BEGIN CERTIFICATE-----\nINTERMEDIATE\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n"
MATERIAL = Material(leaf_pem=LEAF, chain_pem=CHAIN, key_pem=KEY)
TRUE = f"{sys.executable} -c pass"
FALSE = f"{sys.executable} -c \"import sys; sys.exit('config test failed: bad certificate')\""


def policy(tmp_path, *commands: str) -> Policy:
    return Policy(allowed_dirs=(tmp_path,), allowed_commands=commands, command_timeout=30)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def nginx(tmp_path, **extra):
    config = {"cert_path": str(tmp_path / "site.crt"), "key_path": str(tmp_path / "site.key"), **extra}
    return TARGETS["NGINX"](config, policy(tmp_path, TRUE, FALSE))


def test_nginx_writes_fullchain_and_key_with_safe_modes(tmp_path):
    result = nginx(tmp_path, validate_command=TRUE, reload_command=TRUE).deploy(MATERIAL)
    assert result.changed
    assert (tmp_path / "site.crt").read_text() == LEAF + CHAIN
    assert (tmp_path / "site.key").read_bytes() == KEY
    assert (mode(tmp_path / "site.crt"), mode(tmp_path / "site.key")) == (0o644, 0o600)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_apache_writes_cert_chain_and_key_separately(tmp_path):
    config = {k: str(tmp_path / f"a.{k}") for k in ("cert_path", "chain_path", "key_path")}
    TARGETS["Apache"](config, policy(tmp_path)).deploy(MATERIAL)
    assert (tmp_path / "a.cert_path").read_text() == LEAF
    assert (tmp_path / "a.chain_path").read_text() == CHAIN
    assert (tmp_path / "a.key_path").read_bytes() == KEY


def test_haproxy_writes_one_combined_pem_readable_only_by_its_owner(tmp_path):
    TARGETS["HAProxy"]({"pem_path": str(tmp_path / "h.pem")}, policy(tmp_path)).deploy(MATERIAL)
    assert (tmp_path / "h.pem").read_bytes() == (LEAF + CHAIN).encode() + KEY
    assert mode(tmp_path / "h.pem") == 0o600


def test_existing_files_keep_their_owner_and_mode(tmp_path):
    cert, key = tmp_path / "site.crt", tmp_path / "site.key"
    cert.write_text("old cert")
    key.write_text("old key")
    os.chmod(cert, 0o640)
    os.chmod(key, 0o640)
    if os.geteuid() == 0:
        os.chown(cert, 1234, 4321)
    nginx(tmp_path).deploy(MATERIAL)
    assert (mode(cert), mode(key)) == (0o640, 0o640)
    if os.geteuid() == 0:
        assert (os.stat(cert).st_uid, os.stat(cert).st_gid) == (1234, 4321)


def test_unchanged_content_is_skipped_without_running_commands(tmp_path):
    marker = tmp_path / "reloaded"
    reload = f"{sys.executable} -c \"open('{marker}', 'a').write('x')\""
    config = {"cert_path": str(tmp_path / "c"), "key_path": str(tmp_path / "k"), "reload_command": reload}
    target = TARGETS["NGINX"](config, policy(tmp_path, reload))
    assert target.deploy(MATERIAL).changed
    before = os.stat(tmp_path / "c").st_ino
    second = target.deploy(MATERIAL)
    assert not second.changed and "unchanged" in second.message
    assert marker.read_text() == "x"  # reloaded once, not twice
    assert os.stat(tmp_path / "c").st_ino == before


def test_failed_validation_restores_previous_files(tmp_path):
    cert, key = tmp_path / "site.crt", tmp_path / "site.key"
    cert.write_text("old cert")
    key.write_text("old key")
    with pytest.raises(DeployError) as failure:
        nginx(tmp_path, validate_command=FALSE).deploy(MATERIAL)
    assert "validate_command failed" in str(failure.value)
    assert "bad certificate" in str(failure.value) and "previous files restored" in str(failure.value)
    assert (cert.read_text(), key.read_text()) == ("old cert", "old key")


def test_failed_reload_restores_and_removes_files_that_did_not_exist(tmp_path):
    with pytest.raises(DeployError, match="reload_command failed"):
        nginx(tmp_path, reload_command=FALSE).deploy(MATERIAL)
    assert not (tmp_path / "site.crt").exists() and not (tmp_path / "site.key").exists()


def test_commands_outside_the_allow_list_are_refused_before_writing(tmp_path):
    with pytest.raises(DeployError, match="allowed_commands"):
        nginx(tmp_path, reload_command="rm -rf /").deploy(MATERIAL)
    assert not (tmp_path / "site.crt").exists()


def test_paths_outside_allowed_dirs_are_refused(tmp_path):
    config = {"cert_path": str(tmp_path / ".." / "escape.crt"), "key_path": str(tmp_path / "k")}
    with pytest.raises(DeployError, match="allowed_dirs"):
        TARGETS["NGINX"](config, policy(tmp_path)).deploy(MATERIAL)
    with pytest.raises(DeployError, match="needs 'key_path'"):
        TARGETS["NGINX"]({"cert_path": str(tmp_path / "c")}, policy(tmp_path)).deploy(MATERIAL)


def test_changed_content_replaces_each_file_by_rename_and_leaves_no_temp_file(tmp_path):
    cert = tmp_path / "site.crt"
    cert.write_text("old cert")
    old_inode = os.stat(cert).st_ino
    # A reader holding the old file keeps reading the old content: the new one arrived by rename, not in place.
    with open(cert) as reader:
        assert nginx(tmp_path).deploy(MATERIAL).changed
        assert reader.read() == "old cert"
    assert os.stat(cert).st_ino != old_inode
    assert cert.read_text() == LEAF + CHAIN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.crt", "site.key"]


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    from certctl_agent import files

    cert = tmp_path / "site.crt"
    cert.write_text("old cert")

    real_fsync, calls = os.fsync, []

    def disk_full_once(fd):
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", disk_full_once)
    with pytest.raises(DeployError, match=r"No space left on device.*previous files restored"):
        nginx(tmp_path).deploy(MATERIAL)
    assert cert.read_text() == "old cert"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.crt"]
