"""verify: exit 0 only for an intact archive, 3 for any damage (CLI_SPEC "verify").

Damage is made two ways: bytes flipped in the compressed file (the zstd frame checksums catch it), and
edits to the decompressed tar that is then recompressed with valid frame checksums (so only the
archive's own structure, manifest and XXH3-128 checksums can catch it).

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_verify.py
"""

import json
import os
import re
import unittest
from pathlib import Path

import e2e_util as u

BODY_MARKER = b"BODY-MARKER-0123456789\n"


def xxh128(data: bytes) -> str:
    return u.tool(["xxh128sum", "-"], input=data).stdout.split()[0].decode()


class VerifyBase(u.E2ETestCase):
    """One small archive shared by the tests of a class (they never modify it in place)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = cls.shared_dir("verify")
        src = cls.shared / "src"
        cls.config, cls.data = u.make_basic_trees(src)
        u.write_file(cls.data / "body.txt", BODY_MARKER * 200)
        u.write_file(cls.data / "hdr-target.txt", b"header target\n")
        u.write_random_file(cls.data / "random.bin", 200_000)
        cls.archive = cls.shared / "good.tar.zst"
        res = u.run(["create", "--config", cls.config, "--data", cls.data, "--output", cls.archive,
                     "--server-version", "10.11.0", "--quiet"])
        if res.code != 0:
            raise RuntimeError("create failed; verify tests need an archive\n" + res.describe())
        cls.blob = cls.archive.read_bytes()
        cls.tar = u.zstd_decompress(cls.blob)
        cls.files_total = sum(1 for r in (cls.config, cls.data)
                              for e in u.snapshot(r).values() if e.kind == "file")

    def write(self, blob: bytes, name="damaged.tar.zst") -> Path:
        p = self.tmp / name
        p.write_bytes(blob)
        return p

    def verify_blob(self, blob: bytes, *flags, name="damaged.tar.zst") -> u.Result:
        return u.run(["verify", *flags, self.write(blob, name)])

    def verify_tar(self, tar: bytes, *flags) -> u.Result:
        """Recompresses an edited tar with valid zstd checksums and verifies it."""
        return self.verify_blob(u.zstd_compress(tar), *flags)

    def assertDamaged(self, res: u.Result, *needles):
        # Detail lines after the error line are checked once, in test_error_is_one_line.
        self.assertFails(res, 3, *needles, one_line=False)


class VerifyGood(VerifyBase):
    def test_good_archive(self):
        res = u.run(["verify", self.archive])
        self.assertExit(res, 0)
        m = re.search(r"^(.+): OK: (\d+) files, (.+) verified \(created (\S+) on \S+, Jellyfin (.+)\)$",
                      res.stdout, re.M)
        self.assertIsNotNone(m, "summary line does not follow '<archive>: OK: <N> files, <bytes> "
                                "verified (created <ts> on <host>, Jellyfin <v>)'"
                                f"\n{res.describe()}")
        self.assertEqual(m.group(1), str(self.archive))
        # Whether MANIFEST.json counts as a file is not fixed by the spec.
        self.assertIn(int(m.group(2)), (self.files_total, self.files_total + 1))
        self.assertEqual(m.group(4), json.loads(u.read_member(self.tar, "MANIFEST.json"))["created"])
        self.assertEqual(m.group(5), "10.11.0")

    def test_quiet(self):
        res = u.run(["verify", "--quiet", self.archive])
        self.assertExit(res, 0)
        self.assertEqual((res.out, res.err), (b"", b""))

    def test_json(self):
        res = u.run(["verify", "--json", self.archive])
        self.assertExit(res, 0)
        j = res.json()
        for key in ("command", "ok", "archive", "files", "bytes", "frames", "bad_entries", "problems",
                    "manifest"):
            self.assertIn(key, j)
        self.assertEqual(j["command"], "verify")
        self.assertIs(j["ok"], True)
        self.assertEqual(j["archive"], str(self.archive))
        self.assertIn(j["files"], (self.files_total, self.files_total + 1))
        self.assertIsInstance(j["bytes"], int)
        self.assertGreaterEqual(j["frames"], 1)
        self.assertEqual(j["bad_entries"], 0)
        self.assertEqual(j["problems"], [])
        self.assertEqual(j["manifest"], json.loads(u.read_member(self.tar, "MANIFEST.json")))

    def test_stdin(self):
        with open(self.archive, "rb") as f:
            res = u.run(["verify", "-"], stdin=f)
        self.assertExit(res, 0)

    def test_recompressed_unchanged_tar_verifies(self):
        # Control for the tar-edit tests below: recompression alone is not damage.
        self.assertExit(self.verify_tar(self.tar), 0)


class VerifyCompressedDamage(VerifyBase):
    def test_flipped_bytes_in_compressed_file(self):
        n = len(self.blob)
        for off in (20, 64, n // 4, n // 2, (3 * n) // 4, n - 40, n - 5, n - 1):
            with self.subTest(offset=off):
                self.assertDamaged(self.verify_blob(u.flip(self.blob, off)))

    def test_flipped_magic(self):
        self.assertDamaged(self.verify_blob(u.flip(self.blob, 0)))

    def test_truncations(self):
        n = len(self.blob)
        for keep in (0, 1, 13, n // 2, n - 1):
            with self.subTest(keep=keep):
                self.assertDamaged(self.verify_blob(self.blob[:keep]))

    def test_garbage_after_zstd_stream(self):
        self.assertDamaged(self.verify_blob(self.blob + b"garbage\n"))

    def test_extra_zstd_frame_after_stream(self):
        self.assertDamaged(self.verify_blob(self.blob + u.zstd_compress(b"hello\n")))

    def test_damaged_stdin(self):
        p = self.write(u.flip(self.blob, len(self.blob) // 2))
        with open(p, "rb") as f:
            res = u.run(["verify", "-"], stdin=f)
        self.assertDamaged(res)


class VerifyTarDamage(VerifyBase):
    def region(self, member: str) -> tuple[int, int, int]:
        return u.tar_member_span(self.tar, member)

    def test_flip_in_manifest(self):
        _, start, end = self.region("MANIFEST.json")
        off = self.tar.index(b"format_version", start, end) + 3
        self.assertDamaged(self.verify_tar(u.flip(self.tar, off, 0x01)))

    def test_flip_in_file_body_names_entry(self):
        _, start, end = self.region("data/body.txt")
        off = self.tar.index(BODY_MARKER, start, end) + 5
        damaged = u.flip(self.tar, off, 0x01)
        body = u.read_member(damaged, "data/body.txt")
        expected = u.parse_checksums(u.read_member(self.tar, "CHECKSUMS.xxh128"))[b"data/body.txt"]
        actual = xxh128(body)
        res = self.verify_tar(damaged)
        self.assertDamaged(res, "data/body.txt", expected, actual)
        self.assertRegex(res.stderr, r"\b1\b", "stderr does not give the count of bad entries")

    def test_flip_in_file_body_json(self):
        _, start, end = self.region("data/body.txt")
        off = self.tar.index(BODY_MARKER, start, end) + 5
        damaged = u.flip(self.tar, off, 0x01)
        res = self.verify_tar(damaged, "--json")
        self.assertExit(res, 3)
        j = res.json()
        self.assertIs(j["ok"], False)
        self.assertEqual(j.get("exit_code"), 3)
        self.assertEqual(j["bad_entries"], 1)
        self.assertEqual(len(j["problems"]), 1)
        p = j["problems"][0]
        for key in ("path", "problem", "expected", "actual"):
            self.assertIn(key, p)
        self.assertEqual(p["path"], "data/body.txt")
        expected = u.parse_checksums(u.read_member(self.tar, "CHECKSUMS.xxh128"))[b"data/body.txt"]
        self.assertEqual(p["expected"], expected)
        self.assertEqual(p["actual"], xxh128(u.read_member(damaged, "data/body.txt")))

    def test_flip_in_random_file_body(self):
        _, start, end = self.region("data/random.bin")
        self.assertDamaged(self.verify_tar(u.flip(self.tar, (start + end) // 2)), "data/random.bin")

    def test_flip_in_tar_header(self):
        _, data_start, _ = self.region("data/hdr-target.txt")
        header = data_start - 512  # the ustar header block right before the data
        self.assertEqual(self.tar[header + 257:header + 262], b"ustar")
        for field, off in (("mode", 100 + 3), ("size", 124 + 8), ("mtime", 136 + 5),
                           ("chksum", 148 + 2), ("typeflag", 156), ("magic", 257 + 1)):
            with self.subTest(field=field):
                self.assertDamaged(self.verify_tar(u.flip(self.tar, header + off, 0x01)))

    def test_flip_in_trailer(self):
        _, start, end = self.region("CHECKSUMS.xxh128")
        digest = u.parse_checksums(u.read_member(self.tar, "CHECKSUMS.xxh128"))[b"data/body.txt"]
        off = self.tar.index(digest.encode(), start, end) + 7
        b = bytearray(self.tar)
        b[off] = ord("a") if b[off] != ord("a") else ord("b")
        self.assertDamaged(self.verify_tar(bytes(b)))

    def test_flip_path_in_trailer(self):
        _, start, end = self.region("CHECKSUMS.xxh128")
        off = self.tar.index(b"  data/body.txt", start, end) + 8
        self.assertDamaged(self.verify_tar(u.flip(self.tar, off, 0x01)))

    def test_unsupported_format_version_with_matching_checksums(self):
        _, start, end = self.region("MANIFEST.json")
        manifest = self.tar[start:start + len(u.read_member(self.tar, "MANIFEST.json"))]
        m = re.search(rb'"format_version"\s*:\s*1\b', manifest)
        self.assertIsNotNone(m)
        new_manifest = manifest[:m.end() - 1] + b"7" + manifest[m.end():]
        tar = self.tar[:start] + new_manifest + self.tar[start + len(manifest):]
        old, new = xxh128(manifest), xxh128(new_manifest)
        cs_start = u.tar_member_span(tar, "CHECKSUMS.xxh128")[1]
        i = tar.index(old.encode() + b"  MANIFEST.json", cs_start)
        tar = tar[:i] + new.encode() + tar[i + 32:]
        self.assertDamaged(self.verify_tar(tar))

    def test_nonzero_data_after_tar_end(self):
        self.assertDamaged(self.verify_tar(self.tar + b"trailing junk".ljust(512, b"x")))

    def test_extra_entry_after_checksums(self):
        end = u.tar_end_of_entries(self.tar)
        tar = self.tar[:end] + u.pax_file_entry("data/extra.txt", b"extra\n") + b"\0" * 1024
        self.assertDamaged(self.verify_tar(tar))

    def test_extra_entry_not_in_checksums(self):
        header_start, _, _ = self.region("CHECKSUMS.xxh128")
        tar = (self.tar[:header_start] + u.pax_file_entry("data/zzz-extra.txt", b"extra\n")
               + self.tar[header_start:])
        self.assertDamaged(self.verify_tar(tar), "data/zzz-extra.txt")

    def test_error_is_one_line(self):
        # CLI_SPEC: "Error messages: ONE line on stderr", also when several entries are bad.
        header_start, _, end = self.region("data/body.txt")
        res = self.verify_tar(self.tar[:header_start] + self.tar[end:])
        self.assertFails(res, 3, "data/body.txt")

    def test_file_listed_in_checksums_missing(self):
        header_start, _, end = self.region("data/body.txt")
        tar = self.tar[:header_start] + self.tar[end:]
        self.assertNotIn(BODY_MARKER, tar[:tar.index(b"CHECKSUMS.xxh128")])
        self.assertDamaged(self.verify_tar(tar), "data/body.txt")

    def test_manifest_missing(self):
        header_start, _, end = self.region("MANIFEST.json")
        self.assertDamaged(self.verify_tar(self.tar[:header_start] + self.tar[end:]))

    def test_checksums_missing(self):
        header_start, _, _ = self.region("CHECKSUMS.xxh128")
        self.assertDamaged(self.verify_tar(self.tar[:header_start] + b"\0" * 1024))


class VerifyNotArchives(VerifyBase):
    def test_text_file(self):
        self.assertDamaged(self.verify_blob(b"this is not an archive\n" * 10))

    def test_empty_file(self):
        self.assertDamaged(self.verify_blob(b""))

    def test_zstd_of_text(self):
        self.assertDamaged(self.verify_blob(u.zstd_compress(b"not a tar\n" * 100)))

    def test_plain_tar_zst_without_manifest(self):
        p = self.tmp / "plain.tar.zst"
        u.tool(["tar", "--zstd", "-cf", p, "-C", self.shared / "src", "config", "data"])
        self.assertDamaged(u.run(["verify", p]))

    def test_uncompressed_tar(self):
        self.assertDamaged(self.verify_blob(self.tar))

    def test_missing_archive(self):
        missing = self.tmp / "no-such.tar.zst"
        self.assertFails(u.run(["verify", missing]), 1, str(missing))

    def test_missing_archive_json(self):
        res = u.run(["verify", "--json", self.tmp / "no-such.tar.zst"])
        self.assertExit(res, 1)
        j = res.json()
        self.assertIs(j["ok"], False)
        self.assertEqual(j["exit_code"], 1)
        self.assertIsInstance(j["error"], str)


class VerifyFrames(u.E2ETestCase):
    """Whole frames removed or repeated: every frame is intact, the archive is not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shared = cls.shared_dir("frames")
        config, data = u.make_basic_trees(cls.shared / "src")
        for i in range(5):
            u.write_random_file(data / f"big{i}.bin", 9 << 20)
        archive = cls.shared / "big.tar.zst"
        res = u.run(["create", "--config", config, "--data", data, "--output", archive, "--quiet",
                     "--level", "1"], timeout=60)
        if res.code != 0:
            raise RuntimeError("create failed\n" + res.describe())
        cls.blob = archive.read_bytes()
        cls.frames = u.zstd_frames(cls.blob)

    def piece(self, i: int) -> bytes:
        f = self.frames[i]
        return self.blob[f.offset:f.offset + f.length]

    def assertFails(self, res, code, *needles):
        super().assertFails(res, code, *needles, one_line=False)

    def verify_blob(self, blob: bytes) -> u.Result:
        p = self.tmp / "x.tar.zst"
        p.write_bytes(blob)
        return u.run(["verify", p], timeout=60)

    def test_good(self):
        self.assertGreaterEqual(len(self.frames), 2, "45 MiB of input should make several frames")
        self.assertExit(self.verify_blob(self.blob), 0)

    def test_truncated_at_frame_boundary(self):
        for i in range(1, len(self.frames)):
            with self.subTest(frames_kept=i):
                self.assertFails(self.verify_blob(self.blob[:self.frames[i].offset]), 3)

    def test_middle_frame_removed(self):
        if len(self.frames) < 3:
            self.skipTest(f"only {len(self.frames)} frames")
        blob = b"".join(self.piece(i) for i in range(len(self.frames)) if i != 1)
        self.assertFails(self.verify_blob(blob), 3)

    def test_frame_repeated(self):
        order = [0] + list(range(len(self.frames)))
        if len(self.frames) >= 3:
            order = [0, 1, 1] + list(range(2, len(self.frames)))
        blob = b"".join(self.piece(i) for i in order)
        self.assertFails(self.verify_blob(blob), 3)


if __name__ == "__main__":
    unittest.main()
