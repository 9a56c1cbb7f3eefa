"""Which Jellyfin version wrote the trees, and which one is installed (issue 4 "Know Jellyfin").

create: --server-version, else the last `Jellyfin version: X` line of the newest log in the log
directory (the three forms the server writes), else, for debian/fedora installs only, the package
database under --root (dpkg status: jellyfin-server 10.11.0+deb12 -> 10.11.0). The archive name
carries the version, the manifest's app.version_source says where it came from.

restore: --server-version, else the packages first, then the target install's logs; an archive
from a newer Jellyfin is refused (exit 4) naming the version to install, unless --force.

Run: JB_BIN=build/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_version_detect.py
"""

import os
import re
import tempfile
import unittest
from pathlib import Path

import e2e_util as u
import restore_util as r

DAY_NS = 86_400 * 10**9
T0_NS = 1_795_000_000 * 10**9  # mid-November 2026

# The three forms of the start-up line.
DEFAULT_FORM = '[2026-11-20 19:01:05.123 +00:00] [INF] [1] Main: Jellyfin version: "{}"'
DEBIAN_FORM = '[2026-11-20 19:01:05.123 +00:00] [INF] Jellyfin version: "{}"'
CONSOLE_FORM = "[14:24:38] [INF] [10] Main: Jellyfin version: {}"

NOISE = ('[2026-11-20 19:01:05.200 +00:00] [INF] [1] Main: Environment Variables: '
         '["[JELLYFIN_DATA_DIR, /var/lib/jellyfin]"]\n'
         '[2026-11-20 19:01:06.000 +00:00] [INF] [1] Emby.Server.Implementations.ApplicationHost: '
         'ServerId: 6f2d2f4d0c8b4b6f9a0e1c2d3e4f5a6b\n')


def log_text(*lines: str) -> bytes:
    return "".join(l + "\n" + NOISE for l in lines).encode()


_SHARED = {}


def tearDownModule():
    if "dir" in _SHARED:
        u.rmtree_force(_SHARED.pop("dir"))


def pristine(install: str, version: str | None = None) -> Path:
    """A sample install (shared: never modify it, copy it)."""
    if "dir" not in _SHARED:
        _SHARED["dir"] = Path(tempfile.mkdtemp(prefix="jb-e2e-version-"))
        os.chmod(_SHARED["dir"], 0o755)
    key = (install, version)
    if key not in _SHARED:
        _SHARED[key] = u.make_install(_SHARED["dir"] / f"{install}-{version}", install,
                                      version=version)
    return _SHARED[key]


class VersionCase(u.E2ETestCase):
    def jb(self, *args, expect: int | None = 0, env=None) -> u.Result:
        res = u.run(list(args), env=u.install_env() if env is None else env)
        if expect is not None:
            self.assertExit(res, expect)
        return res

    def install(self, install: str, version: str | None = None, name: str = "root") -> Path:
        return u.copy_tree(pristine(install, version), self.tmp / name)

    def create_into_dir(self, *args, env=None) -> tuple[Path, dict]:
        """create ... --output <empty dir>: the archive it named, and its manifest."""
        out = self.mkdir("out")
        self.jb("create", *args, "--output", out, "--quiet", env=env)
        names = [n for n in u.list_dir(out) if not n.endswith(".xxh128")]
        self.assertEqual(len(names), 1, names)
        archive = out / names[0]
        manifest = self.jb("inspect", "--json", archive).json()["manifest"]
        return archive, manifest

    def assertVersion(self, archive: Path, manifest: dict, version: str | None, source: str | None):
        m = u.ARCHIVE_NAME_RE.match(archive.name)
        self.assertIsNotNone(m, f"archive name {archive.name!r}")
        if version is not None:
            self.assertEqual(m.group(2), version, f"archive name {archive.name!r}")
        self.assertEqual(manifest["app"]["version"], version, manifest["app"])
        self.assertEqual(manifest["app"]["version_source"], source, manifest["app"])


# --------------------------------------------------------------------------------------------------


class FromLogs(VersionCase):
    """Explicit --data/--config (no known layout): the log directory is <data>/log."""

    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.mkdir("src"))
        self.logs = self.data / "log"

    def write_log(self, name: str, *lines: str, day: int = 0) -> Path:
        t = T0_NS + day * DAY_NS
        return u.write_file(self.logs / name, log_text(*lines), mtime_ns=t)

    def create(self, *extra, env=None):
        return self.create_into_dir("--config", self.config, "--data", self.data, *extra, env=env)

    def check_form(self, name: str, line: str, version: str):
        log = self.write_log(name, line)
        archive, manifest = self.create()
        self.assertVersion(archive, manifest, version, "log " + os.path.realpath(log))

    def test_default_template_quoted(self):
        self.check_form("log_20261120.log", DEFAULT_FORM.format("10.11.2"), "10.11.2")

    def test_debian_form_without_source_context(self):
        self.check_form("jellyfin20261120.log", DEBIAN_FORM.format("10.11.3"), "10.11.3")

    def test_console_form_unquoted(self):
        self.check_form("log_20261120.log", CONSOLE_FORM.format("10.11.8"), "10.11.8")

    def test_windows_line_endings(self):
        # The Windows server writes CRLF.
        log = u.write_file(self.logs / "log_20261120.log",
                           log_text(DEFAULT_FORM.format("10.11.2")).replace(b"\n", b"\r\n"))
        archive, manifest = self.create()
        self.assertVersion(archive, manifest, "10.11.2", "log " + os.path.realpath(log))

    def test_newest_log_file_wins(self):
        # The newest log names a lower version (a downgrade): newest, not highest, counts.
        self.write_log("log_20261118.log", DEFAULT_FORM.format("10.11.5"), day=0)
        self.write_log("log_20261119.log", DEFAULT_FORM.format("10.11.6"), day=1)
        newest = self.write_log("log_20261120.log", DEFAULT_FORM.format("10.11.1"), day=2)
        archive, manifest = self.create()
        self.assertVersion(archive, manifest, "10.11.1", "log " + os.path.realpath(newest))

    def test_newest_log_without_start_line_defers_to_older(self):
        # A quiet day: the newest log has no start line; the one before says the version.
        older = self.write_log("log_20261119.log", DEFAULT_FORM.format("10.11.4"), day=0)
        u.write_file(self.logs / "log_20261120.log", NOISE.encode(), mtime_ns=T0_NS + DAY_NS)
        archive, manifest = self.create()
        self.assertVersion(archive, manifest, "10.11.4", "log " + os.path.realpath(older))

    def test_last_line_of_the_log_wins(self):
        # The server was restarted after a downgrade: the last start counts, not the highest.
        log = self.write_log("log_20261120.log", DEFAULT_FORM.format("10.10.7"),
                             DEFAULT_FORM.format("10.11.0"), DEFAULT_FORM.format("10.10.6"))
        archive, manifest = self.create()
        self.assertVersion(archive, manifest, "10.10.6", "log " + os.path.realpath(log))

    def test_log_dir_from_environment(self):
        # $JELLYFIN_LOG_DIR says where the logs are (no <data>/log).
        logs = self.mkdir("var-log")
        log = u.write_file(logs / "log_20261120.log", log_text(DEFAULT_FORM.format("10.11.7")))
        archive, manifest = self.create(env=u.install_env(JELLYFIN_LOG_DIR=logs))
        self.assertVersion(archive, manifest, "10.11.7", "log " + os.path.realpath(log))

    def test_log_inside_config_tree(self):
        # Jellyfin's fallback <config>/log when there is no <data>/log.
        log = u.write_file(self.config / "log" / "log_20261120.log",
                           log_text(CONSOLE_FORM.format("10.11.9")))
        archive, manifest = self.create()
        self.assertVersion(archive, manifest, "10.11.9", "log " + os.path.realpath(log))
        self.assertEqual(manifest["left_out"],
                         [{"kind": "log", "path": "config/log",
                           "source": os.path.realpath(self.config / "log")}])

    def test_command_line_overrides_logs(self):
        self.write_log("log_20261120.log", DEFAULT_FORM.format("10.11.0"))
        archive, manifest = self.create("--server-version", "10.12.1")
        self.assertVersion(archive, manifest, "10.12.1", "command line")

    def test_no_version_anywhere(self):
        self.write_log("log_20261120.log", "[2026-11-20 19:01:05.123 +00:00] [INF] nothing here")
        archive, manifest = self.create()
        self.assertVersion(archive, manifest, None, None)

    def test_json_says_the_source(self):
        log = self.write_log("log_20261120.log", DEFAULT_FORM.format("10.11.2"))
        out = self.mkdir("out")
        res = self.jb("create", "--config", self.config, "--data", self.data, "--output", out,
                      "--json")
        j = res.json()
        self.assertEqual(j["version"], "10.11.2")
        self.assertEqual(j["version_source"], "log " + os.path.realpath(log))
        self.assertTrue(os.path.basename(j["path"]).endswith("_10.11.2.tar.zst"), j["path"])


class FromPackages(VersionCase):
    """debian/fedora installs under --root: the dpkg status file when the logs do not say."""

    def drop_logs(self, root: Path, install: str = "debian"):
        for p in u.install_dirs(root, install)["log"].glob("*.log"):
            p.unlink()

    def test_dpkg_when_no_logs(self):
        root = self.install("debian", "10.11.1")
        self.drop_logs(root)
        status = root / "var/lib/dpkg/status"
        archive, manifest = self.create_into_dir("--root", root)
        self.assertVersion(archive, manifest, "10.11.1", f"dpkg {status}: 10.11.1+deb12")

    def test_logs_before_dpkg(self):
        # The trees were last written by the version in the logs, whatever is installed now.
        root = self.install("debian")
        status = root / "var/lib/dpkg/status"
        status.write_text(status.read_text().replace("10.11.0+deb12", "10.11.5+deb12"))
        log = max(u.install_dirs(root, "debian")["log"].glob("*.log"),
                  key=lambda p: p.stat().st_mtime_ns)
        archive, manifest = self.create_into_dir("--root", root)
        self.assertVersion(archive, manifest, "10.11.0", "log " + os.path.realpath(log))

    def test_handwritten_status_file(self):
        # Only an installed jellyfin-server counts; its Debian revision is dropped.
        root = self.install("debian")
        self.drop_logs(root)
        status = root / "var/lib/dpkg/status"
        status.write_text(
            "Package: jellyfin-web\nStatus: install ok installed\nVersion: 10.12.9+deb13\n\n"
            "Package: jellyfin-server\nStatus: install ok installed\nArchitecture: amd64\n"
            "Version: 10.11.2+deb13u1\nDescription: Jellyfin\n\n"
            "Package: jellyfin-ffmpeg7\nStatus: install ok installed\nVersion: 7.1.2-4-trixie\n")
        archive, manifest = self.create_into_dir("--root", root)
        self.assertVersion(archive, manifest, "10.11.2", f"dpkg {status}: 10.11.2+deb13u1")

    def test_no_packages_for_container_installs(self):
        # A dpkg status file under the root of a docker volume says nothing about its trees.
        root = self.install("docker")
        self.drop_logs(root, "docker")
        u.write_file(root / "var/lib/dpkg/status",
                     b"Package: jellyfin-server\nStatus: install ok installed\n"
                     b"Version: 10.11.1+deb12\n")
        archive, manifest = self.create_into_dir("--root", root)
        self.assertVersion(archive, manifest, None, None)

    def test_command_line_overrides_packages(self):
        root = self.install("debian")
        self.drop_logs(root)
        archive, manifest = self.create_into_dir("--root", root, "--server-version", "10.11.6")
        self.assertVersion(archive, manifest, "10.11.6", "command line")

    def test_where_shows_both(self):
        root = self.install("debian", "10.11.1")
        j = self.jb("where", "--root", root, "--json").json()
        status = root / "var/lib/dpkg/status"
        self.assertEqual(j["installed_version"], {"version": "10.11.1",
                                                  "source": f"dpkg {status}: 10.11.1+deb12"})
        self.assertEqual(j["version"]["version"], "10.11.1")
        self.assertTrue(j["version"]["source"].startswith("log "), j["version"])


class RestoreGuard(VersionCase):
    """An archive of a 10.11.0 install restored where an older Jellyfin is installed."""

    def archive(self) -> Path:
        if "archive" not in _SHARED:
            src = pristine("debian")
            path = _SHARED["dir"] / "debian-10.11.0.tar.zst"
            self.jb("create", "--root", src, "--output", path, "--quiet")
            _SHARED["archive"] = path
        return _SHARED["archive"]

    def assertRefused(self, res: u.Result, installed: str, root: Path, before: dict):
        self.assertFails(res, 4, "10.11.0", installed)
        m = re.search(r"(?i)install[^;]*10\.11\.0", res.stderr)
        self.assertIsNotNone(m, "the message should say which version to install\n"
                             + res.describe())
        self.assertEqual(r.snapshot_diff(before, u.snapshot(root)), [],
                         "a refused restore changed the install")

    def test_dpkg_older_refused(self):
        root = self.install("debian", "10.10.7")
        before = u.snapshot(root)
        res = self.jb("restore", self.archive(), "--root", root, expect=None)
        self.assertRefused(res, "10.10.7", root, before)
        self.assertIn(str(root / "var/lib/dpkg/status"), res.stderr, "the source is named")

    def test_dpkg_older_refused_json(self):
        root = self.install("debian", "10.10.7")
        res = self.jb("restore", self.archive(), "--root", root, "--json", expect=4)
        j = res.json()
        self.assertIs(j["ok"], False)
        self.assertEqual(j["exit_code"], 4)
        self.assertIn("10.11.0", j["error"])

    def test_force_goes_on(self):
        root = self.install("debian", "10.10.7")
        res = self.jb("restore", self.archive(), "--root", root, "--force", "--json")
        j = res.json()
        self.assertIs(j["ok"], True)
        self.assertEqual(j["installed_version"], "10.10.7")
        self.assertIn("dpkg", j["installed_version_source"])
        self.assertTrue(any("10.11.0" in w for w in j["warnings"]), j["warnings"])
        src = u.install_dirs(pristine("debian"), "debian")
        dst = u.install_dirs(root, "debian")
        for tree in ("data", "config"):
            self.assertEqual(u.compare_trees(src[tree], dst[tree]), [], tree)

    def test_packages_before_logs(self):
        # The logs of the target say 10.11.0 (what ran), dpkg says 10.10.7 (what runs next).
        root = self.install("debian")
        status = root / "var/lib/dpkg/status"
        status.write_text(status.read_text().replace("10.11.0+deb12", "10.10.7+deb12"))
        before = u.snapshot(root)
        res = self.jb("restore", self.archive(), "--root", root, expect=None)
        self.assertRefused(res, "10.10.7", root, before)

    def test_packages_newer_than_logs_accepted(self):
        root = self.install("debian", "10.10.7")
        status = root / "var/lib/dpkg/status"
        status.write_text(status.read_text().replace("10.10.7+deb12", "10.11.0+deb12"))
        res = self.jb("restore", self.archive(), "--root", root, "--json")
        self.assertEqual(res.json()["installed_version"], "10.11.0")

    def test_logs_of_target_without_packages(self):
        # docker: no package database; the target's logs say 10.10.7.
        root = self.install("docker", "10.10.7")
        before = u.snapshot(root)
        res = self.jb("restore", self.archive(), "--root", root, expect=None)
        self.assertRefused(res, "10.10.7", root, before)

    def test_command_line_overrides_installed(self):
        root = self.install("debian", "10.10.7")
        res = self.jb("restore", self.archive(), "--root", root, "--server-version", "10.11.0",
                      "--json")
        j = res.json()
        self.assertEqual(j["installed_version"], "10.11.0")
        self.assertEqual(j["installed_version_source"], "command line")

    def test_command_line_older_refused(self):
        root = self.install("docker")
        before = u.snapshot(root)
        res = self.jb("restore", self.archive(), "--root", root, "--server-version", "10.10.0",
                      expect=None)
        self.assertRefused(res, "10.10.0", root, before)


if __name__ == "__main__":
    unittest.main()
