"""A tree's path is not steered by a symlink its owner planted (issue 11, point 1).

In a nested layout (the official Docker image keeps config inside data) the inner tree's path runs
through the outer tree, which the jellyfin user can write. If that user replaces `data/config` by a
symlink to a root-only directory, root must neither back that directory up as `config` nor restore
into it: a symlink is followed only where no other user could have put it (a directory of root's
that nobody else can write, or a sticky one where the link is root's).

Run: JB_BIN=build/jellyfin-backup python3 tests/e2e/test_root_safe_paths.py
"""

import os
import unittest

import e2e_util as u


@unittest.skipUnless(u.is_root(), "needs root: the attack is the jellyfin user steering root")
class PlantedTreeLink(u.E2ETestCase):
    def setUp(self):
        super().setUp()
        # The official image's layout: config inside data, all of it the user's.
        self.data = self.mkdir("srv", "data")
        u.write_file(self.data / "data" / "jellyfin.db", b"db")
        u.write_file(self.data / ".jellyfin-data", b"")
        self.secret = self.mkdir("secret")
        self.marker = b"SECRET-" + os.urandom(8).hex().encode()
        u.write_file(self.secret / "shadow", self.marker, 0o600)
        u.write_file(self.secret / "system.xml", b"<x/>", 0o600)
        os.chmod(self.secret, 0o700)
        u.give_to_nobody(self.data)
        # As the user: its config dir is now a link to root's secret directory.
        os.symlink(self.secret, self.data / "config")
        os.lchown(self.data / "config", u.NOBODY, u.NOBODY)
        self.out = self.mkdir("out")

    def test_create_refuses_to_follow_it(self):
        res = u.run(["create", "--data", self.data, "--config", self.data / "config",
                     "--output", self.out, "--force"])
        self.assertEqual(res.code, 4, res.describe())
        self.assertIn("a symlink in", res.stderr)
        self.assertIn("another user can write: not followed", res.stderr)
        self.assertIn(str(self.data / "config"), res.stderr)
        self.assertEqual(os.listdir(self.out), [], "an archive was written")

    def restore(self, *extra):
        cfg, dat = u.make_basic_trees(self.mkdir("src"))
        archive = self.out / "a.tar.zst"
        res = u.run(["create", "--data", dat, "--config", cfg, "--output", archive])
        self.assertEqual(res.code, 0, res.describe())
        before = {n: (self.secret / n).read_bytes() for n in os.listdir(self.secret)}
        res = u.run(["restore", archive, "--data", self.data, "--config", self.data / "config" / "inner",
                     "--force", *extra])
        after = {n: (self.secret / n).read_bytes() for n in os.listdir(self.secret)}
        self.assertEqual(after, before, "root wrote into the secret directory\n" + res.describe())
        self.assertEqual(os.stat(self.secret).st_mode & 0o777, 0o700)
        return res

    def test_restore_of_both_trees_moves_the_link_aside_with_the_old_tree(self):
        # config lies inside data: the whole data tree, planted link and all, is swapped out.
        res = self.restore()
        self.assertEqual(res.code, 0, res.describe())
        self.assertTrue((self.data / "config" / "inner").is_dir())
        self.assertFalse((self.data / "config").is_symlink())

    def test_restore_of_config_alone_refuses_to_follow_it(self):
        res = self.restore("--only", "config")
        self.assertNotEqual(res.code, 0, res.describe())
        self.assertIn(str(self.data / "config"), res.stderr)
        self.assertTrue((self.data / "config").is_symlink(), "the planted link was replaced")


class TrustedLinks(u.E2ETestCase):
    def test_a_link_in_our_own_directory_is_followed(self):
        config, data = u.make_basic_trees(self.mkdir("src"))
        os.chmod(self.tmp, 0o755)
        os.symlink(data, self.tmp / "data-link")
        out = self.mkdir("out")
        res = u.run(["create", "--data", self.tmp / "data-link", "--config", config, "--output", out])
        self.assertEqual(res.code, 0, res.describe())


if __name__ == "__main__":
    unittest.main()
