#!/usr/bin/python3
"""resolve-packages.py [--base] PACKAGE...

Read-only probe of the host's apt lists (Debian's python3-apt, one cache load). Prints,
sorted, one NAME=VERSION line for every package of a root file system that holds PACKAGE...
and what they depend on, as apt would install it now:

- with --base, the packages a `debootstrap --variant=minbase` root starts from: every
  package of Priority required (and every Essential one) that apt has a candidate for,
  plus apt and usr-is-merged (as debootstrap adds them);
- each PACKAGE;
- the dependency closure of all of them: Depends and Pre-Depends, recursively (Recommends
  are not installed). Of an or-group, an alternative already chosen wins; otherwise the
  first installable one; a virtual package is satisfied by its first provider.

The trove_image role hashes this output into the image's cache key, and the build installs
exactly these NAME=VERSION pairs (apt-get install with pinned versions) and checks after
installing that dpkg holds exactly this set, so a key always names what is in the image.
Exits 1 naming the package when apt has no candidate for one (stale or missing apt lists:
run apt-get update).
"""
import sys


class ResolveError(Exception):
    """A package apt has no candidate for, or a dependency nothing satisfies."""


def closure(roots, depends_of, alternatives_of):
    """The dependency closure of roots, as {name: version}.

    roots: candidate versions (any objects) in the order they should be chosen.
    depends_of(ver): the or-groups of ver's Depends and Pre-Depends, each a list of dependencies.
    alternatives_of(dep): the candidate versions that satisfy one dependency, preferred first.
    name_of/version_of are taken from the objects' `name` and `version` attributes.
    """
    chosen = {}
    todo = list(roots)
    todo.reverse()
    while todo:
        ver = todo.pop()
        if ver.name in chosen:
            continue
        chosen[ver.name] = ver.version
        for group in depends_of(ver):
            options = [alt for dep in group for alt in alternatives_of(dep)]
            if not options:
                raise ResolveError(f"apt cannot satisfy '{group_name(group)}' for '{ver.name}' "
                                   "(run apt-get update)")
            already = [alt for alt in options if alt.name in chosen]
            todo.append(already[0] if already else options[0])
    return chosen


def group_name(group):
    return " | ".join(getattr(dep, "name", str(dep)) for dep in group)


def format_lines(chosen):
    return "".join(f"{name}={chosen[name]}\n" for name in sorted(chosen))


class _Ver:
    """One candidate version of the apt cache, with the two attributes closure() reads."""

    def __init__(self, ver):
        self.ver = ver
        self.name = ver.parent_pkg.name
        self.version = ver.ver_str


def main(argv):
    args = argv[1:]
    base = False
    if args[:1] == ["--base"]:
        base, args = True, args[1:]
    if not args and not base:
        sys.stderr.write(__doc__)
        return 2
    import apt_pkg  # python3-apt: only on the host, not needed by the unit tests

    apt_pkg.init()
    cache = apt_pkg.Cache(None)
    depcache = apt_pkg.DepCache(cache)
    arch = apt_pkg.config.find("APT::Architecture")

    def candidate(name):
        for key in ((name, arch), (name, "all")):
            try:
                ver = depcache.get_candidate_ver(cache[key])
            except KeyError:
                continue
            if ver is not None:
                return _Ver(ver)
        return None

    def alternatives_of(dep):
        found = []
        ver = candidate(dep.target_pkg.name)
        if ver is not None and apt_pkg.check_dep(ver.version, dep.comp_type, dep.target_ver):
            found.append(ver)
        for target in dep.all_targets():  # providers of a virtual package
            if target.parent_pkg.name != dep.target_pkg.name:
                ver = candidate(target.parent_pkg.name)
                if ver is not None:
                    found.append(ver)
        return found

    def depends_of(ver):
        return [group for kind in ("PreDepends", "Depends") for group in ver.ver.depends_list.get(kind, [])]

    roots = []
    if base:
        for pkg in cache.packages:
            if pkg.architecture not in (arch, "all"):
                continue
            ver = depcache.get_candidate_ver(pkg)
            if ver is not None and (ver.priority == apt_pkg.PRI_REQUIRED or pkg.essential):
                roots.append(_Ver(ver))
        roots.sort(key=lambda v: v.name)
        # debootstrap adds apt to minbase, and usr-is-merged to a merged-/usr suite.
        args = ["apt"] + (["usr-is-merged"] if candidate("usr-is-merged") else []) + args
    for name in args:
        ver = candidate(name)
        if ver is None:
            sys.stderr.write(f"apt has no candidate for the package '{name}' (run apt-get update)\n")
            return 1
        roots.append(ver)
    try:
        chosen = closure(roots, depends_of, alternatives_of)
    except ResolveError as err:
        sys.stderr.write(f"{err}\n")
        return 1
    sys.stdout.write(format_lines(chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
