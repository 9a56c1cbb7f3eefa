"""create --exclude GLOB: base-name and path patterns, directories pruned (CLI_SPEC "create").

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_exclude.py
"""

import json
import os
import unittest

import e2e_util as u


class Exclude(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        src = self.mkdir("src")
        self.config = src / "config"
        self.data = src / "data"
        for rel in ("config/a.xml", "config/sub/b.xml", "config/keep.json",
                    "data/a.log", "data/sub/b.log", "data/sub/deep/c.log", "data/keep.txt",
                    "data/metadata/x/y.jpg", "data/metadata/z.nfo",
                    "data/cache/img/1.jpg", "data/sub/cache/f.txt", "data/cachefile.txt",
                    "data/logs.txt"):
            u.write_file(src / rel, rel.encode() + b"\n")

    def archive_names(self, archive):
        tar = u.zstd_decompress(archive.read_bytes())
        return {m.name.rstrip("/") for m in u.tar_members(tar)}, tar

    def test_patterns(self):
        excludes = ["*.log", "data/metadata/*", "config/*.xml", "cache"]
        args = [a for e in excludes for a in ("--exclude", e)]
        archive = self.create_archive(self.config, self.data, *args)
        names, tar = self.archive_names(archive)
        expected = {
            "MANIFEST.json", "CHECKSUMS.xxh128",
            "config", "config/sub", "config/keep.json",
            "data", "data/sub", "data/sub/deep", "data/keep.txt", "data/metadata",
            "data/cachefile.txt", "data/logs.txt",
        }
        self.assertEqual(names, expected)
        manifest = json.loads(u.read_member(tar, "MANIFEST.json"))
        self.assertEqual(manifest["excludes"], excludes)
        self.assertEqual([t["files"] for t in manifest["trees"]], [1, 3])
        sums = u.parse_checksums(u.read_member(tar, "CHECKSUMS.xxh128"))
        self.assertEqual(set(sums), {b"MANIFEST.json", b"config/keep.json", b"data/keep.txt",
                                     b"data/cachefile.txt", b"data/logs.txt"})
        self.assertExit(u.run(["verify", "--quiet", archive]), 0)

    def test_path_pattern_matches_archive_path_only(self):
        # "keep.txt" with a '/' must match the archive path, not a base name elsewhere.
        u.write_file(self.data / "sub" / "keep.txt", b"other keep\n")
        archive = self.create_archive(self.config, self.data, "--exclude", "data/keep.txt")
        names, _ = self.archive_names(archive)
        self.assertNotIn("data/keep.txt", names)
        self.assertIn("data/sub/keep.txt", names)

    def test_star_crosses_slash(self):
        archive = self.create_archive(self.config, self.data, "--exclude", "data/*.txt")
        names, _ = self.archive_names(archive)
        for gone in ("data/keep.txt", "data/sub/cache/f.txt", "data/cachefile.txt", "data/logs.txt"):
            self.assertNotIn(gone, names)
        self.assertIn("data/sub/b.log", names)

    def test_excluded_directory_is_not_read(self):
        # An excluded directory is pruned: its unreadable contents cause no error.
        blocked = self.data / "cache"
        if u.is_root():
            u.give_to_nobody(self.tmp / "src")
        out = self.mkdir("out")
        u.give_to_nobody(out)
        os.chmod(blocked, 0o000)
        res = self.create(self.config, self.data, out / "a.tar.zst", "--exclude", "cache",
                          drop_privs=True, cwd=self.tmp)
        self.assertEqual(u.warning_lines(res), [])
        names, _ = self.archive_names(out / "a.tar.zst")
        self.assertNotIn("data/cache", names)


if __name__ == "__main__":
    unittest.main()
