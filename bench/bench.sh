#!/usr/bin/env bash
# Benchmark jellyfin-backup against the obvious peer, `tar | zstd`, on a generated Jellyfin tree.
#
# Usage: bench/bench.sh [BUILD_DIR] [--scale small|medium|large|bench] [--seed N] [--runs N]
#
#   BUILD_DIR  meson build dir holding jellyfin-backup (default: <repo>/build). When the binary
#              is missing only the peer is measured, so the script is useful before the tool is.
#   --scale    size of the sample tree (default: bench, ~1.5 GiB); see scripts/make-sample-tree.py
#   --seed     generator seed (default 1)
#   --runs     runs per operation; the median wall time is reported (default 3)
#
# Environment: BENCH_DIR (default /tmp/jellyfin-backup-bench) caches the generated trees, so a
# second run skips generation; a tree is regenerated when the generator script changes.
#
# The peer is GNU tar's default format (no xattrs/ACLs, no per-file checksums) piped into zstd
# with the same level and all cores, which is what a user would otherwise script by hand.
# The verify peer decompresses, unpacks to a stream and hashes it, i.e. reads every byte once,
# as our verify does. The copy peer is `cp` plus `xxh128sum` for a sidecar (what a user scripts;
# it checks nothing inside the archive), ours verifies every file while it copies. With rclone
# installed, the offsite copy is also timed against `rclone copyto` to a WebDAV server that
# `rclone serve` runs on loopback, and `list` of a directory of 200 archives (ours only). Timings are taken with a warm page cache, so they measure CPU and
# pipeline design, not the disk.
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$repo/build"
scale=bench
seed=1
runs=3
while (($#)); do
    case $1 in
        --scale) scale=${2:?--scale needs a value}; shift 2 ;;
        --scale=*) scale=${1#*=}; shift ;;
        --seed) seed=${2:?--seed needs a value}; shift 2 ;;
        --seed=*) seed=${1#*=}; shift ;;
        --runs) runs=${2:?--runs needs a value}; shift 2 ;;
        --runs=*) runs=${1#*=}; shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) die "unknown option: $1" ;;
        *) build_dir=$1; shift ;;
    esac
done
case $scale in small|medium|large|bench) ;; *) die "--scale: unknown scale: $scale" ;; esac
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs: not a positive number: $runs"
[[ $seed =~ ^[0-9]+$ ]] || die "--seed: not a number: $seed"

for tool in tar zstd xxh128sum python3 awk; do
    command -v "$tool" >/dev/null || die "$tool: not found; install it (Debian: tar zstd xxhash python3 gawk)"
done

bin="$build_dir/jellyfin-backup"
have_ours=1
if [[ ! -x $bin ]]; then
    echo "bench: warning: $bin: not built; measuring the peer only" >&2
    have_ours=0
fi

# Peak RSS needs GNU time; wall time never depends on it.
have_time=0
if [[ -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    have_time=1
else
    echo "bench: warning: /usr/bin/time (Debian package 'time') missing; peak RSS not measured" >&2
fi

bench_dir=${BENCH_DIR:-/tmp/jellyfin-backup-bench}
generator="$repo/scripts/make-sample-tree.py"
src="$bench_dir/tree-$scale-seed$seed"
stamp="$src.stamp"      # beside the tree, not in it: it must not be archived
out="$bench_dir/out"
mkdir -p "$bench_dir" "$out"

# --- the sample tree ------------------------------------------------------------------------
gen_hash=$(sha256sum "$generator" | cut -d' ' -f1)
if [[ -d $src && -f $stamp && $(cat "$stamp") == "$gen_hash" ]]; then
    echo "bench: reusing $src" >&2
else
    echo "bench: generating $src (scale $scale, seed $seed)" >&2
    rm -f "$stamp"
    python3 "$generator" "$src" --scale "$scale" --seed "$seed" --force >&2
    echo "$gen_hash" > "$stamp"
fi

tree_bytes=$(find "$src" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
tree_files=$(find "$src" -type f | wc -l)

# Other work on the machine skews wall times; the report shows the load it started under.
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

# Warm the page cache so that every run, the first included, reads from memory.
find "$src" -type f -print0 | xargs -0 -r cat > /dev/null

# --- measuring ------------------------------------------------------------------------------
# measure NAME SETUP COMMAND: runs COMMAND (a bash string) $runs times after SETUP, and sets
# secs[NAME] to the median wall time and rss[NAME] to the largest peak RSS in KiB (for a
# pipeline: the largest single process, as getrusage reports for waited-for children).
declare -A secs rss
log="$out/last-command.log"
measure() {
    local name=$1 setup=$2 cmd=$3 i t0 t1 times=() peak=0 m
    for ((i = 0; i < runs; i++)); do
        bash -c "$setup"
        # Flush the previous run's output so its writeback does not land in this run's time.
        sync
        t0=$(date +%s.%N)
        if ((have_time)); then
            if ! /usr/bin/time -f %M -o "$out/rss" bash -o pipefail -c "$cmd" 2>"$log"; then
                echo "bench: error: $name failed: $cmd" >&2; tail -n 5 "$log" >&2
                secs[$name]=FAIL; rss[$name]=; return 1
            fi
        elif ! bash -o pipefail -c "$cmd" 2>"$log"; then
            echo "bench: error: $name failed: $cmd" >&2; tail -n 5 "$log" >&2
            secs[$name]=FAIL; rss[$name]=; return 1
        fi
        t1=$(date +%s.%N)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')")
        if ((have_time)); then
            m=$(tail -n 1 "$out/rss")
            ((m > peak)) && peak=$m
        fi
        echo "bench:   $name run $((i + 1))/$runs: ${times[-1]} s" >&2
    done
    secs[$name]=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(((runs + 1) / 2))p")
    rss[$name]=$peak
}

q() { printf '%q' "$1"; }
peer_archive="$out/peer.tar.zst"
ours_archive="$out/ours.tar.zst"
rm -f "$peer_archive" "$ours_archive"   # a stale archive must not be reported as this run's
status=0

echo "bench: peer create" >&2
measure peer_create "rm -f $(q "$peer_archive")" \
    "tar -C $(q "$src") -cf - config data | zstd -T0 -3 -q > $(q "$peer_archive")" || status=1
echo "bench: peer verify" >&2
measure peer_verify ":" \
    "zstd -dc $(q "$peer_archive") | tar -xOf - | xxh128sum > /dev/null" || status=1
if ((have_ours)); then
    echo "bench: ours create" >&2
    measure ours_create "rm -f $(q "$ours_archive")" \
        "$(q "$bin") create --data $(q "$src/data") --config $(q "$src/config") --output $(q "$ours_archive") --quiet" \
        || status=1
    echo "bench: ours verify" >&2
    if [[ -f $ours_archive ]]; then
        measure ours_verify ":" "$(q "$bin") verify $(q "$ours_archive") --quiet" || status=1
    else
        secs[ours_verify]=FAIL
    fi
fi

# Copies: local, then (with rclone) to a WebDAV server on loopback.
copy_dir="$out/copies"
if [[ -f $ours_archive ]]; then
    echo "bench: peer copy" >&2
    measure peer_copy "rm -rf $(q "$copy_dir") && mkdir -p $(q "$copy_dir")" \
        "cp $(q "$ours_archive") $(q "$copy_dir/") && (cd $(q "$copy_dir") && xxh128sum ours.tar.zst > ours.tar.zst.xxh128)" \
        || status=1
    if ((have_ours)); then
        echo "bench: ours copy" >&2
        measure ours_copy "rm -rf $(q "$copy_dir") && mkdir -p $(q "$copy_dir")" \
            "$(q "$bin") copy $(q "$ours_archive") $(q "$copy_dir/") --quiet" || status=1
    fi
fi
if command -v rclone >/dev/null && [[ -f $ours_archive ]] && ((have_ours)); then
    dav_root="$out/webdav"
    rm -rf "$dav_root" && mkdir -p "$dav_root"
    # list reads each archive's first frame and sidecar: 200 archives of a small tree, each
    # made by create (its own manifest; one version each, so one name each), local and on the
    # remote. Made before the server starts: it caches directory listings.
    many="$out/many"
    small="$bench_dir/tree-small-seed$seed"
    [[ -d $small/data ]] || python3 "$generator" --scale small --seed "$seed" "$small" >/dev/null
    rm -rf "$many" && mkdir -p "$many" "$dav_root/many"
    echo "bench: making 200 archives for list" >&2
    for ((i = 0; i < 200; i++)); do
        "$bin" create --config "$small/config" --data "$small/data" --output "$many" --level 1 \
            --server-version "10.$((i / 100)).$((i % 100))" --quiet --config-file none
    done
    cp "$many"/* "$dav_root/many/"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rclone serve webdav --addr "127.0.0.1:$port" "$dav_root" >"$out/webdav.log" 2>&1 &
    dav_pid=$!
    trap 'kill $dav_pid 2>/dev/null || true' EXIT
    export RCLONE_CONFIG=/dev/null RCLONE_CONFIG_BENCHDAV_TYPE=webdav RCLONE_CONFIG_BENCHDAV_URL="http://127.0.0.1:$port"
    until rclone lsf benchdav: >/dev/null 2>&1; do sleep 0.1; done
    # Every run uploads into a directory of its own (nothing there to skip or to refuse).
    fresh='c-$(date +%s%N)'
    echo "bench: peer offsite copy (rclone copyto)" >&2
    measure peer_offsite ":" "rclone copyto $(q "$ours_archive") benchdav:$fresh/ours.tar.zst" || status=1
    echo "bench: ours offsite copy" >&2
    measure ours_offsite ":" "$(q "$bin") copy $(q "$ours_archive") rclone:benchdav:$fresh/ --quiet" || status=1
    echo "bench: ours list of 200 archives (local, remote)" >&2
    measure ours_list_local ":" "$(q "$bin") list $(q "$many") --quiet" || status=1
    measure ours_list_remote ":" "$(q "$bin") list rclone:benchdav:many --quiet" || status=1
fi

# --- report ---------------------------------------------------------------------------------
num() { [[ ${1:-} =~ ^[0-9.]+$ ]]; }
ratio() { if num "$1" && num "$2"; then awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; else echo "n/a"; fi; }
mbs() { if num "$1"; then awk -v n="$tree_bytes" -v s="$1" 'BEGIN {printf "%.0f", (s > 0 ? n / 1e6 / s : 0)}'; else echo "n/a"; fi; }
mib() { if num "${1:-}" && ((have_time)); then awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; else echo "n/a"; fi; }
size_of() { if [[ -f $1 ]]; then stat -c %s "$1"; else echo "n/a"; fi; }

peer_size=$(size_of "$peer_archive")
ours_size=$(size_of "$ours_archive")
ours_version=n/a
((have_ours)) && ours_version=$("$bin" --version 2>/dev/null | head -n 1 || echo "?")

report() {
    echo "## jellyfin-backup benchmark ($scale, seed $seed)"
    echo
    echo "- $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -sr), zstd $(zstd --version | grep -o "v[0-9.]*" | head -n 1), $(tar --version | head -n 1), jellyfin-backup: $ours_version"
    echo "- tree: $src: $tree_files files, $tree_bytes bytes; median of $runs runs, warm page cache"
    echo "- load average at start: $load_at_start (anything near or above $(nproc) makes the times noisy)"
    echo "- MB/s = tree bytes / wall time; peak RSS of a pipeline = its largest process"
    echo
    echo "| operation | peer s | ours s | ours/peer | peer MB/s | ours MB/s | peer RSS MiB | ours RSS MiB |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    local op
    for op in create verify copy offsite; do
        [[ -n ${secs[peer_$op]:-} || -n ${secs[ours_$op]:-} ]] || continue
        echo "| $op | ${secs[peer_$op]:-n/a} | ${secs[ours_$op]:-n/a} | $(ratio "${secs[ours_$op]:-}" "${secs[peer_$op]:-}")" \
             "| $(mbs "${secs[peer_$op]:-}") | $(mbs "${secs[ours_$op]:-}") | $(mib "${rss[peer_$op]:-}") | $(mib "${rss[ours_$op]:-}") |"
    done
    if [[ -n ${secs[ours_list_local]:-} ]]; then
        echo
        echo "| list, 200 archives | seconds |"
        echo "|---|---:|"
        echo "| local directory | ${secs[ours_list_local]} |"
        echo "| WebDAV on loopback (rclone) | ${secs[ours_list_remote]:-n/a} |"
    fi
    echo
    echo "| archive | bytes | tree/archive |"
    echo "|---|---:|---:|"
    echo "| peer (tar \| zstd -3) | $peer_size | $(ratio "$tree_bytes" "$peer_size") |"
    echo "| ours | $ours_size | $(ratio "$tree_bytes" "$ours_size") |"
}
report | tee "$bench_dir/last-results.md"
exit "$status"
