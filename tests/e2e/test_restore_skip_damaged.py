"""restore --skip-damaged (issue 12, point 7): restore what verified, keep the damaged files as they
are in the current trees; a damaged config or database still refuses.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_restore_skip_damaged.py
"""

import os

import e2e_util as u
import restore_util as r

POSTER = "data/metadata/library/ab/poster.jpg"


def wrong_hash_for(name):
    def edit(lines):
        for i, (h, n) in enumerate(lines):
            if n == name:
                lines[i] = ("0" * 32, n)
    return edit


class SkipDamaged(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.mkdir("srv")
        self.config, self.data = self.srv / "config", self.srv / "data"
        u.write_file(self.config / "system.xml", b"<old/>\n")
        u.write_file(self.data / "data/jellyfin.db", b"old db")
        u.write_file(self.data / POSTER[len("data/"):], b"current poster\n")
        self.poster_ino = os.lstat(self.data / POSTER[len("data/"):]).st_ino

    def builder(self):
        b = r.ArchiveBuilder()
        b.dir("config").file("config/system.xml", b"<ServerConfiguration/>\n")
        b.dir("data").dir("data/data").file("data/data/jellyfin.db", b"SQLite format 3\x00" + b"x" * 300)
        b.dir("data/metadata").dir("data/metadata/library").dir("data/metadata/library/ab")
        b.file(POSTER, b"archived poster\n").file("data/metadata/library/ab/fanart.jpg", b"fanart\n")
        return b

    def trees(self):
        return [u.snapshot(self.config), u.snapshot(self.data)]

    def restore(self, archive, *extra):
        return u.run(["restore", archive, "--config", self.config, "--data", self.data, *extra])

    def test_refused_without_the_flag_and_the_hint_offers_it(self):
        archive = self.builder().archive(self.tmp / "a.tar.zst", checksum_edit=wrong_hash_for(POSTER))
        before = self.trees()
        res = self.restore(archive)
        self.assertFails(res, 3, POSTER, "--skip-damaged")
        self.assertEqual(self.trees(), before, "the targets are untouched")

    def test_restores_the_rest_and_keeps_the_current_file(self):
        archive = self.builder().archive(self.tmp / "a.tar.zst", checksum_edit=wrong_hash_for(POSTER))
        res = self.restore(archive, "--skip-damaged", "--json")
        self.assertExit(res, 0)
        j = res.json()
        self.assertEqual(j["skipped_damaged"], [POSTER])
        poster = self.data / POSTER[len("data/"):]
        self.assertEqual(poster.read_bytes(), b"current poster\n")
        self.assertEqual(os.lstat(poster).st_ino, self.poster_ino, "the current file itself")
        self.assertEqual((self.data / "metadata/library/ab/fanart.jpg").read_bytes(), b"fanart\n")
        self.assertEqual((self.config / "system.xml").read_bytes(), b"<ServerConfiguration/>\n")
        data = next(t for t in j["trees"] if t["name"] == "data")
        self.assertIn({"path": POSTER, "reason": "damaged in the archive", "entries": 1,
                       "bytes": len(b"current poster\n")}, data["kept"])

    def test_text_summary_names_the_skipped_files(self):
        archive = self.builder().archive(self.tmp / "a.tar.zst", checksum_edit=wrong_hash_for(POSTER))
        res = self.restore(archive, "--skip-damaged", "--dry-run")
        self.assertExit(res, 0)
        self.assertIn(f"Would skip 1 damaged file (--skip-damaged): {POSTER}; kept as in the current trees",
                      res.stdout)
        self.assertEqual((self.config / "system.xml").read_bytes(), b"<old/>\n", "a dry run")

    def test_a_damaged_file_the_current_tree_lacks_is_not_restored(self):
        os.unlink(self.data / POSTER[len("data/"):])
        archive = self.builder().archive(self.tmp / "a.tar.zst", checksum_edit=wrong_hash_for(POSTER))
        res = self.restore(archive, "--skip-damaged")
        self.assertExit(res, 0)
        self.assertIn("0 kept as in the current trees, 1 not restored", res.stdout)
        self.assertFalse((self.data / POSTER[len("data/"):]).exists(), "never the damaged bytes")

    def test_config_or_database_damaged_still_refuses(self):
        for name, what in (("config/system.xml", "the config"), ("data/data/jellyfin.db", "a database")):
            with self.subTest(name=name):
                archive = self.builder().archive(self.tmp / "a.tar.zst", checksum_edit=wrong_hash_for(name))
                before = self.trees()
                res = self.restore(archive, "--skip-damaged")
                self.assertFails(res, 3, name, f"{what} is damaged")
                self.assertEqual(self.trees(), before, "the targets are untouched")

    def test_damage_beyond_contents_still_refuses(self):
        b = self.builder()
        b.symlink("data/link", "/etc").file("data/link/x", b"beneath a symlink")
        archive = b.archive(self.tmp / "a.tar.zst")
        res = self.restore(archive, "--skip-damaged")
        self.assertFails(res, 3, "not confined to files' contents")

    def test_a_damaged_path_that_is_not_plain_is_refused(self):
        # A hostile checksum list names "data/metadata//poster.jpg": it cannot be left out by name.
        def edit(lines):
            for i, (h, n) in enumerate(lines):
                if n == "data/metadata/library/ab/fanart.jpg":
                    lines[i] = (h, "data/metadata//fanart.jpg")
        archive = self.builder().archive(self.tmp / "a.tar.zst", checksum_edit=edit)
        before = self.trees()
        res = self.restore(archive, "--skip-damaged")
        self.assertFails(res, 3, "is not a plain path")
        self.assertEqual(self.trees(), before)

    def test_only_config_ignores_damage_in_data(self):
        archive = self.builder().archive(self.tmp / "a.tar.zst",
                                         checksum_edit=wrong_hash_for("data/data/jellyfin.db"))
        res = self.restore(archive, "--skip-damaged", "--only", "config")
        self.assertExit(res, 0)
        self.assertEqual((self.config / "system.xml").read_bytes(), b"<ServerConfiguration/>\n")

    def test_a_flipped_byte_in_a_real_archive(self):
        # A real create, one byte flipped inside a large artwork file (stored raw by zstd): the
        # frame fails its checksum and the file its own; the rest is restored, with a warning.
        src = self.mkdir("src")
        config, data = r.marked_trees(src, "A", seed=3)
        blob = os.urandom(256 << 10)
        u.write_file(data / "metadata/library/zz/backdrop.jpg", blob)
        archive = self.create_archive(config, data)
        raw = bytearray(archive.read_bytes())
        at = raw.find(blob[100000:100064])
        self.assertGreater(at, 0, "the random bytes are stored raw")
        raw[at + 10] ^= 0x01
        archive.write_bytes(bytes(raw))
        res = self.restore(archive, "--skip-damaged", "--json")
        self.assertExit(res, 0)
        self.assertEqual(res.json()["skipped_damaged"], ["data/metadata/library/zz/backdrop.jpg"])
        self.assertTrue(any("content checksum mismatch" in w and "no checksum of its own" in w
                            for w in res.json()["warnings"]), res.describe())
        self.assertFalse((self.data / "metadata/library/zz/backdrop.jpg").exists())
        self.assertEqual((self.data / "MARKER.txt").read_bytes().split()[0], b"A")


if __name__ == "__main__":
    import unittest
    unittest.main()
