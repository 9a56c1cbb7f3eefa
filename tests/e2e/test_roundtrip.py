"""create → extract with GNU tar → everything comes back as it was (CLI_SPEC "create", "Archive format v1").

Run: JB_BIN=build/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_roundtrip.py
"""

import datetime
import json
import os
import pwd
import grp
import re
import socket
import stat
import subprocess
import time
import unittest
from pathlib import Path

import e2e_util as u

BASE_NS = 1_700_000_000_123_456_789
LONG_DIRS = ["d" * 100, "e" * 100, "f" * 100]
LONG_LEAF = "g" * 200  # full archive path is well over 300 bytes
MAX_NAME = "n" * 255
NON_UTF8 = b"bad\xff\xfename.bin"
ODD_NAMES = ["with space.txt", "unicode-\u00e9-\u65e5\u672c.txt", "back\\slash.txt", "-leading-dash"]


def xattrs_supported(path) -> bool:
    try:
        os.setxattr(path, "user.e2e-probe", b"1")
        os.removexattr(path, "user.e2e-probe")
        return True
    except OSError:
        return False


def build_everything(root: Path) -> tuple[Path, Path, dict]:
    """config/ and data/ holding every kind of entry the spec says is preserved."""
    info = {"xattrs": False, "device": False}
    config = root / "config"
    data = root / "data"
    u.write_file(config / "system.xml", b"<ServerConfiguration/>\n", 0o600)
    u.write_file(config / "sub" / "deep" / "file.txt", b"deep config file\n", 0o644)
    (config / "emptydir").mkdir(mode=0o700)

    u.write_file(data / "modes" / "r600", b"secret\n", 0o600)
    u.write_file(data / "modes" / "x755", b"#!/bin/sh\necho hi\n", 0o755)
    u.write_file(data / "modes" / "ro444", b"read only\n", 0o444)
    u.write_file(data / "empty.txt", b"", 0o644)
    (data / "emptydir").mkdir()
    (data / "links").mkdir()
    os.symlink("../modes/x755", data / "links" / "rel")
    os.symlink("/nonexistent/absolute/target", data / "links" / "abs")
    os.symlink("does/not/exist", data / "links" / "dangling")
    os.symlink("../emptydir", data / "links" / "to-dir")
    u.write_file(data / "hard" / "a", b"hardlinked content\n" * 10, 0o640)
    os.link(data / "hard" / "a", data / "hard" / "b")
    (data / "other").mkdir()
    os.link(data / "hard" / "a", data / "other" / "c")
    os.mkfifo(data / "fifo", 0o640)

    sparse = data / "sparse.img"
    with open(sparse, "wb") as f:
        f.write(b"BEGIN")
        f.seek(4 << 20)
        f.write(b"MIDDLE")
        f.seek((8 << 20) - 3)
        f.write(b"END")
    info["sparse_src_blocks"] = os.stat(sparse).st_blocks

    u.write_file(data / "xattr.txt", b"has xattrs\n", 0o644)
    (data / "xattrdir").mkdir()
    if xattrs_supported(data / "xattr.txt"):
        os.setxattr(data / "xattr.txt", "user.comment", b"hello world")
        os.setxattr(data / "xattr.txt", "user.binary", b"\xff\xfe\x01bin")
        os.setxattr(data / "xattrdir", "user.dirattr", b"on a directory")
        info["xattrs"] = True

    deep = data.joinpath(*LONG_DIRS)
    deep.mkdir(parents=True)
    u.write_file(deep / LONG_LEAF, b"long path\n")
    u.write_file(data / MAX_NAME, b"255-byte name\n")
    with open(os.path.join(os.fsencode(data), NON_UTF8), "wb") as f:
        f.write(b"non-utf8 name\n")
    for i, name in enumerate(ODD_NAMES):
        u.write_file(data / "names" / name, f"odd name {i}\n".encode())

    if u.is_root():
        try:
            os.mknod(data / "devnull", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
            info["device"] = True
        except OSError:
            pass

    # Distinct nanosecond mtimes everywhere; directories last, deepest first.
    i = 0
    for tree in (config, data):
        all_paths = []
        for dirpath, dirnames, filenames in os.walk(os.fsencode(tree)):
            for n in filenames + dirnames:
                all_paths.append(os.path.join(dirpath, n))
        for p in sorted(all_paths):
            if os.path.islink(p) or os.path.isdir(p):
                continue
            i += 1
            os.utime(p, ns=(BASE_NS + i * 1_000_001, BASE_NS + i * 1_000_001))
        dirs = [p for p in all_paths if os.path.isdir(p) and not os.path.islink(p)] + [os.fsencode(tree)]
        for p in sorted(dirs, key=len, reverse=True):
            i += 1
            os.utime(p, ns=(BASE_NS + i * 7_000_003, BASE_NS + i * 7_000_003))
    return config, data, info


class RoundTripEverything(u.E2ETestCase):
    """One archive of a tree with every kind of entry, checked several ways."""

    def setUp(self):
        super().setUp()
        self.config, self.data, self.info = build_everything(self.mkdir("src"))
        self.archive = self.create_archive(self.config, self.data)
        self.tar = u.zstd_decompress(self.archive.read_bytes())

    def test_gnu_tar_extraction_matches_source(self):
        out = self.extract_with_tar(self.archive)
        problems = u.compare_trees(self.config, out / "config") + u.compare_trees(self.data, out / "data")
        self.assertEqual(problems, [], "extraction differs from the source")
        self.assertTrue((out / "MANIFEST.json").is_file())
        self.assertTrue((out / "CHECKSUMS.xxh128").is_file())

    def test_xattrs_preserved(self):
        if not self.info["xattrs"]:
            self.skipTest("filesystem under the temp dir has no user xattrs")
        out = self.extract_with_tar(self.archive)
        self.assertEqual(os.getxattr(out / "data" / "xattr.txt", "user.comment"), b"hello world")
        self.assertEqual(os.getxattr(out / "data" / "xattr.txt", "user.binary"), b"\xff\xfe\x01bin")
        self.assertEqual(os.getxattr(out / "data" / "xattrdir", "user.dirattr"), b"on a directory")

    def test_hardlinks_share_an_inode(self):
        out = self.extract_with_tar(self.archive)
        inos = {os.stat(out / "data" / p).st_ino for p in ("hard/a", "hard/b", "other/c")}
        self.assertEqual(len(inos), 1, "hardlinked paths were extracted as separate files")

    def test_sparse_file_content_and_holes(self):
        out = self.extract_with_tar(self.archive)
        path = out / "data" / "sparse.img"
        with open(path, "rb") as f:
            blob = f.read()
        self.assertEqual(len(blob), 8 << 20)
        self.assertEqual(blob[:5], b"BEGIN")
        self.assertEqual(blob[4 << 20:(4 << 20) + 6], b"MIDDLE")
        self.assertEqual(blob[-3:], b"END")
        self.assertEqual(blob.count(0), len(blob) - 14)
        if self.info["sparse_src_blocks"] * 512 >= (4 << 20):
            self.skipTest("filesystem did not make the source file sparse")
        # Holes are stored as holes: the extraction is sparse too.
        self.assertLess(os.stat(path).st_blocks * 512, 4 << 20,
                        "sparse file was stored dense (extraction occupies all its blocks)")

    def test_special_entries_have_their_types(self):
        members = {u.member_name_bytes(m): m for m in u.tar_members(self.tar)}
        self.assertTrue(members[b"data/fifo"].isfifo())
        self.assertTrue(members[b"data/links/dangling"].issym())
        self.assertEqual(members[b"data/links/dangling"].linkname, "does/not/exist")
        self.assertTrue(members[b"data/emptydir"].isdir())
        self.assertTrue(members[b"config/emptydir"].isdir())
        self.assertTrue(members[b"data/" + NON_UTF8].isfile())
        long_path = b"data/" + "/".join(LONG_DIRS + [LONG_LEAF]).encode()
        self.assertGreater(len(long_path), 300)
        self.assertIn(long_path, members)
        if self.info["device"]:
            m = members[b"data/devnull"]
            self.assertTrue(m.ischr())
            self.assertEqual((m.devmajor, m.devminor), (1, 3))
        # Hardlinks are stored as hardlink entries after the first path.
        links = [n for n in (b"data/hard/a", b"data/hard/b", b"data/other/c") if members[n].islnk()]
        self.assertEqual(len(links), 2, "two of the three hardlinked paths should be link entries")

    def test_owner_ids_and_names(self):
        for m in u.tar_members(self.tar):
            name = u.member_name_bytes(m)
            if name in (b"MANIFEST.json", b"CHECKSUMS.xxh128"):
                continue
            src = os.path.join(os.fsencode(self.config.parent), name)
            st = os.lstat(src)
            self.assertEqual((m.uid, m.gid), (st.st_uid, st.st_gid), name)
            try:
                self.assertEqual(m.uname, pwd.getpwuid(st.st_uid).pw_name, name)
                self.assertEqual(m.gname, grp.getgrgid(st.st_gid).gr_name, name)
            except KeyError:
                pass

    def test_xxh128sum_check_passes_in_extraction(self):
        out = self.extract_with_tar(self.archive)
        proc = u.tool(["xxh128sum", "-c", "CHECKSUMS.xxh128"], cwd=out, check=False)
        self.assertEqual(proc.returncode, 0,
                         f"xxh128sum -c failed:\n{proc.stdout.decode(errors='replace')}\n"
                         f"{proc.stderr.decode(errors='replace')}")

    def test_checksums_list_every_regular_file_and_manifest(self):
        sums = u.parse_checksums(u.read_member(self.tar, "CHECKSUMS.xxh128"))
        expected = {b"MANIFEST.json"}
        for root_name, root in (("config", self.config), ("data", self.data)):
            for rel, e in u.snapshot(root).items():
                if e.kind == "file":
                    expected.add(os.fsencode(root_name) + b"/" + rel)
        self.assertEqual(set(sums), expected)
        for digest in sums.values():
            self.assertRegex(digest, r"^[0-9a-f]{32}$")

    def test_entry_order(self):
        names = [u.member_name_bytes(m) for m in u.tar_members(self.tar)]
        self.assertEqual(names[0], b"MANIFEST.json")
        self.assertEqual(names[-1], b"CHECKSUMS.xxh128")
        self.assertEqual(names[1:-1], u.expected_order([("config", self.config), ("data", self.data)]))
        # GNU tar sees the same first and last entries.
        listing = u.tool(["tar", "--zstd", "-tf", self.archive]).stdout.splitlines()
        self.assertEqual(listing[0], b"MANIFEST.json")
        self.assertEqual(listing[-1], b"CHECKSUMS.xxh128")

    def test_zstd_test_passes_and_frames_have_checksums(self):
        u.tool(["zstd", "-q", "-t", self.archive])
        frames = u.zstd_frames(self.archive.read_bytes())
        self.assertGreaterEqual(len(frames), 1)
        for f in frames:
            self.assertFalse(f.skippable)
            self.assertTrue(f.has_checksum, f"frame at {f.offset} has no content checksum")

    def test_binary_verifies_its_archive(self):
        res = u.run(["verify", self.archive])
        self.assertExit(res, 0)

    def test_archive_mode_0600(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.archive).st_mode), 0o600)


class ManifestFields(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        src = self.mkdir("src")
        self.config, self.data = u.make_basic_trees(src)
        # A hardlink: counted as a file, its bytes stored once.
        os.link(self.data / "data" / "device.txt", self.data / "data" / "device-link.txt")

    def manifest_of(self, archive) -> dict:
        tar = u.zstd_decompress(Path(archive).read_bytes())
        return json.loads(u.read_member(tar, "MANIFEST.json")), tar

    def check_common(self, m: dict, tar: bytes, t0: float, t1: float):
        self.assertEqual(m["format"], "jellyfin-backup")
        self.assertEqual(m["format_version"], 1)
        self.assertEqual(m["tool"]["name"], "jellyfin-backup")
        self.assertRegex(m["tool"]["version"], r"^\d+\.\d+\.\d+")
        self.assertRegex(m["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        created = datetime.datetime.strptime(m["created"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertTrue(t0 - 2 <= created <= t1 + 2, f"created {m['created']} is not now")
        self.assertEqual(m["host"], socket.gethostname())
        self.assertEqual(m["app"]["name"], "jellyfin")
        self.assertEqual(m["compression"], {"algorithm": "zstd", "level": m["compression"]["level"],
                                            "frame_bytes": 16777216})
        self.assertEqual(m["checksum"], {"algorithm": "xxh3-128", "file": "CHECKSUMS.xxh128"})
        self.assertEqual([t["name"] for t in m["trees"]], ["config", "data"])
        names = [u.member_name_bytes(x) for x in u.tar_members(tar)]
        for t, root in zip(m["trees"], (self.config, self.data)):
            self.assertEqual(t["source"], str(root))
            snap = u.snapshot(root)
            files = [e for e in snap.values() if e.kind == "file"]
            self.assertEqual(t["files"], len(files), f"tree {t['name']}: files")
            self.assertEqual(t["bytes"], sum({e.ino: e.size for e in files}.values()),
                             f"tree {t['name']}: bytes (hardlinked content counted once)")
            prefix = t["name"].encode()
            in_archive = [n for n in names if n == prefix or n.startswith(prefix + b"/")]
            self.assertEqual(t["entries"], len(in_archive), f"tree {t['name']}: entries")

    def test_without_server_version(self):
        out = self.mkdir("out")
        t0 = time.time()
        self.create(self.config, self.data, out / "a.tar.zst", "--quiet")
        t1 = time.time()
        m, tar = self.manifest_of(out / "a.tar.zst")
        self.check_common(m, tar, t0, t1)
        self.assertIsNone(m["app"]["version"])
        self.assertIsNone(m["app"]["version_source"])
        self.assertEqual(m["excludes"], [])
        self.assertEqual(m["compression"]["level"], 3)

    def test_with_server_version_and_level(self):
        out = self.mkdir("out")
        t0 = time.time()
        self.create(self.config, self.data, out / "a.tar.zst", "--quiet", "--server-version", "10.11.0",
                    "--level", "7")
        t1 = time.time()
        m, tar = self.manifest_of(out / "a.tar.zst")
        self.check_common(m, tar, t0, t1)
        self.assertEqual(m["app"]["version"], "10.11.0")
        self.assertEqual(m["app"]["version_source"], "command line")
        self.assertEqual(m["compression"]["level"], 7)

    def test_tool_version_matches_version_flag(self):
        out = self.mkdir("out")
        self.create(self.config, self.data, out / "a.tar.zst", "--quiet")
        m, _ = self.manifest_of(out / "a.tar.zst")
        res = u.run(["--version"])
        self.assertExit(res, 0)
        self.assertIn(m["tool"]["version"], res.stdout)

    def test_levels_and_threads(self):
        for extra in (["--level", "1"], ["--level", "19"], ["--threads", "1"], ["--threads", "0"]):
            with self.subTest(extra=extra):
                out = self.mkdir("out-" + "-".join(extra).strip("-"))
                self.create(self.config, self.data, out / "a.tar.zst", "--quiet", *extra)
                self.assertExit(u.run(["verify", "--quiet", out / "a.tar.zst"]), 0)
                m, _ = self.manifest_of(out / "a.tar.zst")
                if extra[0] == "--level":
                    self.assertEqual(m["compression"]["level"], int(extra[1]))


class OutputNaming(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.mkdir("src"))

    def create_into_dir(self, *extra) -> tuple[Path, re.Match]:
        out = self.mkdir("out")
        t0 = time.time()
        self.create(self.config, self.data, out, "--quiet", *extra)
        t1 = time.time()
        entries = u.list_dir(out)
        self.assertEqual(len(entries), 2, f"expected exactly the archive and its sidecar: {entries}")
        self.assertEqual(entries[1], entries[0] + ".xxh128")
        m = u.ARCHIVE_NAME_RE.match(entries[0])
        self.assertIsNotNone(m, f"archive name {entries[0]!r} does not follow "
                                "jellyfin.<YYYYMMDDTHHMMSSZ>_<version>.tar.zst")
        ts = datetime.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertTrue(t0 - 2 <= ts <= t1 + 2, f"timestamp {m.group(1)} is not now (UTC)")
        path = out / entries[0]
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        return path, m

    def test_unknown_version(self):
        path, m = self.create_into_dir()
        self.assertEqual(m.group(2), "unknown")
        self.assertExit(u.run(["verify", "--quiet", path]), 0)

    def test_server_version_in_name(self):
        path, m = self.create_into_dir("--server-version", "10.11.0")
        self.assertEqual(m.group(2), "10.11.0")

    def test_server_version_sanitised(self):
        before = u.list_dir(self.tmp)
        path, m = self.create_into_dir("--server-version", "10.11/../../x y$\u00e9")
        self.assertRegex(m.group(2), r"^[A-Za-z0-9._+-]+$")
        self.assertEqual(u.list_dir(self.tmp), sorted(set(before) | {"out"}))

    def test_output_file_path_used_as_is(self):
        out = self.mkdir("out")
        self.create(self.config, self.data, out / "my backup.tar.zst", "--quiet")
        self.assertEqual(u.list_dir(out), ["my backup.tar.zst", "my backup.tar.zst.xxh128"])
        self.assertEqual(stat.S_IMODE(os.stat(out / "my backup.tar.zst").st_mode), 0o600)

    def test_creates_in_the_same_second_all_succeed(self):
        # A timer and a hand-run create in the same second: each gets its own name (the
        # second waits for the next second), none replaces another, none fails.
        out = self.mkdir("out")
        self.create(self.config, self.data, out, "--quiet", "--server-version", "10.11.0")
        first = [n for n in u.list_dir(out) if n.endswith(".tar.zst")]
        digest = u.sha256_file(out / first[0])
        for _ in range(2):
            self.create(self.config, self.data, out, "--quiet", "--server-version", "10.11.0")
        now = [n for n in u.list_dir(out) if n.endswith(".tar.zst")]
        self.assertEqual(len(now), 3, now)
        self.assertEqual(u.sha256_file(out / first[0]), digest, "first archive was changed")
        listed = u.run(["list", out, "--json"])
        self.assertExit(listed, 0)
        self.assertEqual(sorted(a["name"] for a in listed.json()["archives"]), sorted(now))

    def test_a_taken_name_moves_on_to_the_next_second(self):
        # Names for the next few seconds are already there (another host writes the same
        # directory): create never overwrites them and still succeeds.
        out = self.mkdir("out")
        start = int(time.time())
        planted = {}
        for t in range(start, start + 3):
            name = "jellyfin." + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t)) + "_10.11.0.tar.zst"
            (out / name).write_bytes(b"someone else's")
            planted[name] = b"someone else's"
        res = self.create(self.config, self.data, out, "--server-version", "10.11.0")
        for name, content in planted.items():
            self.assertEqual((out / name).read_bytes(), content, f"{name} was overwritten")
        made = [n for n in u.list_dir(out) if n.endswith(".tar.zst") and n not in planted]
        self.assertEqual(len(made), 1, res.describe())

    def test_human_summary(self):
        out = self.mkdir("out")
        path = out / "a.tar.zst"
        res = self.create(self.config, self.data, path)
        files = sum(1 for r in (self.config, self.data) for e in u.snapshot(r).values() if e.kind == "file")
        m = re.search(r"^Created (.+): (\d+) files, (.+) -> (.+) in ([0-9.]+) s$", res.stdout, re.M)
        self.assertIsNotNone(m, f"no 'Created <path>: <N> files, <in> -> <out> in <secs> s' line\n"
                                f"{res.describe()}")
        self.assertEqual(m.group(1), str(path))
        self.assertEqual(int(m.group(2)), files)

    def test_stdout_output(self):
        cwd = self.mkdir("cwd")
        target = self.tmp / "streamed.tar.zst"
        with open(target, "wb") as f:
            res = u.run(["create", "--config", self.config, "--data", self.data, "--output", "-"],
                        stdout=f, cwd=cwd)
        self.assertExit(res, 0)
        self.assertEqual(u.list_dir(cwd), [], "--output - left files in the working directory")
        blob = target.read_bytes()
        self.assertEqual(blob[:4], b"\x28\xb5\x2f\xfd", "stdout does not start with a zstd frame")
        # stdout carries the archive and stderr is no terminal here: a cron job
        # must see nothing on stderr but warnings and errors.
        self.assertEqual(res.stderr, "", "stderr must stay empty when it is not a terminal")
        u.tool(["zstd", "-q", "-t", target])
        self.assertExit(u.run(["verify", "--quiet", target]), 0)
        self.assertExit(u.run(["verify", "--quiet", "-"], stdin=open(target, "rb")), 0)
        ext = self.extract_with_tar(target)
        self.assertEqual(u.compare_trees(self.data, ext / "data"), [])
        self.assertEqual(u.compare_trees(self.config, ext / "config"), [])

    def test_stdout_output_through_pipe(self):
        # A pipe cannot seek: the archive must stream.
        proc = u.popen(["create", "--config", self.config, "--data", self.data, "--output", "-",
                        "--quiet"])
        blob, err = proc.communicate(timeout=u.DEFAULT_TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(err, b"")
        target = self.tmp / "piped.tar.zst"
        target.write_bytes(blob)
        self.assertExit(u.run(["verify", "--quiet", target]), 0)
        res = u.run(["verify", "--quiet", "-"], input=blob)  # stdin as a pipe too
        self.assertExit(res, 0)
        ext = self.extract_with_tar(target)
        self.assertEqual(u.compare_trees(self.data, ext / "data"), [])

    def test_stdout_output_quiet(self):
        target = self.tmp / "streamed.tar.zst"
        with open(target, "wb") as f:
            res = u.run(["create", "--config", self.config, "--data", self.data, "--output", "-",
                         "--quiet"], stdout=f)
        self.assertExit(res, 0)
        self.assertEqual(res.err, b"", "--quiet printed on stderr")
        self.assertExit(u.run(["verify", "--quiet", target]), 0)


class BigInputFrames(u.E2ETestCase):
    """Input over 16 MiB is cut into several independent frames at entry boundaries."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = cls.shared_dir("frames")
        cls.config, cls.data = u.make_basic_trees(cls.shared / "src")
        u.write_random_file(cls.data / "big1.bin", 20 << 20)
        u.write_random_file(cls.data / "big2.bin", 20 << 20)
        cls.archive = cls.shared / "big.tar.zst"
        res = u.run(["create", "--config", cls.config, "--data", cls.data, "--output", cls.archive,
                     "--quiet", "--level", "1"], timeout=60)
        if res.code != 0:
            raise RuntimeError("create failed\n" + res.describe())
        cls.blob = cls.archive.read_bytes()
        cls.frames = u.zstd_frames(cls.blob)
        cls.tar = u.zstd_decompress(cls.blob)
        cls.parts = [u.zstd_decompress(cls.blob[f.offset:f.offset + f.length]) for f in cls.frames]

    def test_multiple_independent_frames(self):
        self.assertGreater(len(self.frames), 1, "40 MiB of input went into one zstd frame")
        self.assertEqual(sum(f.length for f in self.frames), len(self.blob))
        boundaries = {m.offset for m in u.tar_members(self.tar)}
        pos = 0
        for i, (f, part) in enumerate(zip(self.frames, self.parts)):
            self.assertTrue(f.has_checksum, f"frame {i} has no content checksum")
            pos += len(part)
            if i < len(self.frames) - 1:
                self.assertIn(pos, boundaries, f"frame {i} does not end at a tar entry boundary")
        # Independent: the frames decompressed one by one make the whole stream.
        self.assertEqual(b"".join(self.parts), self.tar)

    def test_frames_cut_after_16_mib(self):
        # Format v1: frame 1 holds MANIFEST.json alone (so inspect reads only
        # it); after that a new frame starts at an entry boundary after >= 16 MiB.
        sizes = [len(p) for p in self.parts]
        self.assertLess(sizes[0], 64 * 1024, f"frame 1 is not the manifest alone: {sizes}")
        self.assertTrue(self.parts[0][:512].rstrip(b"\0").find(b"MANIFEST.json") >= 0 or
                        b"MANIFEST.json" in self.parts[0][:2048], "frame 1 does not hold MANIFEST.json")
        for i, n in enumerate(sizes[1:-1], start=1):
            self.assertGreaterEqual(n, u.FRAME_BYTES, f"frame {i} ends after {n} bytes of input, "
                                                      f"before 16 MiB (frame input sizes: {sizes})")

    def test_verify_counts_frames(self):
        res = u.run(["verify", "--json", self.archive], timeout=60)
        self.assertExit(res, 0)
        self.assertEqual(res.json()["frames"], len(self.frames))

    def test_extraction(self):
        out = self.extract_with_tar(self.archive)
        self.assertEqual(u.compare_trees(self.data, out / "data"), [])


class OddNames(u.E2ETestCase):
    def test_newline_in_name_uses_escaped_checksum_line(self):
        config, data = u.make_basic_trees(self.mkdir("src"))
        u.write_file(data / "new\nline.txt", b"newline name\n")
        u.write_file(data / "back\\and\nnewline.txt", b"both\n")
        archive = self.create_archive(config, data)
        self.assertExit(u.run(["verify", "--quiet", archive]), 0)
        tar = u.zstd_decompress(archive.read_bytes())
        raw = u.read_member(tar, "CHECKSUMS.xxh128")
        lines = [l for l in raw.split(b"\n") if b"line.txt" in l]
        self.assertEqual(len(lines), 2, raw)
        for l in lines:
            self.assertTrue(l.startswith(b"\\"), f"line for a name with a newline is not escaped: {l!r}")
        sums = u.parse_checksums(raw)
        for name, content in ((b"data/new\nline.txt", b"newline name\n"),
                              (b"data/back\\and\nnewline.txt", b"both\n")):
            self.assertIn(name, sums)
            ref = u.tool(["xxh128sum", "-"], input=content).stdout.split()[0].decode()
            self.assertEqual(sums[name], ref)
        out = self.extract_with_tar(archive)
        self.assertEqual(u.compare_trees(data, out / "data"), [])


class SampleTree(u.E2ETestCase):
    def test_sample_tree_roundtrip(self):
        config, data = u.make_sample_trees(self.mkdir("src"), special=True, seed=7)
        out = self.mkdir("out")
        # The whole install, logs included (data/log is left out by default).
        res = self.create(config, data, out / "a.tar.zst", "--include-logs")
        self.assertExit(u.run(["verify", "--quiet", out / "a.tar.zst"]), 0)
        ext = self.extract_with_tar(out / "a.tar.zst")
        self.assertEqual(u.compare_trees(config, ext / "config"), [])
        self.assertEqual(u.compare_trees(data, ext / "data"), [])
        if b"\n" in b"".join(u.snapshot(ext)):
            return  # xxh128sum 0.8.1 does not read the escaped lines of names with a newline
        proc = u.tool(["xxh128sum", "-c", "--quiet", "CHECKSUMS.xxh128"], cwd=ext, check=False)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_sample_tree_log_dir_left_out_by_default(self):
        # Explicit trees, no known layout: Jellyfin's own default log dir <data>/log is left out
        # (and said so in the manifest); everything else is there.
        config, data = u.make_sample_trees(self.mkdir("src"), seed=8)
        self.assertTrue((data / "log").is_dir(), "the sample keeps its logs in data/log")
        out = self.mkdir("out")
        self.create(config, data, out / "a.tar.zst", "--quiet")
        res = u.run(["inspect", "--json", out / "a.tar.zst"])
        self.assertExit(res, 0)
        self.assertEqual(res.json()["manifest"]["left_out"],
                         [{"kind": "log", "path": "data/log",
                           "source": os.path.realpath(data / "log")}])
        ext = self.extract_with_tar(out / "a.tar.zst")
        self.assertFalse(os.path.lexists(ext / "data" / "log"))
        self.assertEqual(u.compare_trees(config, ext / "config"), [])
        self.assertEqual(u.compare_trees(data, ext / "data", skip_paths=["log"]), [])


if __name__ == "__main__":
    unittest.main()
