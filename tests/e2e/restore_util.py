"""Helpers shared by the restore end-to-end tests (test_restore*.py).

Not a test file itself (meson runs tests/e2e/test_*.py only). Python 3.11 standard library only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import sys
import tarfile
from pathlib import Path

import e2e_util as u

# Names a restore may leave beside a target while it runs (issue points 2, 6, 7).
STAGING_RE = re.compile(r"^\.(.+)\.jellyfin-backup-staging\.(\d+)$")
JOURNAL_RE = re.compile(r"^\.(.+)\.jellyfin-backup-journal$")
BACKUP_RE = re.compile(r"^(.+)\.bak-(\d{8}T\d{6}Z)(?:\.\d+)?$")


def leftovers(parent) -> list[str]:
    """Staging directories and journals in `parent` (what must never survive a failed restore)."""
    return sorted(n for n in os.listdir(parent) if STAGING_RE.match(n) or JOURNAL_RE.match(n))


def backups(parent, name=None) -> list[str]:
    """`<name>.bak-<stamp>` entries in `parent` (of any name when `name` is None)."""
    out = []
    for n in os.listdir(parent):
        m = BACKUP_RE.match(n)
        if m and (name is None or m.group(1) == name):
            out.append(n)
    return sorted(out)


def snapshot_diff(before: dict, after: dict) -> list[str]:
    """Differences between two e2e_util.snapshot() results, as readable strings.

    Snapshots hold type, mode, owner, mtime (ns), size, sha256, symlink target, user xattrs, inode
    identity and link count of every entry: equal snapshots mean the tree was not touched at all
    (not even replaced by a copy: the inodes are the same).
    """
    problems = []
    for p in sorted(set(before) - set(after)):
        problems.append(f"{p!r} disappeared")
    for p in sorted(set(after) - set(before)):
        problems.append(f"{p!r} appeared")
    for p in sorted(set(before) & set(after)):
        if before[p] != after[p]:
            fields = [f.name for f in dataclasses.fields(before[p])
                      if getattr(before[p], f.name) != getattr(after[p], f.name)]
            problems.append(f"{p!r} changed: " + ", ".join(
                f"{f} {getattr(before[p], f)!r} -> {getattr(after[p], f)!r}" for f in fields))
    return problems


def without_nlink(snap: dict, below: list[bytes]) -> dict:
    """`snap` with the link count of the files at or below `below` cleared: a restore that keeps
    them from the old tree (hard links) adds one."""
    def inside(p: bytes) -> bool:
        return any(p == b or p.startswith(b + b"/") for b in below)
    return {p: dataclasses.replace(e, nlink=0) if inside(p) and e.kind != "dir" else e
            for p, e in snap.items()}


def dirs_anew(snap: dict) -> dict:
    """`snap` without the directories' inode identity (and link count): for a tree whose
    directories were made anew around the same files."""
    return {p: dataclasses.replace(e, ino=None, nlink=0) if e.kind == "dir" else e
            for p, e in snap.items()}


def xxh128_hex(data: bytes, _cache={}) -> str:
    """XXH3-128 of `data` as xxh128sum prints it (computed by the xxh128sum CLI)."""
    key = hashlib.sha256(data).digest()
    if key not in _cache:
        _cache[key] = u.tool(["xxh128sum", "-"], input=data).stdout.split()[0].decode()
    return _cache[key]


def marked_trees(root, label: str, *, seed: int, scale: str = "small") -> tuple[Path, Path]:
    """Sample trees under root/{config,data} with a marker file holding `label` in each tree
    (the logs in data/log: pass --include-logs to create to archive the whole trees).

    Trees made with different seeds differ in nearly every file; the marker makes "which restore
    is this" readable at a glance.
    """
    root = Path(root)
    if os.path.isfile(u.SAMPLE):
        u.tool([sys.executable, u.SAMPLE, str(root), "--scale", scale, "--seed", str(seed)],
               timeout=120)
        config, data = root / "config", root / "data"
    else:
        config, data = u.make_basic_trees(root, seed=seed)
    for tree in (config, data):
        u.write_file(tree / "MARKER.txt", f"{label} {tree.name}\n".encode(), 0o644)
    return config, data


# --------------------------------------------------------------------------------------------------
# Archives built by the tests themselves, entry by entry


def _tarinfo(name: str, type_, *, mode: int, size: int = 0, linkname: str = "",
             mtime: int = 1_790_000_000, pax: dict | None = None) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.size = size
    ti.linkname = linkname
    ti.mtime = mtime
    ti.uid = os.getuid()
    ti.gid = os.getgid()
    ti.uname = ""
    ti.gname = ""
    if pax:
        ti.pax_headers = dict(pax)
    return ti


@dataclasses.dataclass
class Member:
    info: tarfile.TarInfo
    data: bytes = b""


class ArchiveBuilder:
    """A jellyfin-backup-shaped archive assembled from explicit entries.

    The manifest (MANIFEST.json first) and CHECKSUMS.xxh128 (last) are derived from the entries so
    that they agree with them: only what a test breaks on purpose is wrong. `manifest_edit` and
    `checksum_edit` let a test break those too.
    """

    def __init__(self, version: str | None = "10.11.0"):
        self.members: list[Member] = []
        self.version = version

    # -- entries -----------------------------------------------------------------------------

    def dir(self, name: str, mode: int = 0o755, **kw):
        self.members.append(Member(_tarinfo(name, tarfile.DIRTYPE, mode=mode, **kw)))
        return self

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, **kw):
        self.members.append(Member(_tarinfo(name, tarfile.REGTYPE, mode=mode, size=len(data), **kw),
                                   data))
        return self

    def symlink(self, name: str, target: str, **kw):
        self.members.append(Member(_tarinfo(name, tarfile.SYMTYPE, mode=0o777, linkname=target,
                                            **kw)))
        return self

    def hardlink(self, name: str, target: str, mode: int = 0o644, **kw):
        self.members.append(Member(_tarinfo(name, tarfile.LNKTYPE, mode=mode, linkname=target,
                                            **kw)))
        return self

    def device(self, name: str, major: int, minor: int, *, block=False, mode=0o600):
        ti = _tarinfo(name, tarfile.BLKTYPE if block else tarfile.CHRTYPE, mode=mode)
        ti.devmajor, ti.devminor = major, minor
        self.members.append(Member(ti))
        return self

    def fifo(self, name: str, mode=0o644):
        self.members.append(Member(_tarinfo(name, tarfile.FIFOTYPE, mode=mode)))
        return self

    def base(self, config_files=(("system.xml", b"<ServerConfiguration/>\n"),),
             data_files=(("jellyfin.db", b"SQLite format 3\x00" + b"x" * 300),)):
        """The plain well-formed part: config/, data/ and a file in each."""
        self.dir("config")
        for n, d in config_files:
            self.file(f"config/{n}", d)
        self.dir("data")
        for n, d in data_files:
            self.file(f"data/{n}", d)
        return self

    # -- derived parts ---------------------------------------------------------------------------

    def _content_of(self, name: str) -> bytes | None:
        for m in self.members:
            if m.info.name == name and m.info.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                return m.data
        return None

    def manifest(self) -> dict:
        trees = {}
        for name in ("config", "data"):
            files = size = entries = 0
            for m in self.members:
                n = m.info.name.rstrip("/")
                if n != name and not n.startswith(name + "/"):
                    continue
                entries += 1
                if m.info.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                    files += 1
                    size += len(m.data)
                elif m.info.type == tarfile.LNKTYPE:
                    files += 1
            trees[name] = {"name": name, "source": f"/srv/jellyfin/{name}", "files": files,
                           "bytes": size, "entries": entries}
        return {
            "format": "jellyfin-backup",
            "format_version": 1,
            "tool": {"name": "jellyfin-backup", "version": "0.1.0"},
            "created": "2026-11-25T03:15:00Z",
            "host": "e2e-hostile",
            "app": {"name": "jellyfin", "version": self.version,
                    "version_source": "command line" if self.version else None},
            "trees": [trees["config"], trees["data"]],
            "excludes": [],
            "compression": {"algorithm": "zstd", "level": 3, "frame_bytes": 16777216},
            "checksum": {"algorithm": "xxh3-128", "file": "CHECKSUMS.xxh128"},
        }

    def checksum_lines(self, manifest_bytes: bytes) -> list[tuple[str, str]]:
        lines = [(xxh128_hex(manifest_bytes), "MANIFEST.json")]
        for m in self.members:
            if m.info.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                lines.append((xxh128_hex(m.data), m.info.name))
            elif m.info.type == tarfile.LNKTYPE:
                content = self._content_of(m.info.linkname)
                if content is not None:
                    lines.append((xxh128_hex(content), m.info.name))
        return lines

    def tar(self, *, manifest_edit=None, checksum_edit=None, manifest_bytes: bytes | None = None,
            with_manifest=True) -> bytes:
        """The uncompressed tar. `manifest_edit(dict)` / `checksum_edit(list)` modify in place."""
        manifest = self.manifest()
        if manifest_edit:
            manifest_edit(manifest)
        if manifest_bytes is None:
            manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        lines = self.checksum_lines(manifest_bytes)
        if checksum_edit:
            checksum_edit(lines)
        # Names that are not UTF-8 are surrogate escapes, as tarfile takes them.
        sums = "".join(f"{h}  {n}\n" for h, n in lines).encode("utf-8", "surrogateescape")
        out = io.BytesIO()
        members = list(self.members)
        if with_manifest:
            members.insert(0, Member(_tarinfo("MANIFEST.json", tarfile.REGTYPE, mode=0o600,
                                              size=len(manifest_bytes)), manifest_bytes))
        members.append(Member(_tarinfo("CHECKSUMS.xxh128", tarfile.REGTYPE, mode=0o600,
                                       size=len(sums)), sums))
        for m in members:
            out.write(m.info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8",
                                   errors="surrogateescape"))
            if m.data:
                out.write(m.data)
                out.write(b"\0" * ((512 - len(m.data) % 512) % 512))
        out.write(b"\0" * 1024)
        return out.getvalue()

    def archive(self, path, **kw) -> Path:
        return write_archive(path, self.tar(**kw))


def write_archive(path, tar_bytes: bytes) -> Path:
    """Compresses `tar_bytes` the way the issue's tests do (`zstd -q --check -3`) into `path`."""
    path = Path(path)
    path.write_bytes(u.tool(["zstd", "-q", "--check", "-3", "-c"], input=tar_bytes).stdout)
    return path


def ustar_header_offsets(tar_bytes: bytes, name: str) -> list[int]:
    """Offsets of the ustar headers (not the pax extended headers) of member `name`."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
        for m in tf.getmembers():
            if m.name == name:
                # offset is the first header of the member (a pax 'x' header when there is one);
                # the ustar header is the block just before the data.
                out.append(m.offset_data - 512)
    return out


def patch_ustar_size(tar_bytes: bytes, header_offset: int, size: int) -> bytes:
    """Writes `size` into the ustar size field of the header at `header_offset` (valid chksum)."""
    b = bytearray(tar_bytes)
    h = header_offset
    b[h + 124:h + 136] = b"%011o\0" % size
    b[h + 148:h + 156] = b" " * 8
    chk = sum(b[h:h + 512])
    b[h + 148:h + 156] = b"%06o\0 " % chk
    return bytes(b)
