"""where: finding a Jellyfin install the way the server finds its directories (issue 4 "Know
Jellyfin").

Every install type is made whole under a fake root by make-sample-tree.py --root ROOT --install
TYPE and found with `where --root ROOT`; the child runs with HOME at a path that does not exist and
without JELLYFIN_*/XDG_* variables, so the machine running the tests does not interfere. Then what
moves the directories: the JELLYFIN_*_DIR variables (looked up under ROOT first), the package's env
file (/etc/default/jellyfin, /etc/sysconfig/jellyfin) and systemd drop-ins; and the choice: two
installs found -> exit 2 naming both, nothing found -> exit 2 with a hint, --install TYPE picks,
explicit --data/--config win, an unknown --install is a usage error.

Run: JB_BIN=build/jellyfin-backup JB_SAMPLE=scripts/make-sample-tree.py python3 tests/e2e/test_where.py
"""

import os
import shutil
import tempfile
import unittest
from pathlib import Path

import e2e_util as u

DIRS = ("data", "config", "log", "cache")

# The source `where` gives for the default directories of each type: debian and fedora name the
# env file that sets all four (as the packages' does), the others their type's defaults.
DEFAULT_SOURCE = {t: f"{t} default" for t in u.INSTALLS}
DEFAULT_SOURCE.update(debian="/etc/default/jellyfin", fedora="/etc/sysconfig/jellyfin")

# Directories that lie inside the other tree, per type (where's "note" says so).
NESTED = {
    "docker": {"config": "data", "log": "data"},
    "linuxserver": {"data": "config", "log": "config", "cache": "config"},
    "hotio": {"data": "config", "log": "config", "cache": "config"},
    "portable": {"log": "data"},
    "macos": {"log": "data", "cache": "data"},
    "windows": {"config": "data", "log": "data", "cache": "data"},
}


def real(p) -> str:
    return os.path.realpath(p)


def newest_log(log_dir: Path) -> Path:
    logs = [p for p in log_dir.iterdir() if p.name.endswith(".log")]
    return max(logs, key=lambda p: (p.stat().st_mtime_ns, p.name))


_INSTALLS = {}  # (type, home) -> pristine install, made once per run


def tearDownModule():
    if "shared" in _INSTALLS:
        u.rmtree_force(_INSTALLS.pop("shared"))


def pristine(install: str, home: str | None = None) -> Path:
    """A sample install of `install` (made once, shared: never modify it, copy it)."""
    if "shared" not in _INSTALLS:
        _INSTALLS["shared"] = Path(tempfile.mkdtemp(prefix="jb-e2e-where-"))
    key = (install, home)
    if key not in _INSTALLS:
        name = install + (home or "").replace("/", "_")
        _INSTALLS[key] = u.make_install(_INSTALLS["shared"] / name, install, home=home)
    return _INSTALLS[key]


class WhereCase(u.E2ETestCase):
    def install(self, install: str, name: str | None = None, home: str | None = None) -> Path:
        """A private copy of a sample install of type `install` at self.tmp/<name>."""
        return u.copy_tree(pristine(install, home), self.tmp / (name or install))

    def where(self, *args, env=None, expect: int | None = 0) -> u.Result:
        res = u.run(["where", *args], env=u.install_env() if env is None else env)
        if expect is not None:
            self.assertExit(res, expect)
        return res

    def where_json(self, *args, env=None) -> dict:
        res = self.where(*args, "--json", env=env)
        j = res.json()
        self.assertIs(j["ok"], True, res.describe())
        return j

    def assertDir(self, j: dict, what: str, path, source: str | None = None, exists=True):
        got = j[what]
        self.assertEqual(got["path"], real(path), f"{what}: {got}")
        if source is not None:
            self.assertEqual(got["source"], source, f"{what}: {got}")
        self.assertIs(got["exists"], exists, f"{what}: {got}")


# --------------------------------------------------------------------------------------------------


class EveryInstallType(WhereCase):
    def check_install(self, install: str, root: Path, dirs: dict[str, Path]):
        j = self.where_json("--root", root)
        self.assertEqual(j["install"], install, j)
        self.assertTrue(j["why"], j)
        for what in DIRS:
            self.assertDir(j, what, dirs[what], DEFAULT_SOURCE[install])
            note = j[what]["note"]
            outer = NESTED.get(install, {}).get(what)
            if outer:
                self.assertIsNotNone(note, f"{what} lies inside {outer}: {j[what]}")
                self.assertIn(f"inside {outer}", note)
            else:
                self.assertIsNone(note, f"{what}: {j[what]}")
        # encoding.xml of the sample names <cache>/transcodes.
        self.assertIsNotNone(j["transcodes"], j)
        self.assertDir(j, "transcodes", dirs["cache"] / "transcodes",
                       "encoding.xml TranscodingTempPath")
        self.assertEqual(j["version"], {"version": "10.11.0",
                                        "source": "log " + real(newest_log(dirs["log"]))})
        self.assertEqual(j["running"], [])
        # The text form says the same.
        res = self.where("--root", root)
        self.assertIn(f"Jellyfin install: {install}", res.stdout)
        self.assertIn(real(dirs["data"]), res.stdout)
        self.assertIn(real(dirs["config"]), res.stdout)

    def test_each_install_type(self):
        for install in u.INSTALLS:
            with self.subTest(install=install):
                root = pristine(install)
                self.check_install(install, root, u.install_dirs(root, install))

    def test_portable_other_home(self):
        root = pristine("portable", "/home/alice")
        h = root / "home" / "alice"
        self.check_install("portable", root, {
            "data": h / ".local/share/jellyfin", "config": h / ".config/jellyfin",
            "log": h / ".local/share/jellyfin/log", "cache": h / ".cache/jellyfin"})

    def test_macos_other_home(self):
        root = pristine("macos", "/Users/bob")
        d = root / "Users" / "bob" / ".local/share/jellyfin"
        self.check_install("macos", root, {"data": d, "config": root / "Users/bob/.config/jellyfin",
                                           "log": d / "log", "cache": d / "cache"})

    def test_portable_xdg_dirs_of_HOME(self):
        # HOME and XDG_DATA_HOME are paths of the system under --root.
        root = self.install("portable", home="/home/alice")
        h = root / "home" / "alice"
        (root / "srv" / "xdg").mkdir(parents=True)
        os.rename(h / ".local/share/jellyfin", root / "srv/xdg/jellyfin")
        env = u.install_env(HOME="/home/alice", XDG_DATA_HOME="/srv/xdg")
        j = self.where_json("--root", root, env=env)
        self.assertEqual(j["install"], "portable", j)
        self.assertDir(j, "data", root / "srv/xdg/jellyfin")
        self.assertDir(j, "log", root / "srv/xdg/jellyfin/log")
        self.assertDir(j, "config", h / ".config/jellyfin")

    def test_version_of_other_sample_version(self):
        root = u.make_install(self.tmp / "root", "docker", version="10.11.3")
        j = self.where_json("--root", root)
        self.assertEqual(j["version"]["version"], "10.11.3", j)


class Environment(WhereCase):
    """JELLYFIN_*_DIR of the environment, looked up under --root first."""

    def moved_debian(self) -> Path:
        """A debian install whose data tree was moved to ROOT/srv/jf/data."""
        root = self.install("debian", "root")
        (root / "srv" / "jf").mkdir(parents=True)
        os.rename(root / "var/lib/jellyfin", root / "srv/jf/data")
        return root

    def test_data_dir_variable_under_root(self):
        root = self.moved_debian()
        j = self.where_json("--root", root, env=u.install_env(JELLYFIN_DATA_DIR="/srv/jf/data"))
        self.assertEqual(j["install"], "debian", j)
        self.assertDir(j, "data", root / "srv/jf/data", "JELLYFIN_DATA_DIR")
        self.assertDir(j, "config", root / "etc/jellyfin", "/etc/default/jellyfin")

    def test_config_dir_variable_outside_root(self):
        # Not under ROOT, but where the variable says on this machine: taken as given.
        root = self.moved_debian()
        elsewhere = self.mkdir("elsewhere")
        os.rename(root / "etc/jellyfin", elsewhere / "config")
        env = u.install_env(JELLYFIN_DATA_DIR="/srv/jf/data",
                            JELLYFIN_CONFIG_DIR=elsewhere / "config")
        j = self.where_json("--root", root, env=env)
        self.assertDir(j, "data", root / "srv/jf/data", "JELLYFIN_DATA_DIR")
        self.assertDir(j, "config", elsewhere / "config", "JELLYFIN_CONFIG_DIR")

    def test_variable_looked_up_under_root_first(self):
        # The value names a directory both on this machine and under ROOT: ROOT's wins.
        root = self.install("debian", "root")
        host_config = self.tmp / "host" / "config"
        u.copy_tree(root / "etc/jellyfin", self.mkdir("host") / "config")
        under = root / str(host_config).lstrip("/")
        under.parent.mkdir(parents=True)
        os.rename(root / "etc/jellyfin", under)
        j = self.where_json("--root", root, env=u.install_env(JELLYFIN_CONFIG_DIR=host_config))
        self.assertDir(j, "config", under, "JELLYFIN_CONFIG_DIR")

    def test_log_and_cache_variables(self):
        root = self.install("docker", "root")
        (root / "srv").mkdir()
        os.rename(root / "config/log", root / "srv/logs")
        os.rename(root / "cache", root / "srv/cache")
        # The newest log now says another version: the version comes from the moved log dir.
        u.write_file(root / "srv/logs/log_20261121.log",
                     b'[2026-11-21 08:00:00.000 +00:00] [INF] [1] Main: Jellyfin version: "10.11.4"\n')
        env = u.install_env(JELLYFIN_LOG_DIR="/srv/logs", JELLYFIN_CACHE_DIR="/srv/cache")
        j = self.where_json("--root", root, env=env)
        self.assertEqual(j["install"], "docker", j)
        self.assertDir(j, "log", root / "srv/logs", "JELLYFIN_LOG_DIR")
        self.assertDir(j, "cache", root / "srv/cache", "JELLYFIN_CACHE_DIR")
        self.assertIsNone(j["log"]["note"], "the log dir is no longer inside a tree")
        self.assertEqual(j["version"], {"version": "10.11.4",
                                        "source": "log " + real(root / "srv/logs/log_20261121.log")})


class PackageSettings(WhereCase):
    """The package's EnvironmentFile and systemd drop-ins move the trees, as for the server."""

    def move_to_srv(self, root: Path) -> dict[str, Path]:
        new = {"data": root / "srv/jellyfin/data", "config": root / "srv/jellyfin/config",
               "log": root / "srv/jellyfin/log", "cache": root / "srv/jellyfin/cache"}
        (root / "srv/jellyfin").mkdir(parents=True)
        for what, path in u.install_dirs(root, "debian").items():
            os.rename(path, new[what])
        return new

    def test_debian_env_file(self):
        root = self.install("debian", "root")
        new = self.move_to_srv(root)
        # The forms an EnvironmentFile takes: export, single and double quotes, a comment after an
        # unquoted value, commented-out settings.
        u.write_file(root / "etc/default/jellyfin", b"""# moved to /srv
export JELLYFIN_DATA_DIR='/srv/jellyfin/data'
JELLYFIN_CONFIG_DIR=/srv/jellyfin/config # moved in 2026
#JELLYFIN_CONFIG_DIR=/nowhere
JELLYFIN_LOG_DIR="/srv/jellyfin/log"
JELLYFIN_CACHE_DIR="/srv/jellyfin/cache"
JELLYFIN_WEB_OPT="--webdir=/usr/share/jellyfin/web"
""")
        j = self.where_json("--root", root)
        self.assertEqual(j["install"], "debian", j)
        for what in DIRS:
            self.assertDir(j, what, new[what], "/etc/default/jellyfin")
        self.assertDir(j, "transcodes", root / "var/cache/jellyfin/transcodes", exists=False)

    def test_fedora_env_file(self):
        root = self.install("fedora", "root")
        new = self.move_to_srv(root)
        u.write_file(root / "etc/sysconfig/jellyfin", b"""JELLYFIN_DATA_DIR="/srv/jellyfin/data"
JELLYFIN_CONFIG_DIR="/srv/jellyfin/config"
JELLYFIN_LOG_DIR="/srv/jellyfin/log"
JELLYFIN_CACHE_DIR="/srv/jellyfin/cache"
""")
        j = self.where_json("--root", root)
        self.assertEqual(j["install"], "fedora", j)
        for what in DIRS:
            self.assertDir(j, what, new[what], "/etc/sysconfig/jellyfin")

    def test_env_file_moves_only_what_it_sets(self):
        root = self.install("debian", "root")
        (root / "srv/jf").mkdir(parents=True)
        os.rename(root / "var/lib/jellyfin", root / "srv/jf/data")
        u.write_file(root / "etc/default/jellyfin", b'JELLYFIN_DATA_DIR="/srv/jf/data"\n')
        j = self.where_json("--root", root)
        self.assertDir(j, "data", root / "srv/jf/data", "/etc/default/jellyfin")
        self.assertDir(j, "config", root / "etc/jellyfin", "debian default")
        self.assertDir(j, "log", root / "var/log/jellyfin", "debian default")

    def dropin_root(self) -> Path:
        root = self.install("debian", "root")
        (root / "srv/jf").mkdir(parents=True)
        os.rename(root / "var/lib/jellyfin", root / "srv/jf/data")
        u.write_file(root / "etc/systemd/system/jellyfin.service.d/override.conf",
                     b'[Service]\nEnvironment="JELLYFIN_DATA_DIR=/srv/jf/data"\n')
        return root

    def test_systemd_dropin(self):
        root = self.dropin_root()
        # The env file no longer sets the data dir (else it would win, see below).
        env_file = root / "etc/default/jellyfin"
        text = env_file.read_text().replace("\nJELLYFIN_DATA_DIR=", "\n#JELLYFIN_DATA_DIR=")
        env_file.write_text(text)
        j = self.where_json("--root", root)
        self.assertEqual(j["install"], "debian", j)
        self.assertDir(j, "data", root / "srv/jf/data",
                       "/etc/systemd/system/jellyfin.service.d/override.conf")
        self.assertDir(j, "config", root / "etc/jellyfin", "/etc/default/jellyfin")

    def test_env_file_overrides_dropin_environment(self):
        # systemd: EnvironmentFile= settings override Environment= ones. The package's env file
        # sets JELLYFIN_DATA_DIR=/var/lib/jellyfin; a tree there too.
        root = self.dropin_root()
        u.copy_tree(root / "srv/jf/data", root / "var/lib/jellyfin")
        j = self.where_json("--root", root)
        self.assertDir(j, "data", root / "var/lib/jellyfin", "/etc/default/jellyfin")

    def two_data_trees(self) -> Path:
        """A debian install whose env file does not set the data dir, with a data tree at the
        default place and two more at ROOT/srv/a/data and ROOT/srv/b/data."""
        root = self.install("debian", "root")
        for d in ("a", "b"):
            (root / "srv" / d).mkdir(parents=True)
            u.copy_tree(root / "var/lib/jellyfin", root / "srv" / d / "data")
        env_file = root / "etc/default/jellyfin"
        env_file.write_text(env_file.read_text().replace("\nJELLYFIN_DATA_DIR=",
                                                         "\n#JELLYFIN_DATA_DIR="))
        return root

    # systemd applies a unit's drop-ins in the lexicographic order of their file
    # names, regardless of the directory they are in (systemd.unit(5): "Multiple drop-in files with
    # different names are applied in lexicographic order, regardless of which of the directories
    # they reside in"), so the vendor's 50-vendor.conf wins over the admin's 10-admin.conf.
    def test_dropins_apply_in_name_order_across_directories(self):
        root = self.two_data_trees()
        u.write_file(root / "etc/systemd/system/jellyfin.service.d/10-admin.conf",
                     b'[Service]\nEnvironment="JELLYFIN_DATA_DIR=/srv/a/data"\n')
        u.write_file(root / "usr/lib/systemd/system/jellyfin.service.d/50-vendor.conf",
                     b'[Service]\nEnvironment="JELLYFIN_DATA_DIR=/srv/b/data"\n')
        j = self.where_json("--root", root)
        self.assertDir(j, "data", root / "srv/b/data",
                       "/usr/lib/systemd/system/jellyfin.service.d/50-vendor.conf")

    # A drop-in in /etc/systemd/system/jellyfin.service.d masks the vendor's drop-in
    # of the same name in /usr/lib/systemd/system/jellyfin.service.d entirely (systemd.unit(5):
    # "Drop-in files in /etc/ take precedence over those in /run/ which in turn take precedence
    # over those in /usr/lib/"): the masked vendor file's JELLYFIN_DATA_DIR=/srv/b/data
    # must not move the data dir; the server uses the default.
    def test_etc_dropin_masks_vendor_dropin_of_same_name(self):
        root = self.two_data_trees()
        u.write_file(root / "usr/lib/systemd/system/jellyfin.service.d/override.conf",
                     b'[Service]\nEnvironment="JELLYFIN_DATA_DIR=/srv/b/data"\n')
        u.write_file(root / "etc/systemd/system/jellyfin.service.d/override.conf",
                     b"[Service]\nNice=5\n")
        j = self.where_json("--root", root)
        self.assertDir(j, "data", root / "var/lib/jellyfin", "debian default")

    def test_dropin_with_several_assignments(self):
        root = self.two_data_trees()
        (root / "srv/a/config").mkdir()
        os.rename(root / "etc/jellyfin", root / "srv/a/config/jf")
        u.write_file(root / "etc/systemd/system/jellyfin.service.d/override.conf",
                     b"[Unit]\nEnvironment=JELLYFIN_DATA_DIR=/srv/b/data\n"
                     b"[Service]\nNice=5\n"
                     b'Environment=JELLYFIN_DATA_DIR=/srv/a/data "JELLYFIN_CACHE_DIR=/srv/a/c"\n')
        env_file = root / "etc/default/jellyfin"
        env_file.write_text(env_file.read_text().replace("\nJELLYFIN_CONFIG_DIR=",
                                                         "\n#JELLYFIN_CONFIG_DIR="))
        u.write_file(root / "etc/systemd/system/jellyfin.service.d/zz-more.conf",
                     b"[Service]\nEnvironment=JELLYFIN_CONFIG_DIR=/srv/a/config/jf\n")
        j = self.where_json("--root", root)
        dropin = "/etc/systemd/system/jellyfin.service.d/"
        self.assertDir(j, "data", root / "srv/a/data", dropin + "override.conf")
        self.assertDir(j, "config", root / "srv/a/config/jf", dropin + "zz-more.conf")
        # The env file's JELLYFIN_CACHE_DIR wins over the drop-in's (EnvironmentFile= does).
        self.assertDir(j, "cache", root / "var/cache/jellyfin", "/etc/default/jellyfin")

    def test_environment_overrides_env_file(self):
        root = self.dropin_root()
        j = self.where_json("--root", root, env=u.install_env(JELLYFIN_DATA_DIR="/srv/jf/data"))
        self.assertDir(j, "data", root / "srv/jf/data", "JELLYFIN_DATA_DIR")


class Choice(WhereCase):
    def two_installs(self) -> Path:
        """A debian and a docker install under one root."""
        root = self.install("debian", "root")
        docker = pristine("docker")
        for name in ("config", "cache"):
            u.copy_tree(docker / name, root / name)
        return root

    def test_two_installs_is_ambiguous(self):
        root = self.two_installs()
        res = self.where("--root", root, expect=2)
        self.assertFails(res, 2, "debian", "docker", "--install", real(root / "var/lib/jellyfin"),
                         real(root / "config"))
        res = self.where("--root", root, "--json", expect=2)
        j = res.json()
        self.assertIs(j["ok"], False)
        self.assertEqual(j["exit_code"], 2)
        self.assertIn("--install", j["error"])

    def test_create_and_restore_refuse_ambiguity_too(self):
        root = self.two_installs()
        out = self.mkdir("out")
        res = u.run(["create", "--root", root, "--output", out], env=u.install_env())
        self.assertFails(res, 2, "debian", "docker", "--install")
        self.assertEqual(u.list_dir(out), [])
        config, data = u.make_basic_trees(self.mkdir("src"))
        archive = self.create_archive(config, data, "--server-version", "10.11.0")
        before = u.snapshot(root)
        res = u.run(["restore", archive, "--root", root], env=u.install_env())
        self.assertFails(res, 2, "debian", "docker", "--install")
        self.assertEqual(u.snapshot(root), before)

    def test_install_flag_picks_one(self):
        root = self.two_installs()
        j = self.where_json("--root", root, "--install", "docker")
        self.assertEqual(j["install"], "docker", j)
        self.assertEqual(j["why"], "--install docker")
        for what, path in u.install_dirs(root, "docker").items():
            self.assertDir(j, what, path, "docker default")
        j = self.where_json("--root", root, "--install", "debian")
        self.assertEqual(j["install"], "debian", j)
        for what, path in u.install_dirs(root, "debian").items():
            self.assertDir(j, what, path)

    def test_install_flag_where_nothing_is(self):
        # --install says where to look; what is missing is said, not an error.
        root = self.mkdir("empty")
        j = self.where_json("--root", root, "--install", "hotio")
        self.assertEqual(j["install"], "hotio", j)
        for what, path in u.install_dirs(root, "hotio").items():
            self.assertDir(j, what, path, "hotio default", exists=False)
        self.assertIsNone(j["version"])

    def test_nothing_found(self):
        root = self.mkdir("empty")
        res = self.where("--root", root, expect=2)
        self.assertFails(res, 2, "no Jellyfin install found", "--data", "--install")
        res = self.where("--root", root, "--json", expect=2)
        self.assertIs(res.json()["ok"], False)
        self.assertIn("--data", res.json()["error"])

    def test_nothing_found_create(self):
        root = self.mkdir("empty")
        out = self.mkdir("out")
        res = u.run(["create", "--root", root, "--output", out], env=u.install_env())
        self.assertFails(res, 2, "no Jellyfin install found", "--data")
        self.assertEqual(u.list_dir(out), [])

    def test_explicit_trees_win(self):
        root = self.two_installs()
        config, data = u.make_basic_trees(self.mkdir("mine"))
        j = self.where_json("--root", root, "--data", data, "--config", config)
        self.assertDir(j, "data", data, "--data")
        self.assertDir(j, "config", config, "--config")
        self.assertEqual(j["install"], "custom", j)
        # Even over --install.
        j = self.where_json("--root", root, "--install", "docker", "--data", data,
                            "--config", config)
        self.assertDir(j, "data", data, "--data")
        self.assertDir(j, "config", config, "--config")

    def test_explicit_data_only(self):
        root = self.install("docker", "root")
        config, data = u.make_basic_trees(self.mkdir("mine"))
        j = self.where_json("--root", root, "--data", data)
        self.assertEqual(j["install"], "docker", j)
        self.assertDir(j, "data", data, "--data")
        self.assertDir(j, "config", root / "config/config", "docker default")

    def test_explicit_trees_of_a_known_install(self):
        root = self.install("debian", "root")
        dirs = u.install_dirs(root, "debian")
        j = self.where_json("--root", root, "--data", dirs["data"], "--config", dirs["config"])
        self.assertEqual(j["install"], "debian", j)
        self.assertDir(j, "data", dirs["data"], "--data")
        self.assertDir(j, "log", dirs["log"])

    def test_explicit_trees_jellyfin_log_and_cache_defaults(self):
        # No known layout: log and cache are <data>/log and <data>/cache when they exist.
        config, data = u.make_basic_trees(self.mkdir("mine"))
        (data / "log").mkdir()
        (data / "cache").mkdir()
        j = self.where_json("--data", data, "--config", config)
        self.assertEqual(j["install"], "custom", j)
        self.assertDir(j, "log", data / "log")
        self.assertDir(j, "cache", data / "cache")
        self.assertIn("inside data", j["log"]["note"])

    def test_unknown_install_type(self):
        res = self.where("--install", "gentoo", expect=2)
        self.assertFails(res, 2, "gentoo")
        root = self.install("debian", "root")
        res = u.run(["create", "--root", root, "--install", "synology", "--output", self.tmp],
                    env=u.install_env())
        self.assertFails(res, 2, "synology")

    def test_root_missing(self):
        res = self.where("--root", self.tmp / "no-such-root", expect=2)
        self.assertFails(res, 2, str(self.tmp / "no-such-root"))


if __name__ == "__main__":
    unittest.main()
