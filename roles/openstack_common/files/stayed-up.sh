#!/bin/sh
# stayed-up.sh SECONDS UNIT...: after SECONDS, fail naming every UNIT that is not active or
# that systemd restarted on its own since the handler's restart (NRestarts counts those and
# a manual restart resets it), with its last journal lines and the tail of its own log file
# (OpenStack services log to /var/log/<project>/<unit>.log, the journal has only the exit).
settle=$1
shift
sleep "$settle"
failed=0
for unit in "$@"; do
    state=$(systemctl show -p ActiveState --value "$unit")
    restarts=$(systemctl show -p NRestarts --value "$unit")
    if [ "$state" != active ] || [ "${restarts:-0}" != 0 ]; then
        echo "$unit did not stay up for ${settle}s after its restart (ActiveState=$state, restarted by systemd ${restarts:-0} times since)."
        echo "  journalctl -u $unit:"
        journalctl -u "$unit" -n 8 --no-pager -o short-iso 2>&1 | sed 's/^/    /'
        for log in /var/log/*/"$unit".log; do
            [ -f "$log" ] || continue
            echo "  $log:"
            grep -E ' (ERROR|CRITICAL) ' "$log" | tail -n 5 | cut -c1-400 | sed 's/^/    /'
        done
        failed=1
    fi
done
exit "$failed"
