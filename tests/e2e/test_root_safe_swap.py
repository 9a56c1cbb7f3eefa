"""Root-safe swap, journals and removal (issue 11, points 2, 3 and the removal half of 5).

Threat: the `jellyfin` user (here the unprivileged user 65534) owns the trees and races root. Root's
restore and recover must never move, delete or chmod anything outside the trees they were given,
must never execute a journal someone else could have written, and a restore must finish once its
swap is done, whatever the tree's owner does to the old tree.

  * a journal planted where older versions looked (beside the target, inside the outer tree of a
    nested layout) is ignored: recover finds nothing to do, create is not blocked; the state
    directory is closed to the user; a state directory the user owns is refused (exit 4);
  * while `restore --discard-old` removes the old tree, its owner keeps swapping directories for
    symlinks to a root-only sentinel: the sentinel is untouched, the restore completes (at most a
    warning), no journal is left, and create works afterwards;
  * an old tree of 20,000 nested directories is discarded with a low fd limit, by restore and by
    recover.

Needs root (it drops to the unprivileged user with setpriv); skipped otherwise.
Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_root_safe_swap.py
"""

import json
import os
import subprocess
import sys
import time
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r

RACE_SECONDS = 3.0  # per round; every race loop is bounded by this


def needs_root(case: unittest.TestCase):
    if not u.is_root():
        case.skipTest("needs root: the attacks are an unprivileged user racing root")


class RootSafeCase(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        needs_root(self)
        # Root's own directory, mode 0700, that nothing may touch.
        self.sentinel = self.mkdir("sentinel")
        os.chmod(self.sentinel, 0o700)
        u.write_file(self.sentinel / "shadow", b"root:secret\n", 0o600)
        self.mkdir("sentinel", "inner")
        os.chmod(self.sentinel / "inner", 0o700)
        u.write_file(self.sentinel / "inner" / "keep", b"keep\n", 0o600)
        self.sentinel_before = u.snapshot(self.sentinel)
        self.sentinel_mode = os.lstat(self.sentinel).st_mode

    def assertSentinelIntact(self, ctx: str = ""):
        self.assertEqual(os.lstat(self.sentinel).st_mode, self.sentinel_mode, ctx)
        problems = r.snapshot_diff(self.sentinel_before, u.snapshot(self.sentinel))
        self.assertEqual(problems, [], "root's sentinel directory was touched " + ctx)

    def assertNoJournal(self, ctx: str = ""):
        self.assertEqual(u.journals(), [], "a journal was left in the state directory " + ctx)

    def as_nobody(self, code: str, *args, timeout=u.DEFAULT_TIMEOUT) -> subprocess.CompletedProcess:
        return subprocess.run(u.SETPRIV + [sys.executable, "-c", code, *map(str, args)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              cwd="/")


class ForgedJournal(RootSafeCase):
    """Point 2: recover executes only journals of its own state directory, and only for its trees."""

    def nested(self):
        # A Docker-like layout: config inside data, the whole of data the user's.
        srv = self.mkdir("srv")
        config, data = u.make_basic_trees(srv / "data-root")
        os.rename(data, srv / "data")
        data = srv / "data"
        os.rename(config, data / "config")
        config = data / "config"
        os.rmdir(srv / "data-root")
        u.give_to_nobody(data)
        return srv, config, data

    def old_style_journal(self, target: Path) -> dict:
        """What older versions wrote and executed: paths to rename and remove."""
        victim = self.sentinel
        return {"journal": "jellyfin-backup restore", "version": 1, "archive": "x",
                "archive_created": "2026-01-01T00:00:00Z", "discard_old": True,
                "trees": [{"name": "config", "target": str(victim),
                           "staging": str(target) + "/../x", "backup": str(victim) + ".bak",
                           "target_existed": True, "staged_dev": 0, "staged_ino": 0,
                           "in_place": False}]}

    def test_planted_journals_are_ignored_and_do_not_block(self):
        srv, config, data = self.nested()
        forged = json.dumps(self.old_style_journal(config))
        # As the user: where the old code looked (beside config, i.e. inside data), and the state
        # directory, which must be closed to it.
        os.makedirs(u.STATE_DIR, mode=0o700, exist_ok=True)
        res = self.as_nobody(
            "import sys, os\n"
            "open(sys.argv[1], 'w').write(sys.argv[3])\n"
            "try:\n"
            "    open(os.path.join(sys.argv[2], 'x.journal'), 'w').write(sys.argv[3])\n"
            "    print('WROTE')\n"
            "except OSError as e:\n"
            "    print('DENIED', e.errno)\n",
            data / ".config.jellyfin-backup-journal", u.STATE_DIR, forged)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(b"DENIED", res.stdout, "the unprivileged user could write into the state dir")

        res = u.run(["recover", "--config", config, "--data", data, "--json"])
        self.assertExit(res, 0, "recover with only planted journals")
        self.assertEqual(res.json()["outcome"], "nothing_pending", res.describe())
        self.assertSentinelIntact("by recover")
        self.assertTrue((data / ".config.jellyfin-backup-journal").exists(),
                        "a file of the user's tree was removed")

        out = self.mkdir("out")
        res = u.run(["create", "--config", config, "--data", data, "--output", out, "--quiet"])
        self.assertExit(res, 0, "create must not be blocked by a file planted in the tree")
        self.assertSentinelIntact("by create")

    def test_state_dir_owned_by_the_user_is_refused(self):
        srv, config, data = self.nested()
        # A state directory the user owns, with a journal keyed right for `data`: root must not
        # read it, let alone execute it.
        own = self.mkdir("nobody-state")
        u.give_to_nobody(own)
        os.chmod(own, 0o700)
        journal = Path(u.journal_path(data, str(own)))
        journal.write_text(json.dumps(self.old_style_journal(data)))
        u.give_to_nobody(own)
        env = dict(os.environ, JELLYFIN_BACKUP_STATE_DIR=str(own))
        res = u.run(["recover", "--config", config, "--data", data], env=env)
        self.assertFails(res, 4, str(own))
        self.assertSentinelIntact()
        self.assertTrue(journal.exists(), "an untrusted journal must be reported, not removed")

    def test_journal_not_ours_in_our_state_dir_is_not_executed(self):
        srv, config, data = self.nested()
        os.makedirs(u.STATE_DIR, mode=0o700, exist_ok=True)
        journal = Path(u.journal_path(data))
        journal.write_text(json.dumps(self.old_style_journal(data)))
        self.addCleanup(lambda: journal.unlink(missing_ok=True))
        os.chown(journal, u.NOBODY, u.NOBODY)
        res = u.run(["recover", "--config", config, "--data", data])
        self.assertFails(res, 4, "not trusted")
        self.assertSentinelIntact()
        # Ours (root's), but in the old format that named paths: invalid, never executed.
        os.chown(journal, 0, 0)
        res = u.run(["recover", "--config", config, "--data", data])
        self.assertFails(res, 3, "not a valid restore journal")
        self.assertSentinelIntact()


class RaceDuringDiscard(RootSafeCase):
    """Point 3: the old tree's owner swaps directories for symlinks while root removes it."""

    RACER = (
        "import os, sys, time\n"
        "os.chdir(sys.argv[1])\n"  # follows the old tree wherever root renames it
        "target, end = sys.argv[2], time.monotonic() + float(sys.argv[3])\n"
        "swaps = 0\n"
        "while time.monotonic() < end:\n"
        "    for i in range(40):\n"
        "        n = 'd%d' % i\n"
        "        try:\n"
        "            os.rename(n, n + '.%d' % swaps)\n"
        "            os.symlink(target, n)\n"
        "            swaps += 1\n"
        "        except OSError:\n"
        "            pass\n"
        "print(swaps)\n")

    def test_symlink_swaps_never_reach_outside(self):
        srv = self.mkdir("srv")
        config, data = u.make_basic_trees(srv)
        archive = self.create_archive(config, data)
        deadline = time.monotonic() + 4 * RACE_SECONDS
        rounds = 0
        while rounds < 3 and time.monotonic() < deadline:
            rounds += 1
            # An old tree with many directories, the user's.
            meta = data / "metadata"
            for i in range(40):
                for j in range(5):
                    u.write_file(meta / f"d{i}" / f"s{j}" / "f", b"x", 0o644)
            u.give_to_nobody(data)
            racer = subprocess.Popen(
                u.SETPRIV + [sys.executable, "-c", self.RACER, meta, self.sentinel, str(RACE_SECONDS)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
            time.sleep(0.05)
            res = u.run(["restore", archive, "--config", config, "--data", data, "--discard-old",
                         "--force", "--quiet"])
            out, err = racer.communicate(timeout=RACE_SECONDS + 30)
            ctx = f"(round {rounds}; racer swaps {out!r} {err[-300:]!r})"
            self.assertExit(res, 0, "restore --discard-old must finish after its swap " + ctx)
            for w in u.warning_lines(res):
                if "in use" not in w:  # the racer itself, which --force lets by
                    self.assertIn("remove", w, ctx)
            self.assertSentinelIntact(ctx)
            self.assertNoJournal(ctx)
            self.assertEqual(r.leftovers(srv), [], ctx)
            res = u.run(["create", "--config", config, "--data", data,
                         "--output", self.mkdir("out", str(rounds)), "--quiet"])
            self.assertExit(res, 0, "create after the raced restore " + ctx)
            for n in u.list_dir(srv):  # what the warning said to remove by hand
                if r.BACKUP_RE.match(n):
                    u.rmtree_force(srv / n)


class DeepOldTree(RootSafeCase):
    """Point 5: an old tree of 20,000 nested directories is discarded with few fds."""

    DEPTH = 20000

    def test_discard_deep_old_tree_with_bounded_fds(self):
        srv = self.mkdir("srv")
        config, data = u.make_basic_trees(srv)
        archive = self.create_archive(config, data)
        self.make_deep(data)
        res = subprocess.run(["prlimit", "--nofile=64:64", u.BIN, "restore", archive, "--config", config,
                              "--data", data, "--discard-old", "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600,
                             stdin=subprocess.DEVNULL)
        self.assertEqual(res.returncode, 0, res.stderr.decode(errors="replace"))
        self.assertEqual(u.warning_lines(u.Result([], res.returncode, res.stdout, res.stderr)), [])
        self.assertFalse((data / "d").exists(), "the deep old tree is still in place")
        self.assertEqual(sorted(os.listdir(srv)), ["config", "data"])
        self.assertNoJournal()

    def test_recover_discards_deep_old_tree_with_bounded_fds(self):
        # The state a restore --discard-old leaves when killed right after its journal: a staged
        # data tree beside the target, the journal in the state directory. The old tree is deep.
        srv = self.mkdir("srv")
        config, data = u.make_basic_trees(srv)
        self.make_deep(data)
        staging = srv / ".data.jellyfin-backup-staging.999999"
        staging.mkdir(mode=0o755)
        u.write_file(staging / ".jellyfin-data", b"", 0o644)
        u.write_file(staging / "new.txt", b"new\n", 0o644)
        st = os.lstat(staging)
        journal = {"journal": "jellyfin-backup restore", "version": 2, "archive": "test",
                   "archive_created": "2026-01-01T00:00:00Z", "discard_old": True,
                   "trees": [{"name": "data", "target": str(data), "staging_id": "999999",
                              "backup_id": "20260101T000000Z", "target_existed": True,
                              "staged_dev": st.st_dev, "staged_ino": st.st_ino, "in_place": False}]}
        os.makedirs(u.STATE_DIR, mode=0o700, exist_ok=True)
        path = u.journal_path(data)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, json.dumps(journal).encode())
        os.close(fd)
        self.addCleanup(lambda: os.path.lexists(path) and os.unlink(path))
        res = subprocess.run(["prlimit", "--nofile=64:64", u.BIN, "recover", "--config", config,
                              "--data", data, "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600,
                             stdin=subprocess.DEVNULL)
        self.assertEqual(res.returncode, 0, res.stderr.decode(errors="replace"))
        self.assertEqual(json.loads(res.stdout)["outcome"], "completed")
        self.assertEqual((data / "new.txt").read_bytes(), b"new\n")
        self.assertEqual(sorted(os.listdir(srv)), ["config", "data"])
        self.assertNoJournal()

    def make_deep(self, root: Path):
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for _ in range(self.DEPTH):
                os.mkdir("d", 0o755, dir_fd=fd)
                nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = nxt
        finally:
            os.close(fd)


if __name__ == "__main__":
    unittest.main(verbosity=2)
