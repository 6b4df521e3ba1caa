#!/bin/sh
# build-image.sh: builds the ostack test image, a small cirros-like guest, from Debian
# packages, with no loop device, device-mapper or mount. Everything comes from the
# environment (the role's tasks/build.yml sets it):
#   TI_OUT            the image file to write (written as TI_OUT.partial.*, then renamed, so
#                     TI_OUT either is complete or does not exist)
#   TI_FORMAT         qcow2 (compressed) or raw
#   TI_PACKAGES       the output of resolve-packages.py: "kernel NAME=VERSION" and NAME=VERSION
#                     lines; exactly these .debs are downloaded with the host's apt
#   TI_MODULES        kernel modules (names) for the initramfs; dependencies are added
#   TI_CMDLINE        the kernel command line
#   TI_GUEST_DIR      the guest's files (init, inittab, boot, udhcpc.script)
#   TI_GUEST_CONFIG   the text of the guest's /etc/ostack-test-image/config
#   TI_KEY            the cache key, recorded in the image
#   TI_SYSLINUX_MBR   syslinux's BIOS MBR code (mbr.bin)
#   TI_TMPDIR         where the scratch directory goes (removed on exit, also on failure)
# The disk: an MBR (syslinux mbr.bin) and one active FAT partition from 1 MiB holding
# syslinux (installed through mtools), the Debian kernel and a gzip'd initramfs that stays
# the root file system (busybox, dropbear and its libraries, the listed modules).
set -eu
# Fixed timestamps for a reproducible image: 1980-01-02, inside what a FAT entry can hold.
export LC_ALL=C MTOOLS_SKIP_CHECK=1 SOURCE_DATE_EPOCH=315619200
: "${TI_OUT:?}" "${TI_FORMAT:?}" "${TI_PACKAGES:?}" "${TI_MODULES:?}" "${TI_CMDLINE:?}" "${TI_GUEST_DIR:?}"
: "${TI_GUEST_CONFIG:?}" "${TI_KEY:?}" "${TI_SYSLINUX_MBR:?}" "${TI_TMPDIR:=/var/tmp}"
case "$TI_FORMAT" in qcow2|raw) ;; *) echo "TI_FORMAT must be qcow2 or raw, not '$TI_FORMAT'" >&2; exit 2 ;; esac

log() { echo "build-image: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$(dirname "$TI_OUT")" "$TI_TMPDIR"
work=$(mktemp -d "$TI_TMPDIR/ostack-test-image.XXXXXX")
partial=$(mktemp "$TI_OUT.partial.XXXXXX")
trap 'rm -rf "$work" "$partial"' EXIT
trap 'exit 130' INT TERM HUP

# --- packages --------------------------------------------------------------------------
kernel_pkg=$(printf '%s\n' "$TI_PACKAGES" | sed -n 's/^kernel //p')
other_pkgs=$(printf '%s\n' "$TI_PACKAGES" | grep -v '^kernel ' | grep . || true)
[ -n "$kernel_pkg" ] || die "TI_PACKAGES names no kernel"
mkdir -p "$work/debs"
# apt downloads as its sandbox user, who must be able to reach and write that directory.
chmod 0755 "$work"
id _apt >/dev/null 2>&1 && chown _apt "$work/debs"
log "downloading $(printf '%s\n' "$kernel_pkg" $other_pkgs | wc -l) packages with apt"
# shellcheck disable=SC2086  # one argument per package
(cd "$work/debs" && apt-get download -q=2 "$kernel_pkg" $other_pkgs) \
    || die "apt-get download failed (apt lists out of date? apt-get update, or set test_image_apt_cache_valid_time)"

kroot="$work/kernel" proot="$work/pkgs" tree="$work/initramfs"
mkdir -p "$kroot" "$proot" "$tree"
dpkg-deb -x "$work/debs/${kernel_pkg%%=*}_"*.deb "$kroot"
for deb in "$work/debs/"*.deb; do
    case "${deb##*/}" in "${kernel_pkg%%=*}_"*) continue ;; esac
    dpkg-deb -x "$deb" "$proot"
done
kver=$(ls "$kroot/lib/modules")
[ "$(echo "$kver" | wc -l)" = 1 ] || die "expected one kernel in $kernel_pkg, found: $kver"
vmlinuz="$kroot/boot/vmlinuz-$kver"
[ -f "$vmlinuz" ] || die "no $vmlinuz in $kernel_pkg"
busybox="$proot/bin/busybox"
[ -x "$busybox" ] || die "no static busybox in the packages (busybox-static)"

# --- kernel modules, with their dependencies, in load order -------------------------------
mdir="$kroot/lib/modules/$kver"
"$busybox" depmod -b "$kroot" "$kver"
mkdir -p "$tree/etc/ostack-test-image"
# shellcheck disable=SC2016  # awk program
awk -v want="$TI_MODULES" '
    function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p); gsub(/-/, "_", p); return p }
    function load(m,    k, n, arr) {
        if (m in done) return
        done[m] = 1
        n = split(deps[m], arr, " ")
        for (k = 1; k <= n; k++) load(arr[k])
        print path[m]
    }
    FILENAME ~ /modules\.builtin$/ { builtin[base($1)] = 1; next }
    {
        p = $1; sub(/:$/, "", p); m = base(p); path[m] = p; deps[m] = ""
        for (i = 2; i <= NF; i++) deps[m] = deps[m] " " base($i)
    }
    END {
        n = split(want, w, /[ ,]+/)
        for (i = 1; i <= n; i++) {
            m = w[i]; gsub(/-/, "_", m)
            if (m == "" || m in builtin) continue
            if (!(m in path)) { print "no kernel module " m > "/dev/stderr"; bad = 1; continue }
            load(m)
        }
        exit bad
    }' "$mdir/modules.builtin" "$mdir/modules.dep" > "$tree/etc/ostack-test-image/modules" \
    || die "kernel modules missing from $kernel_pkg"
while read -r mod; do
    mkdir -p "$tree/lib/modules/$kver/${mod%/*}"
    cp "$mdir/$mod" "$tree/lib/modules/$kver/$mod"
done < "$tree/etc/ostack-test-image/modules"
log "$(wc -l < "$tree/etc/ostack-test-image/modules") kernel modules for $kver"

# --- busybox, dropbear and the libraries dropbear needs ------------------------------------
mkdir -p "$tree/bin" "$tree/sbin" "$tree/usr/bin" "$tree/usr/sbin" "$tree/lib64" "$tree/lib/x86_64-linux-gnu"
cp "$busybox" "$tree/bin/busybox"
for applet in $("$busybox" --list-full); do
    case "$applet" in linuxrc|bin/busybox) continue ;; esac
    [ -e "$tree/$applet" ] || ln -s /bin/busybox "$tree/$applet"
done
for bin in usr/sbin/dropbear usr/bin/dropbearkey usr/bin/dbclient; do
    [ -x "$proot/$bin" ] || die "no $bin in the packages (dropbear-bin)"
    cp "$proot/$bin" "$tree/$bin"
done
ln -s dbclient "$tree/usr/bin/ssh"
libdir="$proot/lib/x86_64-linux-gnu"
ldso="$libdir/ld-linux-x86-64.so.2"
[ -x "$ldso" ] || die "no dynamic loader in the packages (libc6)"
for bin in usr/sbin/dropbear usr/bin/dropbearkey usr/bin/dbclient; do
    "$ldso" --library-path "$libdir:$proot/usr/lib/x86_64-linux-gnu" --list "$proot/$bin" \
        | sed -n 's/.* => \(\/[^ ]*\) .*/\1/p'
done | sort -u > "$work/libs"
while read -r lib; do
    case "$lib" in "$proot"/*) ;; *) die "$lib (needed by dropbear) is not from the downloaded packages" ;; esac
    cp -L "$lib" "$tree/lib/x86_64-linux-gnu/${lib##*/}"
done < "$work/libs"
cp -L "$ldso" "$tree/lib64/ld-linux-x86-64.so.2"

# --- the guest's files -----------------------------------------------------------------------
g="$TI_GUEST_DIR"
install -m 0755 "$g/init" "$tree/init"
install -m 0644 "$g/inittab" "$tree/etc/inittab"
install -m 0755 "$g/boot" "$tree/etc/ostack-test-image/boot"
install -D -m 0755 "$g/udhcpc.script" "$tree/usr/share/udhcpc/default.script"
{
    printf '%s\n' "$TI_GUEST_CONFIG"
    echo "OSTI_BUILD_KEY=$TI_KEY"
} > "$tree/etc/ostack-test-image/config"
{
    echo "key=$TI_KEY"
    echo "kernel=$kver"
    printf '%s\n' "$TI_PACKAGES"
} > "$tree/etc/ostack-test-image/build-info"
mkdir -p "$tree/dev" "$tree/proc" "$tree/sys" "$tree/run" "$tree/tmp" "$tree/var/log" "$tree/root/.ssh" \
    "$tree/etc/dropbear" "$tree/etc/acpi/PWRF" "$tree/home"
chmod 1777 "$tree/tmp"
chmod 0700 "$tree/root" "$tree/root/.ssh"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$tree/etc/passwd"
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' > "$tree/etc/shadow"
chmod 0600 "$tree/etc/shadow"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$tree/etc/group"
printf '/bin/sh\n/bin/ash\n' > "$tree/etc/shells"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$tree/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$tree/etc/hosts"
: > "$tree/etc/resolv.conf"
printf '#!/bin/sh\n/sbin/poweroff\n' > "$tree/etc/acpi/PWRF/00000080"
chmod 0755 "$tree/etc/acpi/PWRF/00000080"

# --- initramfs: newc cpio, gzip, reproducible ------------------------------------------------
find "$tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$tree" && find . | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$work/initrd.gz"

# --- the bootable disk: MBR + one FAT partition with syslinux, kernel, initramfs -------------
cat > "$work/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT ostack
PROMPT 0
TIMEOUT 0
LABEL ostack
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND $TI_CMDLINE
EOF
start=2048
kib=$(( ($(stat -c %s "$vmlinuz") + $(stat -c %s "$work/initrd.gz")) / 1024 + 2048 ))
kib=$(( (kib + 1023) / 1024 * 1024 ))   # whole MiB
mkfs.fat -C "$work/part.img" -n OSTACKTEST -i 05ac7e57 --invariant -h "$start" "$kib" >/dev/null
mcopy -i "$work/part.img" "$vmlinuz" ::/vmlinuz
mcopy -i "$work/part.img" "$work/initrd.gz" ::/initrd.gz
mcopy -i "$work/part.img" "$work/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$work/part.img"
truncate -s $((start * 512)) "$work/disk.img"
cat "$work/part.img" >> "$work/disk.img"
printf 'label: dos\nlabel-id: 0x05ac7e57\nstart=%s, type=e, bootable\n' "$start" \
    | sfdisk -q --no-reread --no-tell-kernel --wipe never --wipe-partitions never "$work/disk.img"
dd if="$TI_SYSLINUX_MBR" of="$work/disk.img" bs=440 count=1 conv=notrunc status=none

if [ "$TI_FORMAT" = qcow2 ]; then
    qemu-img convert -f raw -O qcow2 -c "$work/disk.img" "$partial"
else
    mv "$work/disk.img" "$partial"
fi
chmod 0644 "$partial"
mv -f "$partial" "$TI_OUT"
log "wrote $TI_OUT ($TI_FORMAT, $(stat -c %s "$TI_OUT") bytes; kernel $kver, initramfs $(stat -c %s "$work/initrd.gz") bytes)"
