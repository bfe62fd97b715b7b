#!/bin/sh
# The local worker image's base, built once: Debian bookworm (mmdebstrap --variant=minbase) with Python and
# the layout docker/Dockerfile expects of its base (the official Airflow image's): an `airflow` user (uid
# 50000, gid 0), `python`/`pip` on PATH from a virtualenv it owns, AIRFLOW_HOME=/opt/airflow and
# AIRFLOW_VERSION. Imported with `podman import`, so no registry is needed.
#
#   docker/local/base-image.sh <image name> <airflow version> [Debian mirror URL]
#
# mmdebstrap rather than debootstrap: it installs through apt and writes the tarball itself. This whole script
# took 48 s (50 s of CPU) on 2 idle cores, where it took 72 s (75 s) with debootstrap; make test builds it beside
# its tests.
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
work=$(mktemp -d /tmp/airflow-ecs-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "base image $image: mmdebstrap bookworm (minbase + python3)"
# Into a file, not a pipe: podman would import the part of a tarball written before a failure.
# merged-usr: /usr merged up front, as debootstrap does, instead of the usrmerge package (and the perl it needs).
# The customize hooks run after the packages are in: the official image's user, home and virtualenv. Documentation,
# man pages and translations are never unpacked (dpkg's path-exclude); apt's lists are left out by mmdebstrap.
mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='chroot "$1" useradd --uid 50000 --gid 0 --create-home --shell /bin/bash airflow' \
    --customize-hook='mkdir -p "$1/opt/airflow" && chroot "$1" chown airflow:0 /opt/airflow' \
    --customize-hook='chroot "$1" su airflow -c "python3 -m venv /home/airflow/venv"' \
    bookworm "$work/rootfs.tar" "$mirror" >"$work/log" 2>&1 \
    || { tail -n 20 "$work/log"; exit 1; }
podman import \
    --change "ENV PATH=/home/airflow/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV AIRFLOW_HOME=/opt/airflow" \
    --change "ENV AIRFLOW_VERSION=$airflow_version" \
    --change "ENV LANG=C.UTF-8" \
    --change "USER airflow" \
    --change "WORKDIR /opt/airflow" \
    "$work/rootfs.tar" "$image" >/dev/null
echo "base image $image: imported ($(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1e6}'))"
