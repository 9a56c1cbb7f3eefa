"""Stop and start the server for the user (issue 4 "Know Jellyfin", item 5).

`--service NAME` (systemctl), `--container NAME` (docker/podman) or `--stop-cmd CMD` /
`--start-cmd CMD` (run by /bin/sh -c, their stdout sent to our stderr): they exclude each other
(exit 2). The stop runs before anything is read; a failing stop aborts (exit 1, no archive) without
running the start; the start runs after the operation whatever its outcome (success, failure,
SIGINT/SIGTERM); a server still alive after the stop is waited for a while before the refusal;
the downtime is reported ("Jellyfin was stopped for X s", "downtime_seconds"); a failing start after
a successful operation is exit 1 with the archive kept.

The server is a stand-in (a Python process holding data/jellyfin.db open, its pid in a file); the
stop command kills it by that pid, the start command launches a new one; both append timestamped
lines to a log, so the order of events can be read back. systemctl, docker and podman are fakes put
first on PATH that record their arguments.

Run: JB_BIN=build/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_server_control.py
"""

import ctypes
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r

PY = sys.executable

# The stand-in: holds DB open, writes its pid to PIDFILE (atomically) once it does; on SIGTERM it
# lingers LINGER seconds (holding the file) before exiting.
STANDIN = """\
import os, signal, sys, time
db, pidfile, linger = sys.argv[1], sys.argv[2], float(sys.argv[3])
def on_term(*_):
    time.sleep(linger)
    os._exit(0)
signal.signal(signal.SIGTERM, on_term)
f = open(db, "rb")
with open(pidfile + ".tmp", "w") as p:
    p.write(str(os.getpid()))
os.rename(pidfile + ".tmp", pidfile)
with open(pidfile + ".all", "a") as p:
    p.write(f"{os.getpid()}\\n")
while True:
    time.sleep(1000)
"""

# A fake systemctl/docker/podman: records "NAME ARGS" in $JB_E2E_CALLS, prints on stdout, and
# fails with $JB_E2E_FAIL_ON_<verb> when that is set.
FAKE = """\
#!/bin/sh
echo "{name} $*" >> "$JB_E2E_CALLS"
echo "{name} says: $1 done"
eval "code=\\${{JB_E2E_FAIL_ON_$1:-0}}"
exit "$code"
"""

CLOCK = "$(date +%s.%N)"

DOWNTIME_RE = re.compile(r"Jellyfin was stopped for (\d+(?:\.\d+)?) s")


def become_subreaper():
    """Stand-ins started by a start command are orphaned when its shell exits; as the subreaper,
    this process inherits them and can reap them (the container's init may not)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


become_subreaper()

_SHARED = {}


def tearDownModule():
    if "dir" in _SHARED:
        u.rmtree_force(_SHARED.pop("dir"))


def shared_dir() -> Path:
    if "dir" not in _SHARED:
        _SHARED["dir"] = Path(tempfile.mkdtemp(prefix="jb-e2e-control-"))
        os.chmod(_SHARED["dir"], 0o755)
        (_SHARED["dir"] / "standin.py").write_text(STANDIN)
    return _SHARED["dir"]


def pristine(scale: str = "small") -> Path:
    """A debian sample install (made once per run; never modified: create only reads it)."""
    if scale not in _SHARED:
        root = shared_dir() / f"debian-{scale}"
        u.make_install(root, "debian", scale=scale)
        _SHARED[scale] = root
    return _SHARED[scale]


def pristine_archive() -> Path:
    if "archive" not in _SHARED:
        out = shared_dir() / "debian-small.tar.zst"
        res = u.run(["create", "--root", pristine(), "--output", out, "--quiet"],
                    env=u.install_env(), timeout=120)
        if res.code != 0 or not out.is_file():
            raise AssertionError(f"could not make the fixture archive\n{res.describe()}")
        _SHARED["archive"] = out
    return _SHARED["archive"]


def q(p) -> str:
    return shlex.quote(os.fspath(p))


def pid_alive_holding(pid: int, path) -> bool:
    want = os.path.realpath(path)
    try:
        for n in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{n}") == want:
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


class ControlCase(u.E2ETestCase):

    def setUp(self):
        super().setUp()
        self.log = self.tmp / "events.log"
        self.pidfile = self.tmp / "server.pid"
        self.outdir = self.mkdir("out")
        self.env = u.install_env()
        self.addCleanup(self.reap_stand_ins)

    # -- the stand-in and the commands that control it ---------------------------------------

    def start_script(self, db, *, linger: float = 0, record=None, code: int = 0) -> str:
        """Starts a stand-in holding `db` in the background (stdio detached) and waits until it
        holds the file; logs "start TIME" then `ls -A record` (when given)."""
        s = (f"rm -f {q(self.pidfile)}; "
             f"{q(PY)} {q(shared_dir() / 'standin.py')} {q(db)} {q(self.pidfile)} {linger} "
             f"</dev/null >/dev/null 2>&1 & "
             f"i=0; while [ ! -s {q(self.pidfile)} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; "
             f"echo \"start {CLOCK}\" >> {q(self.log)}; ")
        if record is not None:
            s += f"echo \"ls $(ls -A {q(record)} | tr '\\n' ' ')\" >> {q(self.log)}; "
        s += "echo start-cmd-says-hello; "
        return s + f"exit {code}"

    def stop_script(self, *, record=None, extra: str = "", code: int = 0) -> str:
        """Logs "stop TIME" (and `ls -A record`), kills the stand-in by its pid file."""
        s = f"echo \"stop {CLOCK}\" >> {q(self.log)}; "
        if record is not None:
            s += f"echo \"ls $(ls -A {q(record)} | tr '\\n' ' ')\" >> {q(self.log)}; "
        s += "echo stop-cmd-says-hello; "
        if code:
            return s + f"exit {code}"
        return s + f"kill $(cat {q(self.pidfile)}); {extra}exit 0"

    def start_stand_in(self, db, linger: float = 0) -> int:
        """Starts the first stand-in the way the start command does (nothing logged)."""
        subprocess.run(["/bin/sh", "-c", self.start_script(db, linger=linger)], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=30)
        self.log.unlink()
        pid = int(self.pidfile.read_text())
        self.assertTrue(pid_alive_holding(pid, db), "the stand-in does not hold the database")
        return pid

    def reap_stand_ins(self):
        allfile = Path(str(self.pidfile) + ".all")
        if not allfile.exists():
            return
        marker = os.fsencode(shared_dir() / "standin.py")
        for line in allfile.read_text().split():
            pid = int(line)
            try:
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue  # gone (reaped by someone else)
            ours = ppid == os.getpid()  # a child, or a zombie we inherited as the subreaper
            if not ours and marker not in cmdline:
                continue  # the pid was reused by some other process
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            if ours:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass

    def events(self) -> list[tuple[str, str]]:
        """The log as (word, rest) pairs; [] when nothing was logged."""
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            word, _, rest = line.partition(" ")
            out.append((word, rest))
        return out

    def event_words(self) -> list[str]:
        return [w for w, _ in self.events() if w != "ls"]

    def fake_bin(self, *names) -> dict:
        """A dir with fakes of `names` put first on PATH; returns the child's env."""
        bindir = self.mkdir("fakebin")
        for n in names:
            p = bindir / n
            p.write_text(FAKE.format(name=n))
            p.chmod(0o755)
        env = dict(self.env)
        env["PATH"] = f"{bindir}:{env.get('PATH', '/usr/bin:/bin')}"
        env["JB_E2E_CALLS"] = str(self.tmp / "calls.log")
        return env

    def calls(self) -> list[str]:
        p = self.tmp / "calls.log"
        return p.read_text().splitlines() if p.exists() else []

    def db_of(self, root) -> Path:
        return u.install_dirs(root, "debian")["data"] / "data" / "jellyfin.db"

    def assertFailsWith(self, res: u.Result, code: int, *needles: str):
        """Exit `code` and one error line naming `needles` (the stop/start commands' own output
        is on stderr too, so other lines may surround it)."""
        self.assertExit(res, code)
        errors = [l for l in res.stderr.splitlines() if l.startswith(u.ERROR_PREFIX)]
        if len(errors) != 1:
            self.fail(f"expected one 'jellyfin-backup: error: ...' line\n{res.describe()}")
        for n in needles:
            if n not in errors[0]:
                self.fail(f"the error does not name {n!r}\n{res.describe()}")

    def assertDowntime(self, res: u.Result):
        m = DOWNTIME_RE.search(res.stdout + res.stderr)
        if not m:
            self.fail(f"no 'Jellyfin was stopped for X s' line\n{res.describe()}")
        self.assertGreaterEqual(float(m.group(1)), 0)

    def assertServerBack(self, old_pid: int, db):
        new_pid = int(self.pidfile.read_text())
        self.assertNotEqual(new_pid, old_pid, "the start command did not start a new stand-in")
        self.assertTrue(pid_alive_holding(new_pid, db), "the restarted stand-in is not running")
        self.assertFalse(pid_alive_holding(old_pid, db), "the stopped stand-in still runs")


# --------------------------------------------------------------------------------------------------


class CreateStopStart(ControlCase):

    def test_order_stop_archive_start(self):
        root = pristine()
        db = self.db_of(root)
        old = self.start_stand_in(db)
        archive = self.outdir / "a.tar.zst"
        res = u.run(["create", "--root", root, "--output", archive,
                     "--stop-cmd", self.stop_script(record=self.outdir),
                     "--start-cmd", self.start_script(db, record=self.outdir)], env=self.env)
        self.assertExit(res, 0)
        ev = self.events()
        self.assertEqual([w for w, _ in ev], ["stop", "ls", "start", "ls"], f"log: {ev}")
        self.assertEqual(ev[1][1].split(), [], "the output dir is empty when the stop runs")
        # The server starts again once every file is read, before the archive is
        # finished (fsync, rename, sidecar): no complete archive yet, at most its
        # hidden temporary.
        self.assertNotIn("a.tar.zst.xxh128", ev[3][1].split(),
                         "the start waited for the archive to be finished")
        t_stop, t_start = float(ev[0][1]), float(ev[2][1])
        mtime = os.stat(archive).st_mtime_ns / 1e9
        self.assertLess(t_stop, mtime, "the archive was written after the stop")
        self.assertLess(t_stop, t_start)
        self.assertDowntime(res)
        self.assertIn("stop-cmd-says-hello", res.stderr, "the commands' stdout goes to stderr")
        self.assertIn("start-cmd-says-hello", res.stderr)
        self.assertNotIn("says-hello", res.stdout)
        self.assertServerBack(old, db)
        self.assertExit(u.run(["verify", archive, "--quiet"]), 0, "the archive verifies")

    def test_a_create_out_of_space_says_jellyfin_runs_again(self):
        """Issue 12, point 5: the full disk is found after the stop; the run still ends by saying
        Jellyfin runs again, and --json carries server_restarted and downtime_seconds."""
        mnt = self.mkdir("small")
        why = u.mount_tmpfs(mnt, "size=64k")
        if why:
            self.skipTest(why)
        self.addCleanup(subprocess.run, ["umount", "-l", str(mnt)])
        root = pristine("medium")
        db = self.db_of(root)
        old = self.start_stand_in(db)
        res = u.run(["create", "--root", root, "--output", mnt, "--json", "--level", "1",
                     "--stop-cmd", self.stop_script(), "--start-cmd", self.start_script(db)],
                    env=self.env, timeout=120)
        self.assertFailsWith(res, 1)
        self.assertEqual(self.event_words(), ["stop", "start"])
        self.assertRegex(res.stderr.splitlines()[-1], DOWNTIME_RE.pattern + r" and is running again",
                         res.describe())
        obj = res.json()
        self.assertIs(obj.get("server_restarted"), True, res.describe())
        self.assertGreaterEqual(obj.get("downtime_seconds"), 0)
        self.assertEqual(os.listdir(mnt), [], "nothing is left on the full disk")
        self.assertServerBack(old, db)

    def test_json_stdout_stays_clean(self):
        root = pristine()
        db = self.db_of(root)
        old = self.start_stand_in(db)
        res = u.run(["create", "--root", root, "--output", self.outdir / "a.tar.zst", "--json",
                     "--stop-cmd", self.stop_script(), "--start-cmd", self.start_script(db)],
                    env=self.env)
        self.assertExit(res, 0)
        try:
            obj = res.json()
        except ValueError:
            self.fail(f"--json stdout is not one JSON object\n{res.describe()}")
        self.assertIs(obj.get("ok"), True)
        dt = obj.get("downtime_seconds")
        self.assertIsInstance(dt, (int, float), f"downtime_seconds: {dt!r}")
        self.assertNotIsInstance(dt, bool)
        self.assertGreaterEqual(dt, 0)
        self.assertIn("stop-cmd-says-hello", res.stderr)
        self.assertIn("start-cmd-says-hello", res.stderr)
        self.assertServerBack(old, db)

    def test_lingering_server_is_waited_for(self):
        # The stand-in takes 1.5 s to exit after the stop's SIGTERM, holding the database.
        root = pristine()
        db = self.db_of(root)
        old = self.start_stand_in(db, linger=1.5)
        t0 = time.monotonic()
        res = u.run(["create", "--root", root, "--output", self.outdir / "a.tar.zst", "--json",
                     "--stop-cmd", self.stop_script(), "--start-cmd", self.start_script(db)],
                    env=self.env)
        elapsed = time.monotonic() - t0
        self.assertExit(res, 0, "a server that lets go after the stop is waited for")
        self.assertGreaterEqual(elapsed, 1.2, "the create did not wait for the stand-in to exit")
        self.assertGreaterEqual(res.json()["downtime_seconds"], 1.2)
        self.assertEqual(self.event_words(), ["stop", "start"])
        self.assertServerBack(old, db)

    def test_server_that_does_not_stop_is_refused_after_waiting(self):
        # The stop command does nothing: after waiting (up to 15 s) the create refuses (exit 4),
        # reads nothing and still starts the server again.
        root = pristine()
        db = self.db_of(root)
        old = self.start_stand_in(db)
        t0 = time.monotonic()
        res = u.run(["create", "--root", root, "--output", self.outdir,
                     "--stop-cmd", f"echo \"stop {CLOCK}\" >> {q(self.log)}",
                     "--start-cmd", f"echo \"start {CLOCK}\" >> {q(self.log)}"],
                    env=self.env, timeout=60)
        elapsed = time.monotonic() - t0
        self.assertFailsWith(res, 4, str(old), "jellyfin.db")
        self.assertGreaterEqual(elapsed, 10, "the create refused without waiting")
        self.assertEqual(self.event_words(), ["stop", "start"], "the start runs after a refusal")
        self.assertEqual(os.listdir(self.outdir), [])


class FailingStop(ControlCase):

    def test_failing_stop_command_aborts_before_reading(self):
        root = pristine()
        db = self.db_of(root)
        old = self.start_stand_in(db)
        before = os.stat(self.outdir).st_mtime_ns
        res = u.run(["create", "--root", root, "--output", self.outdir,
                     "--stop-cmd", self.stop_script(code=3),
                     "--start-cmd", self.start_script(db)], env=self.env)
        self.assertFailsWith(res, 1)
        self.assertEqual(self.event_words(), ["stop"], "the start must not run after a failed stop")
        self.assertEqual(os.listdir(self.outdir), [])
        self.assertEqual(os.stat(self.outdir).st_mtime_ns, before, "the output dir was touched")
        self.assertTrue(pid_alive_holding(old, db))

    def test_failing_stop_json(self):
        root = pristine()
        res = u.run(["create", "--root", root, "--output", self.outdir, "--json",
                     "--stop-cmd", "echo on-stdout; exit 3",
                     "--start-cmd", f"echo start >> {q(self.log)}"], env=self.env)
        self.assertExit(res, 1)
        obj = res.json()
        self.assertIs(obj.get("ok"), False)
        self.assertEqual(obj.get("exit_code"), 1)
        self.assertIn("on-stdout", res.stderr)
        self.assertEqual(self.events(), [])
        self.assertEqual(os.listdir(self.outdir), [])

    def test_failing_container_stop(self):
        root = pristine()
        env = self.fake_bin("docker")
        env["JB_E2E_FAIL_ON_stop"] = "1"
        res = u.run(["create", "--root", root, "--output", self.outdir, "--container", "jf-e2e"],
                    env=env)
        self.assertFailsWith(res, 1)
        self.assertEqual(self.calls(), ["docker stop jf-e2e"], "no start after a failed stop")
        self.assertEqual(os.listdir(self.outdir), [])


class StartWhateverTheOutcome(ControlCase):

    def test_an_existing_output_is_refused_before_the_stop(self):
        root = pristine()
        db = self.db_of(root)
        old = self.start_stand_in(db)
        existing = u.write_file(self.outdir / "a.tar.zst", b"not to be overwritten\n")
        res = u.run(["create", "--root", root, "--output", existing,
                     "--stop-cmd", self.stop_script(), "--start-cmd", self.start_script(db)],
                    env=self.env)
        self.assertFailsWith(res, 1, "already exists")
        # Found before the server is stopped: a wrong --output costs no downtime.
        self.assertEqual(self.event_words(), [])
        self.assertEqual(existing.read_bytes(), b"not to be overwritten\n")
        self.assertEqual(os.listdir(self.outdir), ["a.tar.zst"])

    def test_start_failing_after_success_keeps_the_archive(self):
        root = pristine()
        archive = self.outdir / "a.tar.zst"
        res = u.run(["create", "--root", root, "--output", archive,
                     "--stop-cmd", f"echo \"stop {CLOCK}\" >> {q(self.log)}",
                     "--start-cmd", f"echo \"start {CLOCK}\" >> {q(self.log)}; exit 5"],
                    env=self.env)
        self.assertFailsWith(res, 1, "created", "a.tar.zst")
        self.assertEqual(self.event_words(), ["stop", "start"])
        self.assertTrue(archive.is_file(), "the archive is kept when only the start failed")
        self.assertExit(u.run(["verify", archive, "--quiet"]), 0)

    def test_start_failing_after_success_json(self):
        root = pristine()
        archive = self.outdir / "a.tar.zst"
        res = u.run(["create", "--root", root, "--output", archive, "--json",
                     "--stop-cmd", "true", "--start-cmd", "echo oops; exit 5"], env=self.env)
        self.assertExit(res, 1)
        obj = res.json()
        self.assertEqual(obj.get("exit_code"), 1)
        self.assertIn("created", obj.get("error", ""))
        self.assertTrue(archive.is_file())

    def _interrupt(self, sig, *, during_stop: bool):
        root = pristine("medium")
        db = self.db_of(root)
        old = self.start_stand_in(db)
        extra = "sleep 1; " if during_stop else ""
        proc = u.popen(["create", "--root", root, "--output", self.outdir, "--level", "19",
                        "--stop-cmd", self.stop_script(extra=extra),
                        "--start-cmd", self.start_script(db, record=self.outdir)], env=self.env)
        try:
            deadline = time.monotonic() + 20
            while "stop" not in self.event_words():
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.fail(f"the stop command did not run (exit {proc.poll()})")
                time.sleep(0.02)
            time.sleep(0.3 if during_stop else 0.7)
            self.assertIsNone(proc.poll(), "the create finished before the signal")
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        res = u.Result(proc.args, proc.returncode, out, err)
        self.assertExit(res, 128 + sig.value, "shells' and restic's code for a signal")
        self.assertEqual(self.event_words(), ["stop", "start"],
                         f"the start runs after {sig.name}\n{res.describe()}")
        self.assertEqual(os.listdir(self.outdir), [],
                         f"no archive (nor temp file) left after {sig.name}\n{res.describe()}")
        self.assertServerBack(old, db)
        self.assertRegex(res.stderr, DOWNTIME_RE.pattern + r" and is running again",
                         f"an interrupted run says Jellyfin runs again\n{res.describe()}")
        if during_stop:
            self.assertIn(f"error: interrupted by {sig.name} while Jellyfin was being stopped; "
                          "Jellyfin was started again", res.stderr)
            self.assertNotIn("partial archive", res.stderr)

    def test_start_runs_after_sigint(self):
        self._interrupt(signal.SIGINT, during_stop=False)

    def test_start_runs_after_sigterm(self):
        self._interrupt(signal.SIGTERM, during_stop=False)

    def test_start_runs_after_sigterm_during_the_stop_command(self):
        self._interrupt(signal.SIGTERM, during_stop=True)

    def test_commands_read_dev_null(self):
        # The commands must not eat the tool's stdin (restore - reads the archive from it).
        root = pristine()
        cap1, cap2 = self.tmp / "stdin-stop", self.tmp / "stdin-start"
        res = u.run(["create", "--root", root, "--output", self.outdir / "a.tar.zst", "--quiet",
                     "--stop-cmd", f"cat > {q(cap1)}", "--start-cmd", f"cat > {q(cap2)}"],
                    input=b"not for the commands\n", env=self.env)
        self.assertExit(res, 0)
        self.assertEqual(cap1.read_bytes(), b"")
        self.assertEqual(cap2.read_bytes(), b"")

    # With --start-cmd alone nothing is stopped: no downtime line, downtime_seconds null (the man
    # page: the line is there "only when create stopped the server").
    def test_start_cmd_alone_reports_no_downtime(self):
        root = pristine()
        res = u.run(["create", "--root", root, "--output", self.outdir / "a.tar.zst", "--json",
                     "--start-cmd", f"echo start >> {q(self.log)}"], env=self.env)
        self.assertExit(res, 0)
        self.assertEqual(self.event_words(), ["start"])
        self.assertIsNone(res.json().get("downtime_seconds"), "nothing was stopped")
        res = u.run(["create", "--root", root, "--output", self.outdir / "b.tar.zst",
                     "--start-cmd", "true"], env=self.env)
        self.assertExit(res, 0)
        self.assertNotRegex(res.stdout, DOWNTIME_RE, "nothing was stopped")


class RestoreStopStart(ControlCase):

    def install_copy(self) -> Path:
        return u.copy_tree(pristine(), self.tmp / "root")

    def test_restore_order(self):
        archive = pristine_archive()
        root = self.install_copy()
        d = u.install_dirs(root, "debian")
        u.write_file(d["data"] / "MARKER.txt", b"live\n")
        db = self.db_of(root)
        old = self.start_stand_in(db)
        res = u.run(["restore", "--root", root, archive, "--json",
                     "--stop-cmd", self.stop_script(record=d["data"].parent),
                     "--start-cmd", self.start_script(db, record=d["data"].parent)],
                    env=self.env, timeout=120)
        self.assertExit(res, 0)
        ev = self.events()
        self.assertEqual([w for w, _ in ev], ["stop", "ls", "start", "ls"], f"log: {ev}")
        kept = r.backups(d["data"].parent, "jellyfin")
        self.assertEqual(len(kept), 1, "the replaced data tree is kept aside")
        self.assertNotIn(kept[0], ev[1][1].split(), f"swapped before the stop ran; log: {ev}")
        self.assertIn(kept[0], ev[3][1].split(), f"the swap was not done when the start ran; log: {ev}")
        self.assertEqual(r.leftovers(d["data"].parent), [])
        self.assertFalse((d["data"] / "MARKER.txt").exists(), "the archive's tree is in place")
        obj = res.json()
        self.assertGreaterEqual(obj.get("downtime_seconds"), 0)
        self.assertIs(obj.get("server_restarted"), True)
        self.assertIn("stop-cmd-says-hello", res.stderr)
        self.assertServerBack(old, db)

    def test_start_runs_after_a_damaged_archive(self):
        good = pristine_archive().read_bytes()
        bad = u.write_file(self.tmp / "bad.tar.zst", u.flip(good, len(good) // 2))
        root = self.install_copy()
        d = u.install_dirs(root, "debian")
        db = self.db_of(root)
        old = self.start_stand_in(db)
        before = {k: u.snapshot(d[k]) for k in ("data", "config")}
        parents = {k: u.list_dir(d[k].parent) for k in ("data", "config")}
        res = u.run(["restore", "--root", root, bad,
                     "--stop-cmd", self.stop_script(), "--start-cmd", self.start_script(db)],
                    env=self.env, timeout=120)
        self.assertExit(res, 3)
        self.assertEqual(self.event_words(), ["stop", "start"])
        for k in ("data", "config"):
            self.assertEqual(r.snapshot_diff(before[k], u.snapshot(d[k])), [], f"{k} changed")
            self.assertEqual(u.list_dir(d[k].parent), parents[k], f"left beside {k}")
        self.assertServerBack(old, db)

    def test_a_failed_restore_says_jellyfin_runs_again(self):
        """Issue 12, point 5: a run that stopped the server ends by saying whether it runs
        again, in text and in --json, also when it fails."""
        good = pristine_archive().read_bytes()
        bad = u.write_file(self.tmp / "bad.tar.zst", u.flip(good, len(good) // 2))
        root = self.install_copy()
        db = self.db_of(root)
        self.start_stand_in(db)
        for json_flag in ([], ["--json"]):
            with self.subTest(json=bool(json_flag)):
                res = u.run(["restore", "--root", root, bad, *json_flag,
                             "--stop-cmd", self.stop_script(), "--start-cmd", self.start_script(db)],
                            env=self.env, timeout=120)
                self.assertFailsWith(res, 3)
                lines = res.stderr.splitlines()
                self.assertRegex(lines[-1], DOWNTIME_RE.pattern + r" and is running again",
                                 f"the last line says Jellyfin is back\n{res.describe()}")
                if json_flag:
                    obj = res.json()
                    self.assertFalse(obj["ok"])
                    self.assertIs(obj.get("server_restarted"), True, res.describe())
                    self.assertGreaterEqual(obj.get("downtime_seconds"), 0)

    def test_a_failed_start_after_a_failed_restore_says_jellyfin_is_down(self):
        good = pristine_archive().read_bytes()
        bad = u.write_file(self.tmp / "bad.tar.zst", u.flip(good, len(good) // 2))
        root = self.install_copy()
        res = u.run(["restore", "--root", root, bad, "--json", "--stop-cmd", "true",
                     "--start-cmd", "exit 5"], env=self.env, timeout=120)
        self.assertExit(res, 3)
        self.assertIn("is not running again", res.stderr.splitlines()[-1], res.describe())
        obj = res.json()
        self.assertIs(obj.get("server_restarted"), False, res.describe())
        self.assertGreaterEqual(obj.get("downtime_seconds"), 0)

    def test_a_restore_that_stopped_nothing_has_null_server_fields(self):
        res = u.run(["restore", "--root", self.install_copy(), self.tmp / "missing.tar.zst", "--json",
                     "--stop-cmd", "true", "--start-cmd", "true"], env=self.env, timeout=120)
        self.assertExit(res, 1)
        obj = res.json()
        self.assertIn("server_restarted", obj)
        self.assertIsNone(obj["server_restarted"])
        self.assertIsNone(obj["downtime_seconds"])
        self.assertIsNone(DOWNTIME_RE.search(res.stderr), res.describe())

    def test_failing_start_after_a_failed_restore_is_a_warning(self):
        good = pristine_archive().read_bytes()
        bad = u.write_file(self.tmp / "bad.tar.zst", u.flip(good, len(good) // 2))
        root = self.install_copy()
        res = u.run(["restore", "--root", root, bad, "--stop-cmd", "true",
                     "--start-cmd", f"echo start >> {q(self.log)}; exit 5"], env=self.env,
                    timeout=120)
        self.assertExit(res, 3, "the operation's own error decides the exit status")
        self.assertEqual(self.event_words(), ["start"])
        self.assertTrue(any("start" in w for w in u.warning_lines(res)),
                        f"the failing start is a warning\n{res.describe()}")

    def test_start_runs_after_sigterm_during_restore(self):
        archive = self.tmp / "medium.tar.zst"
        res = u.run(["create", "--root", pristine("medium"), "--output", archive, "--quiet"],
                    env=self.env, timeout=120)
        self.assertExit(res, 0)
        root = u.copy_tree(pristine("medium"), self.tmp / "root")
        d = u.install_dirs(root, "debian")
        u.write_file(d["data"] / "MARKER.txt", b"live\n")
        before = {k: u.snapshot(d[k]) for k in ("data", "config")}
        parents = {k: u.list_dir(d[k].parent) for k in ("data", "config")}
        proc = u.popen(["restore", "--root", root, archive,
                        "--stop-cmd", f"echo \"stop {CLOCK}\" >> {q(self.log)}",
                        "--start-cmd", f"echo \"start {CLOCK}\" >> {q(self.log)}"], env=self.env)
        try:
            deadline = time.monotonic() + 20
            while "stop" not in self.event_words():
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.fail(f"the stop command did not run (exit {proc.poll()})")
                time.sleep(0.005)
            time.sleep(0.1)
            if proc.poll() is not None:
                self.skipTest("the restore ended before the signal")
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        res = u.Result(proc.args, proc.returncode, out, err)
        self.assertNotEqual(res.code, 0, res.describe())
        self.assertEqual(self.event_words(), ["stop", "start"], res.describe())
        for k in ("data", "config"):
            self.assertEqual(r.snapshot_diff(before[k], u.snapshot(d[k])), [], f"{k} changed")
            self.assertEqual(u.list_dir(d[k].parent), parents[k], f"left beside {k}")

    def test_failing_stop_restores_nothing(self):
        archive = pristine_archive()
        root = self.install_copy()
        d = u.install_dirs(root, "debian")
        before = {k: u.snapshot(d[k]) for k in ("data", "config")}
        parents = {k: u.list_dir(d[k].parent) for k in ("data", "config")}
        res = u.run(["restore", "--root", root, archive,
                     "--stop-cmd", f"echo stop >> {q(self.log)}; exit 2",
                     "--start-cmd", f"echo start >> {q(self.log)}"], env=self.env, timeout=120)
        self.assertFailsWith(res, 1)
        self.assertEqual(self.event_words(), ["stop"])
        for k in ("data", "config"):
            self.assertEqual(r.snapshot_diff(before[k], u.snapshot(d[k])), [], f"{k} changed")
            self.assertEqual(u.list_dir(d[k].parent), parents[k])


class RestoreRefusesBeforeTheStop(ControlCase):
    """Issue 12, point 2: a dry run never stops or starts anything; a real restore makes every
    refusal it can make while the server runs before it stops it."""

    def install_copy(self) -> Path:
        return u.copy_tree(pristine(), self.tmp / "root")

    def control(self) -> list[str]:
        return ["--stop-cmd", f"echo stop >> {q(self.log)}", "--start-cmd", f"echo start >> {q(self.log)}"]

    def test_dry_run_stops_and_starts_nothing(self):
        root = self.install_copy()
        res = u.run(["restore", "--root", root, pristine_archive(), "--dry-run", *self.control()],
                    env=self.env, timeout=120)
        self.assertExit(res, 0)
        self.assertEqual(self.event_words(), [], f"a dry run ran the server control\n{res.describe()}")
        notes = [l for l in u.warning_lines(res) if "--dry-run" in l and "not used" in l]
        self.assertEqual(len(notes), 1, f"the dry run says once that it stops nothing\n{res.describe()}")
        self.assertIsNone(DOWNTIME_RE.search(res.stdout + res.stderr), res.describe())

    def test_dry_run_does_not_use_the_config_files_service(self):
        root = self.install_copy()
        env = self.fake_bin("systemctl")
        conf = u.write_file(self.tmp / "jb.conf", f"service = jf-e2e\nroot = {root}\n".encode())
        conf.chmod(0o600)
        res = u.run(["restore", "--config-file", conf, pristine_archive(), "--dry-run", "--json"],
                    env=env, timeout=120)
        self.assertExit(res, 0)
        self.assertEqual([c for c in self.calls() if "stop" in c or "start" in c], [],
                         f"the dry run ran systemctl\n{res.describe()}")
        notes = [l for l in res.stderr.splitlines() if "--dry-run" in l and str(conf) in l]
        self.assertEqual(len(notes), 1, f"one line says the config's service is not used\n{res.describe()}")
        obj = res.json()
        self.assertIsNone(obj.get("downtime_seconds"))

    def assertRefusedUnstopped(self, argv, code, *, stdin=None):
        root = self.install_copy()
        d = u.install_dirs(root, "debian")
        before = {k: u.snapshot(d[k]) for k in ("data", "config")}
        parents = {k: u.list_dir(d[k].parent) for k in ("data", "config")}
        res = u.run(["restore", "--root", root, *argv, *self.control()], env=self.env, timeout=120,
                    input=stdin)
        self.assertFailsWith(res, code)
        self.assertEqual(self.event_words(), [], f"the server was stopped for a refusal\n{res.describe()}")
        for k in ("data", "config"):
            self.assertEqual(r.snapshot_diff(before[k], u.snapshot(d[k])), [], f"{k} changed")
            self.assertEqual(u.list_dir(d[k].parent), parents[k], f"left beside {k}")
        return res

    def test_a_missing_archive(self):
        self.assertRefusedUnstopped([self.tmp / "nope.tar.zst"], 1)

    def test_not_an_archive(self):
        junk = u.write_file(self.tmp / "junk.tar.zst", os.urandom(4096))
        self.assertRefusedUnstopped([junk], 3)

    def test_a_damaged_manifest(self):
        good = pristine_archive().read_bytes()
        bad = u.write_file(self.tmp / "bad.tar.zst", u.flip(good, 40))
        self.assertRefusedUnstopped([bad], 3)

    def test_a_damaged_manifest_on_stdin(self):
        good = pristine_archive().read_bytes()
        self.assertRefusedUnstopped(["-"], 3, stdin=u.flip(good, 40))

    def test_an_archive_from_a_newer_jellyfin(self):
        res = self.assertRefusedUnstopped([pristine_archive(), "--server-version", "10.0.0"], 4)
        self.assertIn("newer", res.stderr)

    def test_not_enough_free_space(self):
        mnt = self.mkdir("small")
        why = u.mount_tmpfs(mnt, "size=64k")
        if why:
            self.skipTest(why)
        self.addCleanup(subprocess.run, ["umount", "-l", str(mnt)])
        data, config = mnt / "data", mnt / "config"
        data.mkdir()
        config.mkdir()
        res = u.run(["restore", "--data", data, "--config", config, pristine_archive(),
                     "--server-version", "10.99.0", *self.control()], env=self.env, timeout=120)
        self.assertFailsWith(res, 4, "free space")
        self.assertEqual(self.event_words(), [], res.describe())

    def test_a_stream_restores_after_its_head_was_read(self):
        root = self.install_copy()
        d = u.install_dirs(root, "debian")
        u.write_file(d["data"] / "MARKER.txt", b"live\n")
        res = u.run(["restore", "--root", root, "-", *self.control()], env=self.env, timeout=120,
                    input=pristine_archive().read_bytes())
        self.assertExit(res, 0)
        self.assertEqual(self.event_words(), ["stop", "start"])
        self.assertFalse((d["data"] / "MARKER.txt").exists(), "the archive's tree is in place")


class ServiceAndContainer(ControlCase):

    def test_options_exclude_each_other(self):
        root = pristine()
        env = self.fake_bin("systemctl", "docker", "podman")
        stop = f"echo stop >> {q(self.log)}"
        start = f"echo start >> {q(self.log)}"
        combos = [
            ["--service", "jf-e2e", "--stop-cmd", stop],
            ["--service", "jf-e2e", "--start-cmd", start],
            ["--container", "jf-e2e", "--stop-cmd", stop, "--start-cmd", start],
            ["--service", "jf-e2e", "--container", "jf-e2e"],
        ]
        for cmd in ("create", "restore"):
            for combo in combos:
                with self.subTest(cmd=cmd, combo=combo):
                    if cmd == "create":
                        argv = ["create", "--root", root, "--output", self.outdir, *combo]
                    else:
                        argv = ["restore", "--root", root, pristine_archive(), "--dry-run",
                                *combo]
                    res = u.run(argv, env=env)
                    self.assertFailsWith(res, 2)
                    self.assertEqual(self.events(), [], "a command ran despite the usage error")
                    self.assertEqual(self.calls(), [], "a fake ran despite the usage error")
                    self.assertEqual(os.listdir(self.outdir), [])

    def test_container_uses_docker(self):
        root = pristine()
        env = self.fake_bin("docker")
        res = u.run(["create", "--root", root, "--output", self.outdir / "a.tar.zst", "--json",
                     "--container", "jf-e2e"], env=env)
        self.assertExit(res, 0)
        self.assertEqual(self.calls(), ["docker stop jf-e2e", "docker start jf-e2e"])
        obj = res.json()
        self.assertGreaterEqual(obj.get("downtime_seconds"), 0)
        self.assertIn("docker says", res.stderr)
        self.assertTrue((self.outdir / "a.tar.zst").is_file())

    def test_container_uses_podman_without_docker(self):
        root = pristine()
        env = self.fake_bin("podman")
        # No docker anywhere on PATH: the fakes, then only the system directories.
        env["PATH"] = f"{self.tmp / 'fakebin'}:/usr/bin:/bin"
        if any(os.path.exists(os.path.join(d, "docker")) for d in ("/usr/bin", "/bin")):
            self.skipTest("a docker binary is installed in /usr/bin or /bin")
        res = u.run(["create", "--root", root, "--output", self.outdir / "a.tar.zst",
                     "--container", "jf-e2e"], env=env)
        self.assertExit(res, 0)
        self.assertEqual(self.calls(), ["podman stop jf-e2e", "podman start jf-e2e"])

    def test_container_without_docker_or_podman_is_a_usage_error(self):
        root = pristine()
        env = self.fake_bin("systemctl")
        env["PATH"] = f"{self.tmp / 'fakebin'}:/usr/bin:/bin"
        if any(os.path.exists(os.path.join(d, n)) for d in ("/usr/bin", "/bin")
               for n in ("docker", "podman")):
            self.skipTest("docker or podman is installed in /usr/bin or /bin")
        res = u.run(["create", "--root", root, "--output", self.outdir, "--container", "jf-e2e"],
                    env=env)
        self.assertFailsWith(res, 2, "jf-e2e")
        self.assertEqual(os.listdir(self.outdir), [])

    def test_service_uses_systemctl(self):
        root = pristine()
        env = self.fake_bin("systemctl")
        res = u.run(["create", "--root", root, "--output", self.outdir / "a.tar.zst",
                     "--service", "jellyfin-e2e"], env=env)
        self.assertExit(res, 0)
        self.assertEqual(self.calls(), ["systemctl stop jellyfin-e2e",
                                        "systemctl start jellyfin-e2e"])
        self.assertDowntime(res)
        self.assertIn("systemctl says", res.stderr)
        self.assertNotIn("systemctl says", res.stdout)

    def test_service_start_after_failure(self):
        root = pristine()
        env = self.fake_bin("systemctl")
        existing = u.write_file(self.outdir / "a.tar.zst", b"x")
        res = u.run(["create", "--root", root, "--output", existing, "--service", "jellyfin-e2e"],
                    env=env)
        self.assertFailsWith(res, 1, "already exists")
        # Found before the server is stopped: a wrong --output costs no downtime.
        self.assertEqual(self.calls(), [])

    def test_service_with_restore(self):
        archive = pristine_archive()
        root = u.copy_tree(pristine(), self.tmp / "root")
        env = self.fake_bin("systemctl")
        res = u.run(["restore", "--root", root, archive, "--json", "--service", "jellyfin-e2e"],
                    env=env, timeout=120)
        self.assertExit(res, 0)
        json.loads(res.stdout)
        self.assertEqual(self.calls(), ["systemctl stop jellyfin-e2e",
                                        "systemctl start jellyfin-e2e"])


if __name__ == "__main__":
    unittest.main()
