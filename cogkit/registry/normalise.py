"""Layers whose bytes depend only on what they hold, so that an unchanged layer keeps its digest.

BuildKit as shipped with Docker 20.10 (BuildKit 0.8) has no timestamp rewriting (that came with
SOURCE_DATE_EPOCH support in BuildKit 0.11 and `rewrite-timestamp` in 0.13), so every rebuilt step
writes its files, and the folders it touched, with the time of the build: two `--no-cache` builds
of the same project differ in every layer, and a push would upload them all again.

`cogkit push` therefore rewrites the layers that cogkit's own Dockerfile made (never the base
image's, which stay byte for byte as their registry has them): every timestamp later than
REPRODUCIBLE_EPOCH becomes REPRODUCIBLE_EPOCH, and nothing else changes (names, order, modes,
owners, links, extended attributes and contents are kept). The `.pyc` files stay valid: the
Dockerfile sets SOURCE_DATE_EPOCH while building, so Python compiles hash-checked `.pyc` files,
which do not depend on timestamps. A timestamp-checked `.pyc` (say, written by an import during
the build) is left as it is: Python sees its source's new time, and compiles it again when first
imported, which is slower but never wrong.
"""

from __future__ import annotations

import tarfile
from typing import IO

# 1980-01-01T00:00:00Z: the oldest time a zip file can hold, so files copied out keep working.
REPRODUCIBLE_EPOCH = 315532800
_TIME_KEYS = ("mtime", "atime", "ctime")
_BUFFER = 1 << 20


def normalise_layer(source: IO[bytes], sink: IO[bytes]) -> None:
    """Copy the layer tar from `source` to `sink`, clamping every timestamp to REPRODUCIBLE_EPOCH."""
    with (
        tarfile.open(fileobj=source, mode="r|", bufsize=_BUFFER) as layer,  # type: ignore[call-overload]
        tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT, bufsize=_BUFFER) as out,  # type: ignore[call-overload]
    ):
        out.copybufsize = _BUFFER
        for member in layer:
            member.mtime = min(int(member.mtime), REPRODUCIBLE_EPOCH)
            for key in _TIME_KEYS:  # high-precision times in PAX records would override mtime
                member.pax_headers.pop(key, None)
            out.addfile(member, layer.extractfile(member) if member.isreg() else None)
