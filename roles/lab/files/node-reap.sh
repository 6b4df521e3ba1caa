#!/bin/bash
# node-reap.sh NAME
# Cleans up after a node whose systemd-nspawn is gone but whose container is not: kills
# the orphaned container init (PID 1 of its namespace, hostname NAME, parent no longer a
# systemd-nspawn), which ends every process in the node, then deletes the node's leftover
# host-side veths. Prints "reaped N" (N = inits killed + links deleted), so a caller can
# report a change only when something was cleaned.
set -u
name=$1
reaped=0
pids=()
for status in /proc/[0-9]*/status; do
    pid=${status#/proc/}; pid=${pid%/status}
    { tr '\0' '\n' < "/proc/$pid/environ"; } 2>/dev/null | grep -qx 'container=systemd-nspawn' || continue
    [ "$(awk '/^NSpid:/ {print $NF}' "$status" 2>/dev/null)" = 1 ] || continue
    ppid=$(awk '/^PPid:/ {print $2}' "$status" 2>/dev/null)
    case "$({ tr '\0' ' ' < "/proc/$ppid/cmdline"; } 2>/dev/null)" in
        systemd-nspawn*) continue ;;
    esac
    [ "$(nsenter -t "$pid" -u hostname 2>/dev/null)" = "$name" ] || continue
    kill -KILL "$pid" 2>/dev/null && pids+=("$pid") && reaped=$((reaped + 1))
done
for pid in "${pids[@]}"; do
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
done
for link in "vb-$name" "vp-$name" "vq-$name"; do
    if ip link show dev "$link" >/dev/null 2>&1; then
        ip link del "$link" && reaped=$((reaped + 1))
    fi
done
echo "reaped $reaped"
