"""The sidecar ARCHIVE.xxh128: written by create and by every successful verify, in xxh128sum's own
format over the whole archive file, so a copy anywhere can be checked with `xxh128sum -c`; and the
streaming pipes `create --output - | ...` and `... | verify -`, which write none.

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_sidecar.py
"""

import os
import subprocess
import time
import unittest
from pathlib import Path

import e2e_util as u


def xxh128_of(path: Path) -> str:
    return u.tool(["xxh128sum", path]).stdout.split()[0].decode()


class SidecarTest(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        self.config, self.data = u.make_basic_trees(self.tmp / "src")
        u.write_random_file(self.data / "random.bin", 300_000)
        self.out = self.mkdir("out")

    def make(self, *extra) -> Path:
        res = self.create(self.config, self.data, self.out, "--server-version", "10.11.0", "--json", *extra)
        return Path(res.json()["path"])

    def test_create_writes_a_sidecar_that_xxh128sum_accepts(self):
        archive = self.make()
        sidecar = Path(str(archive) + ".xxh128")
        self.assertTrue(sidecar.is_file(), u.list_dir(self.out))
        self.assertEqual(sidecar.read_text(), f"{xxh128_of(archive)}  {archive.name}\n")
        u.tool(["xxh128sum", "-c", sidecar.name], cwd=self.out)
        self.assertEqual(sorted(u.list_dir(self.out)), sorted([archive.name, sidecar.name]),
                         "nothing but the archive and its sidecar (no lock or temp file left)")

    def test_create_json_names_the_sidecar(self):
        res = self.create(self.config, self.data, self.out / "x.tar.zst", "--json")
        self.assertEqual(res.json()["sidecar"], str(self.out / "x.tar.zst") + ".xxh128")

    def test_a_damaged_copy_fails_xxh128sum_c(self):
        archive = self.make()
        blob = bytearray(archive.read_bytes())
        blob[len(blob) // 2] ^= 0x01
        archive.write_bytes(bytes(blob))
        res = u.tool(["xxh128sum", "-c", archive.name + ".xxh128"], cwd=self.out, check=False)
        self.assertNotEqual(res.returncode, 0)

    def test_verify_writes_a_missing_sidecar(self):
        archive = self.make()
        sidecar = Path(str(archive) + ".xxh128")
        sidecar.unlink()
        res = u.run(["verify", archive, "--json"])
        self.assertExit(res, 0)
        self.assertEqual(res.json()["sidecar"], str(sidecar))
        self.assertEqual(res.json()["xxh128"], xxh128_of(archive))
        u.tool(["xxh128sum", "-c", sidecar.name], cwd=self.out)

    def test_verify_refreshes_an_old_sidecar(self):
        archive = self.make()
        sidecar = Path(str(archive) + ".xxh128")
        os.utime(sidecar, (1_000_000_000, 1_000_000_000))
        self.assertExit(u.run(["verify", archive, "--quiet"]), 0)
        self.assertGreater(sidecar.stat().st_mtime, archive.stat().st_mtime - 1)

    def test_verify_rewrites_a_wrong_sidecar_with_a_warning(self):
        archive = self.make()
        sidecar = Path(str(archive) + ".xxh128")
        sidecar.write_text("0" * 32 + "  " + archive.name + "\n")
        res = u.run(["verify", archive])
        self.assertExit(res, 0)
        self.assertTrue(any("did not match" in l for l in u.warning_lines(res)), res.describe())
        u.tool(["xxh128sum", "-c", sidecar.name], cwd=self.out)

    def test_a_damaged_archive_gets_no_sidecar(self):
        archive = self.make()
        sidecar = Path(str(archive) + ".xxh128")
        before = sidecar.read_bytes()
        blob = bytearray(archive.read_bytes())
        blob[len(blob) // 2] ^= 0x01
        archive.write_bytes(bytes(blob))
        self.assertExit(u.run(["verify", archive]), 3)
        self.assertEqual(sidecar.read_bytes(), before, "verify of a damaged archive must not bless it")
        sidecar.unlink()
        self.assertExit(u.run(["verify", archive]), 3)
        self.assertFalse(sidecar.exists())

    def test_verify_of_an_unwritable_directory_warns_but_passes(self):
        if not u.is_root():
            self.skipTest("needs root to drop privileges")
        archive = self.make()
        Path(str(archive) + ".xxh128").unlink()
        os.chmod(archive, 0o644)
        os.chmod(self.out, 0o555)
        res = u.run(["verify", archive], drop_privs=True)
        self.assertExit(res, 0)
        self.assertTrue(any("sidecar was not written" in l for l in u.warning_lines(res)), res.describe())

    def test_pipes_create_to_stdout_and_verify_from_stdin(self):
        create = u.popen(["create", "--config", self.config, "--data", self.data, "--output", "-", "--quiet"])
        verify = u.popen(["verify", "-", "--json"], stdin=create.stdout)
        create.stdout.close()
        out, err = verify.communicate(timeout=60)
        create.wait(60)
        self.assertEqual(create.returncode, 0, create.stderr.read())
        self.assertEqual(verify.returncode, 0, err)
        import json
        j = json.loads(out)
        self.assertTrue(j["ok"])
        self.assertIsNone(j["sidecar"], "stdin has no file to put a sidecar beside")
        self.assertEqual(u.list_dir(self.out), [])

    def test_create_to_stdout_through_a_shell_pipe_like_ssh(self):
        # create --output - | ssh host 'cat > x': the far side is a plain cat.
        target = self.out / "remote-copy.tar.zst"
        cmd = (f"'{u.BIN}' create --config '{self.config}' --data '{self.data}' --output - --quiet "
               f"| sh -c 'cat > \"{target}\"'")
        subprocess.run(["sh", "-c", cmd], check=True, timeout=60, stdin=subprocess.DEVNULL)
        res = u.run(["verify", target, "--quiet"])
        self.assertExit(res, 0)
        self.assertTrue(Path(str(target) + ".xxh128").is_file(), "verify gives the copy its sidecar")
        # ssh host cat x | jellyfin-backup verify -
        with open(target, "rb") as f:
            self.assertExit(u.run(["verify", "-", "--quiet"], stdin=f), 0)


if __name__ == "__main__":
    unittest.main()
