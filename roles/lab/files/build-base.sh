#!/bin/sh
# build-base.sh DEST SUITE MIRROR PACKAGES PROXY
# Debootstraps a minbase root into DEST.partial, prepares it to be copied into many
# nodes (no host keys, no machine id, networkd enabled, apt caches empty), then moves
# it to DEST in one rename, so DEST either is complete or does not exist.
set -eu
dest=$1 suite=$2 mirror=$3 packages=$4 proxy=$5
partial="$dest.partial"
rm -rf "$partial"
http_proxy="$proxy" debootstrap --variant=minbase --include="$packages" "$suite" "$partial" "$mirror"
systemctl --root="$partial" enable systemd-networkd.service systemd-networkd.socket >/dev/null 2>&1
# networkd-wait-online would hold boot for 2 minutes on the unnumbered provider port.
systemctl --root="$partial" mask systemd-networkd-wait-online.service >/dev/null 2>&1
rm -f "$partial"/etc/ssh/ssh_host_*
: > "$partial/etc/machine-id"
rm -f "$partial/var/lib/dbus/machine-id"
# Nodes start with no package lists, marked old, so the first apt task of any role
# (cache_valid_time) fetches fresh lists through the node's own sources and proxy.
rm -rf "$partial"/var/cache/apt/archives/*.deb "$partial"/var/cache/apt/*.bin
find "$partial/var/lib/apt/lists" -maxdepth 1 -type f -delete
touch -d 1970-01-02 "$partial/var/lib/apt/lists"
mv "$partial" "$dest"
