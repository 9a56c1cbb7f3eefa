#!/usr/bin/env bash
# The README's first command: install, build, then back up, verify, inspect
# and restore a generated Jellyfin install (the linuxserver.io image's
# layout, data nested in config) while a stand-in server holds its database
# open, and get the data back once more with nothing but GNU tar, zstd and
# xxh128sum.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release >/dev/null
ninja -C build jellyfin-backup >/dev/null
bin=$PWD/build/jellyfin-backup

work=$(mktemp -d "${TMPDIR:-/tmp}/jellyfin-backup-demo.XXXXXX")
root=$work/root
echo "== Generating a sample Jellyfin install (linuxserver.io layout) under $root"
python3 scripts/make-sample-tree.py --root "$root" --install linuxserver --scale small
mkdir "$work/backups"

# A stand-in for the running server: it holds jellyfin.db open, as Jellyfin does.
cat > "$work/start-server" <<SH
#!/bin/sh
python3 -c 'import sys, time; db = open(sys.argv[1], "rb"); time.sleep(3600)' \
  "$root/config/data/data/jellyfin.db" </dev/null >/dev/null 2>&1 &
echo \$! > "$work/server.pid"
# Like a real server, it is "up" once it has its database open.
while ! ls -l /proc/\$!/fd 2>/dev/null | grep -q jellyfin.db; do sleep 0.05; done
SH
chmod +x "$work/start-server"
"$work/start-server"
trap 'kill "$(cat "$work/server.pid")" 2>/dev/null || true' EXIT
control=(--stop-cmd "kill \$(cat $work/server.pid)" --start-cmd "$work/start-server")

echo; echo "== jellyfin-backup where: the trees, their version, the running server"
$bin where --root "$root"

echo; echo "== jellyfin-backup create refuses while the server runs (exit 4)"
set +e
$bin create --root "$root" --output "$work/backups"
echo "create exit code: $?"
set -e

echo; echo "== jellyfin-backup create, stopping and starting the server around it"
$bin create --root "$root" --output "$work/backups" "${control[@]}"
archive=$(ls "$work"/backups/jellyfin.*.tar.zst)

echo; echo "== jellyfin-backup verify"
$bin verify "$archive"

echo; echo "== jellyfin-backup status: is the newest backup fresh and checked? (for monitoring)"
$bin status "$work/backups" --max-age 1d

echo; echo "== jellyfin-backup inspect"
$bin inspect "$archive"

echo; echo "== Offsite: copy to a WebDAV server (rclone serve on loopback), verified while it streams"
mkdir "$work/offsite"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rclone serve webdav --addr "127.0.0.1:$port" --dir-cache-time 0s "$work/offsite" >"$work/webdav.log" 2>&1 &
webdav=$!
trap 'kill "$(cat "$work/server.pid")" "$webdav" 2>/dev/null || true' EXIT
# A remote named "offsite" without an rclone config file, as `rclone config` would make it.
export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_OFFSITE_TYPE=webdav RCLONE_CONFIG_OFFSITE_URL="http://127.0.0.1:$port"
until rclone lsf offsite: >/dev/null 2>&1; do sleep 0.1; done
$bin copy "$archive" rclone:offsite:jellyfin/
$bin list rclone:offsite:jellyfin
(cd "$work/offsite/jellyfin" && xxh128sum -c ./*.xxh128)

echo; echo "== jellyfin-backup prune: what a retention policy would keep (--dry-run)"
$bin prune "$work/backups" --keep-daily 7 --keep-version-change --dry-run

echo; echo "== A bad upgrade: the server's trees change; jellyfin-backup restore"
echo "broken by an upgrade" > "$root/config/system.xml"
rm -rf "$root/config/data/metadata"
$bin restore "$archive" --root "$root" --dry-run
$bin restore "$archive" --root "$root" "${control[@]}"
ls -d "$root"/config.bak-*

echo; echo "== Recovering with only GNU tar, zstd and xxh128sum"
mkdir "$work/recovered"
tar --zstd -xpf "$archive" -C "$work/recovered" --xattrs --xattrs-include='*' --numeric-owner \
  --warning=no-unknown-keyword
(cd "$work/recovered" && xxh128sum --quiet -c CHECKSUMS.xxh128) && echo "xxh128sum -c: every file OK"
# The manifest says data lay inside config at "data": put it back there.
mv "$work/recovered/data" "$work/recovered/config/data"
diff -r --no-dereference "$root/config" "$work/recovered/config" >/dev/null 2>&1 &&
  echo "tar's extraction is identical to the restored trees"

echo; echo "== A damaged copy is caught (exit 3)"
cp "$archive" "$work/damaged.tar.zst"
size=$(stat -c %s "$work/damaged.tar.zst")
printf '\xff' | dd of="$work/damaged.tar.zst" bs=1 seek=$((size / 2)) conv=notrunc status=none
set +e
$bin verify "$work/damaged.tar.zst"
echo "verify exit code: $?"
set -e
echo; echo "Demo files are in $work (remove with: rm -rf $work)"
