"""Instagram username rules: what a user may type (a name, '@name' or a profile URL) and the canonical form we store."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from following.errors import InvalidUsername

MAX_LENGTH = 30
# A profile URL carries more than the name (scheme, host, a query string from a share link); anything longer is
# refused before any parsing, so hostile input costs nothing.
MAX_INPUT_LENGTH = 512
_ALLOWED = re.compile(r"^[a-z0-9._]+$")
NOT_A_PROFILE_URL = "username: a URL must be an Instagram profile URL like https://www.instagram.com/<name>/"
_PROFILE_HOSTS = ("instagram.com", "www.instagram.com", "m.instagram.com", "instagr.am", "www.instagr.am")


def normalise_username(raw: str) -> str:
    """The lower-case username; raises InvalidUsername saying which rule the input breaks."""
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidUsername(
            f"username: must be at most {MAX_LENGTH} characters (a profile URL at most {MAX_INPUT_LENGTH});"
            f" got {len(raw)}"
        )
    text = raw.strip()
    if not text:
        raise InvalidUsername("username: must not be empty")
    if "/" in text or text.lower().startswith(("http:", "https:", "instagram.com", "www.")):
        text = _from_profile_url(text)
    elif text.startswith("@"):
        text = text[1:]
    name = text.lower()
    if not name:
        raise InvalidUsername("username: must not be empty")
    if len(name) > MAX_LENGTH:
        raise InvalidUsername(f"username: must be at most {MAX_LENGTH} characters, got {len(name)}")
    if not _ALLOWED.match(name):
        bad = sorted({ch for ch in name if not re.match(r"[a-z0-9._]", ch)})
        shown = " ".join(ascii(ch) for ch in bad[:5])  # ASCII-only: the message travels in HTTP/2 trailers
        raise InvalidUsername(
            f"username: only letters, digits, '.' and '_' are allowed; found {shown}",
        )
    if name.startswith(".") or name.endswith("."):
        raise InvalidUsername("username: must not start or end with '.'")
    if ".." in name:
        raise InvalidUsername("username: must not contain two '.' in a row")
    return name


def _from_profile_url(text: str) -> str:
    url = text if "://" in text else f"https://{text}"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a bracketed host that is no IPv6 address, characters that change under NFKC, ...
        raise InvalidUsername(NOT_A_PROFILE_URL) from None
    if parts.scheme not in ("http", "https") or host not in _PROFILE_HOSTS:
        raise InvalidUsername(NOT_A_PROFILE_URL)
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) != 1:
        raise InvalidUsername("username: a profile URL must have exactly one path segment, the username")
    return segments[0].lstrip("@")
