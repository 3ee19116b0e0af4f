#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the suite's PostgreSQL pass (.ci/run):
#   pg-cluster.sh start DIR   initdb into DIR (empty or new), pg_ctl start on a free loopback port; prints postgres://postgres@127.0.0.1:PORT
#   pg-cluster.sh stop DIR    stops it and removes DIR
# As the postgres user when run as root (initdb refuses root). Binaries from PATH or /usr/lib/postgresql/<v>/bin.
set -euo pipefail
cmd=$1 dir=$2
bin=$(dirname "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
[ -x "$bin/pg_ctl" ] || { echo "no PostgreSQL binaries (initdb, pg_ctl)" >&2; exit 1; }
as() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
  start)
    mkdir -p "$dir" && chmod 700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    as "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
    # Every spawned test server holds a pool of up to 8 connections and a listener.
    as "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=800 -c shared_buffers=256MB" >/dev/null
    echo "postgres://postgres@127.0.0.1:$port"
    ;;
  stop)
    as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: pg-cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
