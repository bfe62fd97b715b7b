#!/bin/sh
# The local worker image's base, built once: Debian bookworm (debootstrap --variant=minbase) with Python and
# the layout docker/Dockerfile expects of its base (the official Airflow image's): an `airflow` user (uid
# 50000, gid 0), `python`/`pip` on PATH from a virtualenv it owns, AIRFLOW_HOME=/opt/airflow and
# AIRFLOW_VERSION. Imported with `podman import`, so no registry is needed.
#
#   docker/local/base-image.sh <image name> <airflow version> [Debian mirror URL]
set -eu
image=$1
airflow_version=$2
# The mirror: as given, else the one this machine's apt already uses (a local mirror or proxy keeps working).
mirror=${3:-$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)}
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "base image: no Debian mirror in apt's sources; pass one as the third argument" >&2; exit 1; }

if podman image exists "$image"; then
    echo "base image $image: already built"
    exit 0
fi
root=$(mktemp -d /tmp/airflow-ecs-base.XXXXXX)
chmod 755 "$root"  # mktemp makes it 0700: the image's / must let the airflow user in
trap 'rm -rf "$root"' EXIT
echo "base image $image: debootstrap bookworm (minbase + python3) into $root"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -n 20 "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
chroot "$root" /bin/sh -eu -c '
    useradd --uid 50000 --gid 0 --create-home --shell /bin/bash airflow
    mkdir -p /opt/airflow && chown airflow:0 /opt/airflow
    su airflow -c "python3 -m venv /home/airflow/venv"
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* /usr/share/locale/*
'
tar -C "$root" -c . | podman import \
    --change "ENV PATH=/home/airflow/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV AIRFLOW_HOME=/opt/airflow" \
    --change "ENV AIRFLOW_VERSION=$airflow_version" \
    --change "ENV LANG=C.UTF-8" \
    --change "USER airflow" \
    --change "WORKDIR /opt/airflow" \
    - "$image" >/dev/null
echo "base image $image: imported ($(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}'))"
