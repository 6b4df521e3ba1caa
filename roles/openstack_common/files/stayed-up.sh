#!/bin/sh
# stayed-up.sh SECONDS UNIT...: after the handler's restart, wait until every UNIT's main
# process has run for SECONDS without a break, and fail naming every UNIT that does not get
# there: one that systemd keeps restarting on its own (3 times: a crash loop; NRestarts
# counts those and a manual restart resets it), or that is not up for SECONDS within
# 3 x SECONDS + 30 s. A single early restart that is then followed by a steady run (seen in
# containers: the old process still held the port) passes. The message has the unit's last
# journal lines and the ERROR lines of its own log file (OpenStack services log to
# /var/log/<project>/<unit>.log; the journal has only the exit).
settle=$1
shift
deadline=$(( $(cut -d. -f1 /proc/uptime) + 3 * settle + 30 ))
failed=0
for unit in "$@"; do
    while :; do
        state=$(systemctl show -p ActiveState --value "$unit")
        restarts=$(systemctl show -p NRestarts --value "$unit")
        pid=$(systemctl show -p MainPID --value "$unit")
        age=0
        [ "${pid:-0}" != 0 ] && age=$(ps -o etimes= -p "$pid" 2>/dev/null | tr -d ' ')
        [ "$state" = active ] && [ "${age:-0}" -ge "$settle" ] && break
        if [ "${restarts:-0}" -ge 3 ] || [ "$(cut -d. -f1 /proc/uptime)" -ge "$deadline" ]; then
            echo "$unit did not stay up for ${settle}s after its restart (ActiveState=$state, main process up ${age:-0}s, restarted by systemd ${restarts:-0} times since)."
            echo "  journalctl -u $unit:"
            journalctl -u "$unit" -n 8 --no-pager -o short-iso 2>&1 | sed 's/^/    /'
            for log in /var/log/*/"$unit".log; do
                [ -f "$log" ] || continue
                echo "  $log:"
                grep -E ' (ERROR|CRITICAL) ' "$log" | tail -n 5 | cut -c1-400 | sed 's/^/    /'
            done
            failed=1
            break
        fi
        sleep 1
    done
done
exit "$failed"
