"""Reproducible layer bytes: real tars in, the same bytes out whenever only the timestamps differ."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

from cogkit.registry import BlobCache
from cogkit.registry.normalise import REPRODUCIBLE_EPOCH, normalise_layer

LATER = REPRODUCIBLE_EPOCH + 10**9


def layer(when: float) -> bytes:
    """A layer as Docker writes one: folders, files, a link, a symlink, a whiteout, an xattr, PAX times."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, kind: bytes, data: bytes = b"", **extra: object) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mtime, info.mode = kind, len(data), when, 0o755
            info.pax_headers = {"mtime": f"{when:.6f}", "atime": f"{when:.6f}"}
            for key, value in extra.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)

        add("opt", tarfile.DIRTYPE)
        add("opt/app.py", tarfile.REGTYPE, b"print('hi')\n", uid=1000, gid=1000)
        add("opt/weights.bin", tarfile.REGTYPE, bytes(range(256)) * 64)
        add("opt/ping", tarfile.REGTYPE, b"\x7fELF", pax_headers={"SCHILY.xattr.security.capability": "x"})
        add("opt/same.py", tarfile.LNKTYPE, linkname="opt/app.py")
        add("opt/latest", tarfile.SYMTYPE, linkname="app.py")
        add("opt/.wh.removed", tarfile.REGTYPE)
        old = tarfile.TarInfo("opt/ancient.txt")
        old.mtime = 86400  # older than the epoch: kept as it is
        tar.addfile(old, io.BytesIO(b""))
    return out.getvalue()


def normalised(data: bytes) -> bytes:
    sink = io.BytesIO()
    normalise_layer(io.BytesIO(data), sink)
    return sink.getvalue()


def test_only_timestamps_change_and_equal_layers_give_equal_bytes() -> None:
    first, second = layer(LATER + 0.25), layer(LATER + 3600.5)
    assert first != second
    assert normalised(first) == normalised(second)
    with (
        tarfile.open(fileobj=io.BytesIO(first)) as before,
        tarfile.open(fileobj=io.BytesIO(normalised(first))) as after,
    ):
        old, new = before.getmembers(), after.getmembers()
        assert [m.name for m in new] == [m.name for m in old]  # same entries, same order
        for was, now in zip(old, new, strict=True):
            assert (now.type, now.mode, now.uid, now.gid, now.linkname, now.size) == (
                was.type,
                was.mode,
                was.uid,
                was.gid,
                was.linkname,
                was.size,
            )
            assert now.mtime == min(int(was.mtime), REPRODUCIBLE_EPOCH)
            assert not {"mtime", "atime", "ctime"} & set(now.pax_headers)
            if was.isreg():
                assert after.extractfile(now).read() == before.extractfile(was).read()  # type: ignore[union-attr]
        assert after.getmember("opt/ping").pax_headers["SCHILY.xattr.security.capability"] == "x"
        assert after.getmember("opt/ancient.txt").mtime == 86400


def test_the_cache_keeps_both_forms_under_the_engine_diff_id(tmp_path: Path) -> None:
    data = layer(LATER)
    cache = BlobCache(tmp_path)
    engine_diff_id = f"sha256:{hashlib.sha256(data).hexdigest()}"
    exact = cache.compress(io.BytesIO(data), len(data))
    direct = cache.compress(io.BytesIO(data), len(data), normalised=True)
    assert exact.diff_id == exact.engine_diff_id == engine_diff_id
    assert direct.engine_diff_id == engine_diff_id
    assert direct.diff_id == f"sha256:{hashlib.sha256(normalised(data)).hexdigest()}" != engine_diff_id
    assert cache.get(engine_diff_id) == exact and cache.get(engine_diff_id, normalised=True) == direct
    assert cache.normalise(exact) == direct  # from the cached gzip, for layers read from an export
