#!/bin/sh
# docker-entrypoint.sh of the ostack MariaDB container image (roles/trove_image), for the
# Trove Zed guest agent, which runs it as
#   docker run --name database --user 1001:1001 -e MYSQL_ROOT_PASSWORD=<pw>
#     -e MYSQL_INITDB_SKIP_TZINFO=1 -v /etc/mysql:/etc/mysql -v /var/run/mysqld:/var/run/mysqld
#     -v /var/lib/mysql:/var/lib/mysql <image>:<version> --datadir=/var/lib/mysql/data
# Arguments that start with "-" are options of mariadbd. When the data directory holds no
# database yet, it is initialised (mariadb-install-db) and root@localhost gets the password
# MYSQL_ROOT_PASSWORD (password authentication; no other account, no test database);
# then mariadbd runs in the foreground as the container's main process. Any other command
# (e.g. `mysql`) runs as given. Time zone tables are never loaded (MYSQL_INITDB_SKIP_TZINFO
# is accepted and has no other effect). Runs as any uid (the agent uses 1001), never needs root.
set -eu

log() { echo "docker-entrypoint: $*" >&2; }

if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- mariadbd "$@"
fi
case "$1" in mariadbd|mysqld|/usr/sbin/mariadbd) ;; *) exec "$@" ;; esac
shift

# The data directory as the server will see it (my.cnf, then the arguments).
datadir=$(mariadbd "$@" --verbose --help 2>/dev/null | awk '$1 == "datadir" { print $2; exit }')
datadir=${datadir%/}
[ -n "$datadir" ] || { log "cannot tell the data directory (mariadbd --verbose --help failed)"; exit 1; }

if [ ! -d "$datadir/mysql" ]; then
    password=${MYSQL_ROOT_PASSWORD:-${MARIADB_ROOT_PASSWORD:-}}
    if [ -z "$password" ]; then
        log "the data directory $datadir is empty and MYSQL_ROOT_PASSWORD is not set"
        exit 1
    fi
    log "initialising the data directory $datadir as uid $(id -u)"
    mkdir -p "$datadir"
    # --force: the container's host name need not resolve (grants use localhost only).
    mariadb-install-db "$@" --datadir="$datadir" --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve --force >&2
    sock="${TMPDIR:-/tmp}/mariadb-init.$$.sock"
    mariadbd "$@" --datadir="$datadir" --skip-networking --socket="$sock" --skip-log-bin &
    pid=$!
    i=0
    until mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
            log "the temporary server did not start"
            exit 1
        fi
        sleep 1
    done
    quoted=$(printf '%s' "$password" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g")
    mariadb --no-defaults --socket="$sock" -uroot --database=mysql <<SQL
SET @@SESSION.SQL_LOG_BIN = 0;
DELETE FROM mysql.global_priv WHERE NOT (User = 'root' AND Host = 'localhost') AND User <> 'mariadb.sys';
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$quoted';
FLUSH PRIVILEGES;
SQL
    mariadb-admin --no-defaults --socket="$sock" -uroot -p"$password" shutdown
    wait "$pid" || true
    log "initialised; root@localhost has a password"
fi

exec mariadbd "$@"
