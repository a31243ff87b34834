"""Who may reach the UI: loopback by default; any wider address only with a password (or an explicit opt-out).

Pure functions, no Gradio import, so `sanad serve` refuses a bad setup before loading anything.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

from rag.errors import ConfigError

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0, a LAN address, a hostname) is exposed."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(value: str) -> list[tuple[str, str]]:
    """SANAD_AUTH: "user:password[,user2:password2]", or the path of a file with one `user:password` a line."""
    value = value.strip()
    if not value:
        return []
    path = Path(value).expanduser()
    source = "SANAD_AUTH"
    if ":" not in value and not path.is_file():
        raise ConfigError(f"SANAD_AUTH={value!r} is neither user:password[,user2:password2] nor an existing file")
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"SANAD_AUTH names the file {path}, which cannot be read ({exc.strerror or exc})")
        entries = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        source = f"SANAD_AUTH file {path}"
    else:
        entries = [e.strip() for e in value.split(",") if e.strip()]
    pairs = []
    for n, entry in enumerate(entries, 1):
        user, sep, password = entry.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError(f"{source}: entry {n} is not user:password (both non-empty)")
        pairs.append((user.strip(), password))
    if not pairs:
        raise ConfigError(f"{source} holds no user:password entry")
    return pairs


def check_exposure(host: str, auth: list[tuple[str, str]], allow_no_auth: bool) -> None:
    """Refuse to listen beyond loopback without a password, unless explicitly allowed."""
    if auth or allow_no_auth or is_loopback(host):
        return
    raise ConfigError(f"refusing to serve on {host} without a password: anyone who can reach it could read and "
                        "add articles; set SANAD_AUTH=user:password, or pass --insecure-no-auth "
                        "(SANAD_ALLOW_NO_AUTH=1) if that is really intended")
