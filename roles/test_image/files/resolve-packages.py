#!/usr/bin/python3
"""resolve-packages.py KERNEL PACKAGE...

Read-only probe of the host's apt lists (Debian's python3-apt, one cache load): prints,
sorted, one NAME=VERSION line for every .deb the test image is built from, as apt would
download it now:

- the kernel: KERNEL itself, or, for a metapackage such as linux-image-cloud-amd64, the
  versioned linux-image-<abi>-<flavour> package it depends on (printed first, prefixed
  "kernel ");
- each PACKAGE and everything it depends on (Depends and Pre-Depends, recursively; the
  first installable alternative of an or-group; a virtual package by its first provider).

The role hashes this output into the image's cache key and the build downloads exactly
these versions. Exits 1 naming the package when apt has no candidate for one (stale or
missing apt lists: run apt-get update).
"""
import sys

import apt_pkg


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    apt_pkg.init()
    cache = apt_pkg.Cache(None)
    depcache = apt_pkg.DepCache(cache)
    arch = apt_pkg.config.find("APT::Architecture")

    def candidate(name):
        try:
            pkg = cache[name, arch]
        except KeyError:
            try:
                pkg = cache[name, "all"]
            except KeyError:
                return None
        return depcache.get_candidate_ver(pkg)

    def installable(dep):
        """A candidate version that satisfies dep, or None."""
        ver = candidate(dep.target_pkg.name)
        if ver is not None and apt_pkg.check_dep(ver.ver_str, dep.comp_type, dep.target_ver):
            return ver
        for target in dep.all_targets():  # providers of a virtual package
            ver = candidate(target.parent_pkg.name)
            if ver is not None:
                return ver
        return None

    kernel = argv[1]
    ver = candidate(kernel)
    if ver is None:
        sys.stderr.write(f"apt has no candidate for the kernel package '{kernel}' (run apt-get update)\n")
        return 1
    for group in ver.depends_list.get("Depends", []):
        image = [d for d in group if d.target_pkg.name.startswith("linux-image-")
                 and d.target_pkg.name[len("linux-image-"):][:1].isdigit()]
        if image:
            ver = installable(image[0])
            if ver is None:
                sys.stderr.write(f"apt has no candidate for '{image[0].target_pkg.name}' "
                                 f"(from '{kernel}'; run apt-get update)\n")
                return 1
            break
    print(f"kernel {ver.parent_pkg.name}={ver.ver_str}")

    seen = {}
    todo = []
    for name in argv[2:]:
        ver = candidate(name)
        if ver is None:
            sys.stderr.write(f"apt has no candidate for the package '{name}' (run apt-get update)\n")
            return 1
        todo.append(ver)
    while todo:
        ver = todo.pop()
        if ver.parent_pkg.name in seen:
            continue
        seen[ver.parent_pkg.name] = ver.ver_str
        for kind in ("PreDepends", "Depends"):
            for group in ver.depends_list.get(kind, []):
                for dep in group:
                    found = installable(dep)
                    if found is not None:
                        todo.append(found)
                        break
                else:
                    sys.stderr.write(f"apt cannot satisfy '{group[0].target_pkg.name}' for "
                                     f"'{ver.parent_pkg.name}' (run apt-get update)\n")
                    return 1
    for name in sorted(seen):
        print(f"{name}={seen[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
