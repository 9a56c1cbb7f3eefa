"""Never copy or replace a running server's trees (issue 4 "Know Jellyfin", item 4).

Before `create` reads anything, and before `restore` starts and before its swap, the binary scans
/proc for processes that hold a file open under the data/config trees, work (cwd) inside them, or
are the Jellyfin server itself (argv[0] named `jellyfin`, or an argument naming jellyfin.dll); it
refuses with exit 4 and one error line naming each pid, its command, the reason and how to stop it
for the detected install type. Its own process and its ancestors are ignored; `--force` goes on
with a warning (recorded in the manifest), `restore --dry-run` only warns, `where` lists them.

The running server is a stand-in: a Python child that opens data/jellyfin.db and sleeps (the test
waits until /proc/PID/fd shows the file before running the binary), a `sleep` working inside a tree,
or a copy of /bin/sleep named `jellyfin`. Installs are made by make-sample-tree.py --root ROOT.

Run: JB_BIN=build/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_running_server.py
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r

PY = sys.executable
SLEEP = shutil.which("sleep") or "/bin/sleep"

HOLD_SCRIPT = "import sys, time\nf = open(sys.argv[1], 'rb')\ntime.sleep(1000)\n"
HOLD_DELETED_SCRIPT = ("import os, sys, time\nf = open(sys.argv[1], 'wb')\nos.unlink(sys.argv[1])\n"
                       "time.sleep(1000)\n")

# Waits in a loop for a restore's staging directory to appear beside the data target, then opens
# the target's jellyfin.db and sleeps: a server started while the restore is extracting.
LATE_SCRIPT = """\
import os, sys, time
parent, target, ready = sys.argv[1], sys.argv[2], sys.argv[3]
open(ready, "w").close()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    if any(".jellyfin-backup-staging." in n for n in os.listdir(parent)):
        break
    time.sleep(0.01)
else:
    sys.exit(1)
f = open(target, "rb")
open(ready + ".held", "w").close()
time.sleep(1000)
"""

ENV = u.install_env()

_SHARED = {}  # made once per run; tests never modify these, they copy them


def tearDownModule():
    if "dir" in _SHARED:
        u.rmtree_force(_SHARED.pop("dir"))


def shared_dir() -> Path:
    if "dir" not in _SHARED:
        _SHARED["dir"] = Path(tempfile.mkdtemp(prefix="jb-e2e-running-"))
        os.chmod(_SHARED["dir"], 0o755)
    return _SHARED["dir"]


def pristine(install: str, scale: str = "small") -> Path:
    """A sample install root of type `install` (made once per run; never modify it)."""
    key = (install, scale)
    if key not in _SHARED:
        root = shared_dir() / f"{install}-{scale}"
        u.make_install(root, install, scale=scale)
        _SHARED[key] = root
    return _SHARED[key]


def pristine_archive(install: str = "debian", scale: str = "small") -> Path:
    """An archive of pristine(install, scale), made by the binary with nothing running."""
    key = ("archive", install, scale)
    if key not in _SHARED:
        root = pristine(install, scale)
        out = shared_dir() / f"{install}-{scale}.tar.zst"
        res = u.run(["create", "--root", root, "--output", out, "--quiet"], env=ENV, timeout=120)
        if res.code != 0 or not out.is_file():
            raise AssertionError(f"could not make the fixture archive\n{res.describe()}")
        _SHARED[key] = out
    return _SHARED[key]


def dirs(root, install: str = "debian") -> dict[str, Path]:
    return u.install_dirs(root, install)


def fd_targets(pid: int) -> list[str]:
    out = []
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for n in names:
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{n}"))
        except OSError:
            pass
    return out


class RunningCase(u.E2ETestCase):

    # -- stand-ins ----------------------------------------------------------------------------

    def _spawn(self, argv, *, cwd=None) -> subprocess.Popen:
        proc = subprocess.Popen([os.fspath(a) for a in argv], cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait()

        self.addCleanup(stop)
        return proc

    def _wait_open(self, proc: subprocess.Popen, path) -> None:
        """Waits until /proc/PID/fd of `proc` shows `path` (resolved) open."""
        want = os.path.realpath(path)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.fail(f"the stand-in exited with {proc.returncode} before opening {want}")
            if any(t == want or t == want + " (deleted)" for t in fd_targets(proc.pid)):
                return
            time.sleep(0.02)
        self.fail(f"the stand-in {proc.pid} did not open {want} within 20 s")

    def hold_open(self, path) -> subprocess.Popen:
        """A Python stand-in holding `path` open (returns once /proc shows it)."""
        proc = self._spawn([PY, "-c", HOLD_SCRIPT, os.path.realpath(path)])
        self._wait_open(proc, path)
        return proc

    def hold_deleted(self, path) -> subprocess.Popen:
        """A stand-in holding `path` open after unlinking it (as a server's temp file)."""
        proc = self._spawn([PY, "-c", HOLD_DELETED_SCRIPT, os.path.realpath(path)])
        self._wait_open(proc, path)
        return proc

    def work_in(self, directory) -> subprocess.Popen:
        """A `sleep` whose cwd is `directory`."""
        proc = self._spawn([SLEEP, "1000"], cwd=directory)
        want = os.path.realpath(directory)
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{proc.pid}/cwd") != want:
            if time.monotonic() > deadline:
                self.fail(f"the stand-in {proc.pid} is not working in {want}")
            time.sleep(0.02)
        return proc

    def named(self, name: str) -> subprocess.Popen:
        """A copy of /bin/sleep named `name` (in self.tmp/bin, outside every tree), running."""
        bindir = self.mkdir("bin")
        exe = bindir / name
        if not exe.exists():
            shutil.copy2(SLEEP, exe)
        return self._spawn([exe, "1000"], cwd=bindir)

    # -- runs -----------------------------------------------------------------------------------

    def create_in(self, root, *extra, output=None, **kw) -> u.Result:
        out = output if output is not None else self.mkdir("out")
        return u.run(["create", "--root", root, "--output", out, *extra], env=ENV, **kw)

    def assertRefused(self, res: u.Result, proc: subprocess.Popen, *needles: str):
        """Exit 4, one error line naming the pid and each of `needles`."""
        self.assertFails(res, 4, *needles)
        if not re.search(rf"\b{proc.pid}\b", res.stderr):
            self.fail(f"the error does not name the pid {proc.pid}\n{res.describe()}")

    def assertNothingWritten(self, outdir: Path, mtime_before: int, res: u.Result):
        left = os.listdir(outdir)
        if left:
            self.fail(f"a refused create left {left} in the output dir\n{res.describe()}")
        self.assertEqual(os.stat(outdir).st_mtime_ns, mtime_before,
                         "the output dir was written to (a temp file created and removed) although "
                         f"the create was refused\n{res.describe()}")

    def copy_install(self, install: str = "debian", scale: str = "small") -> Path:
        return u.copy_tree(pristine(install, scale), self.tmp / "root")


# --------------------------------------------------------------------------------------------------


class CreateRefuses(RunningCase):
    """create refuses (exit 4) when something uses the trees, and writes nothing."""

    def test_open_database_is_refused_with_the_debian_stop_hint(self):
        root = pristine("debian")
        db = dirs(root)["data"] / "data" / "jellyfin.db"
        proc = self.hold_open(db)
        out = self.mkdir("out")
        before = os.stat(out).st_mtime_ns
        res = self.create_in(root, output=out)
        self.assertRefused(res, proc, "jellyfin.db", "systemctl stop jellyfin")
        self.assertRegex(res.stderr, rf"has \S*{re.escape(str(os.path.realpath(db)))} open",
                         "the reason reads 'has PATH open'")
        self.assertIn(os.path.basename(PY), res.stderr, "the error names the stand-in's command")
        self.assertNotIn("docker stop", res.stderr)
        self.assertNothingWritten(out, before, res)

    def test_refused_with_a_file_path_output_too(self):
        root = pristine("debian")
        proc = self.hold_open(dirs(root)["data"] / "data" / "jellyfin.db")
        out = self.mkdir("out")
        before = os.stat(out).st_mtime_ns
        res = self.create_in(root, output=out / "named.tar.zst")
        self.assertRefused(res, proc, "jellyfin.db")
        self.assertNothingWritten(out, before, res)

    def test_open_file_in_the_config_tree_is_refused(self):
        root = pristine("debian")
        xml = dirs(root)["config"] / "system.xml"
        proc = self.hold_open(xml)
        res = self.create_in(root)
        self.assertRefused(res, proc, os.path.realpath(xml), "open")
        self.assertEqual(os.listdir(self.tmp / "out"), [])

    def test_open_deleted_file_in_the_data_tree_is_refused(self):
        root = self.copy_install()
        proc = self.hold_deleted(dirs(root)["data"] / "data" / "scratch.tmp")
        res = self.create_in(root)
        self.assertRefused(res, proc, "scratch.tmp")
        self.assertEqual(os.listdir(self.tmp / "out"), [])

    def test_cwd_inside_the_data_tree_is_refused(self):
        root = pristine("debian")
        where = dirs(root)["data"] / "metadata"
        proc = self.work_in(where)
        out = self.mkdir("out")
        before = os.stat(out).st_mtime_ns
        res = self.create_in(root, output=out)
        self.assertRefused(res, proc, "works in", os.path.realpath(where), "sleep")
        self.assertNothingWritten(out, before, res)

    def test_process_named_jellyfin_is_refused(self):
        root = pristine("debian")
        proc = self.named("jellyfin")
        out = self.mkdir("out")
        before = os.stat(out).st_mtime_ns
        res = self.create_in(root, output=out)
        self.assertRefused(res, proc, "is the Jellyfin server", "systemctl stop jellyfin")
        self.assertNothingWritten(out, before, res)

    def test_other_server_program_names_are_refused(self):
        # The man page: a program named jellyfin (or jellyfin.exe, Jellyfin.Server).
        root = pristine("debian")
        for name in ("jellyfin.exe", "Jellyfin.Server"):
            with self.subTest(name=name):
                proc = self.named(name)
                try:
                    res = self.create_in(root, output=self.mkdir("out", name))
                    self.assertRefused(res, proc, "is the Jellyfin server")
                    self.assertEqual(os.listdir(self.tmp / "out" / name), [])
                finally:
                    proc.kill()
                    proc.wait()

    def test_process_running_jellyfin_dll_is_refused(self):
        root = pristine("debian")
        # As `dotnet /usr/lib/jellyfin/bin/jellyfin.dll`: an argument names jellyfin.dll.
        proc = self._spawn([PY, "-c", "import time; time.sleep(1000)",
                            "/usr/lib/jellyfin/bin/jellyfin.dll"], cwd=self.tmp)
        res = self.create_in(root)
        self.assertRefused(res, proc, "is the Jellyfin server")
        self.assertEqual(os.listdir(self.tmp / "out"), [])

    def test_symlinked_tree_arguments_still_see_the_real_paths(self):
        # /proc shows resolved paths; --data/--config given through symlinks must still match.
        root = pristine("debian")
        d = dirs(root)
        os.symlink(d["data"], self.tmp / "data-link")
        os.symlink(d["config"], self.tmp / "config-link")
        proc = self.hold_open(d["data"] / "data" / "jellyfin.db")
        out = self.mkdir("out")
        res = u.run(["create", "--data", self.tmp / "data-link", "--config",
                     self.tmp / "config-link", "--output", out], env=ENV)
        self.assertRefused(res, proc, "jellyfin.db")
        self.assertEqual(os.listdir(out), [])

    def test_json_failure_object(self):
        root = pristine("debian")
        proc = self.hold_open(dirs(root)["data"] / "data" / "jellyfin.db")
        res = self.create_in(root, "--json")
        self.assertExit(res, 4)
        try:
            obj = res.json()
        except ValueError:
            self.fail(f"stdout is not one JSON object\n{res.describe()}")
        self.assertIs(obj.get("ok"), False, res.describe())
        self.assertEqual(obj.get("exit_code"), 4, res.describe())
        self.assertEqual(obj.get("command"), "create", res.describe())
        self.assertIn(str(proc.pid), obj.get("error", ""), res.describe())
        self.assertIn("jellyfin.db", obj.get("error", ""), res.describe())
        self.assertEqual(os.listdir(self.tmp / "out"), [])


class DockerHints(RunningCase):
    """The stop hint follows the detected install type: docker stop for the container images."""

    def test_container_installs_hint_docker_stop(self):
        for install in ("docker", "linuxserver"):
            with self.subTest(install=install):
                root = pristine(install)
                proc = self.named("jellyfin")
                try:
                    res = self.create_in(root, output=self.mkdir("out", install))
                    self.assertRefused(res, proc, "is the Jellyfin server", "docker stop")
                    self.assertNotIn("systemctl", res.stderr, res.describe())
                    self.assertEqual(os.listdir(self.tmp / "out" / install), [])
                finally:
                    proc.kill()
                    proc.wait()

    def test_container_install_with_open_file(self):
        root = pristine("linuxserver")
        db = dirs(root, "linuxserver")["data"] / "data" / "jellyfin.db"
        proc = self.hold_open(db)
        res = self.create_in(root)
        self.assertRefused(res, proc, "jellyfin.db", "docker stop")


class NotRefused(RunningCase):
    """What is not a server using the trees: look-alike names, neighbours, the tool's ancestors."""

    def test_lookalike_process_names_are_not_the_server(self):
        root = pristine("debian")
        helpers = [self.named("jellyfin-backup-helper"), self.named("jellyfin-ffmpeg")]
        res = self.create_in(root, "--quiet", output=self.mkdir("out") / "a.tar.zst")
        self.assertExit(res, 0, "processes named jellyfin-backup-helper / jellyfin-ffmpeg "
                        f"(pids {[p.pid for p in helpers]}) are not the Jellyfin server")
        self.assertTrue((self.tmp / "out" / "a.tar.zst").is_file())
        self.assertEqual(u.warning_lines(res), [], res.describe())

    def test_neighbours_of_the_trees_are_not_users(self):
        # A file open in a sibling whose name starts like the data dir, a cwd in the parent.
        root = self.copy_install()
        d = dirs(root)
        sibling = u.write_file(Path(str(d["data"]) + "-old") / "jellyfin.db", b"old\n")
        self.hold_open(sibling)
        self.work_in(d["data"].parent)
        self.work_in(d["config"].parent)
        res = self.create_in(root, "--quiet", output=self.mkdir("out") / "a.tar.zst")
        self.assertExit(res, 0, "only paths inside the trees count, not paths sharing a prefix")
        self.assertEqual(u.warning_lines(res), [], res.describe())

    def test_ancestor_working_inside_the_data_tree_is_ignored(self):
        root = pristine("debian")
        out = self.mkdir("out") / "a.tar.zst"
        script = (f"'{u.BIN}' create --root '{root}' --output '{out}' --quiet; "
                  "echo \"rc=$?\"")
        data = dirs(root)["data"]
        proc = subprocess.run(["/bin/sh", "-c", script], cwd=data, env=ENV,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=u.DEFAULT_TIMEOUT,
                              preexec_fn=u._child_setup)
        res = u.Result(["sh", "-c", script], proc.returncode, proc.stdout, proc.stderr)
        self.assertIn("rc=0", res.stdout, "the tool (and the shell that started it) working in "
                      f"the data tree must not count as a server\n{res.describe()}")
        self.assertTrue(out.is_file())


class Force(RunningCase):

    def test_force_goes_on_and_the_manifest_records_it(self):
        root = pristine("debian")
        proc = self.hold_open(dirs(root)["data"] / "data" / "jellyfin.db")
        out = self.mkdir("out") / "forced.tar.zst"
        res = self.create_in(root, "--force", output=out)
        self.assertExit(res, 0)
        warnings = u.warning_lines(res)
        self.assertTrue(any(str(proc.pid) in w for w in warnings),
                        f"--force warns, naming the pid\n{res.describe()}")
        self.assertTrue(out.is_file())
        ins = u.run(["inspect", out, "--json"])
        self.assertExit(ins, 0)
        forced = ins.json()["manifest"].get("forced")
        self.assertIsInstance(forced, str, f"manifest 'forced' is a string: {forced!r}")
        self.assertIn(str(proc.pid), forced)

    def test_unforced_archive_records_null(self):
        ins = u.run(["inspect", pristine_archive("debian"), "--json"])
        self.assertExit(ins, 0)
        self.assertIn("forced", ins.json()["manifest"])
        self.assertIsNone(ins.json()["manifest"]["forced"])


class RestoreRefuses(RunningCase):

    def test_restore_over_a_tree_held_open(self):
        archive = pristine_archive("debian")
        root = self.copy_install()
        d = dirs(root)
        # Make the targets differ from the archive, so a restore would change them.
        u.write_file(d["data"] / "MARKER.txt", b"live data\n")
        u.write_file(d["config"] / "MARKER.txt", b"live config\n")
        proc = self.hold_open(d["data"] / "data" / "jellyfin.db")
        before = {k: u.snapshot(d[k]) for k in ("data", "config")}
        parents = {k: u.list_dir(d[k].parent) for k in ("data", "config")}
        parent_mtimes = {k: os.stat(d[k].parent).st_mtime_ns for k in ("data", "config")}

        res = u.run(["restore", "--root", root, archive], env=ENV, timeout=120)
        self.assertRefused(res, proc, "jellyfin.db", "systemctl stop jellyfin")
        for k in ("data", "config"):
            self.assertEqual(r.snapshot_diff(before[k], u.snapshot(d[k])), [], f"{k} target changed")
            self.assertEqual(u.list_dir(d[k].parent), parents[k],
                             f"something was left beside the {k} target")
            self.assertEqual(os.stat(d[k].parent).st_mtime_ns, parent_mtimes[k],
                             f"the restore staged beside the {k} target before refusing: the "
                             "check runs when restore starts")

        res = u.run(["restore", "--root", root, archive, "--json"], env=ENV, timeout=120)
        self.assertExit(res, 4)
        self.assertEqual(res.json().get("exit_code"), 4, res.describe())

        res = u.run(["restore", "--root", root, archive, "--dry-run"], env=ENV, timeout=120)
        self.assertExit(res, 0, "--dry-run only warns")
        self.assertTrue(any(str(proc.pid) in w for w in u.warning_lines(res)),
                        f"--dry-run warns, naming the pid\n{res.describe()}")
        for k in ("data", "config"):
            self.assertEqual(r.snapshot_diff(before[k], u.snapshot(d[k])), [], f"{k} target changed")
            self.assertEqual(u.list_dir(d[k].parent), parents[k])

    def test_restore_force_goes_on_with_a_warning(self):
        archive = pristine_archive("debian")
        root = self.copy_install()
        d = dirs(root)
        u.write_file(d["data"] / "MARKER.txt", b"live data\n")
        proc = self.hold_open(d["data"] / "data" / "jellyfin.db")
        res = u.run(["restore", "--root", root, archive, "--force", "--json"], env=ENV,
                    timeout=120)
        self.assertExit(res, 0)
        self.assertTrue(any(str(proc.pid) in w for w in u.warning_lines(res)),
                        f"--force warns, naming the pid\n{res.describe()}")
        forced = res.json().get("forced")
        self.assertIsInstance(forced, str, res.describe())
        self.assertIn(str(proc.pid), forced)
        self.assertFalse((d["data"] / "MARKER.txt").exists(), "the archive's tree was swapped in")

    def test_server_started_during_the_restore_is_caught_before_the_swap(self):
        archive = pristine_archive("debian", "medium")
        root = self.copy_install("debian", "medium")
        d = dirs(root)
        u.write_file(d["data"] / "MARKER.txt", b"live data\n")
        ready = self.tmp / "ready"
        late = self._spawn([PY, "-c", LATE_SCRIPT, d["data"].parent,
                            d["data"] / "data" / "jellyfin.db", ready])
        deadline = time.monotonic() + 20
        while not ready.exists():
            self.assertLess(time.monotonic(), deadline, "the watcher did not start")
            time.sleep(0.02)
        before = {k: u.snapshot(d[k]) for k in ("data", "config")}
        parents = {k: u.list_dir(d[k].parent) for k in ("data", "config")}

        res = u.run(["restore", "--root", root, archive], env=ENV, timeout=120)
        if not Path(str(ready) + ".held").exists():
            self.skipTest("the restore finished before the stand-in could open the database")
        self.assertRefused(res, late, "jellyfin.db")
        for k in ("data", "config"):
            self.assertEqual(r.snapshot_diff(before[k], u.snapshot(d[k])), [], f"{k} target changed")
            self.assertEqual(u.list_dir(d[k].parent), parents[k],
                             f"staging or journal left beside the {k} target")


class Where(RunningCase):

    def test_where_lists_the_stand_in(self):
        root = pristine("debian")
        res = u.run(["where", "--root", root, "--json"], env=ENV)
        self.assertExit(res, 0)
        # (Only entries about this root: a process named jellyfin elsewhere on the machine, e.g.
        # from a concurrent test run, would be listed too.)
        mine = [e for e in res.json().get("running", []) if str(root) in e.get("reason", "")]
        self.assertEqual(mine, [], res.describe())

        db = dirs(root)["data"] / "data" / "jellyfin.db"
        proc = self.hold_open(db)
        named = self.named("jellyfin")
        res = u.run(["where", "--root", root, "--json"], env=ENV)
        self.assertExit(res, 0)
        running = res.json().get("running")
        self.assertIsInstance(running, list, res.describe())
        by_pid = {e.get("pid"): e for e in running}
        self.assertIn(proc.pid, by_pid, res.describe())
        self.assertIn("jellyfin.db", by_pid[proc.pid].get("reason", ""))
        self.assertIn(os.path.basename(PY), by_pid[proc.pid].get("command", ""))
        self.assertIn(named.pid, by_pid, res.describe())
        self.assertIn("is the Jellyfin server", by_pid[named.pid].get("reason", ""))
        self.assertNotIn(os.getpid(), by_pid, "where lists its own ancestors")
        self.assertIn("systemctl stop jellyfin", res.json().get("stop_hint", ""))


if __name__ == "__main__":
    unittest.main()
