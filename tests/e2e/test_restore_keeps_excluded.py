"""restore keeps what the archive left out (issue 12, point 3).

An archive made with --exclude (the man page's 'data/metadata/*'), and every archive for the log,
cache and transcode directories create leaves out, lacks parts of the trees on purpose. restore
takes those from the current trees (hard links, inside the journaled swap), says so in its summary
and --dry-run, and --no-keep-excluded restores the archive alone. A kill -9 at any instant, then
`recover`, still leaves the kept entries in place.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_restore_keeps_excluded.py
"""

import os
import random
import signal
import time
import unittest

import e2e_util as u
import restore_util as r

EXCLUDE = "data/metadata/*"


def files_below(root) -> dict:
    """Relative path -> (content, inode) of every regular file below `root`."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if not os.path.islink(p):
                out[os.path.relpath(p, root)] = (open(p, "rb").read(), st.st_ino)
    return out


class KeepsExcluded(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.mkdir("srv")
        self.config, self.data = r.marked_trees(self.srv, "A", seed=1)
        # What the archive will leave out: the metadata (by --exclude) and the log directory.
        u.write_file(self.data / "metadata/library/ab/poster.jpg", b"JPEG poster\n")
        u.write_file(self.data / "metadata/People/x/actor.nfo", b"<person/>\n")
        u.write_file(self.data / "log/log_20261201.log", b"[INF] started\n")
        self.archive = self.create_archive(self.config, self.data, "--exclude", EXCLUDE)
        # Since the backup: the metadata grew; a file the archive has changed.
        u.write_file(self.data / "metadata/library/cd/fanart.jpg", b"JPEG fanart\n")
        u.write_file(self.data / "MARKER.txt", b"changed since\n")

    def restore(self, *extra, expect=0):
        res = u.run(["restore", self.archive, "--config", self.config, "--data", self.data, *extra])
        self.assertExit(res, expect)
        return res

    def test_kept_in_the_restored_tree(self):
        metadata_before = files_below(self.data / "metadata")
        log_before = files_below(self.data / "log")
        res = self.restore()
        # The very files, not copies: inode and content as before the restore.
        self.assertEqual(files_below(self.data / "metadata"), metadata_before, res.describe())
        self.assertEqual(files_below(self.data / "log"), log_before)
        # What the archive has is the archive's.
        self.assertEqual((self.data / "MARKER.txt").read_bytes().split()[0], b"A")
        # The summary says what was kept and why.
        self.assertIn("kept from the current tree", res.stdout)
        self.assertIn(f"data/metadata/library (--exclude '{EXCLUDE}')", res.stdout)
        self.assertIn("data/log (log directory, never backed up)", res.stdout)
        # The old tree is whole too: it shares the kept files.
        (bak,) = r.backups(self.srv, "data")
        self.assertEqual(files_below(self.srv / bak / "metadata"), metadata_before)

    def test_json_lists_what_was_kept(self):
        res = self.restore("--json")
        trees = {t["name"]: t for t in res.json()["trees"]}
        kept = {k["path"]: k for k in trees["data"]["kept"]}
        self.assertEqual(sorted(kept), ["data/log", "data/metadata/People", "data/metadata/library"])
        self.assertEqual(kept["data/metadata/library"]["reason"], f"--exclude '{EXCLUDE}'")
        library = self.data / "metadata/library"
        walked = [(d, names + dirs) for d, dirs, names in os.walk(library)]
        walked_files = [(d, names) for d, _, names in os.walk(library)]
        self.assertEqual(kept["data/metadata/library"]["entries"], 1 + sum(len(n) for _, n in walked))
        self.assertEqual(kept["data/metadata/library"]["bytes"],
                         sum(os.lstat(os.path.join(d, n)).st_size for d, names in walked_files for n in names
                             if not os.path.islink(os.path.join(d, n))))
        self.assertEqual(trees["config"]["kept"], [])
        self.assertIs(res.json()["keep_excluded"], True)

    def test_dry_run_says_what_would_be_kept(self):
        before = [u.snapshot(self.config), u.snapshot(self.data)]
        res = self.restore("--dry-run")
        self.assertIn("would keep from the current tree", res.stdout)
        self.assertIn("data/metadata/library", res.stdout)
        # Kept entries are not counted as removed: the diff is of the tree the swap would make.
        data_line = next(l for l in res.stdout.splitlines() if l.lstrip().startswith("data "))
        self.assertIn("remove 0,", data_line)
        for old, tree in zip(before, (self.config, self.data)):
            self.assertEqual(r.snapshot_diff(old, u.snapshot(tree)), [], "a dry run changes nothing")

    def test_no_keep_excluded_restores_the_archive_alone(self):
        metadata_before = files_below(self.data / "metadata")
        dry = self.restore("--dry-run", "--no-keep-excluded", "--json")
        data = next(t for t in dry.json()["trees"] if t["name"] == "data")
        self.assertEqual(data["kept"], [])
        self.assertGreater(data["changes"]["removed"], 0)
        res = self.restore("--no-keep-excluded")
        self.assertNotIn("from the current tree", res.stdout)
        self.assertEqual(sorted(os.listdir(self.data / "metadata")), [], "the archive's metadata is empty")
        self.assertFalse((self.data / "log").exists())
        (bak,) = r.backups(self.srv, "data")
        self.assertEqual(files_below(self.srv / bak / "metadata"), metadata_before, "in the old tree")

    def test_only_what_the_archive_left_out(self):
        # A file new since the backup, in a directory the archive has, is not kept: the restored
        # tree is the archive's, plus what the archive never had by choice.
        u.write_file(self.data / "plugins/new.dll", b"MZ")
        self.restore()
        self.assertFalse((self.data / "plugins/new.dll").exists())
        self.assertTrue((self.data / "metadata/library/cd/fanart.jpg").exists())

    def test_kill_anywhere_keeps_them(self):
        # kill -9 at random instants of a restore, then recover: the kept files are in the
        # target whatever the instant (in the restored tree, or in the old one put back).
        other_config, other_data = r.marked_trees(self.mkdir("other"), "B", seed=2)
        u.write_random_file(other_data / "bulk.bin", 4 << 20)
        b = self.create_archive(other_config, other_data, "--exclude", EXCLUDE, name="b.tar.zst")
        metadata = {k: v[0] for k, v in files_below(self.data / "metadata").items()}
        argv = ["restore", b, "--config", self.config, "--data", self.data, "--quiet", "--discard-old"]
        start = time.monotonic()
        self.assertExit(u.run(argv), 0)
        span = time.monotonic() - start
        rng = random.Random(12)
        for i in range(8):
            proc = u.popen(argv, stdout=None, stderr=None)
            time.sleep(rng.uniform(0, span))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            rec = u.run(["recover", "--config", self.config, "--data", self.data])
            self.assertExit(rec, 0, f"round {i}")
            got = {k: v[0] for k, v in files_below(self.data / "metadata").items()}
            self.assertEqual(got, metadata, f"round {i}: the kept metadata is whole")
            markers = {(t / "MARKER.txt").read_bytes().split()[0] for t in (self.config, self.data)}
            self.assertEqual(len(markers), 1, f"round {i}: data and config from one backup")
            self.assertEqual(r.leftovers(self.srv), [])
            self.assertEqual(u.journals(), [])


@unittest.skipUnless(u.is_root(), "needs root: the current tree belongs to another user")
class KeepsSafely(u.E2ETestCase):
    def test_links_are_kept_not_followed(self):
        # The jellyfin user owns the trees: a symlink (and a hard link of a file it owns) in what
        # the archive left out is kept as it is; nothing it points at is read or changed.
        srv = self.mkdir("srv")
        config, data = r.marked_trees(srv, "A", seed=1)
        u.write_file(data / "log/ok.log", b"x\n")
        archive = self.create_archive(config, data)
        u.give_to_nobody(srv)
        os.symlink("/etc/shadow", data / "log/evil")
        shadow = os.stat("/etc/shadow")
        owner = os.lstat(data / "log/ok.log").st_uid
        res = u.run(["restore", archive, "--config", config, "--data", data, "--json"])
        self.assertExit(res, 0)
        self.assertEqual(os.readlink(data / "log/evil"), "/etc/shadow")
        after = os.stat("/etc/shadow")
        self.assertEqual((after.st_nlink, after.st_ctime_ns), (shadow.st_nlink, shadow.st_ctime_ns))
        self.assertEqual(os.lstat(data / "log/ok.log").st_uid, owner)


if __name__ == "__main__":
    unittest.main()
