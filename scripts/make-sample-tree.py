#!/usr/bin/env python3
"""Generate a realistic, deterministic Jellyfin-like install for demos, tests and benchmarks.

Usage:
    make-sample-tree.py OUT_DIR [--layout debian|docker|linuxserver]
                        [--scale small|medium|large|bench] [--seed N] [--special] [--force]
                        [--version V]
    make-sample-tree.py --root ROOT --install TYPE
                        [--scale ...] [--seed N] [--special] [--force] [--version V]
                        [--home HOME]

The output mimics what a Jellyfin 10.11 server leaves on disk (see shared/JELLYFIN.md):
a config tree (system.xml, network.xml, encoding.xml, logging.json, dlna/, branding.xml, ...)
and a data tree (data/jellyfin.db as a real SQLite database in WAL mode, metadata images,
trickplay tiles, plugins, library definitions under root/, logs, markers ...).

OUT_DIR mode writes just those two trees (the logs inside the data tree, under log/):
OUT/config + OUT/data for --layout debian, OUT/config/config + OUT/config for docker,
OUT/config + OUT/config/data for linuxserver. Tests depend on its exact output.

--root mode writes a whole install of one TYPE (debian, fedora, docker, linuxserver, hotio,
portable, macos, windows) where that install keeps it, ROOT standing for "/" (for the drive
C: on Windows): data, config, cache and log trees, each with its Jellyfin marker file
(.jellyfin-data, -config, -cache, -log), logs in the log tree naming the paths as the
server sees them, plus /etc/default/jellyfin and /var/lib/dpkg/status (debian) or
/etc/sysconfig/jellyfin (fedora). See install_view() for the table. --home sets the user's
home for portable (default /home/jellyfin) and macos (default /Users/jellyfin).

--version V (default 10.11.0) is the server version the sample claims: log version lines,
migration history in jellyfin.db, dpkg status. The older logs name the version the server
was upgraded from (10.10.7, or a lower one when V is not newer).

Everything is derived from --seed: file names, contents, modes and mtimes (with ns precision)
are identical between runs, so tests can compare archives and extractions byte for byte.
Only ctime/inode numbers (which nothing can set) differ.

--special adds the cases an archiver tends to get wrong: maximal and non-UTF-8 names, names
with a newline or backslash, FIFO, socket, device node, sparse files, xattrs, odd modes,
foreign owners, dangling symlinks, symlinks to directories, read-only directories ...

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import stat
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

# A fixed "now" for the sample install, half an hour after the server's last start. All mtimes
# are at or before it, so nothing lands in the future (tar warns on extraction when it does).
LAST_START_NS = 1_795_201_265_123_000_000      # 2026-11-20 19:01:05.123 UTC
BASE_TIME_NS = LAST_START_NS + 1800 * 10**9   # 2026-11-20 19:31:05.123 UTC
DAY_NS = 86_400 * 1_000_000_000

SERVER_VERSION = "10.11.0"
PREVIOUS_VERSION = "10.10.7"

KiB = 1024
MiB = 1024 * KiB


# --------------------------------------------------------------------------------------------
# Scales
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scale:
    items: int              # library items (movies/episodes) with a metadata folder
    backdrop_share: float   # fraction of items that also have a backdrop
    trickplay_items: int    # items with trickplay tiles
    tiles_per_item: int
    people: int             # metadata/People/<L>/<name>/folder.jpg
    subtitles: int          # extracted subtitle files
    keyframes: int          # keyframe json files
    poster_kib: tuple[int, int]
    backdrop_kib: tuple[int, int]
    tile_kib: tuple[int, int]
    person_kib: tuple[int, int]
    db_rows: int            # rows in BaseItems
    db_row_bytes: tuple[int, int]  # size of the JSON-ish Data column per row
    old_db_mib: int         # pre-10.11 library.db.old left by the migration (0: none)
    log_lines: int          # lines in the current log
    text_pool_mib: int      # size of the compressible text pool (see TextPool)
    # Cache tree (--root mode only).
    cache_images: int       # resized images under images/resized-images/
    transcode_segments: int # .ts segments of the one transcode in progress


SCALES: dict[str, Scale] = {
    # ~200 files, a few MiB, well under a second.
    "small": Scale(items=30, backdrop_share=0.5, trickplay_items=4, tiles_per_item=4, people=40,
                   subtitles=8, keyframes=8, poster_kib=(20, 60), backdrop_kib=(40, 90),
                   tile_kib=(10, 30), person_kib=(4, 12), db_rows=300, db_row_bytes=(200, 800),
                   old_db_mib=0, log_lines=400, text_pool_mib=1, cache_images=20,
                   transcode_segments=3),
    # ~2000 files, ~50 MiB.
    "medium": Scale(items=320, backdrop_share=0.6, trickplay_items=50, tiles_per_item=8,
                    people=620, subtitles=90, keyframes=100, poster_kib=(20, 60),
                    backdrop_kib=(40, 100), tile_kib=(10, 30), person_kib=(4, 16),
                    db_rows=3000, db_row_bytes=(400, 1500), old_db_mib=2, log_lines=5000,
                    text_pool_mib=4, cache_images=200, transcode_segments=6),
    # ~20k files, ~500 MiB.
    "large": Scale(items=3200, backdrop_share=0.6, trickplay_items=500, tiles_per_item=8,
                   people=8000, subtitles=900, keyframes=1000, poster_kib=(20, 60),
                   backdrop_kib=(40, 100), tile_kib=(10, 30), person_kib=(4, 16),
                   db_rows=30000, db_row_bytes=(400, 1500), old_db_mib=20, log_lines=50000,
                   text_pool_mib=16, cache_images=2000, transcode_segments=10),
    # ~1.5 GiB: ~1 GiB of incompressible images over ~25k files plus a ~400 MiB compressible
    # jellyfin.db. Sized so that a run of tar|zstd takes a few seconds on 2 cores.
    "bench": Scale(items=3000, backdrop_share=0.7, trickplay_items=600, tiles_per_item=8,
                   people=8000, subtitles=1000, keyframes=1000, poster_kib=(60, 160),
                   backdrop_kib=(120, 300), tile_kib=(20, 50), person_kib=(4, 16),
                   db_rows=95000, db_row_bytes=(1500, 4000), old_db_mib=0,
                   log_lines=100000, text_pool_mib=32, cache_images=2000,
                   transcode_segments=10),
}


# --------------------------------------------------------------------------------------------
# Installs: where each kind keeps its trees, and how its server was started
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerView:
    """An install as its server sees it. The paths are the server's (no ROOT prefix); they are
    written into the logs and config files. Windows paths carry a drive letter."""
    data: str
    config: str
    cache: str
    log: str
    env: tuple[tuple[str, str], ...]   # JELLYFIN_* variables, as the start-up log lists them
    args: tuple[str, ...]              # the command line, as the start-up log lists it
    os_name: str                       # RuntimeInformation.OSDescription
    ffmpeg: str
    hwaccel: str                       # encoding.xml HardwareAccelerationType
    media: str                         # root of the media libraries
    log_style: str = "default"         # "default": log_YYYYMMDD.log; "debian": jellyfinYYYYMMDD.log
    env_file: str | None = None        # the EnvironmentFile of the systemd unit
    dpkg: bool = False                 # write /var/lib/dpkg/status


def spath(base: str, *parts: str) -> str:
    """Join server paths with the server's separator."""
    sep = "\\" if is_windows_path(base) else "/"
    return sep.join([base.rstrip(sep), *parts])


def is_windows_path(p: str) -> bool:
    return re.match(r"[A-Za-z]:\\", p) is not None


def host_path(root: Path, server_path: str) -> Path:
    """Where a server path lands under ROOT: /var/lib/jellyfin -> ROOT/var/lib/jellyfin,
    C:\\ProgramData\\Jellyfin -> ROOT/ProgramData/Jellyfin."""
    if is_windows_path(server_path):
        return root.joinpath(*[p for p in server_path[3:].split("\\") if p])
    return root / server_path.lstrip("/")


_DEB_DIRS = (("JELLYFIN_DATA_DIR", "/var/lib/jellyfin"), ("JELLYFIN_CONFIG_DIR", "/etc/jellyfin"),
             ("JELLYFIN_LOG_DIR", "/var/log/jellyfin"), ("JELLYFIN_CACHE_DIR", "/var/cache/jellyfin"))
_JF_FFMPEG = "/usr/lib/jellyfin-ffmpeg/ffmpeg"
_UBUNTU = "Ubuntu 24.04.3 LTS"

DEBIAN_VIEW = ServerView(
    data="/var/lib/jellyfin", config="/etc/jellyfin", cache="/var/cache/jellyfin",
    log="/var/log/jellyfin", env=_DEB_DIRS,
    args=("/usr/lib/jellyfin/bin/jellyfin.dll", "--webdir=/usr/share/jellyfin/web",
          f"--ffmpeg={_JF_FFMPEG}"),
    os_name="Debian GNU/Linux 12 (bookworm)", ffmpeg=_JF_FFMPEG, hwaccel="vaapi",
    media="/srv/media", log_style="debian", env_file="/etc/default/jellyfin", dpkg=True)

# OUT_DIR mode: the Debian paths in the logs and encoding.xml, but the default log file names
# and format, the logs inside the data tree, and nothing outside the two trees. Kept as it was.
OUT_DIR_VIEW = dataclasses.replace(DEBIAN_VIEW, log_style="default", env_file=None, dpkg=False)


def install_view(kind: str, home: str | None) -> ServerView:
    """The table of install types (paths from shared/JELLYFIN.md)."""
    if kind == "debian":
        return DEBIAN_VIEW
    if kind == "fedora":   # RPMFusion: same trees, EnvironmentFile in /etc/sysconfig
        return dataclasses.replace(
            DEBIAN_VIEW, env_file="/etc/sysconfig/jellyfin", dpkg=False,
            args=("/usr/lib64/jellyfin/jellyfin.dll", "--webdir=/usr/share/jellyfin-web",
                  "--ffmpeg=/usr/bin/ffmpeg"),
            os_name="Fedora Linux 42 (Server Edition)", ffmpeg="/usr/bin/ffmpeg")
    if kind == "docker":   # official image: config nested in data, cache apart
        return ServerView(
            data="/config", config="/config/config", cache="/cache", log="/config/log",
            env=(("JELLYFIN_DATA_DIR", "/config"), ("JELLYFIN_CACHE_DIR", "/cache"),
                 ("JELLYFIN_CONFIG_DIR", "/config/config"), ("JELLYFIN_LOG_DIR", "/config/log"),
                 ("JELLYFIN_WEB_DIR", "/jellyfin/jellyfin-web"), ("JELLYFIN_FFMPEG", _JF_FFMPEG)),
            args=("/jellyfin/jellyfin.dll", "--ffmpeg", _JF_FFMPEG),
            os_name="Debian GNU/Linux 12 (bookworm)", ffmpeg=_JF_FFMPEG, hwaccel="vaapi",
            media="/media")
    if kind == "linuxserver":   # data, cache and log nested in config
        return ServerView(
            data="/config/data", config="/config", cache="/config/cache", log="/config/log",
            env=(("JELLYFIN_DATA_DIR", "/config/data"), ("JELLYFIN_CONFIG_DIR", "/config"),
                 ("JELLYFIN_LOG_DIR", "/config/log"), ("JELLYFIN_CACHE_DIR", "/config/cache"),
                 ("JELLYFIN_WEB_DIR", "/usr/share/jellyfin/web")),
            args=("/usr/lib/jellyfin/bin/jellyfin.dll", f"--ffmpeg={_JF_FFMPEG}"),
            os_name=_UBUNTU, ffmpeg=_JF_FFMPEG, hwaccel="vaapi", media="/data")
    if kind == "hotio":
        return ServerView(
            data="/config/app/data", config="/config/app", cache="/config/app/cache",
            log="/config/app/log",
            env=(("JELLYFIN_CONFIG_DIR", "/config/app"), ("JELLYFIN_DATA_DIR", "/config/app/data"),
                 ("JELLYFIN_LOG_DIR", "/config/app/log"), ("JELLYFIN_CACHE_DIR", "/config/app/cache"),
                 ("JELLYFIN_WEB_DIR", "/app/bin/jellyfin-web")),
            args=("/app/bin/jellyfin.dll", f"--ffmpeg={_JF_FFMPEG}"),
            os_name=_UBUNTU, ffmpeg=_JF_FFMPEG, hwaccel="vaapi", media="/data")
    if kind == "portable":   # no variables: XDG defaults under the user's home
        home = home or "/home/jellyfin"
        data = f"{home}/.local/share/jellyfin"
        return ServerView(
            data=data, config=f"{home}/.config/jellyfin", cache=f"{home}/.cache/jellyfin",
            log=f"{data}/log", env=(),
            args=("/opt/jellyfin/jellyfin.dll", "--ffmpeg", _JF_FFMPEG),
            os_name=_UBUNTU, ffmpeg=_JF_FFMPEG, hwaccel="none", media=f"{home}/Videos")
    if kind == "macos":   # as portable, but the cache inside data
        home = home or "/Users/jellyfin"
        data = f"{home}/.local/share/jellyfin"
        app = "/Applications/Jellyfin.app/Contents"
        return ServerView(
            data=data, config=f"{home}/.config/jellyfin", cache=f"{data}/cache",
            log=f"{data}/log", env=(),
            args=(f"{app}/MacOS/jellyfin.dll", "--webdir", f"{app}/Resources/jellyfin-web",
                  "--ffmpeg", f"{app}/MacOS/ffmpeg"),
            os_name="Darwin 24.6.0 Darwin Kernel Version 24.6.0: Mon Jul 14 11:30:40 PDT 2025; "
                    "root:xnu-11417.140.69~1/RELEASE_ARM64_T8132",
            ffmpeg=f"{app}/MacOS/ffmpeg", hwaccel="videotoolbox", media="/Volumes/Media")
    if kind == "windows":   # the installer's --datadir; config, cache and log inside it
        data = "C:\\ProgramData\\Jellyfin\\Server"
        prog = "C:\\Program Files\\Jellyfin\\Server"
        return ServerView(
            data=data, config=spath(data, "config"), cache=spath(data, "cache"),
            log=spath(data, "log"), env=(),
            args=(spath(prog, "jellyfin.dll"), "--service", "--datadir", data),
            os_name="Microsoft Windows 10.0.26100", ffmpeg=spath(prog, "ffmpeg.exe"),
            hwaccel="none", media="D:\\Media")
    raise ValueError(kind)


INSTALLS = ("debian", "fedora", "docker", "linuxserver", "hotio", "portable", "macos", "windows")


def parse_version(v: str) -> tuple[int, int, int]:
    major, minor, patch = (int(x) for x in v.split("."))
    return major, minor, patch


def previous_version(version: str) -> str:
    """The version the sample server was upgraded from; its older logs name it."""
    v = parse_version(version)
    if v > parse_version(PREVIOUS_VERSION):
        return PREVIOUS_VERSION
    major, minor, patch = v
    if patch:
        return f"{major}.{minor}.{patch - 1}"
    if minor:
        return f"{major}.{minor - 1}.0"
    return version


# --------------------------------------------------------------------------------------------
# Deterministic content
# --------------------------------------------------------------------------------------------

# Syllables make word-like tokens so that text compresses like real metadata (ratio ~3-5 with
# zstd -3), not like random bytes nor like a single repeated string.
_SYLLABLES = ("ka", "lo", "ren", "ta", "mi", "shu", "der", "an", "the", "ion", "vel", "or",
              "is", "en", "ar", "sto", "ry", "mo", "vie", "bel", "ga", "ne", "tor", "wi")


class TextPool:
    """A large buffer of word-like text from which files take slices at random offsets.

    Building text word by word in Python is slow; slicing a pool is fast. The pool is made
    larger than zstd's window at low levels (2-8 MiB) so slices rarely repeat within it and the
    compression ratio stays that of the text itself.
    """

    def __init__(self, rng: random.Random, size: int):
        words = ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(4000)]
        words += [w + "." for w in words[:400]] + [w.title() for w in words[:800]]
        # 65536 slots indexed by random 16-bit values; common words take many slots, which gives
        # the skewed frequencies of real text. Mapping indexes in C is ~20x faster than choices().
        common = ["the", "a", "and", "of", "in", "to", "with", "his", "her", "when", "The"]
        slots = (common * 1500 + words * 16)[:65536]
        slots += words[:65536 - len(slots)]
        idx = array.array("H", rng.randbytes((size // 5 + 1) * 2))
        self.text = " ".join(map(slots.__getitem__, idx))[:size]
        self.data = self.text.encode()  # ASCII, so offsets in text and data agree

    def take(self, rng: random.Random, n: int) -> str:
        n = min(n, len(self.text) - 1)
        off = int(rng.random() * (len(self.text) - n))
        return self.text[off:off + n]

    def take_bytes(self, rng: random.Random, n: int) -> bytes:
        n = min(n, len(self.data) - 1)
        off = int(rng.random() * (len(self.data) - n))
        return self.data[off:off + n]


# The fixed part of a baseline JPEG (SOI, APP0/JFIF, a quantisation table): real images start
# with a few hundred compressible bytes, then entropy-coded data that zstd cannot shrink.
_JPEG_HEAD = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
              b"\xff\xdb\x00\x43\x00" + bytes(range(1, 65)) +
              b"\xff\xc0\x00\x11\x08\x02\xd0\x01\xe0\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
              b"\xff\xc4\x00\x1f\x00" + bytes(28) + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03"
              b"\x11\x00\x3f\x00")


def jpeg_bytes(rng: random.Random, size: int) -> bytes:
    body = max(0, size - len(_JPEG_HEAD) - 2)
    return _JPEG_HEAD + rng.randbytes(body) + b"\xff\xd9"


def png_bytes(rng: random.Random, size: int) -> bytes:
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x90\x00\x00\x00\x96\x08\x06\x00\x00\x00"
    return head + rng.randbytes(max(0, size - len(head) - 12)) + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def dll_bytes(rng: random.Random, pool: TextPool, size: int) -> bytes:
    """A PE-looking blob: header, then alternating code-like (random) and metadata/string-like
    (compressible) sections, which is roughly how .NET assemblies compress (~2x)."""
    head = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(44) +
            b"\x80\x00\x00\x00" + b"This program cannot be run in DOS mode.\r\r\n$" + bytes(20) +
            b"PE\x00\x00\x4c\x01\x03\x00")
    parts = [head]
    remaining = size - len(head)
    while remaining > 0:
        n = min(remaining, rng.randint(2 * KiB, 16 * KiB))
        parts.append(rng.randbytes(n) if rng.random() < 0.5 else pool.take_bytes(rng, n))
        remaining -= n
    return b"".join(parts)[:size]


def new_guid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


# --------------------------------------------------------------------------------------------
# The writer: creates entries with fixed modes and mtimes
# --------------------------------------------------------------------------------------------

class Tree:
    """Creates files with fixed modes and mtimes. Directory mtimes are set at the very end,
    since creating a child changes its parent's mtime."""

    def __init__(self, root: Path, rng: random.Random):
        self.root = root
        self.rng = rng
        self.notes: list[str] = []   # special cases that could not be made here

    def mtime(self, max_age_days: float = 30.0) -> int:
        return BASE_TIME_NS - self.rng.randrange(int(max_age_days * DAY_NS))

    def dir(self, rel: str | bytes) -> Path | bytes:
        path = self._abs(rel)
        os.makedirs(path, exist_ok=True)
        return path

    def file(self, rel: str | bytes, data: bytes | str, mode: int = 0o644,
             mtime_ns: int | None = None) -> Path | bytes:
        path = self._abs(rel)
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        t = self.mtime() if mtime_ns is None else mtime_ns
        os.utime(path, ns=(t, t))
        return path

    def symlink(self, rel: str | bytes, target: str | bytes) -> None:
        path = self._abs(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)
        t = self.mtime()
        os.utime(path, ns=(t, t), follow_symlinks=False)

    def hardlink(self, rel: str, existing: str) -> None:
        path = self._abs(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.link(self._abs(existing), path)

    def _abs(self, rel: str | bytes) -> Path | bytes:
        if isinstance(rel, bytes):
            return os.path.join(os.fsencode(self.root), rel)
        return self.root / rel


def fix_dir_mtimes(top: Path, seed: int) -> None:
    """Give every directory a mtime derived from its path, not from traversal order, so the
    result is the same however the tree was built."""
    top_b = os.fsencode(top)
    for dirpath, _dirs, _files in os.walk(top_b, topdown=False):
        rel = os.path.relpath(dirpath, top_b)
        h = hashlib.blake2b(rel + b"/" + str(seed).encode(), digest_size=8).digest()
        t = BASE_TIME_NS - int.from_bytes(h, "little") % (20 * DAY_NS)
        os.utime(dirpath, ns=(t, t), follow_symlinks=False)


# --------------------------------------------------------------------------------------------
# Config tree
# --------------------------------------------------------------------------------------------

def system_xml(rng: random.Random, server_name: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<ServerConfiguration xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <LogFileRetentionDays>3</LogFileRetentionDays>
  <IsStartupWizardCompleted>true</IsStartupWizardCompleted>
  <EnableMetrics>false</EnableMetrics>
  <EnableNormalizedItemByNameIds>true</EnableNormalizedItemByNameIds>
  <IsPortAuthorized>true</IsPortAuthorized>
  <QuickConnectAvailable>true</QuickConnectAvailable>
  <EnableCaseSensitiveItemIds>true</EnableCaseSensitiveItemIds>
  <DisableLiveTvChannelUserDataName>true</DisableLiveTvChannelUserDataName>
  <MetadataPath />
  <PreferredMetadataLanguage>en</PreferredMetadataLanguage>
  <MetadataCountryCode>US</MetadataCountryCode>
  <SortReplaceCharacters>
    <string>.</string>
    <string>+</string>
    <string>%</string>
  </SortReplaceCharacters>
  <SortRemoveCharacters>
    <string>,</string>
    <string>&amp;</string>
    <string>-</string>
    <string>{{</string>
    <string>}}</string>
    <string>'</string>
  </SortRemoveCharacters>
  <SortRemoveWords>
    <string>the</string>
    <string>a</string>
    <string>an</string>
  </SortRemoveWords>
  <MinResumePct>5</MinResumePct>
  <MaxResumePct>90</MaxResumePct>
  <MinResumeDurationSeconds>300</MinResumeDurationSeconds>
  <MinAudiobookResume>5</MinAudiobookResume>
  <MaxAudiobookResume>5</MaxAudiobookResume>
  <InactiveSessionThreshold>0</InactiveSessionThreshold>
  <LibraryMonitorDelay>60</LibraryMonitorDelay>
  <LibraryUpdateDuration>30</LibraryUpdateDuration>
  <CacheSize>{rng.choice([1800, 3000, 7200])}</CacheSize>
  <ImageSavingConvention>Legacy</ImageSavingConvention>
  <MetadataOptions>
    <MetadataOptions>
      <ItemType>Movie</ItemType>
      <DisabledMetadataSavers />
      <LocalMetadataReaderOrder />
      <DisabledMetadataFetchers />
      <MetadataFetcherOrder />
      <DisabledImageFetchers />
      <ImageFetcherOrder />
    </MetadataOptions>
    <MetadataOptions>
      <ItemType>MusicVideo</ItemType>
      <DisabledMetadataSavers />
      <LocalMetadataReaderOrder />
      <DisabledMetadataFetchers>
        <string>The Open Movie Database</string>
      </DisabledMetadataFetchers>
      <MetadataFetcherOrder />
      <DisabledImageFetchers>
        <string>The Open Movie Database</string>
      </DisabledImageFetchers>
      <ImageFetcherOrder />
    </MetadataOptions>
  </MetadataOptions>
  <SkipDeserializationForBasicTypes>true</SkipDeserializationForBasicTypes>
  <ServerName>{server_name}</ServerName>
  <UICulture>en-US</UICulture>
  <SaveMetadataHidden>false</SaveMetadataHidden>
  <ContentTypes />
  <RemoteClientBitrateLimit>0</RemoteClientBitrateLimit>
  <EnableFolderView>false</EnableFolderView>
  <EnableGroupingMoviesIntoCollections>false</EnableGroupingMoviesIntoCollections>
  <EnableGroupingShowsIntoCollections>false</EnableGroupingShowsIntoCollections>
  <DisplaySpecialsWithinSeasons>true</DisplaySpecialsWithinSeasons>
  <CodecsUsed />
  <PluginRepositories>
    <RepositoryInfo>
      <Name>Jellyfin Stable</Name>
      <Url>https://repo.jellyfin.org/files/plugin/manifest.json</Url>
      <Enabled>true</Enabled>
    </RepositoryInfo>
  </PluginRepositories>
  <EnableExternalContentInSuggestions>true</EnableExternalContentInSuggestions>
  <ImageExtractionTimeoutMs>0</ImageExtractionTimeoutMs>
  <PathSubstitutions />
  <EnableSlowResponseWarning>true</EnableSlowResponseWarning>
  <SlowResponseThresholdMs>500</SlowResponseThresholdMs>
  <CorsHosts>
    <string>*</string>
  </CorsHosts>
  <ActivityLogRetentionDays>30</ActivityLogRetentionDays>
  <LibraryScanFanoutConcurrency>0</LibraryScanFanoutConcurrency>
  <LibraryMetadataRefreshConcurrency>0</LibraryMetadataRefreshConcurrency>
  <AllowClientLogUpload>true</AllowClientLogUpload>
  <DummyChapterDuration>0</DummyChapterDuration>
  <ChapterImageResolution>MatchSource</ChapterImageResolution>
  <ParallelImageEncodingLimit>0</ParallelImageEncodingLimit>
  <CastReceiverApplications>
    <CastReceiverApplication>
      <Id>F007D354</Id>
      <Name>Stable</Name>
    </CastReceiverApplication>
    <CastReceiverApplication>
      <Id>6F511C87</Id>
      <Name>Unstable</Name>
    </CastReceiverApplication>
  </CastReceiverApplications>
  <TrickplayOptions>
    <EnableHwAcceleration>false</EnableHwAcceleration>
    <EnableHwEncoding>false</EnableHwEncoding>
    <EnableKeyFrameOnlyExtraction>false</EnableKeyFrameOnlyExtraction>
    <ScanBehavior>NonBlocking</ScanBehavior>
    <ProcessPriority>BelowNormal</ProcessPriority>
    <Interval>10000</Interval>
    <WidthResolutions>
      <int>320</int>
    </WidthResolutions>
    <TileWidth>10</TileWidth>
    <TileHeight>10</TileHeight>
    <Qscale>4</Qscale>
    <JpegQuality>90</JpegQuality>
    <ProcessThreads>1</ProcessThreads>
  </TrickplayOptions>
</ServerConfiguration>
"""


NETWORK_XML = """<?xml version="1.0" encoding="utf-8"?>
<NetworkConfiguration xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BaseUrl />
  <EnableHttps>false</EnableHttps>
  <RequireHttps>false</RequireHttps>
  <CertificatePath />
  <CertificatePassword />
  <InternalHttpPort>8096</InternalHttpPort>
  <InternalHttpsPort>8920</InternalHttpsPort>
  <PublicHttpPort>8096</PublicHttpPort>
  <PublicHttpsPort>8920</PublicHttpsPort>
  <AutoDiscovery>true</AutoDiscovery>
  <EnableUPnP>false</EnableUPnP>
  <EnableIPv4>true</EnableIPv4>
  <EnableIPv6>false</EnableIPv6>
  <EnableRemoteAccess>true</EnableRemoteAccess>
  <LocalNetworkSubnets />
  <LocalNetworkAddresses />
  <KnownProxies />
  <IgnoreVirtualInterfaces>true</IgnoreVirtualInterfaces>
  <VirtualInterfaceNames>
    <string>veth</string>
  </VirtualInterfaceNames>
  <EnablePublishedServerUriByRequest>false</EnablePublishedServerUriByRequest>
  <PublishedServerUriBySubnet />
  <RemoteIPFilter />
  <IsRemoteIPFilterBlacklist>false</IsRemoteIPFilterBlacklist>
</NetworkConfiguration>
"""

# {transcodes}, {ffmpeg} and {hwaccel} come from the install's ServerView.
ENCODING_XML = """<?xml version="1.0" encoding="utf-8"?>
<EncodingOptions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <EncodingThreadCount>-1</EncodingThreadCount>
  <TranscodingTempPath>{transcodes}</TranscodingTempPath>
  <FallbackFontPath />
  <EnableFallbackFont>false</EnableFallbackFont>
  <EnableAudioVbr>false</EnableAudioVbr>
  <DownMixAudioBoost>2</DownMixAudioBoost>
  <DownMixStereoAlgorithm>None</DownMixStereoAlgorithm>
  <MaxMuxingQueueSize>2048</MaxMuxingQueueSize>
  <EnableThrottling>false</EnableThrottling>
  <ThrottleDelaySeconds>180</ThrottleDelaySeconds>
  <EnableSegmentDeletion>false</EnableSegmentDeletion>
  <SegmentKeepSeconds>720</SegmentKeepSeconds>
  <HardwareAccelerationType>{hwaccel}</HardwareAccelerationType>
  <EncoderAppPathDisplay>{ffmpeg}</EncoderAppPathDisplay>
  <VaapiDevice>/dev/dri/renderD128</VaapiDevice>
  <QsvDevice />
  <EnableTonemapping>false</EnableTonemapping>
  <EnableVppTonemapping>false</EnableVppTonemapping>
  <EnableVideoToolboxTonemapping>false</EnableVideoToolboxTonemapping>
  <TonemappingAlgorithm>bt2390</TonemappingAlgorithm>
  <TonemappingMode>auto</TonemappingMode>
  <TonemappingRange>auto</TonemappingRange>
  <TonemappingDesat>0</TonemappingDesat>
  <TonemappingPeak>100</TonemappingPeak>
  <TonemappingParam>0</TonemappingParam>
  <H264Crf>23</H264Crf>
  <H265Crf>28</H265Crf>
  <DeinterlaceDoubleRate>false</DeinterlaceDoubleRate>
  <DeinterlaceMethod>yadif</DeinterlaceMethod>
  <EnableDecodingColorDepth10Hevc>true</EnableDecodingColorDepth10Hevc>
  <EnableDecodingColorDepth10Vp9>true</EnableDecodingColorDepth10Vp9>
  <EnableEnhancedNvdecDecoder>true</EnableEnhancedNvdecDecoder>
  <PreferSystemNativeHwDecoder>true</PreferSystemNativeHwDecoder>
  <EnableIntelLowPowerH264HwEncoder>false</EnableIntelLowPowerH264HwEncoder>
  <EnableIntelLowPowerHevcHwEncoder>false</EnableIntelLowPowerHevcHwEncoder>
  <EnableHardwareEncoding>true</EnableHardwareEncoding>
  <AllowHevcEncoding>false</AllowHevcEncoding>
  <AllowAv1Encoding>false</AllowAv1Encoding>
  <EnableSubtitleExtraction>true</EnableSubtitleExtraction>
  <HardwareDecodingCodecs>
    <string>h264</string>
    <string>hevc</string>
    <string>vc1</string>
  </HardwareDecodingCodecs>
  <AllowOnDemandMetadataBasedKeyframeExtractionForExtensions>
    <string>mkv</string>
  </AllowOnDemandMetadataBasedKeyframeExtractionForExtensions>
</EncodingOptions>
"""

# The server's default logging.json: files log_YYYYMMDD.log in the log dir.
LOGGING_JSON = """{
    "Serilog": {
        "MinimumLevel": {
            "Default": "Information",
            "Override": {
                "Microsoft": "Warning",
                "System": "Warning"
            }
        },
        "WriteTo": [
            {
                "Name": "Console",
                "Args": {
                    "outputTemplate": "[{Timestamp:HH:mm:ss}] [{Level:u3}] [{ThreadId}] {SourceContext}: {Message:lj}{NewLine}{Exception}"
                }
            },
            {
                "Name": "Async",
                "Args": {
                    "configure": [
                        {
                            "Name": "File",
                            "Args": {
                                "path": "%JELLYFIN_LOG_DIR%//log_.log",
                                "rollingInterval": "Day",
                                "retainedFileCountLimit": 3,
                                "rollOnFileSizeLimit": true,
                                "fileSizeLimitBytes": 100000000,
                                "outputTemplate": "[{Timestamp:yyyy-MM-dd HH:mm:ss.fff zzz}] [{Level:u3}] [{ThreadId}] {SourceContext}: {Message}{NewLine}{Exception}"
                            }
                        }
                    ]
                }
            }
        ],
        "Enrich": [ "FromLogContext", "WithThreadId" ]
    }
}
"""

# The Debian/Fedora packages' logging.json: files jellyfinYYYYMMDD.log, and a file template
# without thread id or source name, so the version line reads `[...] [INF] Jellyfin version: "V"`.
DEBIAN_LOGGING_JSON = """{
    "Serilog": {
        "MinimumLevel": "Information",
        "WriteTo": [
            {
                "Name": "Console",
                "Args": {
                    "outputTemplate": "[{Timestamp:HH:mm:ss}] [{Level:u3}] {Message:lj}{NewLine}{Exception}"
                }
            },
            {
                "Name": "File",
                "Args": {
                    "path": "%JELLYFIN_LOG_DIR%//jellyfin.log",
                    "rollingInterval": "Day",
                    "retainedFileCountLimit": 3,
                    "rollOnFileSizeLimit": true,
                    "fileSizeLimitBytes": 10485700,
                    "outputTemplate": "[{Timestamp:yyyy-MM-dd HH:mm:ss.fff zzz}] [{Level:u3}] {Message}{NewLine}{Exception}"
                }
            }
        ]
    }
}
"""

BRANDING_XML = """<?xml version="1.0" encoding="utf-8"?>
<BrandingOptions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <LoginDisclaimer>Family server. Ask before adding libraries.</LoginDisclaimer>
  <CustomCss>.skinHeader {{ background: #{color}; }}</CustomCss>
  <SplashscreenEnabled>true</SplashscreenEnabled>
</BrandingOptions>
"""


def dlna_profile(name: str, rng: random.Random) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Profile xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Name>{name}</Name>
  <Identification>
    <FriendlyName>{name}</FriendlyName>
    <Headers />
  </Identification>
  <MaxStreamingBitrate>{rng.choice([40000000, 120000000, 140000000])}</MaxStreamingBitrate>
  <MusicStreamingTranscodingBitrate>192000</MusicStreamingTranscodingBitrate>
  <TranscodingProfiles>
    <TranscodingProfile container="ts" type="Video" videoCodec="h264" audioCodec="aac" />
    <TranscodingProfile container="mp3" type="Audio" audioCodec="mp3" />
  </TranscodingProfiles>
</Profile>
"""


def logging_json(view: ServerView) -> str:
    return DEBIAN_LOGGING_JSON if view.log_style == "debian" else LOGGING_JSON


def make_config(t: Tree, rng: random.Random, view: ServerView) -> None:
    server = rng.choice(["livingroom", "nas", "media-box", "odin"])
    t.file("system.xml", system_xml(rng, server))
    t.file("network.xml", NETWORK_XML)
    t.file("encoding.xml", ENCODING_XML.format(transcodes=spath(view.cache, "transcodes"),
                                               ffmpeg=view.ffmpeg, hwaccel=view.hwaccel))
    t.file("logging.json", logging_json(view))
    t.file("branding.xml", BRANDING_XML.format(color="%06x" % rng.getrandbits(24)))
    t.file("migrations.xml", """<?xml version="1.0" encoding="utf-8"?>
<MigrationOptions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Applied />
</MigrationOptions>
""")
    t.file("xbmcmetadata.xml", """<?xml version="1.0" encoding="utf-8"?>
<XbmcMetadataOptions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <UserId />
  <ReleaseDateFormat>yyyy-MM-dd</ReleaseDateFormat>
  <SaveImagePathsInNfo>true</SaveImagePathsInNfo>
  <EnablePathSubstitution>true</EnablePathSubstitution>
  <EnableExtraThumbsDuplication>false</EnableExtraThumbsDuplication>
</XbmcMetadataOptions>
""")
    for name in ("Samsung Smart TV", "Sony Bravia (2015)", "Kodi"):
        t.file(f"dlna/user/{name}.xml", dlna_profile(name, rng))
    t.dir("dlna/system")  # the server repopulates it; shipped empty by newer versions
    t.file(".jellyfin-config", b"")


# --------------------------------------------------------------------------------------------
# Data tree
# --------------------------------------------------------------------------------------------

# __EFMigrationsHistory: (MigrationId, EF Core version for schema migrations or None for
# Jellyfin's own, the server release that brought it). EF rows carry the EF version; Jellyfin's
# rows carry the 4-part version of the server that ran them, so the highest 4-part value is
# the newest server that ran. The order is the insertion order (it shapes the file's bytes).
MIGRATIONS: list[tuple[str, str | None, tuple[int, int, int]]] = [
    ("20200514181226_AddActivityLog", "3.1.4", (10, 6, 0)),
    ("20200613202153_AddUsers", "3.1.5", (10, 6, 0)),
    ("20201204223655_AddCustomDisplayPreferences", "5.0.0", (10, 7, 0)),
    ("20230526173516_RemoveEasyPassword", "7.0.5", (10, 9, 0)),
    ("20240729140605_AddMediaSegments", "8.0.7", (10, 10, 0)),
    ("20241020103111_LibraryDbMigration", "9.0.0", (10, 11, 0)),
    ("20250202021306_FixedCollation", "9.0.1", (10, 11, 0)),
    ("20250326065026_AddInheritedParentalRatingSubValue", "9.0.3", (10, 11, 0)),
    ("20250609115616_DetachUserDataInsteadOfDelete", "9.0.6", (10, 11, 0)),
    ("JF_20241004_MigrateDisplayPreferencesDb", None, (10, 10, 0)),
    ("JF_20241020_MigrateLibraryDb", None, (10, 11, 0)),
    ("JF_20250117_MigrateKeyframeData", None, (10, 11, 0)),
    ("JF_20250420_MoveTrickplayFiles", None, (10, 11, 0)),
]


def migration_rows(version: str, previous: str) -> list[tuple[str, str]]:
    """The history of a server that ran `previous`, then `version`: migrations newer than
    `version` are absent; Jellyfin's own carry the version that applied them."""
    v, prev = parse_version(version), parse_version(previous)
    rows = []
    for mid, ef, since in MIGRATIONS:
        if since > v:
            continue
        rows.append((mid, ef or (previous if since <= prev else version) + ".0"))
    return rows


def make_database(path: Path, rng: random.Random, pool: TextPool, sc: Scale,
                  items: list[tuple[uuid.UUID, str, int]], users: list[tuple[uuid.UUID, str]],
                  version: str, media: str) -> None:
    """A real SQLite database shaped like 10.11's jellyfin.db, left in WAL mode.

    The connection is closed cleanly so SQLite checkpoints and removes -wal/-shm: a leftover
    WAL holds random salts and would break determinism. The file itself is byte-identical for
    the same rows and the same SQLite library.
    """
    db = sqlite3.connect(path)
    # Build fast (nothing here needs durability), then switch to WAL like the server.
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript("""
        CREATE TABLE "__EFMigrationsHistory" (
            "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
            "ProductVersion" TEXT NOT NULL);
        CREATE TABLE "Users" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_Users" PRIMARY KEY,
            "Username" TEXT NOT NULL, "Password" TEXT NULL,
            "MustUpdatePassword" INTEGER NOT NULL, "AuthenticationProviderId" TEXT NOT NULL,
            "PasswordResetProviderId" TEXT NOT NULL, "InvalidLoginAttemptCount" INTEGER NOT NULL,
            "LastActivityDate" TEXT NULL, "LastLoginDate" TEXT NULL,
            "SubtitleLanguagePreference" TEXT NULL, "InternalId" INTEGER NOT NULL,
            "RowVersion" INTEGER NOT NULL);
        CREATE TABLE "BaseItems" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_BaseItems" PRIMARY KEY,
            "Type" TEXT NOT NULL, "Data" TEXT NULL, "Path" TEXT NULL, "StartDate" TEXT NULL,
            "EndDate" TEXT NULL, "ChannelId" TEXT NULL, "IsMovie" INTEGER NOT NULL,
            "CommunityRating" REAL NULL, "CustomRating" TEXT NULL, "IndexNumber" INTEGER NULL,
            "Name" TEXT NULL, "OfficialRating" TEXT NULL, "Overview" TEXT NULL,
            "ParentId" TEXT NULL, "ProductionYear" INTEGER NULL, "DateCreated" TEXT NULL,
            "DateModified" TEXT NULL, "SortName" TEXT NULL, "RunTimeTicks" INTEGER NULL);
        CREATE INDEX "IX_BaseItems_ParentId" ON "BaseItems" ("ParentId");
        CREATE INDEX "IX_BaseItems_Type_SortName" ON "BaseItems" ("Type", "SortName");
        CREATE TABLE "UserData" (
            "ItemId" TEXT NOT NULL, "UserId" TEXT NOT NULL, "CustomDataKey" TEXT NOT NULL,
            "Rating" REAL NULL, "PlaybackPositionTicks" INTEGER NOT NULL,
            "PlayCount" INTEGER NOT NULL, "IsFavorite" INTEGER NOT NULL,
            "LastPlayedDate" TEXT NULL, "Played" INTEGER NOT NULL,
            CONSTRAINT "PK_UserData" PRIMARY KEY ("ItemId", "UserId", "CustomDataKey"));
        CREATE TABLE "ActivityLogs" (
            "Id" INTEGER NOT NULL CONSTRAINT "PK_ActivityLogs" PRIMARY KEY AUTOINCREMENT,
            "Name" TEXT NOT NULL, "Overview" TEXT NULL, "Type" TEXT NOT NULL,
            "UserId" TEXT NOT NULL, "DateCreated" TEXT NOT NULL, "LogSeverity" INTEGER NOT NULL);
    """)
    db.executemany('INSERT INTO "__EFMigrationsHistory" VALUES (?, ?)',
                   migration_rows(version, previous_version(version)))

    def date(max_days: float) -> str:
        ns = BASE_TIME_NS - rng.randrange(int(max_days * DAY_NS))
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9)) + ".%07d" % (ns % 10**9 // 100)

    db.executemany('INSERT INTO "Users" VALUES (?,?,?,?,?,?,?,?,?,?,?,?)', [
        (str(uid), name,
         "$PBKDF2-SHA512$iterations=210000$%s$%s" % ("%032X" % rng.getrandbits(128), "%0128X" % rng.getrandbits(512)),
         0, "Jellyfin.Server.Implementations.Users.DefaultAuthenticationProvider",
         "Jellyfin.Server.Implementations.Users.DefaultPasswordResetProvider", 0,
         date(3), date(3), "eng", i + 1, 0)
        for i, (uid, name) in enumerate(users)])

    types = ["MediaBrowser.Controller.Entities.Movies.Movie", "MediaBrowser.Controller.Entities.TV.Episode",
             "MediaBrowser.Controller.Entities.TV.Season", "MediaBrowser.Controller.Entities.Person",
             "MediaBrowser.Controller.Entities.Audio.Audio"]

    def base_items():
        parent = None
        for i in range(sc.db_rows):
            if i < len(items):
                gid, name, year = items[i]
            else:
                gid, name, year = new_guid(rng), pool.take(rng, rng.randint(8, 30)).strip(), rng.randint(1950, 2026)
            if i % 50 == 0:
                parent = str(new_guid(rng))
            data = json.dumps({
                "ProviderIds": {"Tmdb": str(rng.randint(1, 999999)), "Imdb": "tt%07d" % rng.randint(1, 9999999)},
                "Genres": rng.sample(["Drama", "Comedy", "Action", "Documentary", "Animation", "Horror"], 2),
                "Studios": [pool.take(rng, 14).strip()],
                "Tagline": pool.take(rng, rng.randint(20, 80)),
                "Description": pool.take(rng, rng.randint(*sc.db_row_bytes)),
            }, separators=(",", ":"))
            yield (str(gid), rng.choice(types), data,
                   spath(media, "Movies", f"{name} ({year})", f"{name}.mkv"),
                   None, None, None, rng.random() < 0.5, round(rng.uniform(3, 9.5), 1), None,
                   rng.randint(1, 24), name, rng.choice(["PG", "PG-13", "R", "TV-MA", None]),
                   pool.take(rng, rng.randint(100, 600)), parent, year, date(400), date(30),
                   name.lower(), rng.randint(10, 200) * 600_000_000)

    db.executemany('INSERT INTO "BaseItems" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)', base_items())

    def user_data():
        for gid, _name, _year in items:
            for uid, _uname in users:
                if rng.random() < 0.4:
                    yield (str(gid), str(uid), str(gid.hex), None, rng.randrange(0, 72_000_000_000),
                           rng.randint(0, 5), rng.random() < 0.1, date(200), rng.random() < 0.6)

    db.executemany('INSERT INTO "UserData" VALUES (?,?,?,?,?,?,?,?,?)', user_data())
    db.executemany('INSERT INTO "ActivityLogs" ("Name","Overview","Type","UserId","DateCreated","LogSeverity") '
                   'VALUES (?,?,?,?,?,?)',
                   [(f"{users[i % len(users)][1]} is playing {pool.take(rng, 20).strip()}", None,
                     "VideoPlayback", str(users[i % len(users)][0]), date(30), 2)
                    for i in range(min(5000, sc.db_rows // 4))])
    db.commit()
    db.execute("PRAGMA journal_mode=WAL")
    db.close()


def make_old_library_db(path: Path, rng: random.Random, pool: TextPool, mib: int,
                        media: str) -> None:
    """The pre-10.11 library.db that the 10.11 migration renames to library.db.old."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE TypedBaseItems (guid GUID PRIMARY KEY, type TEXT NOT NULL, data BLOB, "
               "Path TEXT, Name TEXT, Overview TEXT)")
    n = mib * MiB // 4200  # measured bytes per row, indexes included
    db.executemany("INSERT INTO TypedBaseItems VALUES (?,?,?,?,?,?)",
                   ((new_guid(rng).bytes, "MediaBrowser.Controller.Entities.Movies.Movie",
                     pool.take_bytes(rng, 1500), spath(media, pool.take(rng, 40)),
                     pool.take(rng, 20), pool.take(rng, 600)) for _ in range(n)))
    db.commit()
    db.close()


def log_line(ns: int, level: str, thread: int, source: str, msg: str, style: str = "default") -> str:
    """One line in the file template of the default logging.json, or of the Debian packages'
    one, which has neither thread id nor source name."""
    ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9)) + ".%03d +00:00" % (ns % 10**9 // 10**6)
    if style == "debian":
        return f"[{ts}] [{level}] {msg}\n"
    return f"[{ts}] [{level}] [{thread}] {source}: {msg}\n"


def quoted_list(values: list[str]) -> str:
    """A string array as Serilog renders it in files: ["a", "b"]."""
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def server_start_lines(ns: int, version: str, view: ServerView) -> list[str]:
    ms = 1_000_000
    env = quoted_list([f"[{k}, {v}]" for k, v in view.env])
    lines = [
        (0, f"Jellyfin version: \"{version}\""),
        (2, f"Environment Variables: {env}"),
        (3, f"Arguments: {quoted_list(list(view.args))}"),
        (4, f"Operating system: {view.os_name}"),
        (5, f"Program data path: \"{view.data}\""),
        (6, f"Log directory path: \"{view.log}\""),
        (7, f"Config directory path: \"{view.config}\""),
        (8, f"Cache path: \"{view.cache}\""),
    ]
    return [log_line(ns + k * ms, "INF", 1, "Main", msg, view.log_style) for k, msg in lines]


_LOG_MESSAGES = [
    ("INF", "Emby.Server.Implementations.ScheduledTasks.TaskManager", "\"Scan Media Library\" Completed after 0 minute(s) and {n} seconds"),
    ("INF", "MediaBrowser.Controller.MediaEncoding.TranscodeManager", "Deleting partial stream file(s) {tc}{h}.ts"),
    ("INF", "Jellyfin.Api.Helpers.MediaInfoHelper", "User policy for {u}. EnablePlaybackRemuxing: True EnableVideoPlaybackTranscoding: True EnableAudioPlaybackTranscoding: True"),
    ("WRN", "MediaBrowser.Providers.Manager.ProviderManager", "Error downloading image {h}: The request was canceled due to the configured HttpClient.Timeout of 100 seconds elapsing."),
    ("INF", "Emby.Server.Implementations.Session.SessionManager", "Playback stopped reported by app \"Jellyfin Web\" \"{v}\" playing \"{t}\". Stopped at \"{n}\" ms"),
    ("ERR", "Jellyfin.LiveTv.Guide.GuideManager", "Error getting programs for channel {h}"),
]


def make_log(t: Tree, rng: random.Random, pool: TextPool, rel: str, start_ns: int, end_ns: int,
             starts: list[tuple[int, str]], lines: int, view: ServerView, web_version: str) -> None:
    """One daily log file: `lines` ordinary lines spread over [start_ns, end_ns], with a block of
    start-up lines (including the version line) at each (ns, version) in `starts`. A file
    that begins at midnight rollover has no start block at its top, as with a real server."""
    stamps = sorted(start_ns + rng.randrange(end_ns - start_ns) for _ in range(lines))
    pending = sorted(starts)
    transcodes = spath(view.cache, "transcodes", "")
    out: list[str] = []
    for ns in stamps:
        while pending and pending[0][0] <= ns:
            out.extend(server_start_lines(pending[0][0], pending[0][1], view))
            pending.pop(0)
        level, src, msg = _LOG_MESSAGES[rng.randrange(len(_LOG_MESSAGES))]
        out.append(log_line(ns, level, rng.randint(1, 60), src,
                            msg.format(n=rng.randint(1, 9999), h="%032x" % rng.getrandbits(128),
                                       u=rng.choice(["alice", "bob"]), t=pool.take(rng, 18).strip(),
                                       tc=transcodes, v=web_version),
                            view.log_style))
    for ns, version in pending:
        out.extend(server_start_lines(ns, version, view))
    text = "".join(out)
    if is_windows_path(view.log):   # {NewLine} is Environment.NewLine
        text = text.replace("\n", "\r\n")
    t.file(rel, text, mtime_ns=end_ns)


def make_logs(t: Tree, rng: random.Random, pool: TextPool, sc: Scale, view: ServerView,
              folder: str, version: str) -> None:
    """Logs for three days: the previous version, the upgrade day (previous version in the
    morning, `version` after the upgrade), and today, which starts at midnight rollover and
    has one restart at LAST_START_NS. The version detector must take the last line of the
    newest log. `folder` is where the files go inside `t` ("" for the top)."""
    h = 3600 * 10**9
    midnight = LAST_START_NS - (19 * h + 65_123_000_000)   # 2026-11-20 00:00:00 UTC
    small = max(50, sc.log_lines // 10)
    previous = previous_version(version)
    prefix = "jellyfin" if view.log_style == "debian" else "log_"

    def name(day: str) -> str:
        return f"{folder}/{prefix}{day}.log" if folder else f"{prefix}{day}.log"

    make_log(t, rng, pool, name("20261118"), midnight - 2 * DAY_NS, midnight - DAY_NS - 1,
             [(midnight - 2 * DAY_NS + 7 * h + 12_345_000_000, previous)], small, view, version)
    make_log(t, rng, pool, name("20261119"), midnight - DAY_NS, midnight - 1,
             [(midnight - DAY_NS + 9 * h + 1_500_000_000, previous),
              (midnight - DAY_NS + 21 * h + 42_007_000_000, version)], small, view, version)
    make_log(t, rng, pool, name("20261120"), midnight, BASE_TIME_NS,
             [(LAST_START_NS, version)], sc.log_lines, view, version)


PLUGINS = [("Trakt", "26.0.0.0"), ("Open Subtitles", "21.0.0.0"), ("Fanart", "12.0.0.0"),
           ("Playback Reporting", "16.0.0.0"), ("Intro Skipper", "1.10.11.7")]


def make_data(t: Tree, rng: random.Random, pool: TextPool, sc: Scale, view: ServerView,
              version: str, with_logs: bool) -> None:
    """The data tree. `with_logs` puts the logs in it under log/ (OUT_DIR mode); --root mode
    writes them in the install's log tree instead."""
    major, minor, _patch = parse_version(version)
    t.file(".jellyfin-data", b"")
    t.file("data/device.txt", new_guid(rng).hex)

    users = [(new_guid(rng), n) for n in ("alice", "bob", "kids", "guest")]

    # Library items: metadata folders keyed by the item id (metadata/library/xx/<guid>/).
    items: list[tuple[uuid.UUID, str, int]] = []
    for _ in range(sc.items):
        gid = new_guid(rng)
        name = pool.take(rng, rng.randint(8, 28)).strip().title() or "Untitled"
        items.append((gid, name, rng.randint(1950, 2026)))
        d = f"metadata/library/{gid.hex[:2]}/{gid.hex}"
        t.file(f"{d}/poster.jpg", jpeg_bytes(rng, rng.randint(*sc.poster_kib) * KiB))
        if rng.random() < sc.backdrop_share:
            t.file(f"{d}/backdrop.jpg", jpeg_bytes(rng, rng.randint(*sc.backdrop_kib) * KiB))
        if rng.random() < 0.2:
            t.file(f"{d}/logo.png", png_bytes(rng, rng.randint(4, 30) * KiB))

    for i in range(sc.people):
        first, last = pool.take(rng, 7).strip().title(), pool.take(rng, 9).strip().title()
        name = f"{first} {last}".strip() or f"Person {i}"
        # Names can collide; the index keeps paths unique without looking unnatural.
        t.file(f"metadata/People/{name[0].upper()}/{name} {i}/folder.jpg",
               jpeg_bytes(rng, rng.randint(*sc.person_kib) * KiB))

    for gid, _name, _year in items[:sc.trickplay_items]:
        d = f"data/trickplay/{gid.hex[:2]}/{gid.hex}/320 - 10x10"
        for n in range(sc.tiles_per_item):
            t.file(f"{d}/{n}.jpg", jpeg_bytes(rng, rng.randint(*sc.tile_kib) * KiB))

    for gid, _name, _year in items[:sc.subtitles]:
        cues = []
        for n in range(rng.randint(50, 400)):
            s = n * 4
            cues.append(f"{n + 1}\n00:{s // 60 % 60:02d}:{s % 60:02d},000 --> 00:{(s + 3) // 60 % 60:02d}:{(s + 3) % 60:02d},500\n"
                        f"{pool.take(rng, rng.randint(20, 70)).strip()}\n")
        t.file(f"data/subtitles/{gid.hex[:2]}/{gid.hex}/3.srt", "\n".join(cues))

    for gid, _name, _year in items[:sc.keyframes]:
        ticks = [k * rng.randint(20_000_000, 50_000_000) for k in range(rng.randint(100, 800))]
        t.file(f"data/keyframes/{gid.hex[:2]}/{gid.hex}.json",
               json.dumps({"FilePath": spath(view.media, f"{gid.hex}.mkv"), "KeyframeTicks": ticks}))

    # Attachments (fonts embedded in mkv files), a fairly compressible binary.
    for gid, _name, _year in items[:max(1, sc.items // 40)]:
        t.file(f"data/attachments/{gid.hex}/0", dll_bytes(rng, pool, rng.randint(30, 200) * KiB))

    for n in range(8):
        t.file(f"data/ScheduledTasks/{new_guid(rng).hex}.js",
               json.dumps([{"Type": "IntervalTrigger", "IntervalTicks": rng.choice([864000000000, 432000000000])}]))

    # Collections and playlists are empty folders on a fresh server.
    t.dir("data/collections")
    t.dir("data/playlists")

    db_path = t.root / "data/jellyfin.db"
    make_database(db_path, rng, pool, sc, items, users, version, view.media)
    t_db = t.mtime(0.01)
    os.utime(db_path, ns=(t_db, t_db))
    if sc.old_db_mib:
        old = t.root / "data/library.db.old"
        make_old_library_db(old, rng, pool, sc.old_db_mib, view.media)
        t_old = t.mtime(30)
        os.utime(old, ns=(t_old, t_old))

    # The built-in backup (10.11) and a symlink to the newest one, as some admins keep.
    zpath = t.root / "data/backups/jellyfin-backup-20261119120000.zip"
    os.makedirs(zpath.parent, exist_ok=True)
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("manifest.json", date_time=(2026, 11, 19, 12, 0, 0))
        z.writestr(info, json.dumps({"ServerVersion": f"{version}.0", "BackupEngineVersion": "0.2.0",
                                     "DateCreated": "2026-11-19T12:00:00Z", "DatabaseTables": ["BaseItems", "Users"],
                                     "Options": {"Metadata": False, "Trickplay": False,
                                                 "Subtitles": False, "Database": True}}, indent=2))
        info = zipfile.ZipInfo("Database/Users.json", date_time=(2026, 11, 19, 12, 0, 0))
        z.writestr(info, json.dumps([{"Id": str(u), "Username": n} for u, n in users]))
    t_zip = BASE_TIME_NS - DAY_NS
    os.utime(zpath, ns=(t_zip, t_zip))
    t.symlink("data/backups/latest.zip", "jellyfin-backup-20261119120000.zip")

    # Plugins: each in <Name>_<version>/ with its DLLs and meta.json; configurations apart.
    for name, ver in PLUGINS:
        folder = f"plugins/{name}_{ver}"
        asm = "Jellyfin.Plugin." + name.replace(" ", "")
        t.file(f"{folder}/{asm}.dll", dll_bytes(rng, pool, rng.randint(40, 400) * KiB))
        t.file(f"{folder}/meta.json", json.dumps({
            "category": "General", "changelog": pool.take(rng, 200), "description": pool.take(rng, 120),
            "guid": str(new_guid(rng)), "name": name, "overview": pool.take(rng, 60), "owner": "jellyfin",
            "targetAbi": f"{major}.{minor}.0.0", "timestamp": "2026-10-01T00:00:00Z", "version": ver,
            "status": "Active", "autoUpdate": True, "assemblies": []}, indent=2))
        t.file(f"plugins/configurations/{asm}.xml",
               f"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<PluginConfiguration xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n"
               f"  <Enabled>true</Enabled>\n  <ApiKey>{rng.getrandbits(128):032x}</ApiKey>\n</PluginConfiguration>\n")
    # Two plugins shipping the same dependency, deduplicated into one inode with a hardlink.
    common = dll_bytes(rng, pool, 96 * KiB)
    t.file(f"plugins/Trakt_26.0.0.0/Newtonsoft.Json.dll", common)
    t.hardlink(f"plugins/Fanart_12.0.0.0/Newtonsoft.Json.dll", f"plugins/Trakt_26.0.0.0/Newtonsoft.Json.dll")

    # Library definitions.
    for lib, ctype in (("Movies", "movies"), ("Shows", "tvshows"), ("Music", "music")):
        path = spath(view.media, lib)
        t.file(f"root/default/{lib}/options.xml", f"""<?xml version="1.0" encoding="utf-8"?>
<LibraryOptions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Enabled>true</Enabled>
  <EnablePhotos>true</EnablePhotos>
  <EnableRealtimeMonitor>true</EnableRealtimeMonitor>
  <EnableLUFSScan>true</EnableLUFSScan>
  <EnableChapterImageExtraction>false</EnableChapterImageExtraction>
  <ExtractChapterImagesDuringLibraryScan>false</ExtractChapterImagesDuringLibraryScan>
  <EnableTrickplayImageExtraction>true</EnableTrickplayImageExtraction>
  <SaveLocalMetadata>false</SaveLocalMetadata>
  <AutomaticRefreshIntervalDays>0</AutomaticRefreshIntervalDays>
  <PreferredMetadataLanguage>en</PreferredMetadataLanguage>
  <MetadataCountryCode>US</MetadataCountryCode>
  <PathInfos>
    <MediaPathInfo>
      <Path>{path}</Path>
    </MediaPathInfo>
  </PathInfos>
  <ContentType>{ctype}</ContentType>
</LibraryOptions>
""")
        t.file(f"root/default/{lib}/{ctype}.collection", b"")
        t.file(f"root/default/{lib}/{lib.lower()}.mblink", path)

    if with_logs:
        make_logs(t, rng, pool, sc, view, "log", version)


# --------------------------------------------------------------------------------------------
# Cache and log trees, files outside the trees (--root mode)
# --------------------------------------------------------------------------------------------

def ts_bytes(rng: random.Random, size: int) -> bytes:
    """MPEG-TS-looking bytes: 188-byte packets, each starting with the 0x47 sync byte."""
    n = max(1, size // 188)
    body = rng.randbytes(n * 187)
    return b"".join(b"\x47" + body[i * 187:(i + 1) * 187] for i in range(n))


def make_cache(t: Tree, rng: random.Random, pool: TextPool, sc: Scale) -> None:
    """The cache tree: all regenerable. Resized images, one transcode in progress, OMDb answers."""
    t.file(".jellyfin-cache", b"")
    for _ in range(sc.cache_images):
        name = "%032x" % rng.getrandbits(128)
        t.file(f"images/resized-images/{name[0]}/{name}.jpg", jpeg_bytes(rng, rng.randint(8, 40) * KiB))

    # A stream being transcoded ten minutes before BASE_TIME: its playlist and first segments.
    stream = "%032x" % rng.getrandbits(128)
    started = BASE_TIME_NS - 600 * 10**9
    playlist = ["#EXTM3U", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-VERSION:3",
                "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0"]
    for n in range(sc.transcode_segments):
        t.file(f"transcodes/{stream}{n}.ts", ts_bytes(rng, rng.randint(200, 600) * KiB),
               mtime_ns=started + (n + 1) * 6 * 10**9)
        playlist += ["#EXTINF:6.000000, nodesc", f"{stream}{n}.ts"]
    t.file(f"transcodes/{stream}.m3u8", "\n".join(playlist) + "\n", mtime_ns=started)

    for _ in range(max(1, sc.cache_images // 2)):
        imdb = "tt%07d" % rng.randint(1, 9_999_999)
        t.file(f"omdb/{imdb}.json", json.dumps({
            "Title": pool.take(rng, rng.randint(8, 28)).strip().title(),
            "Year": str(rng.randint(1950, 2026)), "Rated": rng.choice(["PG", "PG-13", "R"]),
            "Runtime": f"{rng.randint(80, 180)} min", "Genre": "Drama, Comedy",
            "Plot": pool.take(rng, rng.randint(100, 400)).strip(), "Language": "English",
            "imdbRating": f"{rng.uniform(3, 9.5):.1f}", "imdbID": imdb, "Type": "movie",
            "Response": "True"}, separators=(",", ":")))


def make_log_tree(t: Tree, rng: random.Random, pool: TextPool, sc: Scale, view: ServerView,
                  version: str) -> None:
    t.file(".jellyfin-log", b"")
    make_logs(t, rng, pool, sc, view, "", version)


def env_file_text(view: ServerView) -> str:
    """/etc/default/jellyfin (Debian) or /etc/sysconfig/jellyfin (Fedora), a POSIX shell
    fragment read by the systemd unit as its EnvironmentFile."""
    dirs = "".join(f'{k}="{v}"\n' for k, v in view.env)
    web = next((a for a in view.args if a.startswith("--webdir=")), "")
    ffmpeg = next((a for a in view.args if a.startswith("--ffmpeg=")), "")
    return f"""# Jellyfin default configuration options
# This is a POSIX shell fragment, read by jellyfin.service as its EnvironmentFile.
# To change the user or this file's location, override the unit in
#  /etc/systemd/system/jellyfin.service.d/jellyfin.service.conf

# Program directories
{dirs}
# Web client, installed by the jellyfin-web package
JELLYFIN_WEB_OPT="{web}"

# ffmpeg binary
JELLYFIN_FFMPEG_OPT="{ffmpeg}"

# Disable glibc dynamic heap adjustment
MALLOC_TRIM_THRESHOLD_=131072

# [OPTIONAL] run Jellyfin as a headless service
#JELLYFIN_SERVICE_OPT="--service"

# [OPTIONAL] run Jellyfin without the web app
#JELLYFIN_NOWEBAPP_OPT="--nowebclient"

# Additional command line options (see jellyfin --help)
JELLYFIN_ADDITIONAL_OPTS=""
"""


def dpkg_status_text(version: str, conffiles: dict[str, str]) -> str:
    """/var/lib/dpkg/status with Jellyfin's packages among a few others, sorted by name as
    dpkg keeps it. `conffiles` maps a path to its md5."""
    deb = f"{version}+deb12"
    team = "Jellyfin Packaging Team <packaging@jellyfin.org>"
    packages = [
        [("Package", "base-files"), ("Essential", "yes"), ("Priority", "required"),
         ("Section", "admin"), ("Installed-Size", "341"),
         ("Maintainer", "Santiago Vila <sanvila@debian.org>"), ("Architecture", "amd64"),
         ("Version", "12.4+deb12u11"), ("Replaces", "base, dpkg (<= 1.15.0), miscutils"),
         ("Provides", "base"),
         ("Description", "Debian base system miscellaneous files\n This package contains the "
          "basic filesystem hierarchy of a Debian system, and\n several important "
          "miscellaneous files.")],
        [("Package", "jellyfin"), ("Priority", "optional"), ("Section", "metapackages"),
         ("Installed-Size", "9"), ("Maintainer", team), ("Architecture", "all"),
         ("Version", deb),
         ("Depends", f"jellyfin-server (= {deb}), jellyfin-web (= {deb}), jellyfin-ffmpeg7"),
         ("Description", "Jellyfin is the Free Software Media System.\n This metapackage "
          "provides the Jellyfin server, web client and ffmpeg."),
         ("Homepage", "https://jellyfin.org")],
        [("Package", "jellyfin-ffmpeg7"), ("Priority", "optional"), ("Section", "video"),
         ("Installed-Size", "106321"), ("Maintainer", team), ("Architecture", "amd64"),
         ("Version", "7.1.2-4-bookworm"), ("Replaces", "jellyfin-ffmpeg, jellyfin-ffmpeg6"),
         ("Depends", "libc6 (>= 2.34), libfontconfig1, libfreetype6, libva2, libdrm2"),
         ("Description", "Tools for transcoding, streaming and playing of multimedia files\n "
          "FFmpeg with Jellyfin's patches and hardware acceleration support."),
         ("Homepage", "https://github.com/jellyfin/jellyfin-ffmpeg")],
        [("Package", "jellyfin-server"), ("Priority", "optional"), ("Section", "misc"),
         ("Installed-Size", "178604"), ("Maintainer", team), ("Architecture", "amd64"),
         ("Source", "jellyfin"), ("Version", deb),
         ("Depends", "at, libjemalloc2, libsqlite3-0, libfontconfig1, libfreetype6, libssl3 | libssl1.1"),
         ("Recommends", "jellyfin-web, sudo"),
         ("Conffiles", "".join(f"\n {path} {md5}" for path, md5 in conffiles.items())),
         ("Description", "Jellyfin is the Free Software Media System.\n This package provides "
          "the Jellyfin server backend and API."),
         ("Homepage", "https://jellyfin.org")],
        [("Package", "jellyfin-web"), ("Priority", "optional"), ("Section", "misc"),
         ("Installed-Size", "78540"), ("Maintainer", team), ("Architecture", "all"),
         ("Source", "jellyfin"), ("Version", deb),
         ("Description", "Jellyfin is the Free Software Media System.\n This package provides "
          "the Jellyfin web client."),
         ("Homepage", "https://jellyfin.org")],
        [("Package", "libsqlite3-0"), ("Priority", "optional"), ("Section", "libs"),
         ("Installed-Size", "1606"), ("Maintainer", "Laszlo Boszormenyi (GCS) <gcs@debian.org>"),
         ("Architecture", "amd64"), ("Multi-Arch", "same"), ("Source", "sqlite3"),
         ("Version", "3.40.1-2+deb12u1"), ("Depends", "libc6 (>= 2.34)"),
         ("Description", "SQLite 3 shared library\n SQLite is a C library that implements "
          "an SQL database engine.")],
    ]
    stanzas = []
    for fields in packages:
        # Status comes second in dpkg's own files; multi-line values (Conffiles) start with
        # a newline, empty ones are left out.
        fields = fields[:1] + [("Status", "install ok installed")] + fields[1:]
        stanzas.append("".join(f"{k}:{v}\n" if v.startswith("\n") else f"{k}: {v}\n"
                               for k, v in fields if v))
    return "\n".join(stanzas)


def make_system_files(t: Tree, view: ServerView, version: str) -> dict[str, Path]:
    """Files outside the trees that tell which install this is: the unit's EnvironmentFile
    and, for Debian, dpkg's status. Returns their paths by kind. `t` is rooted at ROOT."""
    made: dict[str, Path] = {}
    # Written by the package at install or upgrade time: just before the upgraded start.
    upgraded = LAST_START_NS - DAY_NS + 2 * 3600 * 10**9 - 23_116_000_000 - 60 * 10**9
    conffiles: dict[str, str] = {}
    if view.env_file:
        text = env_file_text(view)
        made["env"] = t.file(view.env_file.lstrip("/"), text, mtime_ns=upgraded - 5 * 10**9)
        conffiles[view.env_file] = hashlib.md5(text.encode()).hexdigest()
    if view.dpkg:
        made["dpkg"] = t.file("var/lib/dpkg/status", dpkg_status_text(version, conffiles),
                              mtime_ns=upgraded)
    return made


# --------------------------------------------------------------------------------------------
# Hard cases (--special)
# --------------------------------------------------------------------------------------------

def make_special(t: Tree, rng: random.Random, tree_name: str) -> None:
    """Entries that archivers get wrong. Placed under <tree>/special/ so tests can find them."""
    s = "special"
    if tree_name == "config":
        # A small set on the other tree, so per-tree handling is exercised too.
        t.file(f"{s}/secret 0600.xml", "<ApiKey>1234</ApiKey>\n", mode=0o600)
        t.file(f"{s}/Ünïcødé config ✓.xml", "<x/>\n")
        t.symlink(f"{s}/system-link.xml", "../system.xml")
        return

    # NAME_MAX is 255 bytes on Linux filesystems, so "a 300-byte name" is a 255-byte component
    # (the longest possible), plus a path whose total length is far beyond ustar's 100/155.
    t.file(f"{s}/" + "n" * 251 + ".nfo", "longest component\n")
    t.file(f"{s}/" + "é" * 125 + "x.nfo", "255 bytes, mostly two-byte UTF-8\n")
    deep = "/".join(f"level-{i:02d}-" + "d" * 40 for i in range(8))
    t.file(f"{s}/{deep}/deep file beyond 300 bytes.txt", "deep\n")
    # Not valid UTF-8: latin-1 'café' and stray bytes. Needs bytes paths end to end.
    t.file(os.fsencode(f"{s}/") + b"caf\xe9 latin1 \xff\xfe.nfo", "non-utf8 name\n")
    t.file(f"{s}/Amélie (2001) – 日本語 🎬 spaced  name.nfo", "unicode and spaces\n")
    t.file(f"{s}/back\\slash.txt", "backslash in name\n")
    t.file(f"{s}/new\nline.txt", "newline in name (escaped form in CHECKSUMS)\n")
    t.file(f"{s}/-leading-dash.txt", "could be taken for an option\n")
    t.file(f"{s}/zero-bytes.txt", b"")
    t.file(f"{s}/mode-0600.txt", "private\n", mode=0o600)
    t.file(f"{s}/mode-0755.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    t.file(f"{s}/mode-0444.txt", "read only\n", mode=0o444)
    t.file(f"{s}/mode-4755-setuid", "#!/bin/sh\n", mode=0o4755)
    t.dir(f"{s}/empty/nested/deeper")
    t.symlink(f"{s}/dangling-link", "does/not/exist")
    t.symlink(f"{s}/link-to-dir", "../metadata")
    t.symlink(f"{s}/absolute-link", "/etc/hostname")
    t.hardlink(f"{s}/hardlink-to-0600", f"{s}/mode-0600.txt")

    # A read-only directory with content: extraction must set its mode after its children.
    t.file(f"{s}/readonly-dir/inside.txt", "inside a 0555 dir\n")
    os.chmod(t.root / f"{s}/readonly-dir", 0o555)

    # Sparse: data at the start and in the middle, and a trailing hole (the classic edge case),
    # plus a file that is all hole.
    sparse = t.root / f"{s}/sparse-64MiB.img"
    with open(sparse, "wb") as f:
        f.write(rng.randbytes(4 * KiB))
        f.seek(32 * MiB)
        f.write(b"middle" * 512)
        f.truncate(64 * MiB)
    ts = t.mtime()
    os.utime(sparse, ns=(ts, ts))
    allhole = t.root / f"{s}/all-hole-16MiB.img"
    with open(allhole, "wb") as f:
        f.truncate(16 * MiB)
    os.utime(allhole, ns=(ts, ts))

    fifo = t.root / f"{s}/fifo"
    os.mkfifo(fifo, 0o644)
    os.utime(fifo, ns=(ts, ts))

    # A socket (the tool skips it with a warning). bind() limits paths to 108 bytes, so bind
    # a relative name from inside the directory.
    cwd = os.getcwd()
    try:
        os.chdir(t.root / s)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind("socket")
        sock.close()
        os.utime("socket", ns=(ts, ts))
    except OSError as e:
        t.notes.append(f"socket: {e.strerror}")
    finally:
        os.chdir(cwd)

    xattr_file = t.file(f"{s}/with-xattr.txt", "has user.jellyfin.test\n")
    try:
        os.setxattr(xattr_file, "user.jellyfin.test", b"value \x00\xff binary")
        os.setxattr(t.root / s, "user.jellyfin.dir", b"on a directory")
    except OSError as e:
        t.notes.append(f"xattr: {e.strerror}")

    # Root-only cases: a device node and a file owned by an id with no passwd entry.
    try:
        dev = t.root / f"{s}/char-device-null"
        os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        os.utime(dev, ns=(ts, ts))
    except OSError as e:
        t.notes.append(f"device node: {e.strerror}")
    owned = t.file(f"{s}/owned-by-54321.txt", "uid/gid with no name\n")
    try:
        os.chown(owned, 54321, 54321)
    except OSError as e:
        t.notes.append(f"chown: {e.strerror}")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def layout_roots(out: Path, layout: str) -> tuple[Path, Path]:
    """(config, data) for each install flavour. docker and linuxserver nest one tree in the
    other, which the tool must refuse as a single --data/--config pair of overlapping trees."""
    if layout == "debian":
        return out / "config", out / "data"
    if layout == "docker":        # official image: data /config, config /config/config
        return out / "config" / "config", out / "config"
    if layout == "linuxserver":   # linuxserver.io: config /config, data /config/data
        return out / "config", out / "config" / "data"
    raise ValueError(layout)


def summarize(out: Path) -> tuple[int, int, int, int, int]:
    files = size = dirs = links = other = 0
    for dirpath, dirnames, filenames in os.walk(os.fsencode(out)):
        linked = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirs += len(dirnames) - len(linked)
        for name in filenames + linked:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                files += 1
                size += st.st_size
            elif stat.S_ISLNK(st.st_mode):
                links += 1
            else:
                other += 1
    return files, size, dirs, links, other


def remove_tree(path: Path) -> None:
    def onerror(func, p, _exc):
        # Read-only dirs from --special block unlinking their children for non-root users.
        os.chmod(os.path.dirname(p), 0o755)
        func(p)
    shutil.rmtree(path, onerror=onerror)


def clear_out(out: Path, force: bool) -> bool:
    """Empty OUT_DIR/ROOT if --force allows it. False (with a message) if it may not."""
    if out.exists() and any(out.iterdir()):
        if not force:
            print(f"make-sample-tree: error: {out}: not empty; use --force to replace it", file=sys.stderr)
            return False
        remove_tree(out)
    return True


def add_special(config_root: Path, data_root: Path, seed: int) -> list[str]:
    spc = random.Random(f"{seed}/special")
    make_special(Tree(config_root, spc), spc, "config")
    sp = Tree(data_root, spc)
    make_special(sp, spc, "data")
    return sp.notes


def report(what: str, args: argparse.Namespace, trees: str, top: Path, started: float,
           notes: list[str]) -> None:
    files, size, dirs, links, other = summarize(top)
    secs = time.monotonic() - started
    extra = f", not made: {'; '.join(notes)}" if notes else ""
    print(f"make-sample-tree: {what}/{args.scale} seed {args.seed}{' +special' if args.special else ''}: "
          f"{trees}: {files} files, {size} bytes ({size / MiB:.1f} MiB), "
          f"{dirs} dirs, {links} symlinks, {other} other in {secs:.1f} s{extra}")


def run_out_dir(args: argparse.Namespace) -> int:
    """OUT_DIR mode: a config and a data tree side by side or nested, logs in the data tree."""
    out: Path = args.out_dir.absolute()
    layout = args.layout or "debian"
    if not clear_out(out, args.force):
        return 2

    started = time.monotonic()
    sc = SCALES[args.scale]
    config_root, data_root = layout_roots(out, layout)
    config_root.mkdir(parents=True, exist_ok=True)
    data_root.mkdir(parents=True, exist_ok=True)

    # One generator per tree so that adding a file to one does not reshuffle the other.
    rng_pool = random.Random(f"{args.seed}/pool")
    pool = TextPool(rng_pool, sc.text_pool_mib * MiB)
    cfg = Tree(config_root, random.Random(f"{args.seed}/config"))
    dat = Tree(data_root, random.Random(f"{args.seed}/data"))
    # The paths the log claims are those of a real Debian install, whatever OUT_DIR is.
    make_config(cfg, cfg.rng, OUT_DIR_VIEW)
    make_data(dat, dat.rng, pool, sc, OUT_DIR_VIEW, args.version, with_logs=True)
    notes = add_special(config_root, data_root, args.seed) if args.special else []

    fix_dir_mtimes(out, args.seed)
    report(layout, args, f"config={config_root} data={data_root}", out, started, notes)
    return 0


def run_root(args: argparse.Namespace) -> int:
    """--root mode: a whole install of one type, each tree where that install keeps it."""
    root: Path = args.root.absolute()
    if root == Path(root.anchor):
        print(f"make-sample-tree: error: --root {root}: refusing the filesystem root", file=sys.stderr)
        return 2
    if not clear_out(root, args.force):
        return 2

    started = time.monotonic()
    sc = SCALES[args.scale]
    view = install_view(args.install, args.home)
    trees = {name: host_path(root, getattr(view, name)) for name in ("data", "config", "cache", "log")}
    for path in trees.values():
        path.mkdir(parents=True, exist_ok=True)

    # The same generators as OUT_DIR mode for config and data, so a seed gives the same
    # library whatever the mode; the cache, log and system files have their own.
    pool = TextPool(random.Random(f"{args.seed}/pool"), sc.text_pool_mib * MiB)
    cfg = Tree(trees["config"], random.Random(f"{args.seed}/config"))
    make_config(cfg, cfg.rng, view)
    dat = Tree(trees["data"], random.Random(f"{args.seed}/data"))
    make_data(dat, dat.rng, pool, sc, view, args.version, with_logs=False)
    cache = Tree(trees["cache"], random.Random(f"{args.seed}/cache"))
    make_cache(cache, cache.rng, pool, sc)
    log = Tree(trees["log"], random.Random(f"{args.seed}/log"))
    make_log_tree(log, log.rng, pool, sc, view, args.version)
    made = make_system_files(Tree(root, random.Random(f"{args.seed}/system")), view, args.version)
    notes = add_special(trees["config"], trees["data"], args.seed) if args.special else []

    fix_dir_mtimes(root, args.seed)
    where = " ".join(f"{name}={path}" for name, path in (trees | made).items())
    report(args.install, args, f"version {args.version}: {where}", root, started, notes)
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        description="Generate a deterministic Jellyfin-like install: two trees in OUT_DIR, or a "
                    "whole install of one type under --root.")
    ap.add_argument("out_dir", metavar="OUT_DIR", type=Path, nargs="?",
                    help="write OUT_DIR/config and OUT_DIR/data (or nested, see --layout)")
    ap.add_argument("--layout", choices=["debian", "docker", "linuxserver"],
                    help="OUT_DIR mode: how the two trees sit (default debian)")
    ap.add_argument("--root", type=Path, help="write a whole install under ROOT (ROOT stands for /)")
    ap.add_argument("--install", choices=INSTALLS, help="--root mode: the install type")
    ap.add_argument("--home", help="--root mode, portable/macos: the user's home "
                                   "(default /home/jellyfin, /Users/jellyfin)")
    ap.add_argument("--version", default=SERVER_VERSION,
                    help=f"server version X.Y.Z the sample claims (default {SERVER_VERSION})")
    ap.add_argument("--scale", choices=list(SCALES), default="small")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--special", action="store_true", help="add hard cases under <tree>/special/")
    ap.add_argument("--force", action="store_true", help="replace OUT_DIR/ROOT if it is not empty")
    args = ap.parse_args(argv)

    if (args.out_dir is None) == (args.root is None):
        ap.error("give either OUT_DIR or --root ROOT")
    if args.root is None and (args.install or args.home):
        ap.error("--install and --home go with --root")
    if args.root is not None:
        if args.layout:
            ap.error("--layout goes with OUT_DIR; use --install with --root")
        if not args.install:
            ap.error("--root needs --install TYPE")
    if args.home is not None:
        if args.install not in ("portable", "macos"):
            ap.error("--home applies to --install portable or macos")
        if not args.home.startswith("/") or args.home.rstrip("/") == "":
            ap.error("--home must be an absolute path below /")
        args.home = args.home.rstrip("/")
    if not re.fullmatch(r"\d+\.\d+\.\d+", args.version):
        ap.error(f"--version {args.version}: expected X.Y.Z, e.g. {SERVER_VERSION}")

    os.umask(0o022)
    return run_root(args) if args.root is not None else run_out_dir(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
