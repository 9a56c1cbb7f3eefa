"""restore refuses hostile archives (issue "restore", points 1 and 3).

Every archive here is built by the test itself with Python's tarfile (pax format) and compressed with
`zstd -q --check -3`: a valid MANIFEST.json whose counts match the entries and a CHECKSUMS.xxh128
computed with xxh128sum, so that the one hostile aspect of each case is all that is wrong (or, for
"more bytes than announced", the manifest's count on purpose).

Each refused case must exit 3, leave the existing targets exactly as they were, leave no staging
directory or journal, and write nothing outside the targets: symlinks point at an empty sentinel
directory that must stay empty, hard links at a secret file that must keep its link count.

Device nodes and setuid/setgid files are refused unless --allow-special is given
(test_root_safe_archive.py); with it, only root restores them: as another user the restore
succeeds, skipping the node with a warning and dropping the bits.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_restore_hostile.py
"""

import os
import stat
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r


class HostileCase(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.mkdir("srv")
        self.config, self.data = u.make_basic_trees(self.srv, seed=11)
        self.sentinel = self.mkdir("sentinel")
        self.secret_dir = self.mkdir("secret")
        self.secret = u.write_file(self.secret_dir / "passwd", b"root:x:0:0::/root:/bin/sh\n", 0o600)
        self.archive_path = self.tmp / "hostile.tar.zst"

    def builder(self) -> r.ArchiveBuilder:
        return r.ArchiveBuilder().base()

    def state(self) -> dict:
        return {
            "tmp": u.list_dir(self.tmp),
            "srv": u.list_dir(self.srv),
            "config": u.snapshot(self.config),
            "data": u.snapshot(self.data),
            "sentinel": u.snapshot(self.sentinel),
            "secret": u.snapshot(self.secret_dir),
        }

    def write(self, archive) -> Path:
        if isinstance(archive, bytes):
            return r.write_archive(self.archive_path, archive)
        return archive.archive(self.archive_path)

    def restore(self, *extra, drop_privs=False) -> u.Result:
        return u.run(["restore", self.archive_path, "--config", self.config, "--data", self.data,
                      *extra], drop_privs=drop_privs)

    def assertNothingChanged(self, before: dict, res: u.Result):
        after = self.state()
        self.assertEqual(after["tmp"], before["tmp"], f"something appeared beside the install\n"
                         + res.describe())
        self.assertEqual(after["srv"], before["srv"],
                         "staging directory, journal or backup left beside the targets\n"
                         + res.describe())
        for key in ("config", "data", "sentinel", "secret"):
            problems = r.snapshot_diff(before[key], after[key])
            if problems:
                self.fail(f"{key} was modified: " + "; ".join(problems[:10]) + "\n" + res.describe())

    def assertRefused(self, archive, *needles, dry_run_too=False):
        """`archive` (a builder or tar bytes) is refused with exit 3 and changes nothing."""
        self.write(archive)
        before = self.state()
        for extra in ([], ["--dry-run"]) if dry_run_too else ([],):
            res = self.restore(*extra)
            self.assertExit(res, 3, f"a hostile archive must be refused ({' '.join(extra)})")
            self.assertErrorShape(res, *needles, one_line=False)
            self.assertNothingChanged(before, res)
        return res

    def assertRefusedEach(self, cases: dict):
        for label, (archive, needles) in cases.items():
            with self.subTest(case=label):
                self.assertRefused(archive, *needles)


class Paths(HostileCase):
    def test_control_well_formed_archive_restores(self):
        # The builder itself makes archives the binary accepts: the refusals below are about the
        # hostile aspect only.
        b = self.builder().dir("data/sub").file("data/sub/f", b"fine\n").symlink("data/sl", "sub/f")
        b.hardlink("data/hl", "data/sub/f").dir("config/empty")
        self.write(b)
        self.assertExit(u.run(["verify", self.archive_path]), 0)
        res = self.restore("--discard-old")
        self.assertExit(res, 0)
        self.assertEqual((self.data / "sub" / "f").read_bytes(), b"fine\n")
        self.assertEqual(os.readlink(self.data / "sl"), "sub/f")
        self.assertEqual(os.stat(self.data / "hl").st_ino, os.stat(self.data / "sub" / "f").st_ino)
        self.assertEqual(r.leftovers(self.srv), [])

    def test_absolute_path(self):
        evil = str(self.sentinel / "evil")
        self.assertRefusedEach({
            "absolute into sentinel": (self.builder().file(evil, b"pwned\n"), [evil]),
            "absolute data/": (self.builder().file("/data/evil", b"pwned\n"), ["/data/evil"]),
            "absolute dir": (self.builder().dir(str(self.sentinel / "d")), [str(self.sentinel)]),
            "absolute symlink name": (self.builder().symlink(evil, "/etc/passwd"), [evil]),
        })

    def test_dotdot_component(self):
        self.assertRefusedEach({
            "data/../..": (self.builder().file("data/../../sentinel/evil", b"x"),
                           ["data/../../sentinel/evil"]),
            "leading ..": (self.builder().file("../sentinel/evil", b"x"), ["../sentinel/evil"]),
            "deep ..": (self.builder().dir("data/sub").file("data/sub/../../../sentinel/evil", b"x"),
                        ["data/sub/../../../sentinel/evil"]),
            "dir ..": (self.builder().dir("config/../data/x"), ["config/../data/x"]),
            "trailing ..": (self.builder().dir("data/sub").dir("data/sub/.."), ["data/sub/.."]),
        })

    def test_outside_the_trees(self):
        self.assertRefusedEach({
            "other/": (self.builder().file("other/evil", b"x"), ["other/evil"]),
            "prefix of a tree name": (self.builder().file("configx/evil", b"x"), ["configx/evil"]),
            "top-level file": (self.builder().file("evil", b"x"), ["evil"]),
            "second MANIFEST.json": (self.builder().file("MANIFEST.json", b"{}"), ["MANIFEST.json"]),
            "top-level symlink": (self.builder().symlink("link", str(self.sentinel)), ["link"]),
        })

    def test_dry_run_refuses_too(self):
        # --dry-run extracts into staging as well: the same refusals, the same cleanliness.
        s = str(self.sentinel)
        cases = {
            "absolute": (self.builder().file(s + "/evil", b"x"), s + "/evil"),
            "beneath symlink": (self.builder().symlink("data/sl", s).file("data/sl/evil", b"x"),
                                "data/sl/evil"),
            "hardlink outside": (self.builder().hardlink("data/h", str(self.secret)), "data/h"),
        }
        for label, (archive, needle) in cases.items():
            with self.subTest(case=label):
                self.assertRefused(archive, needle, dry_run_too=True)

    def test_tree_root_not_a_directory(self):
        b = r.ArchiveBuilder().dir("config").file("config/system.xml", b"<x/>").file("data", b"file")
        self.assertRefused(b, "data")

    def test_empty_component(self):
        self.assertRefusedEach({
            "data//x": (self.builder().file("data//x", b"x"), ["data//x"]),
            "dir data//sub": (self.builder().dir("data//sub"), ["data//sub"]),
            "config//": (self.builder().dir("config/sub").file("config/sub//f", b"x"),
                         ["config/sub//f"]),
        })

    def test_entry_after_trailer(self):
        tar = self.builder().tar()
        end = u.tar_end_of_entries(tar)
        tar = tar[:end] + u.pax_file_entry("data/late", b"after the trailer\n") + b"\0" * 1024
        self.assertRefused(tar, "data/late")


class Symlinks(HostileCase):
    def test_entry_beneath_symlink(self):
        s = str(self.sentinel)
        self.assertRefusedEach({
            "file through absolute symlink": (
                self.builder().symlink("data/sl", s).file("data/sl/evil", b"x"), ["data/sl/evil"]),
            "file through relative symlink": (
                self.builder().symlink("data/sl", "../../sentinel").file("data/sl/evil", b"x"),
                ["data/sl/evil"]),
            "dir through symlink": (
                self.builder().symlink("data/sl", s).dir("data/sl/evil"), ["data/sl/evil"]),
            "symlink through symlink": (
                self.builder().symlink("data/sl", s).symlink("data/sl/evil", "/etc/passwd"),
                ["data/sl/evil"]),
            "deeper beneath symlink": (
                self.builder().symlink("config/sl", s).file("config/sl/a/b/evil", b"x"),
                ["config/sl/a/b/evil"]),
            "symlink to a dir inside the tree": (
                self.builder().dir("data/sub").symlink("data/sl", "sub").file("data/sl/evil", b"x"),
                ["data/sl/evil"]),
            "beneath a regular file": (
                self.builder().file("data/f", b"file").file("data/f/evil", b"x"), ["data/f/evil"]),
        })

    def test_hardlink_through_symlink(self):
        s = str(self.secret_dir)
        self.assertRefusedEach({
            "link created beneath symlink": (
                self.builder().symlink("data/sl", str(self.sentinel))
                .hardlink("data/sl/h", "data/jellyfin.db"), ["data/sl/h"]),
            "link target through symlink": (
                self.builder().symlink("data/sl", s).hardlink("data/stolen", "data/sl/passwd"),
                ["data/stolen"]),
            "link to a symlink pointing outside": (
                self.builder().symlink("data/sl", str(self.secret)).hardlink("data/h", "data/sl"),
                ["data/h"]),
        })

    def test_duplicate_symlink_then_file(self):
        # A symlink, then a file of the same name: writing the file would follow the link.
        b = self.builder().symlink("data/x", str(self.sentinel / "evil")).file("data/x", b"pwned\n")
        self.assertRefused(b, "data/x")


class Hardlinks(HostileCase):
    def test_hardlink_outside_tree(self):
        self.assertRefusedEach({
            "absolute": (self.builder().hardlink("data/h", str(self.secret)), ["data/h"]),
            "relative ..": (self.builder().hardlink("data/h", "../secret/passwd"), ["data/h"]),
            "data/../..": (self.builder().hardlink("data/h", "data/../../secret/passwd"),
                           ["data/h"]),
            "outside both trees": (self.builder().hardlink("data/h", "other/f"), ["data/h"]),
        })

    def test_hardlink_to_not_yet_extracted(self):
        b = self.builder().hardlink("data/h", "data/later").file("data/later", b"later\n")
        self.assertRefused(b, "data/h")

    def test_hardlink_to_other_tree(self):
        self.assertRefused(self.builder().hardlink("data/h", "config/system.xml"), "data/h")

    def test_hardlink_to_non_file(self):
        self.assertRefusedEach({
            "to a directory": (self.builder().dir("data/sub").hardlink("data/h", "data/sub"),
                               ["data/h"]),
            "to itself": (self.builder().hardlink("data/h", "data/h"), ["data/h"]),
            "to a tree root": (self.builder().hardlink("data/h", "data"), ["data/h"]),
        })


class Duplicates(HostileCase):
    def test_duplicate_entries(self):
        self.assertRefusedEach({
            "file twice, other content": (
                self.builder().file("data/dup", b"one\n").file("data/dup", b"two\n"), ["data/dup"]),
            "file twice, same content": (
                self.builder().file("data/dup", b"one\n").file("data/dup", b"one\n"), ["data/dup"]),
            "directory twice": (self.builder().dir("data/d").dir("data/d"), ["data/d"]),
            "tree root twice": (self.builder().dir("data"), ["data"]),
            "file then directory": (self.builder().file("data/x", b"x").dir("data/x"), ["data/x"]),
            "directory then file": (self.builder().dir("data/x").file("data/x", b"x"), ["data/x"]),
            "file then hardlink": (
                self.builder().file("data/a", b"a").file("data/x", b"x").hardlink("data/x", "data/a"),
                ["data/x"]),
        })


class Sizes(HostileCase):
    def sized(self) -> bytes:
        b = self.builder().file("data/sized", b"S" * 1000).file("data/after", b"after\n" * 100)
        return b.tar()

    def test_ustar_size_disagrees_with_data(self):
        tar = self.sized()
        (off,) = r.ustar_header_offsets(tar, "data/sized")
        for size in (0, 10, 1001, 100_000):
            with self.subTest(header_size=size):
                self.assertRefused(r.patch_ustar_size(tar, off, size))

    def test_pax_size_disagrees_with_ustar(self):
        for pax_size in (10, 5000):
            with self.subTest(pax_size=pax_size):
                b = self.builder().file("data/sized", b"S" * 1000, pax={"size": str(pax_size)})
                b.file("data/after", b"after\n")
                self.assertRefused(b)

    def test_more_bytes_than_manifest_announced(self):
        def fewer(m):
            m["trees"][1]["bytes"] -= 1

        b = self.builder().file("data/big", b"y" * 20_000)
        self.assertRefused(b.tar(manifest_edit=fewer), "data/big")

    def test_far_more_bytes_than_manifest_announced(self):
        # A compression bomb: 64 MiB of zeros (a few KiB compressed) in an archive announcing
        # a few hundred bytes. Refused before it is written out.
        def tiny(m):
            m["trees"][1]["bytes"] = 400

        b = self.builder().file("data/bomb", bytes(64 << 20))
        res = self.assertRefused(b.tar(manifest_edit=tiny), "data/bomb")
        self.assertIn("manifest", res.stderr)

    def test_more_bytes_in_config_than_announced(self):
        def fewer(m):
            m["trees"][0]["bytes"] = 0

        self.assertRefused(self.builder().tar(manifest_edit=fewer), "config/system.xml")


class Manifest(HostileCase):
    def test_no_manifest(self):
        self.assertRefused(self.builder().tar(with_manifest=False))

    def test_newer_format_version(self):
        def newer(m):
            m["format_version"] = 2

        res = self.assertRefused(self.builder().tar(manifest_edit=newer))
        self.assertIn("2", res.stderr)

    def test_manifest_not_json(self):
        self.assertRefused(self.builder().tar(manifest_bytes=b"{not json\n"), "MANIFEST.json")

    def test_manifest_not_first(self):
        tar = self.builder().tar()
        # Move MANIFEST.json (header + data) behind the config directory entry.
        start, _, end = u.tar_member_span(tar, "MANIFEST.json")
        c_start, _, c_end = u.tar_member_span(tar, "config")
        self.assertEqual((start, end), (0, c_start), "test premise")
        moved = tar[c_start:c_end] + tar[start:end] + tar[c_end:]
        self.assertRefused(moved)

    def test_tree_missing_from_manifest(self):
        # An archive of the config tree only cannot restore data.
        b = r.ArchiveBuilder().dir("config").file("config/system.xml", b"<x/>\n")

        def config_only(m):
            m["trees"] = [t for t in m["trees"] if t["name"] == "config"]

        self.write(b.tar(manifest_edit=config_only))
        before = self.state()
        res = self.restore("--only", "data")
        self.assertExit(res, 3)
        self.assertNothingChanged(before, res)


class NotRoot(HostileCase):
    """Device nodes and setuid/setgid bits: only root restores them (issue point 3)."""

    def special_builder(self) -> r.ArchiveBuilder:
        return (self.builder()
                .device("data/null", 1, 3)
                .device("data/loop0", 7, 0, block=True)
                .fifo("data/fifo", 0o640)
                .file("data/suid", b"#!/bin/sh\n", mode=0o4755)
                .file("data/sgid", b"#!/bin/sh\n", mode=0o2755)
                .dir("data/sgid-dir", mode=0o2775)
                .file("data/sticky", b"x", mode=0o1644))

    def test_as_unprivileged_user(self):
        if u.is_root():
            u.give_to_nobody(self.srv)
        self.write(self.special_builder())
        res = self.restore("--discard-old", "--allow-special", drop_privs=True)
        self.assertExit(res, 0, "device nodes are skipped with a warning, not refused")
        warnings = "\n".join(u.warning_lines(res))
        for name in ("data/null", "data/loop0"):
            self.assertIn(name, warnings, f"no warning that {name} was not restored")
            self.assertFalse(os.path.lexists(self.data / name.split("/", 1)[1]),
                             f"{name} exists although an unprivileged user cannot make it")
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.data / "fifo").st_mode), "a FIFO needs no root")
        for name, mode in (("suid", 0o755), ("sgid", 0o755)):
            got = stat.S_IMODE(os.lstat(self.data / name).st_mode)
            self.assertEqual(got & 0o6000, 0, f"data/{name}: setuid/setgid kept as non-root "
                                              f"(mode {oct(got)})")
            self.assertEqual(got & 0o777, mode & 0o777, f"data/{name}: mode {oct(got)}")
        got = stat.S_IMODE(os.lstat(self.data / "sgid-dir").st_mode)
        self.assertEqual(got & 0o6000, 0, f"data/sgid-dir: setgid kept as non-root ({oct(got)})")
        self.assertEqual(r.leftovers(self.srv), [])
        self.assertEqual(u.list_dir(self.sentinel), [])

    def test_as_root(self):
        if not u.is_root():
            self.skipTest("needs root")
        self.write(self.special_builder())
        res = self.restore("--discard-old", "--allow-special")
        self.assertExit(res, 0)
        st = os.lstat(self.data / "null")
        self.assertTrue(stat.S_ISCHR(st.st_mode))
        self.assertEqual((os.major(st.st_rdev), os.minor(st.st_rdev)), (1, 3))
        st = os.lstat(self.data / "loop0")
        self.assertTrue(stat.S_ISBLK(st.st_mode))
        self.assertEqual((os.major(st.st_rdev), os.minor(st.st_rdev)), (7, 0))
        self.assertEqual(stat.S_IMODE(os.lstat(self.data / "suid").st_mode), 0o4755)
        self.assertEqual(stat.S_IMODE(os.lstat(self.data / "sgid").st_mode), 0o2755)
        self.assertEqual(stat.S_IMODE(os.lstat(self.data / "sgid-dir").st_mode), 0o2775)


if __name__ == "__main__":
    unittest.main(verbosity=2)
