"""Input and output checks done before anything is sent (bad usage: exit 2, one line).

A command checks what the user gave it before it dials: text that goes into a SIP header
(no CR, LF or other control characters), addresses, the CA file, the WAV file to play, the
folders the recording and the capture go to. Files are read with the explicit limits of
:mod:`sipclient.proto.limits`, never to the end of whatever they are (``/dev/zero``).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import stat
import wave
from pathlib import Path

from sipclient.cli import UsageError
from sipclient.proto.limits import LimitExceeded, limit

__all__ = ["check_ca_file", "check_header_text", "check_ip", "check_output", "check_wav",
           "read_bounded"]


def check_header_text(flag: str, value: str | None, *, empty_ok: bool = True) -> None:
    """``value`` goes into a SIP header: no control characters (CR/LF would inject lines)."""
    if value is None:
        return
    if not value and not empty_ok:
        raise UsageError(f"{flag} is empty")
    bad = next((c for c in value if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise UsageError(f"{flag} contains a control character ({bad!r} at position "
                         f"{value.index(bad) + 1}); SIP header text cannot hold it")


def check_ip(flag: str, value: str | None) -> None:
    """An IP literal (never a name looked up in DNS)."""
    if value is None:
        return
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not an IP address (e.g. 127.0.0.1 or ::1)") \
            from None


def check_ca_file(path: str | None) -> None:
    """A readable file of PEM certificates."""
    if path is None:
        return
    import ssl

    try:
        data = read_bounded(path, "message_file_bytes", "--ca-file")
        ssl.create_default_context().load_verify_locations(cadata=data.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise UsageError(f"--ca-file {path}: no PEM certificate in it ({reason})") from None


def check_wav(flag: str, path: str) -> None:
    """A PCM WAV file, a regular file within the ``play_file_bytes`` limit."""
    _regular(flag, path, "play_file_bytes")
    try:
        with wave.open(path, "rb") as wav:
            if wav.getnchannels() < 1 or wav.getframerate() < 1 or \
                    wav.getsampwidth() not in (1, 2, 3, 4):
                raise wave.Error("no channels, no rate or an unusual sample width")
    except (wave.Error, EOFError) as exc:
        raise UsageError(f"{flag} {path}: not a PCM WAV file ({exc or 'too short'}); "
                         "tone:HZ, silence or a WAV file") from None
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot read it: {exc.strerror or exc}") from None


def check_output(flag: str, path: str | None) -> None:
    """``path`` can be created: its folder exists and is writable."""
    if path is None:
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{flag} {path}: is a folder, give a file name")
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: the folder {folder} is not writable")


def read_bounded(path: str, name: str, flag: str) -> bytes:
    """The bytes of ``path``, at most limit ``name``; a UsageError says which is wrong."""
    cap = int(limit(name))
    try:
        with open(path, "rb") as fh:
            data = fh.read(cap + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {flag} {path}: {exc.strerror or exc}") from None
    if len(data) > cap:
        raise UsageError(f"{flag} {path}: {LimitExceeded(name, 'the file')}")
    return data


def read_secret(env, *, file: str | None, file_flag: str, var: str | None, var_flag: str,
                default_var: str) -> str | None:
    """A secret from a file (its first line, read with the password-file bound), else from
    the environment variable the user named, else from ``default_var``, else None."""
    if file is not None:
        data = read_bounded(file, "password_file_bytes", file_flag)
        try:
            return data.decode("utf-8").splitlines()[0] if data.strip() else ""
        except UnicodeDecodeError as exc:
            raise UsageError(f"cannot read {file_flag} {file}: {exc}") from None
    if var is not None:
        value = env.getenv(var)
        if value is None:
            raise UsageError(f"environment variable {var} is not set ({var_flag})")
        return value
    return env.getenv(default_var)


def _regular(flag: str, path: str, name: str) -> None:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot read it: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{flag} {path}: not a regular file")
    if info.st_size > limit(name):
        raise UsageError(f"{flag} {path}: {LimitExceeded(name, 'the file')}")


def seconds(text: str, limit: float = 1e7) -> float:
    """An argparse type: a number of seconds from 0 up to (not including) ``limit``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.0 <= value < limit:
        raise argparse.ArgumentTypeError(f"{text} seconds is out of range")
    return value
