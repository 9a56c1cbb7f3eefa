"""The shipped schedule: dist/systemd/jellyfin-backup.service.in (@BINDIR@ replaced at install),
dist/systemd/jellyfin-backup.timer, and the example config dist/jellyfin-backup.conf.

The units must pass `systemd-analyze verify` cleanly (skipped where systemd-analyze is missing); the
service runs create and then prune, once; the timer is persistent and installed by timers.target.
The example config must be accepted as shipped, with only `output` pointed somewhere else.

Run: JB_BIN=build-e2e/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_schedule.py
"""

import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

import e2e_util as u

DIST = u.REPO_ROOT / "dist"
SERVICE_IN = DIST / "systemd" / "jellyfin-backup.service.in"
TIMER = DIST / "systemd" / "jellyfin-backup.timer"
EXAMPLE_CONF = DIST / "jellyfin-backup.conf"


def unit_sections(text: str) -> dict[str, list[tuple[str, str]]]:
    """{section: [(key, value)]} of a systemd unit file, in order (comments and blank lines out)."""
    out: dict[str, list[tuple[str, str]]] = {}
    section = None
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        m = re.fullmatch(r"\[(.+)\]", s)
        if m:
            section = m.group(1)
            out.setdefault(section, [])
            continue
        key, sep, value = s.partition("=")
        if not sep or section is None:
            raise AssertionError(f"not a unit file line: {line!r}")
        out[section].append((key.strip(), value.strip()))
    return out


def values(sections, section: str, key: str) -> list[str]:
    return [v for k, v in sections.get(section, []) if k == key]


class Units(u.E2ETestCase):
    def service_text(self) -> str:
        return SERVICE_IN.read_text().replace("@BINDIR@", str(Path(u.BIN).resolve().parent))

    def test_files_are_shipped(self):
        for p in (SERVICE_IN, TIMER, EXAMPLE_CONF):
            self.assertTrue(p.is_file(), f"{p} is missing")
        self.assertIn("@BINDIR@", SERVICE_IN.read_text())

    def test_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed: cannot check the systemd units")
        d = self.mkdir("units")
        service = d / "jellyfin-backup.service"
        service.write_text(self.service_text())
        timer = d / "jellyfin-backup.timer"
        shutil.copyfile(TIMER, timer)
        proc = subprocess.run([analyze, "verify", "--man=no", str(service), str(timer)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              timeout=60, cwd=d)
        detail = (f"systemd-analyze verify exited {proc.returncode}\nstdout: {proc.stdout.decode()}\n"
                  f"stderr: {proc.stderr.decode()}")
        self.assertEqual(proc.returncode, 0, detail)
        self.assertEqual(proc.stderr.decode().strip(), "", detail)

    def test_service_runs_create_then_prune_once(self):
        s = unit_sections(self.service_text())
        self.assertEqual(values(s, "Service", "Type"), ["oneshot"])
        starts = values(s, "Service", "ExecStart")
        binary = str(Path(u.BIN).resolve())
        self.assertEqual(len(starts), 2, starts)
        words = [st.lstrip("-@:+!").split() for st in starts]
        self.assertEqual([w[0] for w in words], [binary, binary], starts)
        self.assertEqual([w[1] for w in words], ["create", "prune"], starts)
        # prune must not run when create failed: no "-" (ignore failure) prefix on create.
        self.assertFalse(starts[0].startswith("-"), "a failed create must stop the unit before prune")

    def test_timer(self):
        t = unit_sections(TIMER.read_text())
        self.assertTrue(values(t, "Timer", "OnCalendar"), t)
        for cal in values(t, "Timer", "OnCalendar"):
            self.assertTrue(cal, "an empty OnCalendar= resets the list")
        self.assertEqual(values(t, "Timer", "Persistent"), ["true"])
        self.assertEqual(values(t, "Install", "WantedBy"), ["timers.target"])
        # The timer starts the service of the same name (no Unit= pointing elsewhere).
        self.assertIn(values(t, "Timer", "Unit"), ([], ["jellyfin-backup.service"]))

    def test_calendar_is_valid(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed: cannot check OnCalendar")
        for cal in values(unit_sections(TIMER.read_text()), "Timer", "OnCalendar"):
            proc = subprocess.run([analyze, "calendar", cal], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, timeout=30)
            self.assertEqual(proc.returncode, 0, proc.stderr.decode())


class ExampleConfig(u.E2ETestCase):
    def copy_example(self, output: Path) -> Path:
        text = EXAMPLE_CONF.read_text()
        new, n = re.subn(r"(?m)^output\s*=.*$", f"output = {output}", text)
        self.assertEqual(n, 1, "the example sets output once, outside comments")
        path = self.tmp / "jellyfin-backup.conf"
        path.write_text(new)
        os.chmod(path, 0o600)
        return path

    def test_prune_dry_run_with_the_example(self):
        src = self.mkdir("src")
        config, data = u.make_basic_trees(src)
        out = self.mkdir("backups")
        self.create(config, data, out, "--server-version", "10.11.0", "--quiet", "--config-file", "none")
        archives = [n for n in os.listdir(out) if n.endswith(".tar.zst")]
        self.assertEqual(len(archives), 1)
        conf = self.copy_example(out)
        before = u.snapshot(out)
        res = u.run(["prune", "--dry-run", "--config-file", conf], env={**os.environ, "TZ": "UTC"})
        self.assertExit(res, 0)
        self.assertEqual(u.error_lines(res), [])
        self.assertIn(archives[0], res.stdout)
        self.assertEqual(u.snapshot(out), before)
        # The example's policy reaches prune; list reads the same directory.
        j = u.run(["prune", "--dry-run", "--json", "--config-file", conf]).json()
        self.assertEqual(j["location"], str(out))
        policy = j["policy"]
        self.assertEqual((policy["keep_last"], policy["keep_daily"], policy["keep_weekly"],
                          policy["keep_monthly"], policy["keep_version_change"]), (3, 7, 4, 6, True))
        j = u.run(["list", "--json", "--config-file", conf]).json()
        self.assertEqual([a["name"] for a in j["archives"]], archives)

    def test_where_with_the_example_fails_only_for_want_of_an_install(self):
        conf = self.copy_example(self.mkdir("backups"))
        empty = self.mkdir("empty-root")
        res = u.run(["where", "--config-file", conf, "--root", empty], env=u.install_env())
        self.assertFails(res, 2, "no Jellyfin install found")
        self.assertNotIn(str(conf), res.stderr, "the config file was not the problem")


if __name__ == "__main__":
    unittest.main()
