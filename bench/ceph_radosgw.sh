#!/usr/bin/env bash
# A throwaway single-node Ceph cluster (one monitor, one in-memory OSD, radosgw)
# on 127.0.0.1, to run modelyard's S3 tests against the closest thing to a
# production object store we can start on one machine.
#
#   bench/ceph_radosgw.sh up     # prints the MODELYARD_TEST_S3_* variables to export
#   bench/ceph_radosgw.sh test   # up, run the S3 tests against radosgw, down
#   bench/ceph_radosgw.sh down
#
# Needs Debian's packages: apt-get install --no-install-recommends ceph-mon ceph-osd
# radosgw ceph-common (Ceph 16 "pacific" on bookworm). No systemd, no manager
# daemon, no disks: the OSD is a memstore, everything lives under $CEPH_DIR
# (default /tmp/modelyard-ceph) and goes away with `down`. Ports are chosen free.
set -euo pipefail

CEPH_DIR=${CEPH_DIR:-/tmp/modelyard-ceph}
ACCESS_KEY=${ACCESS_KEY:-modelyardtest}
SECRET_KEY=${SECRET_KEY:-modelyardtestsecret0123456789}
BUCKET=${BUCKET:-modelyard-test}
CONF="$CEPH_DIR/ceph.conf"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() {  # wait_for <seconds> <what> <command...>: poll until the command succeeds
    local limit=$1 what=$2; shift 2
    for _ in $(seq 1 $((limit * 10))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "timed out waiting for $what" >&2
    tail -n 30 "$CEPH_DIR"/log/*.log >&2 || true
    return 1
}

down() {
    for pidfile in "$CEPH_DIR"/run/*.pid; do
        [ -e "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    for pidfile in "$CEPH_DIR"/run/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$CEPH_DIR"
}

up() {
    if [ -e "$CONF" ]; then echo "already up: $CONF (run '$0 down' first)" >&2; exit 1; fi
    mkdir -p "$CEPH_DIR"/{run,log,mon,osd/ceph-0,rgw}
    local fsid mon_v1 mon_v2 rgw_port
    fsid=$(uuidgen)
    mon_v1=$(free_port); mon_v2=$(free_port); rgw_port=$(free_port)
    cat > "$CONF" <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]
public_network = 127.0.0.0/8
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
run_dir = $CEPH_DIR/run
pid_file = $CEPH_DIR/run/\$name.pid
admin_socket = $CEPH_DIR/run/\$name.asok
log_file = $CEPH_DIR/log/\$name.log
mon_data = $CEPH_DIR/mon/\$cluster-\$id
osd_data = $CEPH_DIR/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = 4294967296
# Without cephx there is no session key, so "secure" connections (which
# radosgw's defaults ask of the monitor) are impossible: crc everywhere.
ms_mon_client_mode = crc
ms_mon_service_mode = crc
ms_mon_cluster_mode = crc
ms_client_mode = crc
ms_service_mode = crc
ms_cluster_mode = crc
ms_bind_ipv4 = true
ms_bind_ipv6 = false

[client.rgw.gw]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port
rgw_data = $CEPH_DIR/rgw
rgw_dns_name = 127.0.0.1
EOF
    ceph-authtool --create-keyring "$CEPH_DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]" \
        "$CEPH_DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/mon.keyring"
    ceph-mon -c "$CONF" -i a
    wait_for 30 "the monitor" ceph -c "$CONF" --connect-timeout 2 mon stat

    local osd_id osd_uuid
    osd_uuid=$(uuidgen)
    osd_id=$(ceph -c "$CONF" osd create "$osd_uuid")
    # The monitor only lets an OSD boot whose store carries the uuid it registered.
    ceph-osd -c "$CONF" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1
    ceph-osd -c "$CONF" -i "$osd_id"
    wait_for 60 "the OSD to be up" sh -c "ceph -c '$CONF' osd stat | grep -q '1 up'"

    radosgw -c "$CONF" -n client.rgw.gw
    wait_for 120 "radosgw" curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/"
    radosgw-admin -c "$CONF" -n client.admin user create --uid=modelyard --display-name=modelyard \
        --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
    echo "$rgw_port" > "$CEPH_DIR/rgw.port"
    env_lines
}

env_lines() {
    cat <<EOF
export MODELYARD_TEST_S3_URL=http://127.0.0.1:$(cat "$CEPH_DIR/rgw.port")
export MODELYARD_TEST_S3_ACCESS_KEY=$ACCESS_KEY
export MODELYARD_TEST_S3_SECRET_KEY=$SECRET_KEY
export MODELYARD_TEST_S3_BUCKET=$BUCKET
export MODELYARD_TEST_RGW_ADMIN="radosgw-admin -c $CONF -n client.admin"
EOF
}

run_tests() {
    trap down EXIT
    eval "$(up)"
    cd "$ROOT"
    local targets=("$@")
    if [ ${#targets[@]} -eq 0 ]; then
        targets=(tests/store/test_artifact_store.py tests/store/test_s3_artifact_store.py
                 tests/http/test_artifacts_s3_http.py tests/scale/test_multiprocess.py
                 tests/faults/test_s3_full.py)
    fi
    "$PY" -m pytest -p no:cacheprovider -q "${targets[@]}"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    env) env_lines ;;
    test) shift; run_tests "$@" ;;
    *) echo "usage: $0 up|down|env|test [pytest args]" >&2; exit 2 ;;
esac
