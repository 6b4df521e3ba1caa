# Sourced by the live read (playbooks/prechecks.yml) and the repair (playbooks/site.yml).
# dpkg_lock_held: true while a process holds dpkg's frontend lock (an apt or dpkg still
# running, such as the background install of a stopped run). The lock is looked up in
# /proc/locks by the lock file's device and inode, so no lock is taken to find out.
dpkg_lock_held() {
  f=/var/lib/dpkg/lock-frontend
  d=$(stat -c %D "$f" 2>/dev/null) && i=$(stat -c %i "$f") &&
    grep -q " $(printf '%02x:%02x' $((0x$d >> 8)) $((0x$d & 0xff))):$i " /proc/locks
}
