#!/bin/sh
# A Debian bookworm + Python 3.11 base image made on this machine, for engines that cannot pull
# from a registry. Build the embedded image on it with:
#
#   sudo docker/build-local-base.sh                       # -> streamlab-base:bookworm
#   docker build --network host --build-arg BASE_IMAGE=streamlab-base:bookworm \
#       -f docker/embedded.Dockerfile -t streamlab-embedded:local .
#
# Needs root, debootstrap and a Debian mirror (MIRROR, default deb.debian.org). The host's extra
# CA certificates (/usr/local/share/ca-certificates) are copied in and pip is told to use the
# system bundle, so `pip install` in the build trusts what the host trusts (a TLS-inspecting
# proxy, say). `python` is linked to python3, as in the official python images.
set -eu

tag="${1:-streamlab-base:bookworm}"
rootfs="${ROOTFS:-/tmp/streamlab-base-rootfs}"
mirror="${MIRROR:-http://deb.debian.org/debian}"

if [ ! -x "$rootfs/usr/bin/python3" ]; then
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$rootfs" "$mirror"
fi

if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
fi
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$rootfs/etc/pip.conf"
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*

tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$tag"
docker run --rm --network host "$tag" python -c 'import sys, venv, ssl; print("base ok:", sys.version.split()[0])'
