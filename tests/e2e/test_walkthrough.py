"""The README's walk-through, run as written (issue 12, point 9).

Every README block marked `<!-- walkthrough: NAME -->` runs here, in order, with bash -e, in a
sandbox that stands in for a Debian machine with Jellyfin installed:

  * `meson install` of the build under test goes to a temporary DESTDIR (the configured prefix below
    it), and that bin directory is first on PATH; the README's package and build lines are skipped
    (the suite has built already);
  * a generated Debian install (`make-sample-tree.py --root ROOT --install debian`) is the server:
    the config file gets `root = ROOT` and `install = debian`, the sandbox's one addition;
  * /etc/jellyfin-backup.conf and /var/backups/jellyfin are paths in the sandbox;
  * `systemctl` is a stand-in: `stop/start jellyfin` succeed, and `start jellyfin-backup.service` runs
    the installed unit's ExecStart= lines, in order, stopping at the first failure, as systemd would;
  * the new machine is a second generated install, its offsite copy a local directory.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_walkthrough.py
"""

import os
import re
import shutil
import stat
import subprocess
import unittest
from pathlib import Path

import e2e_util as u

README = u.REPO_ROOT / "README.md"
BUILD_DIR = Path(u.BIN).resolve().parent

FAKE_SYSTEMCTL = r"""#!/bin/bash
# A stand-in for systemctl, for the README walk-through test.
echo "systemctl $*" >> "$JB_SANDBOX/systemctl.log"
case "$*" in
  "stop jellyfin"|"start jellyfin"|daemon-reload) exit 0 ;;
  "start jellyfin-backup.service")
    unit="$JB_UNIT_DIR/jellyfin-backup.service"
    # ConditionPathExists=/etc/jellyfin-backup.conf
    [ -e "$JELLYFIN_BACKUP_CONFIG" ] || { echo "condition failed: no config" >&2; exit 0; }
    export STATE_DIRECTORY="$JB_SANDBOX/state"
    while read -r cmd; do
      eval "$JB_DESTDIR$cmd" || exit $?
    done < <(sed -n 's/^ExecStart=//p' "$unit")
    exit 0 ;;
  "enable --now jellyfin-backup.timer")
    [ -f "$JB_UNIT_DIR/jellyfin-backup.timer" ] && exit 0
    echo "Unit jellyfin-backup.timer does not exist" >&2; exit 1 ;;
esac
echo "fake systemctl: unsupported: $*" >&2
exit 1
"""


def walkthrough_blocks() -> dict[str, str]:
    text = README.read_text()
    blocks = {}
    for m in re.finditer(r"<!-- walkthrough: ([a-z-]+) -->\n```sh\n(.*?)```", text, re.S):
        blocks[m.group(1)] = m.group(2)
    return blocks


def prefix_of_build() -> str:
    info = subprocess.run(["meson", "introspect", "--buildoptions", str(BUILD_DIR)],
                          stdout=subprocess.PIPE, check=True).stdout.decode()
    import json
    return next(o["value"] for o in json.loads(info) if o["name"] == "prefix")


@unittest.skipUnless(shutil.which("meson"), "needs meson (to install the build under test)")
class Walkthrough(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.blocks = walkthrough_blocks()
        self.sandbox = self.tmp
        self.dest = self.mkdir("destdir")
        self.prefix = prefix_of_build()
        self.installed = Path(str(self.dest) + self.prefix)
        self.unit_dir = self.installed / "lib/systemd/system"
        fakebin = self.mkdir("fakebin")
        (fakebin / "systemctl").write_text(FAKE_SYSTEMCTL)
        os.chmod(fakebin / "systemctl", 0o755)
        self.etc = self.mkdir("etc")
        self.conf = self.etc / "jellyfin-backup.conf"
        self.backups = self.mkdir("var/backups") / "jellyfin"
        self.root = self.make_install("root", seed=1)
        self.env = dict(os.environ)
        self.env.update({
            "PATH": f"{fakebin}:{self.installed / 'bin'}:{os.environ['PATH']}",
            "JB_SANDBOX": str(self.sandbox), "JB_DESTDIR": str(self.dest),
            "JB_UNIT_DIR": str(self.unit_dir), "JELLYFIN_BACKUP_CONFIG": str(self.conf),
            "JELLYFIN_BACKUP_LOCK_DIR": str(self.mkdir("lock")),
        })
        self.conf.write_text(f"root = {self.root}\ninstall = debian\n")
        os.chmod(self.conf, 0o600)

    def make_install(self, name: str, seed: int) -> Path:
        root = self.tmp / name
        u.tool([u.SAMPLE, "--root", root, "--install", "debian", "--version", "10.11.0",
                "--seed", str(seed)], timeout=120)
        return root

    def in_sandbox(self, block: str, conf: Path | None = None) -> str:
        conf = conf or self.conf
        out = block.replace("/etc/jellyfin-backup.conf", str(conf))
        out = out.replace("/var/backups/jellyfin", str(self.backups))
        # The sandbox's one addition to the config the README writes: where its install is.
        out = out.replace("\nCONF\n", f"\nroot = {self.root}\ninstall = debian\nCONF\n")
        return out

    def run_block(self, name: str, script: str, env=None):
        res = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], env=env or self.env,
                             cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        if res.returncode != 0:
            self.fail(f"README block {name!r} failed (exit {res.returncode}):\n{script}\n"
                      f"stdout:\n{res.stdout.decode(errors='replace')}\n"
                      f"stderr:\n{res.stderr.decode(errors='replace')}")
        return res.stdout.decode(errors="replace")

    def archives(self, d: Path) -> list[str]:
        return sorted(n for n in os.listdir(d) if n.endswith(".tar.zst")) if d.exists() else []

    def test_the_readme_walkthrough(self):
        self.assertEqual(list(self.blocks), ["install", "first-backup", "nightly", "restore", "new-machine"])

        # Install: only `meson install` and systemd's reload; the build exists.
        lines = []
        for line in self.blocks["install"].splitlines():
            cmd = line.split("#")[0].strip()
            if cmd.startswith(("scripts/install-deps.sh", "meson setup")):
                continue
            if cmd.startswith("meson install -C build"):
                cmd = f"meson install -C {BUILD_DIR} --destdir {self.dest} --no-rebuild --quiet"
            if cmd:
                lines.append(cmd)
        self.run_block("install", "\n".join(lines))
        for path in ("bin/jellyfin-backup", "share/man/man1/jellyfin-backup.1",
                     "lib/systemd/system/jellyfin-backup.service", "lib/systemd/system/jellyfin-backup.timer",
                     "share/doc/jellyfin-backup/examples/jellyfin-backup.conf"):
            self.assertTrue((self.installed / path).exists(), f"README: meson install puts {path}")

        # The first backup: a directory output that does not exist yet.
        out = self.run_block("first-backup", self.in_sandbox(self.blocks["first-backup"]))
        self.assertEqual(len(self.archives(self.backups)), 1, out)
        self.assertIn("1 intact, 0 damaged", out, "verify DIR checked it")
        self.assertEqual(stat.S_IMODE(os.stat(self.backups).st_mode), 0o700)

        # Nightly: the README's config, one run of the service, status, the timer.
        out = self.run_block("nightly", self.in_sandbox(self.blocks["nightly"]))
        self.assertEqual(len(self.archives(self.backups)), 2, "the service's create ran")
        log = (self.sandbox / "systemctl.log").read_text()
        self.assertIn("start jellyfin-backup.service", log)
        self.assertIn("enable --now jellyfin-backup.timer", log)
        self.assertIn("stop jellyfin", log)

        # A bad upgrade: the data tree changes, the restore puts the newest archive back.
        marker = self.root / "var/lib/jellyfin/data/upgrade-broke-this"
        marker.write_text("x")
        self.run_block("restore", self.in_sandbox(self.blocks["restore"]))
        self.assertFalse(marker.exists(), "restored from the archive")
        self.assertTrue(list((self.root / "var/lib").glob("jellyfin.bak-*")), "the old tree is kept")

        # A new machine: another install, the archive fetched from an "offsite" directory.
        offsite = self.mkdir("offsite")
        name = self.archives(self.backups)[-1]
        shutil.copy(self.backups / name, offsite / name)
        shutil.copy(self.backups / (name + ".xxh128"), offsite / (name + ".xxh128"))
        new_root = self.make_install("new-machine", seed=7)
        new_conf = self.etc / "new-machine.conf"
        new_conf.write_text(f"root = {new_root}\ninstall = debian\n")
        os.chmod(new_conf, 0o600)
        new_backups = self.tmp / "new-machine-backups" / "jellyfin"
        new_backups.parent.mkdir()
        script = self.blocks["new-machine"].replace("rclone:s3:my-bucket/jellyfin", str(offsite))
        script = script.replace("/var/backups/jellyfin", str(new_backups)).replace("NAME.tar.zst", name)
        env = dict(self.env, JELLYFIN_BACKUP_CONFIG=str(new_conf))
        self.run_block("new-machine", script, env=env)
        restored = u.compare_trees(self.root / "etc/jellyfin", new_root / "etc/jellyfin")
        self.assertEqual(restored, [], "the new machine's config is the archive's")


if __name__ == "__main__":
    unittest.main()
