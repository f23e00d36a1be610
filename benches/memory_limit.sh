#!/usr/bin/env bash
# Runs CMD under a hard memory limit and prints its peak RSS: through systemd-run's scope
# (MemoryMax) where systemd runs, else through a cgroup-v1 memory group made for the run
# (memory.limit_in_bytes, swap included when the kernel accounts it), removed afterwards.
# A run that passes the limit is killed by the kernel (exit 137).
#
# Usage: benches/memory_limit.sh LIMIT_BYTES CMD...   e.g. benches/memory_limit.sh 2147483648 \
#          target/release/canalyst analyze DATASET -o out.json
# Needs root (as on the bench machine).
set -uo pipefail
LIMIT="$1"; shift
if systemd-run --scope --quiet -p MemoryMax="$LIMIT" true 2>/dev/null; then
  exec /usr/bin/time -f "peak RSS %M KB, %e s, exit %x" \
    systemd-run --scope --quiet -p MemoryMax="$LIMIT" -p MemorySwapMax=0 "$@"
fi
CG=/sys/fs/cgroup/memory/canalyst-bench-$$
mkdir "$CG" || { echo "no cgroup-v1 memory controller at /sys/fs/cgroup/memory" >&2; exit 2; }
trap 'rmdir "$CG" 2>/dev/null' EXIT
echo "$LIMIT" > "$CG/memory.limit_in_bytes"
[ -e "$CG/memory.memsw.limit_in_bytes" ] && echo "$LIMIT" > "$CG/memory.memsw.limit_in_bytes"
rc=0
/usr/bin/time -f "peak RSS %M KB, %e s" sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' \
  sh "$CG" "$@" || rc=$?
echo "exit $rc; cgroup limit $(cat "$CG/memory.limit_in_bytes") B, cgroup peak $(cat "$CG/memory.max_usage_in_bytes") B (page cache included), OOM kills $(awk '/oom_kill /{print $2}' "$CG/memory.oom_control")"
exit $rc
