"""restore and recover, driven as a user would (issue "restore": points 1, 2, 4, 6-12).

create -> restore over an existing different tree gives back the source exactly (content, modes,
owners, mtimes in ns, symlinks, hard links, xattrs, empty dirs) with the old tree kept aside; the
flags (--discard-old, --only, --dry-run, -, --server-version/--force) do what they say; a pending
journal blocks create and restore until `recover`; damaged archives, signals and a full disk leave
the targets exactly as they were, with no staging directory behind.

The hostile-archive cases (point 3) are in test_restore_hostile.py, kill -9 in test_restore_crash.py.

Run: JB_BIN=build/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_restore.py
"""

import calendar
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r

ARCHIVED_VERSION = "10.11.0"


def xattrs_supported(path) -> bool:
    try:
        os.setxattr(path, "user.e2e-probe", b"1")
        os.removexattr(path, "user.e2e-probe")
        return True
    except OSError:
        return False


def small_source(root: Path) -> tuple[Path, Path]:
    """make_basic_trees plus one of each kind the restore must bring back."""
    config, data = u.make_basic_trees(root, seed=1)
    os.symlink("system.xml", config / "system-link.xml")
    (config / "emptydir").mkdir(mode=0o750)
    u.write_file(data / "hard" / "a", b"hard linked\n" * 50, 0o640)
    os.link(data / "hard" / "a", data / "hard" / "b")
    os.symlink("../data/jellyfin.db", data / "hard" / "sym")
    u.write_file(data / "ns.txt", b"nanoseconds\n", 0o604, mtime_ns=1_700_000_000_123_456_789)
    u.write_file(data / "xattr.txt", b"with xattrs\n")
    if xattrs_supported(data / "xattr.txt"):
        os.setxattr(data / "xattr.txt", "user.comment", b"restored?")
    for tree in (config, data):
        u.write_file(tree / "MARKER.txt", f"new {tree.name}\n".encode())
    return config, data


def old_trees(parent: Path, seed: int = 7) -> tuple[Path, Path]:
    """An existing install at parent/{config,data}, different from every source here."""
    config, data = u.make_basic_trees(parent, seed=seed)
    u.write_file(config / "only-in-old.xml", b"<Old/>\n")
    u.write_file(data / "data" / "jellyfin.db", b"old database\n" * 7)
    for tree in (config, data):
        u.write_file(tree / "MARKER.txt", f"old {tree.name}\n".encode())
    return config, data


_SMALL = {}  # made once per run, shared by every class


def tearDownModule():
    if "shared" in _SMALL:
        u.rmtree_force(_SMALL["shared"])


class RestoreCase(u.E2ETestCase):
    """A small archive (basic trees, made with --server-version 10.11.0) shared by all classes;
    each class has its own scratch directory `shared` for bigger fixtures."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not _SMALL:
            root = Path(tempfile.mkdtemp(prefix="jb-e2e-restore-small-"))
            os.chmod(root, 0o755)
            config, data = small_source(root / "src")
            archive = root / "small.tar.zst"
            res = u.run(["create", "--config", config, "--data", data, "--output", archive,
                         "--server-version", ARCHIVED_VERSION, "--quiet"])
            if res.code != 0:
                u.rmtree_force(root)
                raise RuntimeError("create failed; the restore tests need an archive\n"
                                   + res.describe())
            _SMALL.update(shared=root, config=config, data=data, archive=archive)
        cls.src_config, cls.src_data, cls.archive = _SMALL["config"], _SMALL["data"], _SMALL["archive"]
        cls.shared = cls.shared_dir("restore")
        os.chmod(cls.shared, 0o755)

    # -- running -----------------------------------------------------------------------------

    def restore(self, archive, config, data, *extra, expect: int | None = 0, **kw) -> u.Result:
        res = u.run(["restore", archive, "--config", config, "--data", data, *extra], **kw)
        if expect is not None:
            self.assertExit(res, expect)
        return res

    def recover(self, config, data, *extra, expect: int | None = 0) -> u.Result:
        res = u.run(["recover", "--config", config, "--data", data, *extra])
        if expect is not None:
            self.assertExit(res, expect)
        return res

    # -- state of an install -----------------------------------------------------------------

    def state(self, parent: Path) -> dict:
        """Everything below `parent` (the targets' parent): names beside the targets and, per
        target, a full snapshot (content, metadata, inode identity)."""
        out = {"listing": u.list_dir(parent)}
        for name in ("config", "data"):
            if (parent / name).exists():
                out[name] = u.snapshot(parent / name)
        return out

    def assertUntouched(self, parent: Path, before: dict, res: u.Result | None = None):
        after = self.state(parent)
        ctx = "" if res is None else "\n" + res.describe()
        self.assertEqual(after["listing"], before["listing"],
                         f"names beside the targets changed (staging, journal, backup left?){ctx}")
        for name in ("config", "data"):
            if name in before:
                problems = r.snapshot_diff(before[name], after[name])
                if problems:
                    self.fail(f"target {name} was modified:\n  " + "\n  ".join(problems[:20]) + ctx)

    def assertNoLeftovers(self, parent: Path, res: u.Result | None = None):
        left = r.leftovers(parent)
        if left:
            self.fail(f"staging directories or journals left in {parent}: {left}"
                      + ("" if res is None else "\n" + res.describe()))

    def assertSameTree(self, src, dst, res: u.Result | None = None):
        problems = u.compare_trees(src, dst)
        if not u.is_root():
            # Only root restores setuid/setgid bits (issue point 3): expect them dropped.
            def dropped(p):
                m = re.search(r": mode (0o[0-7]+) != (0o[0-7]+)$", p)
                return m and int(m.group(1), 8) & ~0o6000 == int(m.group(2), 8)
            problems = [p for p in problems if not dropped(p)]
        # compare_trees leaves out the root's mtime; restore sets it too (issue point 8).
        a, b = os.lstat(src), os.lstat(dst)
        if a.st_mtime_ns != b.st_mtime_ns:
            problems.append(f"root mtime_ns {a.st_mtime_ns} != {b.st_mtime_ns}")
        if problems:
            self.fail(f"{dst} differs from {src}:\n  " + "\n  ".join(problems[:30])
                      + ("" if res is None else "\n" + res.describe()))


# --------------------------------------------------------------------------------------------------


class RoundTrip(RestoreCase):
    """The whole sample install (with --special: every hard case) over an existing install."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.full_config, cls.full_data = u.make_sample_trees(cls.shared / "full", special=True, seed=1)
        u.write_file(cls.full_config / "MARKER.txt", b"new config\n")
        u.write_file(cls.full_data / "MARKER.txt", b"new data\n")
        cls.full_archive = cls.shared / "full.tar.zst"
        # The whole install, logs included (data/log is left out by default).
        res = u.run(["create", "--config", cls.full_config, "--data", cls.full_data, "--output",
                     cls.full_archive, "--include-logs", "--quiet"])
        if res.code != 0:
            raise RuntimeError("create of the sample install failed\n" + res.describe())

    def test_source_has_every_kind(self):
        # Premise of the round trip: the sample install holds every kind it must bring back.
        kinds = {}
        for tree in (self.full_config, self.full_data):
            for rel, e in u.snapshot(tree).items():
                full = os.path.join(os.fsencode(tree), rel)
                if e.kind == "file" and e.nlink > 1:
                    kinds["hardlink"] = True
                if e.kind == "dir" and not os.listdir(full):
                    kinds["empty dir"] = True
                if e.xattrs:
                    kinds["xattr"] = True
                if e.mtime_ns % 1_000_000_000:
                    kinds["ns mtime"] = True
                kinds[e.kind] = True
        wanted = ["file", "dir", "symlink", "hardlink", "empty dir", "ns mtime"]
        if xattrs_supported(self.full_data / "MARKER.txt"):
            wanted.append("xattr")
        self.assertEqual([k for k in wanted if k not in kinds], [])

    def test_restore_over_existing_install(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        t0 = time.time()
        # The sample's special cases hold a device node and a setuid file: refused without
        # --allow-special (test_root_safe_archive.py).
        res = self.restore(self.full_archive, config, data, "--json", "--allow-special")
        t1 = time.time()
        self.assertSameTree(self.full_config, config, res)
        self.assertSameTree(self.full_data, data, res)
        self.assertNoLeftovers(srv, res)

        # The old trees are kept whole, as they were (same inodes: moved, not copied).
        baks = r.backups(srv)
        self.assertEqual(len(baks), 2, f"expected config.bak-* and data.bak-* in {u.list_dir(srv)}")
        j = res.json()
        self.assertIs(j["ok"], True)
        by_name = {t["name"]: t for t in j["trees"]}
        for name in ("config", "data"):
            bak = r.backups(srv, name)
            self.assertEqual(len(bak), 1, f"{name}: backups {bak}")
            problems = r.snapshot_diff(before[name], u.snapshot(srv / bak[0]))
            self.assertEqual(problems, [], f"{name}: the kept old tree differs from the old tree")
            stamp = r.BACKUP_RE.match(bak[0]).group(2)
            when = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
            self.assertTrue(int(t0) - 1 <= when <= t1 + 1,
                            f"backup stamp {stamp} is not the UTC time of the restore")
            self.assertEqual(by_name[name]["backup"], str(srv / bak[0]))
            self.assertIs(by_name[name]["target_existed"], True)

    def test_restore_into_missing_targets(self):
        srv = self.mkdir("srv")
        res = self.restore(self.full_archive, srv / "config", srv / "data", "--json",
                           "--allow-special")
        self.assertSameTree(self.full_config, srv / "config", res)
        self.assertSameTree(self.full_data, srv / "data", res)
        self.assertEqual(u.list_dir(srv), ["config", "data"], "only the two trees, nothing else")
        for t in res.json()["trees"]:
            self.assertIs(t["target_existed"], False, t)
            self.assertIsNone(t["backup"], t)


class Flags(RestoreCase):
    def test_discard_old(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        res = self.restore(self.archive, config, data, "--discard-old", "--json")
        self.assertSameTree(self.src_config, config, res)
        self.assertSameTree(self.src_data, data, res)
        self.assertEqual(u.list_dir(srv), ["config", "data"],
                         "--discard-old must leave no .bak (and no staging/journal)")
        for t in res.json()["trees"]:
            self.assertIsNone(t["backup"], t)

    def test_keep_old_flag(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        self.restore(self.archive, config, data, "--keep-old", "--quiet")
        self.assertSameTree(self.src_data, data)
        for name in ("config", "data"):
            bak = r.backups(srv, name)
            self.assertEqual(len(bak), 1, u.list_dir(srv))
            self.assertEqual(r.snapshot_diff(before[name], u.snapshot(srv / bak[0])), [])

    def test_backup_name_taken(self):
        # Two restores within one second, or a .bak of that name from elsewhere: the old tree must
        # still be kept (under another name), nothing existing overwritten, nothing left pending.
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        now = int(time.time())
        taken = []
        for t in range(now - 1, now + 15):
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
            for name in ("config", "data"):
                u.write_file(srv / f"{name}.bak-{stamp}" / "occupied", b"an earlier backup\n")
                taken.append(f"{name}.bak-{stamp}")
        res = self.restore(self.archive, config, data, expect=None)
        self.assertExit(res, 0, "a taken backup name must not fail the restore")
        self.assertNoLeftovers(srv, res)
        self.assertSameTree(self.src_data, data, res)
        for n in taken:
            self.assertEqual(u.list_dir(srv / n), ["occupied"], f"{n} was changed")
        for name in ("config", "data"):
            kept = [n for n in u.list_dir(srv) if n.startswith(f"{name}.bak") and n not in taken]
            self.assertEqual(len(kept), 1, f"the old {name} tree was not kept: {u.list_dir(srv)}")
            self.assertEqual(r.snapshot_diff(before[name], u.snapshot(srv / kept[0])), [])

    def test_only_data(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        res = self.restore(self.archive, config, data, "--only", "data", "--json")
        self.assertSameTree(self.src_data, data, res)
        self.assertEqual(r.snapshot_diff(before["config"], u.snapshot(config)), [],
                         "--only data touched config")
        self.assertEqual(r.backups(srv, "config"), [])
        self.assertEqual(len(r.backups(srv, "data")), 1)
        self.assertNoLeftovers(srv, res)
        self.assertEqual([t["name"] for t in res.json()["trees"]], ["data"])

    def test_only_config(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        res = self.restore(self.archive, config, data, "--only", "config", "--discard-old")
        self.assertSameTree(self.src_config, config, res)
        self.assertEqual(r.snapshot_diff(before["data"], u.snapshot(data)), [],
                         "--only config touched data")
        self.assertEqual(u.list_dir(srv), ["config", "data"])

    def test_stdin(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        with open(self.archive, "rb") as f:
            res = self.restore("-", config, data, "--quiet", stdin=f)
        self.assertSameTree(self.src_config, config, res)
        self.assertSameTree(self.src_data, data, res)
        self.assertEqual(len(r.backups(srv)), 2)
        self.assertNoLeftovers(srv, res)

    def test_quiet(self):
        srv = self.mkdir("srv")
        res = self.restore(self.archive, srv / "config", srv / "data", "--quiet")
        self.assertEqual((res.out, res.err), (b"", b""))

    def test_human_summary_names_backups(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        res = self.restore(self.archive, config, data)
        for bak in r.backups(srv):
            self.assertIn(bak, res.stdout, "the summary should say where the old trees went")

    def test_usage_errors(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        cases = [
            ["restore", self.archive, "--config", config, "--data", data, "--only", "logs"],
            ["restore", self.archive, "--config", config, "--data", data, "--keep-old",
             "--discard-old"],
            ["restore", "--config", config, "--data", data],
            ["restore", self.archive, "--config", config],
            ["restore", self.archive, "--data", data],
            ["restore", self.archive, "--config", config, "--data", data, "--no-such-flag"],
            ["recover", "--config", config],
        ]
        for args in cases:
            with self.subTest(args=args[3:]):
                res = u.run(args)
                self.assertExit(res, 2)
                self.assertErrorShape(res)
                self.assertUntouched(srv, before, res)


class DryRun(RestoreCase):
    def test_dry_run_changes_nothing_and_counts(self):
        srv = self.mkdir("srv")
        config, data = srv / "config", srv / "data"
        self.restore(self.archive, config, data, "--quiet")
        # Now the install equals the archive; change it in known ways.
        os.unlink(data / "data" / "device.txt")                       # data: added 1
        os.unlink(config / "network.xml")                             # config: added 1
        u.write_file(data / "extra.txt", b"not in the archive\n")     # data: removed 1
        u.write_file(config / "extra" / "f.xml", b"<x/>\n")           # config: removed 2
        u.write_file(data / "data" / "jellyfin.db", b"changed size")  # data: changed 1
        os.chmod(config / "system.xml", 0o644)                        # config: changed 1
        before = self.state(srv)

        res = self.restore(self.archive, config, data, "--dry-run", "--json")
        self.assertUntouched(srv, before, res)
        j = res.json()
        self.assertIs(j["ok"], True)
        self.assertIs(j["dry_run"], True)
        manifest_trees = {t["name"]: t for t in j["manifest"]["trees"]}
        expected = {"config": (1, 2, 1, ["network.xml"], ["extra", "extra/f.xml"], ["system.xml"]),
                    "data": (1, 1, 1, ["data/device.txt"], ["extra.txt"], ["data/jellyfin.db"])}
        self.assertEqual(sorted(t["name"] for t in j["trees"]), ["config", "data"])
        for t in j["trees"]:
            with self.subTest(tree=t["name"]):
                self.assertIn("changes", t, "--dry-run --json must report changes per tree")
                c = t["changes"]
                added, removed, changed, added_p, removed_p, changed_p = expected[t["name"]]
                self.assertEqual((c["added"], c["removed"], c["changed"]), (added, removed, changed),
                                 c)
                self.assertEqual(sorted(c["added_paths"]), added_p)
                self.assertEqual(sorted(c["removed_paths"]), removed_p)
                self.assertEqual(sorted(c["changed_paths"]), changed_p)
                # Every other entry of the archive's tree (but its root) is unchanged.
                self.assertEqual(c["unchanged"],
                                 manifest_trees[t["name"]]["entries"] - 1 - added - changed, c)

    def test_dry_run_into_missing_targets(self):
        srv = self.mkdir("srv")
        res = self.restore(self.archive, srv / "config", srv / "data", "--dry-run", "--json")
        self.assertEqual(u.list_dir(srv), [], "--dry-run created something")
        for t in res.json()["trees"]:
            entries = {m["name"]: m for m in res.json()["manifest"]["trees"]}[t["name"]]["entries"]
            self.assertEqual((t["changes"]["added"], t["changes"]["removed"],
                              t["changes"]["changed"]), (entries - 1, 0, 0), t)

    def test_dry_run_human(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        res = self.restore(self.archive, config, data, "--dry-run")
        self.assertUntouched(srv, before, res)
        self.assertRegex(res.stdout, r"(?i)add", "the report should give added/removed/changed")
        self.assertRegex(res.stdout, r"(?i)remove")
        self.assertRegex(res.stdout, r"(?i)change")


class VersionGuard(RestoreCase):
    """The shared archive was made with --server-version 10.11.0 (issue point 9)."""

    def test_newer_archive_refused(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        res = self.restore(self.archive, config, data, "--server-version", "10.10.7", expect=None)
        self.assertFails(res, 4, ARCHIVED_VERSION)
        self.assertRegex(error_line(res), r"(?i)install[^;]*" + re.escape(ARCHIVED_VERSION),
                         "the message should say which version to install")
        self.assertUntouched(srv, before, res)

    def test_newer_archive_refused_json(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        res = self.restore(self.archive, config, data, "--server-version", "10.10.7", "--json",
                           expect=4)
        j = res.json()
        self.assertIs(j["ok"], False)
        self.assertEqual(j["exit_code"], 4)
        self.assertIn(ARCHIVED_VERSION, j["error"])

    def test_newer_archive_refused_in_dry_run(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        res = self.restore(self.archive, config, data, "--server-version", "10.10.7", "--dry-run",
                           expect=4)
        self.assertIn(ARCHIVED_VERSION, res.stderr)

    def test_force_overrides(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        res = self.restore(self.archive, config, data, "--server-version", "10.10.7", "--force")
        self.assertSameTree(self.src_data, data, res)
        self.assertSameTree(self.src_config, config, res)

    def test_older_archive_warns(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        res = self.restore(self.archive, config, data, "--server-version", "10.11.5")
        self.assertSameTree(self.src_data, data, res)
        warnings = u.warning_lines(res)
        self.assertTrue(warnings, "restoring an older archive must warn\n" + res.describe())
        text = "\n".join(warnings)
        self.assertIn(ARCHIVED_VERSION, text)
        self.assertRegex(text, r"(?i)one-way", "the warning should say the migration is one-way")
        self.assertEqual(u.error_lines(res), [], res.describe())

    def test_same_version_silent(self):
        srv = self.mkdir("srv")
        res = self.restore(self.archive, srv / "config", srv / "data", "--server-version",
                           ARCHIVED_VERSION)
        self.assertEqual(res.err, b"", res.describe())


def error_line(res: u.Result) -> str:
    lines = [l for l in res.stderr.splitlines() if l.startswith(u.ERROR_PREFIX)]
    return lines[0] if lines else ""


class PendingJournal(RestoreCase):
    def test_journal_blocks_restore_and_create(self):
        # A journal is where the tool writes it: in its state directory (issue 11, point 2), named
        # after the target. Only its presence counts for blocking.
        for name in ("data", "config"):
            with self.subTest(journal_of=name):
                srv = self.mkdir(f"srv-{name}")
                config, data = old_trees(srv)
                os.makedirs(u.STATE_DIR, mode=0o700, exist_ok=True)
                os.chmod(u.STATE_DIR, 0o700)
                journal = Path(u.journal_path(config if name == "config" else data))
                journal.write_text("{}\n")
                self.addCleanup(lambda j=journal: j.unlink(missing_ok=True))
                before = self.state(srv)

                res = self.restore(self.archive, config, data, expect=None)
                self.assertFails(res, 4, "recover")
                self.assertUntouched(srv, before, res)

                res = self.restore(self.archive, config, data, "--dry-run", expect=None)
                self.assertFails(res, 4, "recover")

                out = self.mkdir(f"out-{name}")
                res = u.run(["create", "--config", config, "--data", data, "--output", out])
                self.assertFails(res, 4, "recover")
                self.assertEqual(u.list_dir(out), [], "create wrote an archive despite the journal")
                self.assertUntouched(srv, before, res)


class RecoverNothingPending(RestoreCase):
    def dead_pid(self) -> int:
        for pid in (999999, 999998, 999997, 3999999):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return pid
            except PermissionError:
                continue
        self.skipTest("no dead pid found for a leftover staging directory")

    def test_removes_dead_staging_keeps_live(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        pid = self.dead_pid()
        dead_data = srv / f".data.jellyfin-backup-staging.{pid}"
        dead_config = srv / f".config.jellyfin-backup-staging.{pid}"
        u.write_file(dead_data / "data" / "half-restored.db", b"x" * 1000)
        dead_config.mkdir()
        os.chmod(dead_data / "data", 0o500)  # a read-only dir inside must not stop the cleanup
        live = srv / f".data.jellyfin-backup-staging.{os.getpid()}"  # this process runs
        u.write_file(live / "busy", b"a restore that is still running\n")
        targets = {n: u.snapshot(srv / n) for n in ("config", "data")}

        res = self.recover(config, data)
        self.assertRegex(res.stdout, r"(?i)nothing", "recover should say nothing was pending")
        self.assertFalse(dead_data.exists(), f"{dead_data} left\n{res.describe()}")
        self.assertFalse(dead_config.exists(), f"{dead_config} left\n{res.describe()}")
        self.assertTrue((live / "busy").exists(),
                        "recover removed the staging directory of a process that is alive")
        for n, snap in targets.items():
            self.assertEqual(r.snapshot_diff(snap, u.snapshot(srv / n)), [], n)

        res = self.recover(config, data, "--json")
        j = res.json()
        self.assertIs(j["ok"], True)
        self.assertEqual(j["outcome"], "nothing_pending")
        self.assertEqual(j["removed_staging"], [])

    def test_nothing_at_all(self):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        res = self.recover(config, data)
        self.assertRegex(res.stdout, r"(?i)nothing")
        self.assertUntouched(srv, before, res)

    def test_missing_targets(self):
        srv = self.mkdir("srv")
        self.recover(srv / "config", srv / "data")
        self.assertEqual(u.list_dir(srv), [])


# --------------------------------------------------------------------------------------------------
# Damaged archives (issue point 4): nothing changes, nothing is left behind, exit 3.


class DamagedBase(RestoreCase):
    def setUp(self):
        super().setUp()
        self.srv = self.mkdir("srv")
        self.config, self.data = old_trees(self.srv)
        self.before = self.state(self.srv)

    def restore_blob(self, blob: bytes, *extra) -> u.Result:
        path = self.tmp / "damaged.tar.zst"
        path.write_bytes(blob)
        return self.restore(path, self.config, self.data, *extra, expect=None)

    def assertRefused(self, res: u.Result, *needles):
        self.assertExit(res, 3)
        self.assertErrorShape(res, *needles, one_line=False)
        self.assertUntouched(self.srv, self.before, res)


class DamagedFrames(DamagedBase):
    """An archive of three zstd frames: the manifest, config + data up to a 17 MiB file, the rest.
    Damage in the compressed file: the zstd frame checksums catch it, possibly after staging has
    been filled."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        src = cls.shared / "big"
        cls.big_config, cls.big_data = u.make_basic_trees(src, seed=3)
        u.write_random_file(cls.big_data / "big.bin", 17 << 20)
        u.write_file(cls.big_data / "zz-last.txt", b"the last file\n" * 40)
        cls.big_archive = cls.shared / "big.tar.zst"
        res = u.run(["create", "--config", cls.big_config, "--data", cls.big_data, "--output",
                     cls.big_archive, "--quiet"])
        if res.code != 0:
            raise RuntimeError(res.describe())
        cls.blob = cls.big_archive.read_bytes()
        cls.frames = u.zstd_frames(cls.blob)
        cls.tar = u.zstd_decompress(cls.blob)

    def test_three_frames(self):
        self.assertEqual(len(self.frames), 3, "test premise: the archive has three zstd frames")

    def test_flipped_bytes(self):
        n = len(self.blob)
        f2, f3 = self.frames[1], self.frames[2]
        for off in (20, f2.offset + 10, n // 2, f3.offset - 6, n - 1):
            with self.subTest(offset=off):
                self.assertRefused(self.restore_blob(u.flip(self.blob, off)))

    def test_truncations(self):
        n = len(self.blob)
        for keep in (0, 13, n // 2, self.frames[2].offset, n - 1):
            with self.subTest(keep=keep):
                self.assertRefused(self.restore_blob(self.blob[:keep]))

    def test_damaged_stdin(self):
        path = self.tmp / "damaged.tar.zst"
        path.write_bytes(u.flip(self.blob, len(self.blob) // 2))
        with open(path, "rb") as f:
            res = self.restore("-", self.config, self.data, stdin=f, expect=None)
        self.assertRefused(res)

    def test_damaged_dry_run(self):
        res = self.restore_blob(u.flip(self.blob, len(self.blob) // 2), "--dry-run")
        self.assertRefused(res)

    def test_damaged_last_frame_names_an_entry_of_that_frame(self):
        # The third frame starts at an entry boundary; everything before it is intact. The error
        # must name an entry of the damaged frame ("naming the first bad entry"), not an intact
        # one before it.
        f3 = self.frames[2]
        start = len(u.zstd_decompress(self.blob[:f3.offset]))
        members = u.tar_members(self.tar)
        in_frame = [m.name.rstrip("/") for m in members if m.offset >= start]
        before = [m.name.rstrip("/") for m in members if m.offset < start]
        self.assertIn("data/zz-last.txt", in_frame, "test premise")
        res = self.restore_blob(u.flip(self.blob, len(self.blob) - 1))
        self.assertRefused(res)
        line = error_line(res)
        named = [e for e in in_frame if re.search(r"(?<![\w/.-])" + re.escape(e) + r"(?![\w/.-])",
                                                  line)]
        self.assertTrue(named, f"the error should name the first bad entry: an entry of the damaged "
                               f"frame ({in_frame[0]!r}, ...), not only the intact {before[-1]!r} "
                               f"before it\n" + res.describe())


class DamagedChecksums(DamagedBase):
    """Valid zstd frames, a tar whose files and CHECKSUMS.xxh128 disagree (edited, recompressed):
    only the XXH3-128 check catches it, after everything was extracted into staging."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tar = u.zstd_decompress(cls.archive.read_bytes())

    def with_checksums(self, sums: bytes) -> bytes:
        """The archive with CHECKSUMS.xxh128 replaced by `sums` (recompressed, valid frames)."""
        header, _, _ = u.tar_member_span(self.tar, "CHECKSUMS.xxh128")
        return u.zstd_compress(self.tar[:header] + u.pax_file_entry("CHECKSUMS.xxh128", sums, 0o600)
                               + b"\0" * 1024)

    def sums(self) -> bytes:
        return u.read_member(self.tar, "CHECKSUMS.xxh128")

    def test_recompressed_unchanged(self):
        # Control for the tests below: recompressing, rewriting the trailer is not damage.
        self.assertExit(self.restore_blob(u.zstd_compress(self.tar), "--dry-run"), 0)
        self.assertExit(self.restore_blob(self.with_checksums(self.sums()), "--dry-run"), 0)

    def test_content_changed(self):
        # Same size, other bytes: only the XXH3-128 of data/hard/a can tell.
        body = u.read_member(self.tar, "data/hard/a")
        self.assertEqual(self.tar.count(body), 1, "test premise")
        blob = u.zstd_compress(self.tar.replace(body, body.replace(b"hard", b"HARD", 1)))
        res = self.restore_blob(blob)
        self.assertRefused(res, "data/hard/a")
        self.assertIn("data/hard/a", error_line(res), "the error line names the bad entry")

    def test_checksum_line_changed(self):
        lines = self.sums().split(b"\n")
        i = next(i for i, l in enumerate(lines) if l.endswith(b"  data/data/device.txt"))
        lines[i] = (b"0" if lines[i][:1] != b"0" else b"1") + lines[i][1:]
        res = self.restore_blob(self.with_checksums(b"\n".join(lines)))
        self.assertRefused(res, "data/data/device.txt")
        self.assertIn("data/data/device.txt", error_line(res))

    def test_listed_file_missing(self):
        # The checksum list names a file the archive does not hold.
        sums = self.sums() + r.xxh128_hex(b"ghost\n").encode() + b"  data/ghost.txt\n"
        res = self.restore_blob(self.with_checksums(sums))
        self.assertRefused(res, "data/ghost.txt")

    def test_file_not_listed(self):
        # The archive holds a file the checksum list does not name.
        sums = b"".join(l for l in self.sums().splitlines(keepends=True)
                        if not l.endswith(b"  data/ns.txt\n"))
        res = self.restore_blob(self.with_checksums(sums))
        self.assertRefused(res, "data/ns.txt")
        self.assertIn("data/ns.txt", error_line(res))

    def test_truncated_member(self):
        # The tar ends inside data/data/jellyfin.db; the zstd stream itself is well-formed.
        _, data_start, _ = u.tar_member_span(self.tar, "data/data/jellyfin.db")
        res = self.restore_blob(u.zstd_compress(self.tar[:data_start + 5000]))
        self.assertRefused(res, "data/data/jellyfin.db")


# --------------------------------------------------------------------------------------------------
# Signals before the swap (issue point 12)


class Interrupted(RestoreCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        src = cls.shared / "huge"
        cls.huge_config, cls.huge_data = u.make_basic_trees(src, seed=4)
        u.write_random_file(cls.huge_data / "huge.bin", 200 << 20)
        cls.huge_archive = cls.shared / "huge.tar.zst"
        res = u.run(["create", "--config", cls.huge_config, "--data", cls.huge_data, "--output",
                     cls.huge_archive, "--quiet", "--level", "1"], timeout=120)
        if res.code != 0:
            raise RuntimeError(res.describe())
        os.unlink(cls.huge_data / "huge.bin")

    def interrupt(self, sig):
        srv = self.mkdir("srv")
        config, data = old_trees(srv)
        before = self.state(srv)
        proc = u.popen(["restore", self.huge_archive, "--config", config, "--data", data])
        staging_seen = []
        stdout = stderr = None
        try:
            # Signal while data/huge.bin is being written into staging: surely before the swap.
            huge = srv / f".data.jellyfin-backup-staging.{proc.pid}" / "huge.bin"
            deadline = time.time() + 20
            written = 0
            while time.time() < deadline and proc.poll() is None:
                staging_seen = [n for n in os.listdir(srv) if r.STAGING_RE.match(n)]
                try:
                    written = os.stat(huge).st_size
                except FileNotFoundError:
                    written = 0
                if written >= 20 << 20:
                    break
                time.sleep(0.001)
            self.assertIsNone(proc.poll(), "restore finished before it could be interrupted")
            self.assertGreaterEqual(written, 20 << 20, "restore never got to writing huge.bin")
            self.assertEqual([n for n in os.listdir(srv) if r.JOURNAL_RE.match(n)], [])
            proc.send_signal(sig)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if stdout is None:  # an assertion failed before communicate()
                if proc.poll() is None:
                    proc.kill()
                proc.communicate()
        res = u.Result(proc.args, proc.returncode, stdout, stderr)
        self.assertFails(res, 128 + sig, one_line=False)
        self.assertRegex(error_line(res), "SIG(INT|TERM)|interrupt", res.describe())
        self.assertUntouched(srv, before, res)
        self.assertEqual(sorted(staging_seen), [f".config.jellyfin-backup-staging.{proc.pid}",
                                                f".data.jellyfin-backup-staging.{proc.pid}"],
                         "staging directories should be hidden siblings named after the pid")

    def test_sigterm(self):
        self.interrupt(signal.SIGTERM)

    def test_sigint(self):
        self.interrupt(signal.SIGINT)


# --------------------------------------------------------------------------------------------------
# A full disk (issue point 1: free space checked before anything is written)




class DiskFull(RestoreCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        src = cls.shared / "thirty"
        cls.t_config, cls.t_data = u.make_basic_trees(src, seed=5)
        u.write_random_file(cls.t_data / "thirty.bin", 30 << 20)
        for i in range(300):
            u.write_file(cls.t_data / "many" / f"f{i:03}", b"")
        cls.t_archive = cls.shared / "thirty.tar.zst"
        res = u.run(["create", "--config", cls.t_config, "--data", cls.t_data, "--output",
                     cls.t_archive, "--quiet", "--level", "1"])
        if res.code != 0:
            raise RuntimeError(res.describe())
        os.unlink(cls.t_data / "thirty.bin")

    def mount(self, options: str) -> Path:
        mnt = self.mkdir("mnt")
        why = u.mount_tmpfs(mnt, options)
        if why:
            self.skipTest(why)
        self.addCleanup(subprocess.run, ["umount", "-l", str(mnt)])
        return mnt

    def test_not_enough_space(self):
        mnt = self.mount("size=8m,mode=0755")
        config, data = u.make_basic_trees(mnt, seed=6)
        before = self.state(mnt)
        res = self.restore(self.t_archive, config, data, expect=None)
        self.assertFails(res, 4)
        # The message gives the numbers: what is needed and what is available.
        self.assertRegex(error_line(res), r"(?i)space")
        self.assertGreaterEqual(len(re.findall(r"\d+(?:\.\d+)? ?[KMG]i?B", error_line(res))), 2,
                                "the message should give needed and available sizes\n"
                                + res.describe())
        self.assertNotIn("--output", error_line(res))
        self.assertUntouched(mnt, before, res)

    def test_not_enough_space_only_config_passes(self):
        # The free-space check counts only the trees being restored.
        mnt = self.mount("size=8m,mode=0755")
        config, data = u.make_basic_trees(mnt, seed=6)
        before = self.state(mnt)
        res = self.restore(self.t_archive, config, data, "--only", "config", "--discard-old")
        self.assertSameTree(self.t_config, config, res)
        self.assertEqual(r.snapshot_diff(before["data"], u.snapshot(data)), [])

    def test_out_of_inodes(self):
        # The byte count fits, the entries do not: the check passes, the writing fails (ENOSPC).
        mnt = self.mount("size=64m,nr_inodes=120,mode=0755")
        config, data = u.make_basic_trees(mnt, seed=6)
        before = self.state(mnt)
        res = self.restore(self.t_archive, config, data, expect=None)
        self.assertFails(res, 1, one_line=False)
        self.assertRegex(error_line(res), r"(?i)no space|full")
        # The hint is about restore's targets, not create's --output.
        self.assertNotIn("--output", error_line(res))
        self.assertIn("target", error_line(res))
        self.assertUntouched(mnt, before, res)


class MountPointTarget(RestoreCase):
    """A target that is a mount point (a container volume) cannot be renamed: the swap happens
    one level down, inside it (issue: "swap one level down, journaled the same way")."""

    def setUp(self):
        super().setUp()
        self.src_config, self.src_data = u.make_basic_trees(self.mkdir("src"), seed=11)
        self.archive = self.tmp / "mp.tar.zst"
        self.assertExit(u.run(["create", "--config", self.src_config, "--data", self.src_data,
                               "--output", self.archive, "--quiet"]), 0)
        self.srv = self.mkdir("srv")
        self.data = self.srv / "data"
        self.data.mkdir()
        why = u.mount_tmpfs(self.data, "size=64m,mode=0755")
        if why:
            self.skipTest(why)
        self.addCleanup(subprocess.run, ["umount", "-l", str(self.data)])
        old_config, old_data = u.make_basic_trees(self.mkdir("old"), seed=12)
        subprocess.run(["cp", "-a", f"{old_data}/.", str(self.data)], check=True)
        subprocess.run(["cp", "-a", str(old_config), str(self.srv / "config")], check=True)
        self.old_data = old_data

    def test_restore_into_mount_point_discard_old(self):
        res = self.restore(self.archive, self.srv / "config", self.data, "--discard-old")
        self.assertSameTree(self.src_data, self.data, res)
        self.assertSameTree(self.src_config, self.srv / "config", res)
        self.assertTrue(os.path.ismount(self.data), "the mount point must stay a mount point")
        self.assertNoLeftovers(self.srv, res)

    def test_restore_into_mount_point_keeps_old_inside(self):
        res = self.restore(self.archive, self.srv / "config", self.data)
        kept = [n for n in os.listdir(self.data) if n.startswith(".jellyfin-backup-old")]
        self.assertEqual(len(kept), 1, res.describe())
        self.assertIn(kept[0], res.stdout, "the report names where the old tree went")
        # The kept tree is the old one; its directory is private (0700) and holds the marker
        # that told an interrupted swap which half was done.
        problems = [p for p in u.compare_trees(self.old_data, self.data / kept[0])
                    if "jellyfin-backup-moved-aside" not in p and not p.startswith("b'': mode")]
        self.assertEqual(problems, [], res.describe())

    def test_damaged_archive_leaves_mount_point_untouched(self):
        before = u.snapshot(self.data)
        blob = bytearray(self.archive.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        bad = self.tmp / "bad.tar.zst"
        bad.write_bytes(bytes(blob))
        res = self.restore(bad, self.srv / "config", self.data, expect=3)
        self.assertEqual(r.snapshot_diff(before, u.snapshot(self.data)), [], res.describe())


if __name__ == "__main__":
    unittest.main(verbosity=2)
