"""Artifact path safety: the one gate every client-supplied artifact path passes.

Artifact paths arrive from URLs, query strings and JSON bodies, so an attacker
controls them fully. `clean_artifact_path` is the single validator (HTTP
handlers, the service and every store call it); `resolve_under` adds the
filesystem half for local stores: after symlinks are followed the target must
still be inside the store's root.

Why percent-decoding is repeated: the ASGI server decodes the URL once, but a
path may have been encoded twice (`%252e%252e`) to slip past a single decode,
and some proxies decode again before us. MLflow decodes until the value stops
changing; we do the same, validate every layer, and refuse any layer that
smuggles a separator, a dot-dot segment or a NUL. The path we keep is the one
the HTTP layer delivered (one decode), so a file named `100%.txt` stays that.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

from modelyard.errors import InvalidParameterValue

# Decoding more layers than this is itself a sign of an attack.
_MAX_DECODE_LAYERS = 10

# `C:`, `c:foo`: a Windows drive, absolute or drive-relative.
_DRIVE = re.compile(r"^[A-Za-z]:")
# `file:`, `s3:`: a URI scheme in place of a relative path.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:$")
# An encoded separator or NUL that survives the decode before it.
_ENCODED_DANGER = re.compile(r"%(2f|5c|00)", re.IGNORECASE)


def _refuse(raw: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid artifact path {raw!r}: {why}.")


def _check_layer(raw: str, layer: str) -> None:
    """Refuse what is unsafe in one (possibly decoded) form of the path."""
    if "\x00" in layer:
        raise _refuse(raw, "it contains a NUL byte")
    if any(ord(c) < 32 or ord(c) == 127 for c in layer):
        raise _refuse(raw, "it contains a control character")
    if "\\" in layer:
        raise _refuse(raw, "backslashes are not allowed; use '/' to separate directories")
    if "#" in layer:
        # MLflow refuses '#' too; its clients reject listings that contain one.
        raise _refuse(raw, "'#' is not allowed")
    if layer.startswith("/"):
        raise _refuse(raw, "it must be relative, not absolute")
    if _DRIVE.match(layer):
        raise _refuse(raw, "Windows drive letters are not allowed")
    segments = layer.split("/")
    if ".." in segments:
        raise _refuse(raw, "'..' segments are not allowed")
    if _SCHEME.match(segments[0]) and len(segments) > 1:
        raise _refuse(raw, "it must be a relative path, not a URI")


def clean_artifact_path(raw: str | None, *, allow_root: bool = True) -> str:
    """Validate a client-supplied relative artifact path and return its normal form.

    The normal form has no leading or trailing '/', no empty and no '.'
    segments; the root is "". Raises InvalidParameterValue (HTTP 400) saying
    what is wrong. `allow_root=False` is for operations where the root would be
    harmful or meaningless (deleting, uploading a file).
    """
    text = raw or ""
    layer = text
    for _ in range(_MAX_DECODE_LAYERS):
        _check_layer(text, layer)
        if _ENCODED_DANGER.search(layer):
            raise _refuse(text, "percent-encoded '/', '\\' or NUL bytes are not allowed")
        decoded = unquote(layer)
        if decoded == layer:
            break
        layer = decoded
    else:
        raise _refuse(text, "it is percent-encoded too many times")
    # Trailing and doubled slashes are harmless spellings (MLflow's client sends
    # "run/artifacts/" when deleting a run's root); "." segments mean "here".
    segments = [s for s in text.split("/") if s not in ("", ".")]
    cleaned = "/".join(segments)
    if not cleaned and not allow_root:
        raise _refuse(text, "a file or directory path is required, not the root")
    return cleaned


def join_artifact_path(base: str, relative: str) -> str:
    """`base/relative` in normal form; both sides must already be clean."""
    if not base:
        return relative
    if not relative:
        return base
    return f"{base}/{relative}"


# What Linux file systems (ext4, xfs, btrfs, tmpfs) and macOS allow: 255 bytes per
# name, 4096 per path. Past them the kernel answers ENAMETOOLONG to every call.
NAME_MAX = 255
PATH_MAX = 4096


def resolve_under(root: Path, raw: str | None, *, allow_root: bool = True) -> Path:
    """The filesystem path for an artifact path, guaranteed to stay under `root`.

    Symlinks inside the root are followed (including a dangling one at the
    leaf) and the result must remain inside the root's real path, so a link
    pointing out of the root cannot be used to read or write elsewhere.
    Names the file system cannot hold are refused here, with the limit, for
    every operation alike (S3 keys have no such limit, so this is not in
    `clean_artifact_path`).
    """
    rel = clean_artifact_path(raw, allow_root=allow_root)
    target = root.joinpath(*rel.split("/")) if rel else root
    # The root's own names too: an experiment's artifact_location is user input.
    for name in target.parts:
        if len(os.fsencode(name)) > NAME_MAX:
            raise InvalidParameterValue(
                f"Invalid artifact path {raw!r} under {str(root)[:80]!r}: the name "
                f"{name[:40]!r}… is {len(os.fsencode(name))} bytes long; local artifact "
                f"storage allows at most {NAME_MAX} bytes per file or directory name."
            )
    real_root = Path(os.path.realpath(root))
    if len(os.fsencode(target)) >= PATH_MAX:
        raise InvalidParameterValue(
            f"Invalid artifact path: it is {len(os.fsencode(rel))} bytes long; local "
            f"artifact storage allows paths of fewer than {PATH_MAX} bytes in all."
        )
    real_target = Path(os.path.realpath(target))
    if real_target != real_root and not real_target.is_relative_to(real_root):
        raise InvalidParameterValue(
            f"Invalid artifact path {raw!r}: it resolves outside the artifact root."
        )
    return target
