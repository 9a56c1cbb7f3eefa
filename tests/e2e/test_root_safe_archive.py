"""Hostile archives against a root restore (issue 11 "Root-safe", points 4, 5 and 9b).

Every archive here is built by the test (restore_util.ArchiveBuilder: python's tarfile, pax, then
`zstd --check`), with a valid manifest and checksums, so that its one hostile aspect is all that
is wrong:

* point 4: device nodes and setuid/setgid files are refused by restore (exit 3, naming the entry,
  targets untouched) unless --allow-special is given; verify notes them and exits 0.
* point 5: what an archive can make a reader hold is bounded by its manifest: a CHECKSUMS.xxh128
  listing millions of absent files is refused from its header with little memory; a path more
  than 256 levels deep (the issue's 20,000 nested directories) is refused at once, before the
  swap; more entries than announced are refused at the first one too many.
* point 9b: skippable zstd frames (before or after the archive, of any announced size), bytes
  after a NUL in MANIFEST.json and endless zero padding after the tar end are refused (exit 3).

None of these is a race: the attacker controls the archive's bytes, not the timing.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_root_safe_archive.py
"""

import json
import os
import stat
import subprocess
import tarfile
import time
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r

MAX_DEPTH = 256  # format::kMaxDepth


class ArchiveCase(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.mkdir("srv")
        self.config, self.data = u.make_basic_trees(self.srv, seed=23)
        self.archive_path = self.tmp / "hostile.tar.zst"

    def builder(self) -> r.ArchiveBuilder:
        return r.ArchiveBuilder().base()

    def state(self) -> dict:
        return {"srv": u.list_dir(self.srv), "config": u.snapshot(self.config),
                "data": u.snapshot(self.data)}

    def write(self, archive) -> Path:
        if isinstance(archive, bytes):
            self.archive_path.write_bytes(archive)
            return self.archive_path
        return archive.archive(self.archive_path)

    def restore(self, *extra, **kw) -> u.Result:
        return u.run(["restore", self.archive_path, "--config", self.config, "--data", self.data,
                      *extra], **kw)

    def assertRestoreRefused(self, *needles, extra=(), timeout=u.DEFAULT_TIMEOUT) -> u.Result:
        """restore exits 3 naming `needles`, before the swap: nothing beside or in the targets
        changed (no staging directory, journal or backup left)."""
        before = self.state()
        res = self.restore("--discard-old", *extra, timeout=timeout)
        self.assertExit(res, 3, "a hostile archive must be refused")
        self.assertErrorShape(res, *needles, one_line=False)
        after = self.state()
        self.assertEqual(after["srv"], before["srv"], "left beside the targets\n" + res.describe())
        for key in ("config", "data"):
            problems = r.snapshot_diff(before[key], after[key])
            self.assertEqual(problems, [], f"{key} was modified\n" + res.describe())
        return res

    def assertVerifyRefused(self, *needles, timeout=u.DEFAULT_TIMEOUT) -> u.Result:
        res = u.run(["verify", self.archive_path], timeout=timeout)
        self.assertExit(res, 3)
        for n in needles:
            self.assertIn(n, res.stderr, res.describe())
        return res

    def real_archive(self) -> bytes:
        """An archive made by create from the targets."""
        return self.create_archive(self.config, self.data).read_bytes()


# --------------------------------------------------------------------------------------------------
# Point 4: special files


SPECIAL = {
    # entry: (builder call, what the message says)
    "data/null": (lambda b: b.device("data/null", 1, 3, mode=0o666), "character device 1:3"),
    "data/loop0": (lambda b: b.device("data/loop0", 7, 0, block=True), "block device 7:0"),
    "data/suid-sh": (lambda b: b.file("data/suid-sh", b"#!/bin/sh\n", mode=0o4755),
                     "setuid file (mode 4755)"),
    "data/sgid-sh": (lambda b: b.file("data/sgid-sh", b"#!/bin/sh\n", mode=0o2755),
                     "setgid file (mode 2755)"),
}


class SpecialFiles(ArchiveCase):
    def test_refused_without_allow_special(self):
        if not u.is_root():
            self.skipTest("needs root: the attack is a root restore creating them")
        for name, (add, what) in SPECIAL.items():
            with self.subTest(entry=name):
                self.write(add(self.builder()))
                res = self.assertRestoreRefused(name, what, "--allow-special")
                self.assertIn("unsafe archive", res.stderr)
                self.assertFalse(os.path.lexists(self.data / name.split("/", 1)[1]))

    def test_refused_as_soon_as_seen(self):
        # A device node first, then 50 MiB of data: restore stops at the node, it does not
        # extract (or even read) the rest first.
        b = self.builder().device("data/aaa-null", 1, 3).file("data/zzz-big", os.urandom(50 << 20))
        self.write(b)
        t0 = time.monotonic()
        res = self.assertRestoreRefused("data/aaa-null", "character device 1:3")
        self.assertLess(time.monotonic() - t0, 20, res.describe())

    def test_allow_special_restores_them_as_archived(self):
        if not u.is_root():
            self.skipTest("needs root to create device nodes")
        b = self.builder()
        for add, _ in SPECIAL.values():
            add(b)
        self.write(b)
        res = self.restore("--discard-old", "--allow-special")
        self.assertExit(res, 0)
        st = os.lstat(self.data / "null")
        self.assertTrue(stat.S_ISCHR(st.st_mode))
        self.assertEqual((os.major(st.st_rdev), os.minor(st.st_rdev)), (1, 3))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o666)
        self.assertTrue(stat.S_ISBLK(os.lstat(self.data / "loop0").st_mode))
        self.assertEqual(stat.S_IMODE(os.lstat(self.data / "suid-sh").st_mode), 0o4755)
        self.assertEqual(stat.S_IMODE(os.lstat(self.data / "sgid-sh").st_mode), 0o2755)
        warnings = "\n".join(u.warning_lines(res))
        for name in SPECIAL:
            self.assertIn(name, warnings, "each special file restored is said so")

    def test_verify_notes_them_and_passes(self):
        # verify judges integrity; what restore will write is restore's call.
        b = self.builder()
        for add, _ in SPECIAL.values():
            add(b)
        self.write(b)
        res = u.run(["verify", self.archive_path])
        self.assertExit(res, 0)
        warnings = "\n".join(u.warning_lines(res))
        for name, (_, what) in SPECIAL.items():
            self.assertIn(f"{name}: {what} (restore refuses it without --allow-special)", warnings)

    def test_what_the_owner_could_make_itself_is_restored(self):
        # FIFOs, setgid directories and sticky files grant nothing the jellyfin user could not
        # make itself: no flag needed.
        b = (self.builder().fifo("data/fifo", 0o640).dir("data/shared", mode=0o2775)
             .file("data/sticky", b"x", mode=0o1644))
        self.write(b)
        res = self.restore("--discard-old")
        self.assertExit(res, 0)
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.data / "fifo").st_mode))
        self.assertEqual(u.warning_lines(res), [])


# --------------------------------------------------------------------------------------------------
# Point 5: bounds


def run_measured(args, out_dir: Path, timeout=60) -> tuple[u.Result, int, float]:
    """Runs the binary; returns its result, its own peak RSS in bytes (os.wait4: this child's
    rusage, not the maximum over every child of the test) and its wall time."""
    argv = u.command(args)
    with open(out_dir / "stdout", "w+b") as out, open(out_dir / "stderr", "w+b") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() - t0 > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise AssertionError(f"{argv} still running after {timeout} s")
            time.sleep(0.02)
        seconds = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        res = u.Result(argv, proc.returncode, out.read(), err.read())
    return res, usage.ru_maxrss * 1024, seconds


def checksum_bomb(builder: r.ArchiveBuilder, lines: int, out: Path, **tar_kw) -> Path:
    """`builder`'s archive with a CHECKSUMS.xxh128 of `lines` absent files, streamed into zstd
    (never held in memory whole)."""
    tar = builder.tar(**tar_kw)
    start, _, _ = u.tar_member_span(tar, "CHECKSUMS.xxh128")
    line = lambda i: b"0123456789abcdef0123456789abcdef  data/absent/%08d\n" % i
    size = len(line(0)) * lines
    ti = tarfile.TarInfo("CHECKSUMS.xxh128")
    ti.size, ti.mode, ti.mtime = size, 0o600, 1_790_000_000
    with open(out, "wb") as f:
        z = subprocess.Popen(["zstd", "-q", "-3", "--check", "-c"], stdin=subprocess.PIPE, stdout=f)
        z.stdin.write(tar[:start] + ti.tobuf(format=tarfile.PAX_FORMAT))
        chunk = 100_000
        for first in range(0, lines, chunk):
            z.stdin.write(b"".join(line(i) for i in range(first, min(first + chunk, lines))))
        z.stdin.write(b"\0" * ((512 - size % 512) % 512) + b"\0" * 1024)
        z.stdin.close()
        if z.wait(timeout=120) != 0:
            raise RuntimeError("zstd failed")
    return out


class Bounds(ArchiveCase):
    # Far below the 2.6 GB the attack cost; ASan's shadow memory and quarantine add their share.
    MAX_RSS = (256 if u.sanitized() else 64) << 20

    def test_checksum_list_of_millions_of_absent_files(self):
        # The attack: before, 4 million lines cost verify 2.6 GB (12 million: OOM).
        cases = {
            "manifest tells the truth": {},
            # The manifest lies too: the list is still bounded by the files actually seen.
            "manifest announces 4 million files": {
                "manifest_edit": lambda m: m["trees"][1].update(files=4_000_000)},
        }
        for label, kw in cases.items():
            with self.subTest(case=label):
                checksum_bomb(self.builder(), 4_000_000, self.archive_path, **kw)
                self.assertLess(self.archive_path.stat().st_size, 8 << 20)
                res, rss, seconds = run_measured(["verify", self.archive_path], self.tmp)
                self.assertExit(res, 3)
                self.assertIn("CHECKSUMS.xxh128", res.stderr)
                self.assertIn("larger than the list of this archive's", res.stderr)
                self.assertLess(rss, self.MAX_RSS, f"verify peaked at {rss >> 20} MiB")
                self.assertLess(seconds, 10, res.describe())
        self.assertRestoreRefused("CHECKSUMS.xxh128")

    def test_more_entries_than_the_manifest_announced(self):
        b = self.builder()
        for i in range(20):
            b.file(f"data/extra-{i:02d}", b"x")
        b.archive(self.archive_path, manifest_edit=lambda m: m["trees"][1].update(
            entries=m["trees"][1]["entries"] - 15))
        self.assertVerifyRefused("more entries than the manifest announced for data/")
        # inspect --list holds its listing whole: bounded the same way.
        res = u.run(["inspect", "--list", self.archive_path])
        self.assertFails(res, 3, "more entries than the manifest announced")
        self.assertRestoreRefused("more entries than the manifest announced for data/",
                                  "data/extra-05")

    def test_20000_nested_directories(self):
        # The 869-byte archive: one entry 20,000 directories deep. Before: quadratic
        # time, and after the swap --discard-old ran out of file descriptors.
        deep = "data/" + "d/" * 20000 + "f"
        self.write(self.builder().file(deep, b"deep\n"))
        self.assertLess(self.archive_path.stat().st_size, 64 << 10)
        t0 = time.monotonic()
        self.assertVerifyRefused("20001 levels deep", "at most 256 levels")
        res = self.assertRestoreRefused("20001 levels deep")
        self.assertLess(time.monotonic() - t0, 20, res.describe())

    def test_nested_directory_entries_beyond_the_limit(self):
        # Every level listed as its own entry: refused at the first one too deep.
        b = self.builder()
        path = "data"
        for _ in range(MAX_DEPTH + 20):
            path += "/d"
            b.dir(path)
        self.write(b)
        self.assertRestoreRefused(f"{MAX_DEPTH + 1} levels deep")

    def test_deepest_allowed_tree_restores(self):
        if not u.is_root():
            self.skipTest("restores over root-owned targets")
        b = self.builder()
        path = "data"
        for _ in range(MAX_DEPTH - 1):
            path += "/d"
            b.dir(path)
        b.file(path + "/f", b"at the limit\n")
        self.write(b)
        res = self.restore("--discard-old")
        self.assertExit(res, 0)
        self.assertEqual((self.data / path.split("/", 1)[1] / "f").read_bytes(), b"at the limit\n")


# --------------------------------------------------------------------------------------------------
# Point 9b: bytes hidden where no reader looks


def skippable_frame(payload: bytes, variant: int = 0, announced: int | None = None) -> bytes:
    size = len(payload) if announced is None else announced
    return (0x184D2A50 + variant).to_bytes(4, "little") + size.to_bytes(4, "little") + payload


class HiddenBytes(ArchiveCase):
    def test_skippable_frames(self):
        real = self.real_archive()
        payload = b"#!/bin/sh\necho hidden\n"
        cases = {
            "before": (skippable_frame(payload) + real, "zstd frame 1 (at byte 0)"),
            "after": (real + skippable_frame(payload, 7), "skippable frame (magic 0x184D2A57"),
            # Announces 4 GiB and holds nothing: refused from its header, not read or skipped.
            "after, 4 GiB announced": (real + skippable_frame(b"", 15, 0xFFFFFFFF),
                                       "4294967295 bytes"),
        }
        for label, (data, needle) in cases.items():
            with self.subTest(case=label):
                self.write(data)
                self.assertVerifyRefused("skippable frame", needle)
                self.assertRestoreRefused("skippable frame")

    def test_bytes_after_a_nul_in_the_manifest(self):
        b = self.builder()
        text = (json.dumps(b.manifest(), indent=2) + "\n").encode()
        # The checksums cover the whole entry, NUL and payload included: only the NUL is wrong.
        b.archive(self.archive_path, manifest_bytes=text + b"\0" + b"x" * 4096)
        self.assertVerifyRefused("MANIFEST.json: NUL byte at offset", "4096 bytes hidden after it")
        self.assertRestoreRefused("NUL byte")

    def test_zero_padding_after_the_tar_end_is_bounded(self):
        tar = u.zstd_decompress(self.real_archive())
        with self.subTest(case="a GNU tar record of padding reads"):
            self.write(u.zstd_compress(tar + b"\0" * 10240))
            self.assertExit(u.run(["verify", self.archive_path]), 0)
        with self.subTest(case="a megabyte of zeros does not"):
            self.write(u.zstd_compress(tar + b"\0" * (1 << 20)))
            self.assertVerifyRefused("bytes of padding after the end of the tar archive")


if __name__ == "__main__":
    unittest.main(verbosity=2)
