#!/bin/bash
# build-image.sh: builds the Trove (Zed) guest image: a debootstrapped Debian root with
# cloud-init, docker.io and trove-guestagent, and, preloaded into it as a `docker save`
# archive, a MariaDB container image built from Debian's mariadb-server without docker.
# No loop device, device-mapper, nbd or host mount: the chroot steps run in a private mount
# namespace (unshare) that holds their /proc, and the disk is assembled from files (FAT
# with mtools + syslinux, ext4 with `mke2fs -d`). Everything comes from the environment
# (the role's tasks/build.yml sets it):
#   TRI_OUT              the image file to write (written as TRI_OUT.partial.*, then renamed)
#   TRI_FORMAT           qcow2 (compressed) or raw
#   TRI_QCOW2_COMPRESSION  zlib or zstd (qcow2 compression type)
#   TRI_GUEST_PACKAGES   NAME=VERSION lines (resolve-packages.py --base ...): exactly the guest's packages
#   TRI_DB_PACKAGES      NAME=VERSION lines: exactly the MariaDB container's packages
#   TRI_FILES_DIR        the role's files/ (guest/, mariadb/, docker-archive.py)
#   TRI_KEY              the cache key, recorded in the image
#   TRI_SUITE, TRI_MIRROR, TRI_SECURITY_MIRROR   Debian suite and mirrors (also the guest's sources)
#   TRI_APT_PROXY        http proxy for the build's downloads, "auto" (127.0.0.1:3142 when it
#                        listens) or "" (none); never written into the image
#   TRI_DISK_MIB         virtual size of the disk in MiB
#   TRI_CMDLINE          kernel command line (root= is added)
#   TRI_DOCKER_IMAGE, TRI_DB_TAGS   repository and tags of the MariaDB image (e.g. ostack/mariadb, "10.11 latest")
#   TRI_DB_UID           uid:gid the container runs as (the agent's database_service_uid)
#   TRI_TRIM             1: drop docs, man pages, locales and apt lists from both roots
#   TRI_SYSLINUX_MBR     syslinux's BIOS MBR code (mbr.bin)
#   TRI_TMPDIR           where the scratch directory goes (removed on exit, also on failure)
# The whole script is one brace group, so bash has read all of it before it runs any of it
# (editing the file during a build cannot change the running build).
{
set -euo pipefail
export LC_ALL=C MTOOLS_SKIP_CHECK=1 SOURCE_DATE_EPOCH=315619200 DEBIAN_FRONTEND=noninteractive
: "${TRI_OUT:?}" "${TRI_FORMAT:?}" "${TRI_GUEST_PACKAGES:?}" "${TRI_DB_PACKAGES:?}" "${TRI_FILES_DIR:?}"
: "${TRI_KEY:?}" "${TRI_SUITE:?}" "${TRI_MIRROR:?}" "${TRI_SECURITY_MIRROR:?}" "${TRI_DISK_MIB:?}"
: "${TRI_CMDLINE:?}" "${TRI_DOCKER_IMAGE:?}" "${TRI_DB_TAGS:?}" "${TRI_DB_UID:?}" "${TRI_SYSLINUX_MBR:?}"
: "${TRI_APT_PROXY=auto}" "${TRI_TRIM:=1}" "${TRI_TMPDIR:=/var/tmp}" "${TRI_QCOW2_COMPRESSION:=zlib}"
case "$TRI_FORMAT" in qcow2|raw) ;; *) echo "TRI_FORMAT must be qcow2 or raw" >&2; exit 2 ;; esac

t0=$(date +%s)
log() { echo "build-image: [$(( $(date +%s) - t0 ))s] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$(dirname "$TRI_OUT")" "$TRI_TMPDIR"
work=$(mktemp -d "$TRI_TMPDIR/ostack-trove-image.XXXXXX")
partial=$(mktemp "$TRI_OUT.partial.XXXXXX")
# Mounts live only in the unshare'd namespaces, so nothing is mounted under $work here.
trap 'rm -rf --one-file-system "$work" "$partial"' EXIT
trap 'exit 130' INT TERM HUP
chmod 0755 "$work"

proxy=$TRI_APT_PROXY
if [ "$proxy" = auto ]; then
    proxy=
    if timeout 2 bash -c ': >/dev/tcp/127.0.0.1/3142' 2>/dev/null; then proxy=http://127.0.0.1:3142; fi
fi
log "key $TRI_KEY; downloads ${proxy:+through }${proxy:-direct}"

# Run a command chrooted into ROOT, in a private mount namespace with /proc (gone with it).
in_root() {
    local root=$1; shift
    unshare --mount --propagation private -- /bin/sh -c \
        'root=$1; shift; mount -t proc proc "$root/proc" && exec chroot "$root" "$@"' sh "$root" "$@"
}

# Apt of a root: the suite, its updates and security sources; the proxy (build only); no
# recommends; nothing starts; with TRI_TRIM, dpkg leaves out docs (not copyright files),
# man/info pages and translations.
prepare_root() {
    local root=$1
    cat > "$root/etc/apt/sources.list" <<SRC
deb $TRI_MIRROR $TRI_SUITE main
deb $TRI_MIRROR $TRI_SUITE-updates main
deb $TRI_SECURITY_MIRROR $TRI_SUITE-security main
SRC
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$root/etc/apt/apt.conf.d/60ostack-norecommends"
    if [ -n "$proxy" ]; then
        printf 'Acquire::http::Proxy "%s";\n' "$proxy" > "$root/etc/apt/apt.conf.d/99ostack-build-proxy"
    fi
    printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
    chmod 0755 "$root/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || :
    if [ "$TRI_TRIM" = 1 ]; then
        cat > "$root/etc/dpkg/dpkg.cfg.d/90ostack-trim" <<'CFG'
# ostack trove_image: no documentation, manual pages or translations (copyright files stay)
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
CFG
    fi
}

# Install exactly the NAME=VERSION lines of $2 into ROOT, then check dpkg holds that set.
install_exact() {
    local root=$1 lines=$2 what=$3
    in_root "$root" apt-get -q=2 update || die "apt-get update failed in the $what root"
    # shellcheck disable=SC2046  # one argument per package
    in_root "$root" apt-get -q -y --no-install-recommends --allow-downgrades \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o Dpkg::Use-Pty=0 \
        install $(printf '%s\n' "$lines") > "$work/apt-$what.log" 2>&1 \
        || { tail -n 40 "$work/apt-$what.log" >&2; die "installing the $what packages failed (the host's apt lists may be older than the mirror's: apt-get update, or set trove_image_apt_cache_valid_time)"; }
    in_root "$root" dpkg-query -W -f '${db:Status-Abbrev} ${Package}=${Version}\n' \
        | awk '$1 == "ii" { print $2 }' | sort > "$work/installed-$what"
    printf '%s\n' "$lines" | sort > "$work/wanted-$what"
    if ! cmp -s "$work/installed-$what" "$work/wanted-$what"; then
        diff "$work/wanted-$what" "$work/installed-$what" >&2 || :
        die "the $what root does not hold exactly the resolved packages (< resolved, > installed)"
    fi
    log "$what root: $(wc -l < "$work/installed-$what") packages, exactly as resolved"
}

# Remove what a running system recreates and what the image does not need.
finish_root() {
    local root=$1
    rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/apt/apt.conf.d/99ostack-build-proxy"
    in_root "$root" apt-get -q=2 clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
        "$root"/var/lib/dpkg/*-old "$root"/tmp/* "$root"/var/tmp/* "$root"/var/log/apt/* "$root"/var/log/*.log \
        "$root"/var/cache/ldconfig/aux-cache
    mkdir -p "$root/var/lib/apt/lists/partial"
    : > "$root/etc/resolv.conf"
    if [ "$TRI_TRIM" = 1 ]; then
        # What debootstrap unpacked before the dpkg exclusions existed.
        find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || :
        find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || :
        rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
        find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || :
    fi
}

# --- one minbase debootstrap, copied for the two roots -----------------------------------------
base="$work/base" guest="$work/guest" db="$work/db"
log "debootstrap --variant=minbase $TRI_SUITE"
http_proxy=$proxy debootstrap --variant=minbase --arch=amd64 --components=main "$TRI_SUITE" "$base" "$TRI_MIRROR" \
    > "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
cp -a "$base" "$db"
mv "$base" "$guest"

# --- the MariaDB container's root -----------------------------------------------------------------
log "MariaDB root: installing"
prepare_root "$db"
install_exact "$db" "$TRI_DB_PACKAGES" mariadb
uid=${TRI_DB_UID%%:*} gid=${TRI_DB_UID##*:}
in_root "$db" groupadd -g "$gid" database 2>/dev/null || :
in_root "$db" useradd -u "$uid" -g "$gid" -d /var/lib/mysql -s /usr/sbin/nologin -M database
install -m 0755 "$TRI_FILES_DIR/mariadb/docker-entrypoint.sh" "$db/usr/local/bin/docker-entrypoint.sh"
# The package's own data directory and state are bind-mounted over by the agent; drop them.
rm -rf "$db"/var/lib/mysql/* "$db"/var/run/mysqld/* "$db"/run/mysqld/*
mkdir -p "$db/var/lib/mysql" "$db/run/mysqld"
chown "$uid:$gid" "$db/var/lib/mysql" "$db/run/mysqld"
finish_root "$db"
# A container needs no kernel-side files, init system or apt state for booting.
rm -rf "$db"/var/cache/apt/archives/*.deb "$db/boot" "$db"/dev/*
mkdir -p "$db/dev"
db_version=unknown
for ver in $(printf '%s\n' "$TRI_DB_PACKAGES" | sed -n 's/^mariadb-server=[0-9]*:\{0,1\}//p'); do db_version=$ver; done
echo "key=$TRI_KEY" > "$db/etc/ostack-mariadb-image"
du -sm "$db" | awk '{ print "MariaDB root: " $1 " MiB" }' >&2

log "MariaDB root: layer tar and docker archive"
tar --numeric-owner --xattrs --xattrs-include='security.capability' --sort=name --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$db" -cf "$work/layer.tar" .
sed "s/@UID@/$uid/;s/@UID@/$gid/" "$TRI_FILES_DIR/mariadb/image-config.json" > "$work/image-config.json"
mkdir -p "$guest/var/lib/ostack-trove/images"
tags=()
for tag in $TRI_DB_TAGS; do tags+=("$TRI_DOCKER_IMAGE:$tag"); done
python3 "$TRI_FILES_DIR/docker-archive.py" "$work/layer.tar" "$guest/var/lib/ostack-trove/images/mariadb.tar" \
    "$work/image-config.json" "${tags[@]}" >&2
archive_size=$(stat -c %s "$guest/var/lib/ostack-trove/images/mariadb.tar")
rm -rf "$db" "$work/layer.tar"

# --- the guest's root -------------------------------------------------------------------------------
log "guest root: installing"
prepare_root "$guest"
# initramfs-tools (pulled by the kernel) reads this when the kernel's postinst builds the initramfs:
# the virtio disk and ext4 root must be in it whatever MODULES= finds.
mkdir -p "$guest/etc/initramfs-tools/conf.d"
# FSTYPE: the root's type cannot be probed in a chroot; the fsck hook then adds fsck.ext4.
printf 'MODULES=most\nCOMPRESS=zstd\nFSTYPE=ext4\n' > "$guest/etc/initramfs-tools/conf.d/ostack.conf"
mkdir -p "$guest/usr/share/initramfs-tools/modules.d"
printf 'virtio_pci\nvirtio_blk\nvirtio_scsi\next4\ncrc32c_generic\n' > "$guest/usr/share/initramfs-tools/modules.d/ostack-trove.conf"
# The root's fstab entry before the kernel's postinst builds the initramfs, so that
# initramfs-tools puts fsck.ext4 in it (the root is checked before it is mounted).
root_uuid=$(printf '%s' "root-$TRI_KEY" | sha256sum | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/')
printf 'UUID=%s\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' "$root_uuid" > "$guest/etc/fstab"
install_exact "$guest" "$TRI_GUEST_PACKAGES" guest

kver=$(ls "$guest/lib/modules")
[ "$(echo "$kver" | wc -l)" = 1 ] || die "expected one kernel in the guest, found: $kver"
[ -f "$guest/boot/vmlinuz-$kver" ] && [ -f "$guest/boot/initrd.img-$kver" ] || die "no kernel/initramfs in /boot"
in_root "$guest" lsinitramfs "/boot/initrd.img-$kver" > "$work/initramfs-list"
grep -q 'sbin/fsck.ext4$' "$work/initramfs-list" || die "fsck.ext4 is not in the initramfs"
for mod in virtio_blk virtio_pci ext4; do
    grep -qw "$mod" "$guest/lib/modules/$kver/modules.builtin" 2>/dev/null && continue
    grep -q "/$mod\.ko" "$work/initramfs-list" || die "$mod is not in the initramfs"
done

g="$TRI_FILES_DIR/guest"
in_root "$guest" id trove >/dev/null 2>&1 || die "no trove user (trove-common's postinst)"
in_root "$guest" usermod -a -G docker trove
install -D -m 0440 "$g/60_trove_guest" "$guest/etc/sudoers.d/60_trove_guest"
install -D -m 0644 "$g/80-ostack-dhcp.network" "$guest/etc/systemd/network/80-ostack-dhcp.network"
install -D -m 0644 "$g/90_ostack_trove.cfg" "$guest/etc/cloud/cloud.cfg.d/90_ostack_trove.cfg"
install -D -m 0644 "$g/trove-guestagent-ostack.conf" "$guest/etc/systemd/system/trove-guestagent.service.d/ostack.conf"
install -D -m 0644 "$g/wait-online-any.conf" "$guest/etc/systemd/system/systemd-networkd-wait-online.service.d/ostack.conf"
install -D -m 0644 "$g/ostack-trove-preload.service" "$guest/etc/systemd/system/ostack-trove-preload.service"
install -D -m 0755 "$g/ostack-trove-preload" "$guest/usr/local/sbin/ostack-trove-preload"
mkdir -p "$guest/opt/trove-guestagent" "$guest/etc/trove/conf.d"
in_root "$guest" chown trove:trove /opt/trove-guestagent /etc/trove/conf.d
# The agent also reads /etc/trove/trove.conf: keep the file, every line commented.
if [ -f "$guest/etc/trove/trove.conf" ]; then
    sed -i -e 's/^\([^#]\)/#\1/' "$guest/etc/trove/trove.conf"
fi
in_root "$guest" systemctl enable systemd-networkd.service ostack-trove-preload.service docker.service \
    trove-guestagent.service cloud-init.service >/dev/null
in_root "$guest" systemctl disable networking.service >/dev/null 2>&1 || :
# Per instance: machine-id, SSH host keys (cloud-init makes new ones), cloud-init state.
: > "$guest/etc/machine-id"
rm -f "$guest/var/lib/dbus/machine-id" "$guest"/etc/ssh/ssh_host_*
rm -rf "$guest/var/lib/cloud"/*
echo trove-guest > "$guest/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$guest/etc/hosts"
{
    echo "key=$TRI_KEY"
    echo "kernel=$kver"
    echo "docker_image=$(printf '%s ' "${tags[@]}")"
    echo "mariadb=$db_version"
    echo "# guest packages"
    printf '%s\n' "$TRI_GUEST_PACKAGES"
    echo "# mariadb container packages"
    printf '%s\n' "$TRI_DB_PACKAGES"
} > "$guest/etc/ostack-trove-image"
finish_root "$guest"
rm -rf "$guest"/var/cache/apt/archives/*.deb
root_mib=$(du -sm "$guest" | cut -f1)
log "guest root: $root_mib MiB installed (MariaDB archive $archive_size bytes), kernel $kver"

# --- the disk: MBR, FAT boot partition (syslinux, kernel, initramfs), ext4 root ---------------------
cp "$guest/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$guest/boot/initrd.img-$kver" "$work/initrd.img"
cat > "$work/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT trove
PROMPT 0
TIMEOUT 0
LABEL trove
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=UUID=$root_uuid ro $TRI_CMDLINE
CFG
start=2048
boot_mib=$(( ($(stat -c %s "$work/vmlinuz") + $(stat -c %s "$work/initrd.img")) / 1048576 + 4 ))
[ "$boot_mib" -ge 64 ] || boot_mib=64
root_start=$(( start + boot_mib * 2048 ))
root_mib_part=$(( TRI_DISK_MIB - 1 - boot_mib ))
[ "$root_mib_part" -gt $(( root_mib * 5 / 4 + 256 )) ] || die "TRI_DISK_MIB=$TRI_DISK_MIB is too small for a $root_mib MiB root"
mkfs.fat -C "$work/boot.img" -n TROVEBOOT -i 7c0ffee1 --invariant -h "$start" "$(( boot_mib * 1024 ))" >/dev/null
mcopy -i "$work/boot.img" "$work/vmlinuz" ::/vmlinuz
mcopy -i "$work/boot.img" "$work/initrd.img" ::/initrd.img
mcopy -i "$work/boot.img" "$work/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$work/boot.img"
log "ext4 root: mke2fs -d ($root_mib_part MiB)"
mke2fs -q -F -t ext4 -L trove-root -U "$root_uuid" -E "root_owner=0:0,hash_seed=$root_uuid" -m 1 \
    -d "$guest" "$work/root.img" "${root_mib_part}M"
rm -rf "$guest"
truncate -s "${TRI_DISK_MIB}M" "$work/disk.img"
dd if="$work/boot.img" of="$work/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.img" bs=1M seek=$(( root_start / 2048 )) conv=notrunc,sparse status=none
rm -f "$work/boot.img" "$work/root.img"
printf 'label: dos\nlabel-id: 0x7c0ffee1\nstart=%s, size=%s, type=e, bootable\nstart=%s, type=83\n' \
    "$start" "$(( boot_mib * 2048 ))" "$root_start" \
    | sfdisk -q --no-reread --no-tell-kernel --wipe never --wipe-partitions never "$work/disk.img"
dd if="$TRI_SYSLINUX_MBR" of="$work/disk.img" bs=440 count=1 conv=notrunc status=none

log "converting to $TRI_FORMAT"
if [ "$TRI_FORMAT" = qcow2 ]; then
    qemu-img convert -f raw -O qcow2 -c -o "compression_type=$TRI_QCOW2_COMPRESSION" "$work/disk.img" "$partial"
else
    mv "$work/disk.img" "$partial"
fi
chmod 0644 "$partial"
mv -f "$partial" "$TRI_OUT"
log "wrote $TRI_OUT ($TRI_FORMAT, $(stat -c %s "$TRI_OUT") bytes, ${TRI_DISK_MIB} MiB virtual; root $root_mib MiB, MariaDB archive $archive_size bytes, kernel $kver)"
exit 0
}
