#!/bin/bash
# Create one OSD, once: ceph-osd-create.sh UUID SIZE DISK FORCE CHECK, its cephx key on stdin.
# An OSD whose data directory holds this UUID and is ready exists already ("osd ID exists").
# Otherwise the cluster allocates an id for the UUID (ceph osd new, with the key; the same id
# again for a UUID it knows), the data directory gets the keyring and the block device (a
# sparse file of SIZE, or a link to DISK, wiped first only when FORCE is 1), and ceph-osd
# makes the bluestore store ("osd ID created"). With CHECK 1 nothing is written
# ("osd new would-create"). The key never reaches stdout or stderr.
set -euo pipefail
uuid=$1 size=$2 disk=$3 force=$4 check=$5
for f in /var/lib/ceph/osd/ceph-*/fsid; do
  [ -e "$f" ] || continue
  d=${f%/fsid}
  if [ "$(cat "$f")" = "$uuid" ] && [ -e "$d/ready" ]; then echo "osd ${d##*-} exists"; exit 0; fi
done
if [ "$check" = 1 ]; then echo "osd new would-create"; exit 0; fi
IFS= read -r key
boot=(--name client.bootstrap-osd --keyring /var/lib/ceph/bootstrap-osd/ceph.keyring)
id=$(printf '{"cephx_secret": "%s"}' "$key" | ceph "${boot[@]}" osd new "$uuid" -i -)
d=/var/lib/ceph/osd/ceph-$id
# The cluster gave this UUID the id $id. A directory of that id that is not ready and holds
# no other OSD's fsid is what an interrupted run of this script left: start it again.
if [ -e "$d" ]; then
  if [ -e "$d/ready" ] || { [ -e "$d/fsid" ] && [ "$(cat "$d/fsid")" != "$uuid" ]; }; then
    echo "$d holds another OSD (fsid $(cat "$d/fsid" 2>/dev/null)); the cluster gave osd.$id to $uuid. Nothing was changed." >&2
    exit 1
  fi
  rm -rf -- "$d"
fi
install -d -o ceph -g ceph -m 0750 "$d"
umask 077
printf '[osd.%s]\n\tkey = %s\n' "$id" "$key" > "$d/keyring"
if [ -n "$disk" ]; then
  if [ "$force" = 1 ]; then wipefs -a "$(readlink -f "$disk")" >/dev/null; fi
  ln -sfn "$disk" "$d/block"
  chown ceph:ceph "$(readlink -f "$disk")"
else
  truncate -s "$size" "$d/block"
fi
ceph "${boot[@]}" mon getmap -o "$d/activate.monmap" 2>&1 | grep -v '^got monmap' >&2 || true
[ -s "$d/activate.monmap" ] || { echo "could not read the monmap as client.bootstrap-osd" >&2; exit 1; }
chown -R ceph:ceph "$d"
ceph-osd --cluster ceph --osd-objectstore bluestore --mkfs -i "$id" --monmap "$d/activate.monmap" \
  --osd-data "$d" --osd-uuid "$uuid" --bluestore-block-size "${size:-0}" --setuser ceph --setgroup ceph 2>&1 \
  | grep -v 'unable to get device name' >&2 || true
[ -e "$d/ready" ] || { echo "ceph-osd --mkfs of osd.$id did not finish (no $d/ready); see above" >&2; exit 1; }
echo "osd $id created"
