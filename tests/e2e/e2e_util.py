"""Shared helpers for the black-box end-to-end tests of jellyfin-backup.

Every test file in this folder is run on its own as `python3 tests/e2e/test_<topic>.py` with
`JB_BIN` (absolute path of the built binary) and `JB_SAMPLE` (absolute path of
scripts/make-sample-tree.py) in the environment. The tests drive the binary exactly as a user would:
through argv, stdin/stdout, exit codes and stderr, and check the archives with independent tools
(GNU tar, zstd, xxh128sum) or plain Python.

Python 3.11 standard library only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
BIN = os.environ.get("JB_BIN") or str(REPO_ROOT / "build" / "jellyfin-backup")
SAMPLE = os.environ.get("JB_SAMPLE") or str(REPO_ROOT / "scripts" / "make-sample-tree.py")

# Time limit for one run of the binary on the small trees used here.
DEFAULT_TIMEOUT = 30

ERROR_PREFIX = "jellyfin-backup: error: "
WARNING_PREFIX = "jellyfin-backup: warning: "

ZSTD_MAGIC = 0xFD2FB528
FRAME_BYTES = 16 * 1024 * 1024

# Archive name produced when --output is a directory.
ARCHIVE_NAME_RE = re.compile(r"^jellyfin\.(\d{8}T\d{6}Z)_([A-Za-z0-9._+-]+)\.tar\.zst$")

NOBODY = 65534

# Restore journals live in a state directory only the user running the tool can write (issue 11,
# point 2). The tests use their own instead of /var/lib/jellyfin-backup: STATE_DIR for runs as the
# test's user (inherited through os.environ, kept by install_env), and for runs as the unprivileged
# user one that user owns (run() and popen() put it in the child's environment).
_STATE_PARENT = tempfile.mkdtemp(prefix="jb-e2e-state-")
STATE_DIR = os.path.join(_STATE_PARENT, "state")
os.environ["JELLYFIN_BACKUP_STATE_DIR"] = STATE_DIR
_nobody_state_dir: str | None = None


def _remove_state_dirs() -> None:
    shutil.rmtree(_STATE_PARENT, ignore_errors=True)


import atexit as _atexit  # noqa: E402
_atexit.register(_remove_state_dirs)


def nobody_state_dir() -> str:
    """The unprivileged user's own state directory (made on first use, removed at exit)."""
    global _nobody_state_dir
    if _nobody_state_dir is None:
        # Apart from STATE_DIR, whose parent stays closed: a run as the user that was not given
        # its own finds no state directory there rather than root's.
        parent = tempfile.mkdtemp(prefix="jb-e2e-state-nobody-")
        os.chmod(parent, 0o755)
        _atexit.register(shutil.rmtree, parent, True)
        os.chown(parent, NOBODY, NOBODY)
        _nobody_state_dir = os.path.join(parent, "state")
    return _nobody_state_dir


def journals(state_dir: str | None = None) -> list[str]:
    """Restore journals (and their temp files) in the state directory."""
    d = state_dir or STATE_DIR
    try:
        return sorted(n for n in os.listdir(d) if ".journal" in n)
    except FileNotFoundError:
        return []


def journal_path(target, state_dir: str | None = None) -> str:
    """Where the tool keeps the journal of a restore into `target` (absolute, normalised):
    "<state dir>/restore-<XXH3-64 of the path>-<name, sanitized>.journal"."""
    target = os.fspath(target)
    digest = tool(["xxhsum", "-H3", "-"], input=target.encode()).stdout.split()[-1].decode()
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(target)[:32])
    return os.path.join(state_dir or STATE_DIR, f"restore-{digest}-{name}.journal")


def _child_env(env, drop_privs: bool):
    if not (drop_privs and is_root()):
        return env
    env = dict(os.environ if env is None else env)
    env["JELLYFIN_BACKUP_STATE_DIR"] = nobody_state_dir()
    return env


def sanitized() -> bool:
    """True when the binary under test is built with AddressSanitizer, whose shadow memory and
    quarantine make every peak-memory figure several times larger."""
    # ldd, not a read of the binary here: a test that measures a child's peak memory would count
    # this process's pages too (a forked child's peak starts at its parent's size).
    try:
        out = subprocess.run(["ldd", BIN], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    except OSError:
        return False
    return b"libasan" in out


def is_root() -> bool:
    return os.geteuid() == 0


# --------------------------------------------------------------------------------------------------
# Running the binary


@dataclasses.dataclass
class Result:
    """What one run of the binary produced."""

    args: list
    code: int
    out: bytes
    err: bytes

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")

    def json(self):
        """stdout parsed as one JSON object."""
        return json.loads(self.out.decode("utf-8"))

    def describe(self) -> str:
        return (
            f"command: {' '.join(map(str, self.args))}\n"
            f"exit code: {self.code}\n"
            f"stdout: {self.out[:2000]!r}\n"
            f"stderr: {self.err[:2000]!r}"
        )


def _child_setup():
    # A shell that starts us in the background may have set SIGINT to SIG_IGN; the binary must see
    # the default dispositions, as it would from a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
_nobody_bin: str | None = None


def nobody_bin() -> str:
    """A path of the binary that the unprivileged user can execute.

    The build dir may sit below a directory closed to others (e.g. /root); then a copy in a fresh
    world-readable temp dir is used (the binary links only system libraries).
    """
    global _nobody_bin
    if _nobody_bin is None:
        probe = subprocess.run(SETPRIV + [BIN, "--version"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd="/")
        if probe.returncode == 0:
            _nobody_bin = BIN
        else:
            d = tempfile.mkdtemp(prefix="jb-e2e-bin-")
            os.chmod(d, 0o755)
            _nobody_bin = os.path.join(d, "jellyfin-backup")
            shutil.copy2(BIN, _nobody_bin)
            os.chmod(_nobody_bin, 0o755)
            import atexit
            atexit.register(shutil.rmtree, d, True)
    return _nobody_bin


def command(args, drop_privs=False) -> list:
    """argv for running the binary with `args`; as an unprivileged user when `drop_privs` and root."""
    args = [os.fspath(a) if isinstance(a, os.PathLike) else a for a in args]
    if drop_privs and is_root():
        return SETPRIV + [nobody_bin()] + args
    return [BIN] + args


def run(args, *, input: bytes | None = None, stdin=None, stdout=subprocess.PIPE,
        timeout: float = DEFAULT_TIMEOUT, drop_privs: bool = False, env=None,
        cwd=None) -> Result:
    """Runs the binary with `args`, capturing stdout (unless redirected) and stderr."""
    argv = command(args, drop_privs)
    env = _child_env(env, drop_privs)
    if input is None and stdin is None:
        stdin = subprocess.DEVNULL
    proc = subprocess.run(
        argv,
        input=input,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=timeout,
        env=env,
        cwd=cwd,
        preexec_fn=_child_setup,
    )
    return Result(argv, proc.returncode, proc.stdout or b"", proc.stderr or b"")


def popen(args, *, drop_privs=False, **kw) -> subprocess.Popen:
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw["env"] = _child_env(kw.get("env"), drop_privs)
    return subprocess.Popen(command(args, drop_privs), preexec_fn=_child_setup, **kw)


def tool(argv, *, input=None, timeout=DEFAULT_TIMEOUT, cwd=None, check=True, stdout=subprocess.PIPE):
    """Runs an independent tool (tar, zstd, xxh128sum); raises with its output when it fails."""
    proc = subprocess.run([os.fspath(a) for a in argv], input=input, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=timeout, cwd=cwd,
                          stdin=None if input is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv))} failed with {proc.returncode}:\n"
            f"stdout: {(proc.stdout or b'')[:2000]!r}\nstderr: {proc.stderr[:2000]!r}")
    return proc


def error_lines(res: Result) -> list[str]:
    return [l for l in res.stderr.splitlines() if not l.startswith(WARNING_PREFIX)]


def warning_lines(res: Result) -> list[str]:
    return [l for l in res.stderr.splitlines() if l.startswith(WARNING_PREFIX)]


# --------------------------------------------------------------------------------------------------
# Files and trees


def write_file(path, data: bytes = b"", mode: int | None = None, mtime_ns: int | None = None):
    path = Path(os.fsdecode(path)) if isinstance(path, bytes) else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def write_random_file(path, size: int, mode: int = 0o644) -> Path:
    """A file of `size` incompressible bytes, written in 1 MiB pieces."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    os.chmod(path, mode)
    return path


def make_basic_trees(root, *, seed: int = 0) -> tuple[Path, Path]:
    """A small Jellyfin-like pair of trees root/config and root/data with known contents."""
    root = Path(root)
    config = root / "config"
    data = root / "data"
    write_file(config / "system.xml", b"<ServerConfiguration>\n  <IsStartupWizardCompleted>true"
               b"</IsStartupWizardCompleted>\n</ServerConfiguration>\n", 0o600)
    write_file(config / "network.xml", b"<NetworkConfiguration/>\n", 0o644)
    write_file(config / "logging.default.json", b'{"Serilog": {}}\n', 0o644)
    write_file(config / ".jellyfin-config", b"", 0o644)
    write_file(data / ".jellyfin-data", b"", 0o644)
    write_file(data / "data" / "jellyfin.db", (b"SQLite format 3\x00" + bytes(range(256)) * 64), 0o644)
    write_file(data / "data" / "device.txt", b"0123456789abcdef%d\n" % seed, 0o644)
    write_file(data / "metadata" / "library" / "ab" / "poster.jpg", os.urandom(20000), 0o644)
    write_file(data / "plugins" / "configurations" / "plugin.xml", b"<PluginConfiguration/>\n")
    (data / "root" / "default" / "Movies").mkdir(parents=True)
    write_file(data / "root" / "default" / "Movies" / "options.xml", b"<LibraryOptions/>\n")
    return config, data


def make_sample_trees(root, *, special: bool = False, seed: int = 1) -> tuple[Path, Path]:
    """Trees from scripts/make-sample-tree.py when it exists, else make_basic_trees."""
    root = Path(root)
    if os.path.isfile(SAMPLE):
        argv = [sys.executable, SAMPLE, str(root), "--scale", "small", "--seed", str(seed)]
        if special:
            argv.append("--special")
        tool(argv, timeout=60)
        return root / "config", root / "data"
    return make_basic_trees(root, seed=seed)


def give_to_nobody(path):
    """When root: hands the tree at `path` to the unprivileged user the tests drop to."""
    if not is_root():
        return
    os.lchown(path, NOBODY, NOBODY)
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), NOBODY, NOBODY)


def rmtree_force(path):
    """Removes a tree even where a test took permissions away."""

    def onerror(func, p, exc):
        try:
            parent = os.path.dirname(p)
            os.chmod(parent, 0o700)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
        except OSError:
            pass
        try:
            func(p)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=onerror)


@dataclasses.dataclass
class Entry:
    kind: str  # file, dir, symlink, fifo, chr, blk, socket
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    size: int
    sha256: str | None
    target: bytes | None
    xattrs: dict
    ino: tuple
    nlink: int
    rdev: int


def _kind(st) -> str:
    m = st.st_mode
    if stat.S_ISREG(m):
        return "file"
    if stat.S_ISDIR(m):
        return "dir"
    if stat.S_ISLNK(m):
        return "symlink"
    if stat.S_ISFIFO(m):
        return "fifo"
    if stat.S_ISCHR(m):
        return "chr"
    if stat.S_ISBLK(m):
        return "blk"
    if stat.S_ISSOCK(m):
        return "socket"
    return "other"


def _user_xattrs(path: bytes, follow: bool) -> dict:
    try:
        names = os.listxattr(path, follow_symlinks=follow)
    except OSError:
        return {}
    out = {}
    for n in names:
        if n.startswith("user."):
            out[n] = os.getxattr(path, n, follow_symlinks=follow)
    return out


def snapshot(root) -> dict[bytes, Entry]:
    """Every entry below `root` (root itself as b''), keyed by relative path bytes."""
    root_b = os.fsencode(root)
    result = {}

    def visit(rel: bytes):
        full = os.path.join(root_b, rel) if rel else root_b
        st = os.lstat(full)
        kind = _kind(st)
        sha = None
        target = None
        if kind == "file":
            h = hashlib.sha256()
            with open(full, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            sha = h.hexdigest()
        elif kind == "symlink":
            target = os.readlink(full)
        result[rel] = Entry(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns,
                            st.st_size if kind == "file" else 0, sha, target,
                            _user_xattrs(full, kind != "symlink") if kind in ("file", "dir") else {},
                            (st.st_dev, st.st_ino), st.st_nlink, st.st_rdev)
        if kind == "dir":
            for name in sorted(os.listdir(full)):
                visit(os.path.join(rel, name) if rel else name)

    visit(b"")
    return result


def _below_any(rel: bytes, paths) -> bool:
    return any(rel == p or rel.startswith(p + b"/") for p in paths)


def compare_trees(src, dst, *, skip_kinds=("socket",), check_dir_mtime=True,
                  check_owner=True, skip_paths=()) -> list[str]:
    """Differences between two trees as readable strings (empty list when they agree).

    `skip_paths`: relative paths (str or bytes) left out on both sides, with everything below
    them (e.g. the log directory a backup leaves out).
    """
    skip = [os.fsencode(p) for p in skip_paths]
    a = {k: v for k, v in snapshot(src).items()
         if v.kind not in skip_kinds and not _below_any(k, skip)}
    b = {k: v for k, v in snapshot(dst).items() if not _below_any(k, skip)}
    problems = []
    for p in sorted(set(a) - set(b)):
        problems.append(f"missing in extraction: {p!r}")
    for p in sorted(set(b) - set(a)):
        problems.append(f"unexpected in extraction: {p!r}")
    for p in sorted(set(a) & set(b)):
        x, y = a[p], b[p]
        if x.kind != y.kind:
            problems.append(f"{p!r}: type {x.kind} != {y.kind}")
            continue
        if x.kind != "symlink" and x.mode != y.mode:
            problems.append(f"{p!r}: mode {oct(x.mode)} != {oct(y.mode)}")
        if check_owner and (x.uid, x.gid) != (y.uid, y.gid):
            problems.append(f"{p!r}: owner {x.uid}:{x.gid} != {y.uid}:{y.gid}")
        # Symlink times are not compared: restoring them is up to the extracting tool.
        if x.kind in ("file", "fifo") or (x.kind == "dir" and check_dir_mtime and p != b""):
            if x.mtime_ns != y.mtime_ns:
                problems.append(f"{p!r}: mtime_ns {x.mtime_ns} != {y.mtime_ns}")
        if x.kind == "file" and (x.size, x.sha256) != (y.size, y.sha256):
            problems.append(f"{p!r}: content differs (size {x.size} vs {y.size})")
        if x.kind == "symlink" and x.target != y.target:
            problems.append(f"{p!r}: symlink target {x.target!r} != {y.target!r}")
        if x.kind in ("chr", "blk") and x.rdev != y.rdev:
            problems.append(f"{p!r}: device {x.rdev} != {y.rdev}")
        if x.xattrs != y.xattrs:
            problems.append(f"{p!r}: xattrs {x.xattrs!r} != {y.xattrs!r}")
    # Hardlink identity: paths sharing an inode in the source share one in the extraction.
    groups: dict[tuple, list[bytes]] = {}
    for p, e in a.items():
        if e.kind == "file" and e.nlink > 1:
            groups.setdefault(e.ino, []).append(p)
    for paths in groups.values():
        if len(paths) < 2 or any(p not in b for p in paths):
            continue
        inos = {b[p].ino for p in paths}
        if len(inos) != 1:
            problems.append(f"hardlinks not preserved: {paths!r}")
    return problems


def expected_order(roots: list[tuple[str, Path]], skip_kinds=("socket",)) -> list[bytes]:
    """Archive entry order the spec requires: each tree depth-first, children sorted bytewise."""
    out = []

    def visit(arc: bytes, full: bytes):
        out.append(arc)
        st = os.lstat(full)
        if stat.S_ISDIR(st.st_mode):
            for name in sorted(os.listdir(full)):
                child = os.path.join(full, name)
                if _kind(os.lstat(child)) in skip_kinds:
                    continue
                visit(arc + b"/" + name, child)

    for name, path in roots:
        visit(os.fsencode(name), os.fsencode(path))
    return out


def list_dir(path) -> list[str]:
    return sorted(os.listdir(path))


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# Whole Jellyfin installs under a fake root (make-sample-tree.py --root ROOT --install TYPE)

INSTALLS = ("debian", "fedora", "docker", "linuxserver", "hotio", "portable", "macos", "windows")

# Where each install type keeps its directories, relative to ROOT (ROOT stands for "/", or for
# the drive C: on Windows), as make-sample-tree.py writes them and `where` should find them.
# portable and macos: for the generator's default --home.
INSTALL_DIRS = {
    "debian": dict(data="var/lib/jellyfin", config="etc/jellyfin", log="var/log/jellyfin",
                   cache="var/cache/jellyfin"),
    "fedora": dict(data="var/lib/jellyfin", config="etc/jellyfin", log="var/log/jellyfin",
                   cache="var/cache/jellyfin"),
    "docker": dict(data="config", config="config/config", log="config/log", cache="cache"),
    "linuxserver": dict(data="config/data", config="config", log="config/log",
                        cache="config/cache"),
    "hotio": dict(data="config/app/data", config="config/app", log="config/app/log",
                  cache="config/app/cache"),
    "portable": dict(data="home/jellyfin/.local/share/jellyfin",
                     config="home/jellyfin/.config/jellyfin",
                     log="home/jellyfin/.local/share/jellyfin/log",
                     cache="home/jellyfin/.cache/jellyfin"),
    "macos": dict(data="Users/jellyfin/.local/share/jellyfin",
                  config="Users/jellyfin/.config/jellyfin",
                  log="Users/jellyfin/.local/share/jellyfin/log",
                  cache="Users/jellyfin/.local/share/jellyfin/cache"),
    "windows": dict(data="ProgramData/Jellyfin/Server", config="ProgramData/Jellyfin/Server/config",
                    log="ProgramData/Jellyfin/Server/log",
                    cache="ProgramData/Jellyfin/Server/cache"),
}

# Variables that tell the binary (or Jellyfin) where an install is: a test environment starts
# without them, so that the machine running the tests does not interfere.
_LOCATING_VARS = ("PROGRAMDATA", "LOCALAPPDATA", "APPDATA", "USERPROFILE")
NO_HOME = "/nonexistent/jb-e2e-home"


def make_install(root, install: str, *, seed: int = 1, version: str | None = None,
                 home: str | None = None, special: bool = False, scale: str = "small") -> Path:
    """A whole install of type `install` under `root` (make-sample-tree.py --root mode)."""
    argv = [sys.executable, SAMPLE, "--root", str(root), "--install", install, "--scale", scale,
            "--seed", str(seed)]
    if version:
        argv += ["--version", version]
    if home:
        argv += ["--home", home]
    if special:
        argv.append("--special")
    tool(argv, timeout=120)
    return Path(root)


def install_dirs(root, install: str) -> dict[str, Path]:
    """{data, config, log, cache} of an install made by make_install, as paths under `root`."""
    return {k: Path(root) / v for k, v in INSTALL_DIRS[install].items()}


def copy_tree(src, dst) -> Path:
    """An exact copy (modes, mtimes, links) of the tree `src` at `dst` (which must not exist),
    made by cp -a."""
    if os.path.lexists(dst):
        raise FileExistsError(dst)
    tool(["cp", "-a", "--", src, dst], timeout=60)
    return Path(dst)


def install_env(**overrides) -> dict:
    """The environment for a child that must find installs only where a test puts them.

    No JELLYFIN_*, XDG_* or Windows location variables, HOME at a path that does not exist;
    then `overrides` (a value None removes the variable).
    """
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith(("JELLYFIN_", "XDG_")) or k == "JELLYFIN_BACKUP_STATE_DIR")
           and k not in _LOCATING_VARS}
    env["HOME"] = NO_HOME
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def archive_names(archive) -> list[str]:
    """Member names of a .tar.zst archive, in order (read with zstd and tarfile, not the binary);
    directories without their trailing slash."""
    data = zstd_decompress(Path(archive).read_bytes())
    return [m.name.rstrip("/") for m in tar_members(data)]


# --------------------------------------------------------------------------------------------------
# Archives, inspected independently of the binary


@dataclasses.dataclass
class Frame:
    offset: int
    length: int
    has_checksum: bool
    skippable: bool = False


def zstd_frames(data: bytes) -> list[Frame]:
    """Splits a zstd stream into frames by parsing headers and block headers (RFC 8878)."""
    frames = []
    pos = 0
    n = len(data)
    while pos < n:
        if pos + 4 > n:
            raise ValueError(f"truncated frame magic at {pos}")
        magic = int.from_bytes(data[pos:pos + 4], "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:
            size = int.from_bytes(data[pos + 4:pos + 8], "little")
            frames.append(Frame(pos, 8 + size, False, True))
            pos += 8 + size
            continue
        if magic != ZSTD_MAGIC:
            raise ValueError(f"bad frame magic {magic:#x} at {pos}")
        fhd = data[pos + 4]
        fcs_flag = fhd >> 6
        single_segment = (fhd >> 5) & 1
        checksum = bool((fhd >> 2) & 1)
        did_flag = fhd & 3
        p = pos + 5
        if not single_segment:
            p += 1
        p += (0, 1, 2, 4)[did_flag]
        p += (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
        while True:
            if p + 3 > n:
                raise ValueError(f"truncated block header at {p}")
            bh = int.from_bytes(data[p:p + 3], "little")
            p += 3
            last = bh & 1
            btype = (bh >> 1) & 3
            bsize = bh >> 3
            if btype == 3:
                raise ValueError(f"reserved block type at {p - 3}")
            p += 1 if btype == 1 else bsize
            if last:
                break
        if checksum:
            p += 4
        if p > n:
            raise ValueError("truncated frame")
        frames.append(Frame(pos, p - pos, checksum))
        pos = p
    return frames


def zstd_decompress(data: bytes) -> bytes:
    return tool(["zstd", "-q", "-d", "-c"], input=data).stdout


def zstd_compress(data: bytes, level: int = 3) -> bytes:
    return tool(["zstd", "-q", f"-{level}", "--check", "-c"], input=data).stdout


def tar_members(tar_bytes: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:", encoding="utf-8",
                      errors="surrogateescape") as tf:
        return tf.getmembers()


def member_name_bytes(m: tarfile.TarInfo) -> bytes:
    return m.name.encode("utf-8", "surrogateescape").rstrip(b"/")


def tar_member_span(tar_bytes: bytes, name: str) -> tuple[int, int, int]:
    """(header start, data start, end) of member `name` in an uncompressed tar."""
    for m in tar_members(tar_bytes):
        if m.name.rstrip("/") == name:
            end = m.offset_data + ((m.size + 511) // 512) * 512
            return m.offset, m.offset_data, end
    raise KeyError(name)


def tar_end_of_entries(tar_bytes: bytes) -> int:
    """Offset just after the last member's data (where the end-of-archive blocks start)."""
    last = tar_members(tar_bytes)[-1]
    return last.offset_data + ((last.size + 511) // 512) * 512


def read_member(tar_bytes: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:", encoding="utf-8",
                      errors="surrogateescape") as tf:
        for m in tf.getmembers():
            if m.name == name:
                return tf.extractfile(m).read()
    raise KeyError(name)


def pax_file_entry(name: str, data: bytes, mode: int = 0o644) -> bytes:
    """One POSIX pax tar entry (header + padded data), without the end-of-archive blocks."""
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = int(time.time())
    ti.uid = os.getuid()
    ti.gid = os.getgid()
    buf = ti.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
    pad = (512 - len(data) % 512) % 512
    return buf + data + b"\0" * pad


def flip_keeping_mtime(path: Path):
    """Flips the middle byte of a file and puts its mtime back, as someone hiding damage would
    (the ctime still moves)."""
    st = os.stat(path)
    path.write_bytes(flip(path.read_bytes(), st.st_size // 2))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def flip(data: bytes, offset: int, xor: int = 0x55) -> bytes:
    b = bytearray(data)
    b[offset] ^= xor
    return bytes(b)


def parse_checksums(text: bytes) -> dict[bytes, str]:
    """CHECKSUMS.xxh128 as {path bytes: hex digest}, undoing the coreutils escaped form."""
    out = {}
    for line in text.split(b"\n"):
        if not line:
            continue
        escaped = line.startswith(b"\\")
        if escaped:
            line = line[1:]
        digest, sep, name = line.partition(b"  ")
        if not sep:
            raise ValueError(f"malformed checksum line {line!r}")
        if escaped:
            name = re.sub(rb"\\(.)", lambda m: {b"n": b"\n", b"\\": b"\\", b"r": b"\r"}
                          .get(m.group(1), m.group(1)), name)
        out[name] = digest.decode()
    return out


# --------------------------------------------------------------------------------------------------
# Test case base


def make_shared_archive(cls, name: str) -> None:
    """For a test class's setUpClass: one archive of basic trees (version 10.11.0) that its tests
    copy around. Sets cls.shared (removed after the class), cls.trees, cls.blob (the archive's
    bytes) and cls.hash (its xxh128)."""
    cls.shared = cls.shared_dir(name)
    config, data = make_basic_trees(cls.shared / "src")
    cls.trees = (config, data)
    out = cls.shared / "out"
    out.mkdir()
    res = run(["create", "--config", config, "--data", data, "--output", out,
               "--server-version", "10.11.0", "--quiet", "--config-file", "none"])
    if res.code != 0:
        raise RuntimeError(f"create failed; {cls.__name__} needs an archive\n" + res.describe())
    archive = next(out / n for n in os.listdir(out) if n.endswith(".tar.zst"))
    cls.blob = archive.read_bytes()
    cls.hash = tool(["xxh128sum", archive]).stdout.split()[0].decode()


class E2ETestCase(unittest.TestCase):
    """Gives each test a fresh temporary directory (self.tmp) that is removed afterwards."""

    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        if not (os.path.isfile(BIN) and os.access(BIN, os.X_OK)):
            raise RuntimeError(f"binary under test not found or not executable: {BIN} "
                               "(set JB_BIN to the built jellyfin-backup)")

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="jb-e2e-"))
        # Reachable by an unprivileged user, for the tests that drop privileges.
        os.chmod(self.tmp, 0o755)
        self.addCleanup(rmtree_force, self.tmp)

    @classmethod
    def shared_dir(cls, name: str) -> Path:
        """A directory the class's tests share (filled once in setUpClass), removed after the last
        of them, or when setUpClass fails."""
        d = Path(tempfile.mkdtemp(prefix=f"jb-e2e-{name}-"))
        cls.addClassCleanup(rmtree_force, d)
        return d

    def mkdir(self, *parts) -> Path:
        p = self.tmp.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    # -- assertions ---------------------------------------------------------------------------

    def assertExit(self, res: Result, code: int, msg: str = ""):
        if res.code != code:
            self.fail(f"expected exit code {code}, got {res.code}. {msg}\n{res.describe()}")

    def assertErrorShape(self, res: Result, *needles: str, one_line: bool = True):
        """stderr holds one error of the spec's shape, naming each of `needles`.

        With `one_line` (the spec: "ONE line on stderr"), nothing but warnings may accompany the
        error line; without it, further detail lines may follow the error line.
        """
        lines = error_lines(res)
        if not lines or not lines[0].startswith(ERROR_PREFIX):
            self.fail(f"expected a line 'jellyfin-backup: error: ...' on stderr\n{res.describe()}")
        if sum(1 for l in lines if l.startswith(ERROR_PREFIX)) != 1:
            self.fail(f"expected one error, not several\n{res.describe()}")
        if one_line and len(lines) != 1:
            self.fail("expected exactly ONE line 'jellyfin-backup: error: ...' on stderr "
                      f"(besides warnings)\n{res.describe()}")
        for n in needles:
            if n not in res.stderr:
                self.fail(f"stderr does not name {n!r}\n{res.describe()}")

    def assertFails(self, res: Result, code: int, *needles: str, one_line: bool = True):
        self.assertExit(res, code)
        self.assertErrorShape(res, *needles, one_line=one_line)

    # -- common actions -----------------------------------------------------------------------

    def create(self, config, data, output, *extra, expect: int | None = 0, **kw) -> Result:
        res = run(["create", "--config", config, "--data", data, "--output", output, *extra], **kw)
        if expect is not None:
            self.assertExit(res, expect)
        return res

    def create_archive(self, config, data, *extra, name="a.tar.zst") -> Path:
        out = self.mkdir("out")
        path = out / name
        self.create(config, data, path, "--quiet", *extra)
        self.assertTrue(path.is_file(), f"no archive at {path}")
        return path

    def extract_with_tar(self, archive, dest=None) -> Path:
        dest = Path(dest) if dest else self.mkdir("extract")
        dest.mkdir(parents=True, exist_ok=True)
        tool(["tar", "--zstd", "-xpf", archive, "--xattrs", "--xattrs-include=*", "--numeric-owner",
              "-C", dest], timeout=60)
        return dest


# --------------------------------------------------------------------------------------------------
# A run held mid-way


def mount_tmpfs(path: Path, options: str) -> str | None:
    """Mounts a tmpfs at `path`; returns why not when it cannot."""
    if not is_root():
        return "mounting a tmpfs needs root"
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        return f"mount -t tmpfs failed: {proc.stderr.decode(errors='replace').strip()}"
    return None


class HeldRun:
    """A run of the binary held in its own --stop-cmd, which runs once its locks are taken and before
    anything is read; it goes on when release() is called (or the test ends).

        held = u.HeldRun(self, ["create", ...], env=env)   # waits until it is held
        ... a second run meets its locks ...
        held.release(); held.proc.returncode == 0

    Its output goes to files: the stop command inherits our stderr and outlives a killed run.
    """

    def __init__(self, case: unittest.TestCase, args, *, env=None, tmp: Path | None = None):
        tmp = Path(tmp or case.tmp)
        self._held, self._gate = tmp / "held", tmp / "gate"
        self.err_path = tmp / "held.err"
        # It also ends when the test's directory is gone: never a loop left behind.
        stop = (f"touch '{self._held}'; "
                f"while [ ! -e '{self._gate}' ] && [ -d '{tmp}' ]; do sleep 0.05; done")
        self._err = open(self.err_path, "wb")
        self.proc = popen([*args, "--stop-cmd", stop], env=env, stdout=subprocess.DEVNULL,
                          stderr=self._err)
        case.addCleanup(self.release)
        deadline = time.monotonic() + 20
        while not self._held.exists():
            if self.proc.poll() is not None:
                case.fail(f"the held run ended early: {self.err_path.read_text()}")
            if time.monotonic() > deadline:
                case.fail("the held run never reached its stop command")
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self):
        """Lets it go on, and waits for it."""
        self._gate.touch()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._err.close()

    def kill(self):
        """SIGKILL: no clean-up of its own (its stop command waits on, until release())."""
        self.proc.kill()
        self.proc.wait(timeout=10)
