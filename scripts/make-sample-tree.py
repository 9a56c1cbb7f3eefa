#!/usr/bin/env python3
"""Generate a realistic, deterministic Jellyfin-like install for demos, tests and benchmarks.

Usage:
    make-sample-tree.py OUT_DIR [--layout debian|docker|linuxserver]
                        [--scale small|medium|large|bench] [--seed N] [--special] [--force]

The output mimics what a Jellyfin 10.11 server leaves on disk (see shared/JELLYFIN.md):
a config tree (system.xml, network.xml, encoding.xml, logging.json, dlna/, branding.xml, ...)
and a data tree (data/jellyfin.db as a real SQLite database in WAL mode, metadata images,
trickplay tiles, plugins, library definitions under root/, logs, markers ...).

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
import hashlib
import json
import os
import random
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


SCALES: dict[str, Scale] = {
    # ~200 files, a few MiB, well under a second.
    "small": Scale(items=30, backdrop_share=0.5, trickplay_items=4, tiles_per_item=4, people=40,
                   subtitles=8, keyframes=8, poster_kib=(20, 60), backdrop_kib=(40, 90),
                   tile_kib=(10, 30), person_kib=(4, 12), db_rows=300, db_row_bytes=(200, 800),
                   old_db_mib=0, log_lines=400, text_pool_mib=1),
    # ~2000 files, ~50 MiB.
    "medium": Scale(items=320, backdrop_share=0.6, trickplay_items=50, tiles_per_item=8,
                    people=620, subtitles=90, keyframes=100, poster_kib=(20, 60),
                    backdrop_kib=(40, 100), tile_kib=(10, 30), person_kib=(4, 16),
                    db_rows=3000, db_row_bytes=(400, 1500), old_db_mib=2, log_lines=5000,
                    text_pool_mib=4),
    # ~20k files, ~500 MiB.
    "large": Scale(items=3200, backdrop_share=0.6, trickplay_items=500, tiles_per_item=8,
                   people=8000, subtitles=900, keyframes=1000, poster_kib=(20, 60),
                   backdrop_kib=(40, 100), tile_kib=(10, 30), person_kib=(4, 16),
                   db_rows=30000, db_row_bytes=(400, 1500), old_db_mib=20, log_lines=50000,
                   text_pool_mib=16),
    # ~1.5 GiB: ~1 GiB of incompressible images over ~25k files plus a ~400 MiB compressible
    # jellyfin.db. Sized so that a run of tar|zstd takes a few seconds on 2 cores.
    "bench": Scale(items=3000, backdrop_share=0.7, trickplay_items=600, tiles_per_item=8,
                   people=8000, subtitles=1000, keyframes=1000, poster_kib=(60, 160),
                   backdrop_kib=(120, 300), tile_kib=(20, 50), person_kib=(4, 16),
                   db_rows=95000, db_row_bytes=(1500, 4000), old_db_mib=0,
                   log_lines=100000, text_pool_mib=32),
}


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

ENCODING_XML = """<?xml version="1.0" encoding="utf-8"?>
<EncodingOptions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <EncodingThreadCount>-1</EncodingThreadCount>
  <TranscodingTempPath>/var/cache/jellyfin/transcodes</TranscodingTempPath>
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
  <HardwareAccelerationType>vaapi</HardwareAccelerationType>
  <EncoderAppPathDisplay>/usr/lib/jellyfin-ffmpeg/ffmpeg</EncoderAppPathDisplay>
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

# The Debian package's logging.json (jellyfin-packaging): files jellyfinYYYYMMDD.log in the log dir.
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


def make_config(t: Tree, rng: random.Random) -> None:
    server = rng.choice(["livingroom", "nas", "media-box", "odin"])
    t.file("system.xml", system_xml(rng, server))
    t.file("network.xml", NETWORK_XML)
    t.file("encoding.xml", ENCODING_XML)
    t.file("logging.json", LOGGING_JSON)
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

def make_database(path: Path, rng: random.Random, pool: TextPool, sc: Scale,
                  items: list[tuple[uuid.UUID, str, int]], users: list[tuple[uuid.UUID, str]]) -> None:
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
    # EF Core schema migrations carry the EF version; Jellyfin's own data migrations carry the
    # 4-part server version. The highest 4-part value is the newest server that ran.
    migrations = [
        ("20200514181226_AddActivityLog", "3.1.4"),
        ("20200613202153_AddUsers", "3.1.5"),
        ("20201204223655_AddCustomDisplayPreferences", "5.0.0"),
        ("20230526173516_RemoveEasyPassword", "7.0.5"),
        ("20240729140605_AddMediaSegments", "8.0.7"),
        ("20241020103111_LibraryDbMigration", "9.0.0"),
        ("20250202021306_FixedCollation", "9.0.1"),
        ("20250326065026_AddInheritedParentalRatingSubValue", "9.0.3"),
        ("20250609115616_DetachUserDataInsteadOfDelete", "9.0.6"),
        ("JF_20241004_MigrateDisplayPreferencesDb", "10.10.7.0"),
        ("JF_20241020_MigrateLibraryDb", "10.11.0.0"),
        ("JF_20250117_MigrateKeyframeData", "10.11.0.0"),
        ("JF_20250420_MoveTrickplayFiles", "10.11.0.0"),
    ]
    db.executemany('INSERT INTO "__EFMigrationsHistory" VALUES (?, ?)', migrations)

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
            yield (str(gid), rng.choice(types), data, f"/srv/media/Movies/{name} ({year})/{name}.mkv",
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


def make_old_library_db(path: Path, rng: random.Random, pool: TextPool, mib: int) -> None:
    """The pre-10.11 library.db that the 10.11 migration renames to library.db.old."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE TypedBaseItems (guid GUID PRIMARY KEY, type TEXT NOT NULL, data BLOB, "
               "Path TEXT, Name TEXT, Overview TEXT)")
    n = mib * MiB // 4200  # measured bytes per row, indexes included
    db.executemany("INSERT INTO TypedBaseItems VALUES (?,?,?,?,?,?)",
                   ((new_guid(rng).bytes, "MediaBrowser.Controller.Entities.Movies.Movie",
                     pool.take_bytes(rng, 1500), "/srv/media/" + pool.take(rng, 40),
                     pool.take(rng, 20), pool.take(rng, 600)) for _ in range(n)))
    db.commit()
    db.close()


def log_line(ns: int, level: str, thread: int, source: str, msg: str) -> str:
    ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9)) + ".%03d +00:00" % (ns % 10**9 // 10**6)
    return f"[{ts}] [{level}] [{thread}] {source}: {msg}\n"


def server_start_lines(ns: int, version: str, data_root: str, config_root: str) -> list[str]:
    ms = 1_000_000
    return [
        log_line(ns, "INF", 1, "Main", f"Jellyfin version: \"{version}\""),
        log_line(ns + 2 * ms, "INF", 1, "Main", "Environment Variables: [\"[JELLYFIN_DATA_DIR, /var/lib/jellyfin]\", \"[JELLYFIN_CONFIG_DIR, /etc/jellyfin]\", \"[JELLYFIN_LOG_DIR, /var/log/jellyfin]\", \"[JELLYFIN_CACHE_DIR, /var/cache/jellyfin]\"]"),
        log_line(ns + 3 * ms, "INF", 1, "Main", "Arguments: [\"/usr/lib/jellyfin/bin/jellyfin.dll\", \"--webdir=/usr/share/jellyfin/web\", \"--ffmpeg=/usr/lib/jellyfin-ffmpeg/ffmpeg\"]"),
        log_line(ns + 4 * ms, "INF", 1, "Main", "Operating system: Debian GNU/Linux 12 (bookworm)"),
        log_line(ns + 5 * ms, "INF", 1, "Main", f"Program data path: \"{data_root}\""),
        log_line(ns + 6 * ms, "INF", 1, "Main", "Log directory path: \"/var/log/jellyfin\""),
        log_line(ns + 7 * ms, "INF", 1, "Main", f"Config directory path: \"{config_root}\""),
        log_line(ns + 8 * ms, "INF", 1, "Main", "Cache path: \"/var/cache/jellyfin\""),
    ]


_LOG_MESSAGES = [
    ("INF", "Emby.Server.Implementations.ScheduledTasks.TaskManager", "\"Scan Media Library\" Completed after 0 minute(s) and {n} seconds"),
    ("INF", "MediaBrowser.Controller.MediaEncoding.TranscodeManager", "Deleting partial stream file(s) /var/cache/jellyfin/transcodes/{h}.ts"),
    ("INF", "Jellyfin.Api.Helpers.MediaInfoHelper", "User policy for {u}. EnablePlaybackRemuxing: True EnableVideoPlaybackTranscoding: True EnableAudioPlaybackTranscoding: True"),
    ("WRN", "MediaBrowser.Providers.Manager.ProviderManager", "Error downloading image {h}: The request was canceled due to the configured HttpClient.Timeout of 100 seconds elapsing."),
    ("INF", "Emby.Server.Implementations.Session.SessionManager", "Playback stopped reported by app \"Jellyfin Web\" \"10.11.0\" playing \"{t}\". Stopped at \"{n}\" ms"),
    ("ERR", "Jellyfin.LiveTv.Guide.GuideManager", "Error getting programs for channel {h}"),
]


def make_log(t: Tree, rng: random.Random, pool: TextPool, rel: str, start_ns: int, end_ns: int,
             starts: list[tuple[int, str]], lines: int, data_root: str, config_root: str) -> None:
    """One daily log file: `lines` ordinary lines spread over [start_ns, end_ns], with a block of
    start-up lines (including the version line) at each (ns, version) in `starts`. A file
    that begins at midnight rollover has no start block at its top, as with a real server."""
    stamps = sorted(start_ns + rng.randrange(end_ns - start_ns) for _ in range(lines))
    pending = sorted(starts)
    out: list[str] = []
    for ns in stamps:
        while pending and pending[0][0] <= ns:
            out.extend(server_start_lines(pending[0][0], pending[0][1], data_root, config_root))
            pending.pop(0)
        level, src, msg = _LOG_MESSAGES[rng.randrange(len(_LOG_MESSAGES))]
        out.append(log_line(ns, level, rng.randint(1, 60), src,
                            msg.format(n=rng.randint(1, 9999), h="%032x" % rng.getrandbits(128),
                                       u=rng.choice(["alice", "bob"]), t=pool.take(rng, 18).strip())))
    for ns, version in pending:
        out.extend(server_start_lines(ns, version, data_root, config_root))
    t.file(rel, "".join(out), mtime_ns=end_ns)


PLUGINS = [("Trakt", "26.0.0.0"), ("Open Subtitles", "21.0.0.0"), ("Fanart", "12.0.0.0"),
           ("Playback Reporting", "16.0.0.0"), ("Intro Skipper", "1.10.11.7")]


def make_data(t: Tree, rng: random.Random, pool: TextPool, sc: Scale, data_root: str,
              config_root: str) -> None:
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
               json.dumps({"FilePath": f"/srv/media/{gid.hex}.mkv", "KeyframeTicks": ticks}))

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
    make_database(db_path, rng, pool, sc, items, users)
    t_db = t.mtime(0.01)
    os.utime(db_path, ns=(t_db, t_db))
    if sc.old_db_mib:
        old = t.root / "data/library.db.old"
        make_old_library_db(old, rng, pool, sc.old_db_mib)
        t_old = t.mtime(30)
        os.utime(old, ns=(t_old, t_old))

    # The built-in backup (10.11) and a symlink to the newest one, as some admins keep.
    zpath = t.root / "data/backups/jellyfin-backup-20261119120000.zip"
    os.makedirs(zpath.parent, exist_ok=True)
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("manifest.json", date_time=(2026, 11, 19, 12, 0, 0))
        z.writestr(info, json.dumps({"ServerVersion": "10.11.0.0", "BackupEngineVersion": "0.2.0",
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
            "targetAbi": "10.11.0.0", "timestamp": "2026-10-01T00:00:00Z", "version": ver,
            "status": "Active", "autoUpdate": True, "assemblies": []}, indent=2))
        t.file(f"plugins/configurations/{asm}.xml",
               f"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<PluginConfiguration xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n"
               f"  <Enabled>true</Enabled>\n  <ApiKey>{rng.getrandbits(128):032x}</ApiKey>\n</PluginConfiguration>\n")
    # Two plugins shipping the same dependency, deduplicated into one inode with a hardlink.
    common = dll_bytes(rng, pool, 96 * KiB)
    t.file(f"plugins/Trakt_26.0.0.0/Newtonsoft.Json.dll", common)
    t.hardlink(f"plugins/Fanart_12.0.0.0/Newtonsoft.Json.dll", f"plugins/Trakt_26.0.0.0/Newtonsoft.Json.dll")

    # Library definitions.
    for lib, ctype, path in (("Movies", "movies", "/srv/media/Movies"), ("Shows", "tvshows", "/srv/media/Shows"),
                             ("Music", "music", "/srv/media/Music")):
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

    # Logs for three days: the old version, the upgrade day (old version in the morning, new
    # one after the upgrade), and today, which starts at midnight rollover and has one restart
    # at LAST_START_NS. The version detector must take the last line of the newest log.
    h = 3600 * 10**9
    midnight = LAST_START_NS - (19 * h + 65_123_000_000)   # 2026-11-20 00:00:00 UTC
    small = max(50, sc.log_lines // 10)
    make_log(t, rng, pool, "log/log_20261118.log", midnight - 2 * DAY_NS, midnight - DAY_NS - 1,
             [(midnight - 2 * DAY_NS + 7 * h + 12_345_000_000, PREVIOUS_VERSION)], small,
             data_root, config_root)
    make_log(t, rng, pool, "log/log_20261119.log", midnight - DAY_NS, midnight - 1,
             [(midnight - DAY_NS + 9 * h + 1_500_000_000, PREVIOUS_VERSION),
              (midnight - DAY_NS + 21 * h + 42_007_000_000, SERVER_VERSION)], small,
             data_root, config_root)
    make_log(t, rng, pool, "log/log_20261120.log", midnight, BASE_TIME_NS,
             [(LAST_START_NS, SERVER_VERSION)], sc.log_lines, data_root, config_root)


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


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="Generate a deterministic Jellyfin-like install tree.")
    ap.add_argument("out_dir", metavar="OUT_DIR", type=Path)
    ap.add_argument("--layout", choices=["debian", "docker", "linuxserver"], default="debian")
    ap.add_argument("--scale", choices=list(SCALES), default="small")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--special", action="store_true", help="add hard cases under <tree>/special/")
    ap.add_argument("--force", action="store_true", help="replace OUT_DIR if it is not empty")
    args = ap.parse_args(argv)

    out: Path = args.out_dir.absolute()
    if out.exists() and any(out.iterdir()):
        if not args.force:
            print(f"make-sample-tree: error: {out}: not empty; use --force to replace it", file=sys.stderr)
            return 2
        remove_tree(out)

    started = time.monotonic()
    os.umask(0o022)
    sc = SCALES[args.scale]
    config_root, data_root = layout_roots(out, args.layout)
    config_root.mkdir(parents=True, exist_ok=True)
    data_root.mkdir(parents=True, exist_ok=True)

    # One generator per tree so that adding a file to one does not reshuffle the other.
    rng_pool = random.Random(f"{args.seed}/pool")
    pool = TextPool(rng_pool, sc.text_pool_mib * MiB)
    cfg = Tree(config_root, random.Random(f"{args.seed}/config"))
    dat = Tree(data_root, random.Random(f"{args.seed}/data"))
    # The paths the log claims are those of a real Debian install, whatever OUT_DIR is.
    make_config(cfg, cfg.rng)
    make_data(dat, dat.rng, pool, sc, "/var/lib/jellyfin", "/etc/jellyfin")
    notes: list[str] = []
    if args.special:
        spc = random.Random(f"{args.seed}/special")
        make_special(Tree(config_root, spc), spc, "config")
        sp = Tree(data_root, spc)
        make_special(sp, spc, "data")
        notes = sp.notes

    fix_dir_mtimes(out, args.seed)
    files, size, dirs, links, other = summarize(out)
    secs = time.monotonic() - started
    extra = f", not made: {'; '.join(notes)}" if notes else ""
    print(f"make-sample-tree: {args.layout}/{args.scale} seed {args.seed}{' +special' if args.special else ''}: "
          f"config={config_root} data={data_root}: {files} files, {size} bytes ({size / MiB:.1f} MiB), "
          f"{dirs} dirs, {links} symlinks, {other} other in {secs:.1f} s{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
