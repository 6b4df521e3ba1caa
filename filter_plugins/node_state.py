"""What a node has installed and running, read once per run (playbooks/prechecks.yml), as
pure functions, so that a warm run skips the per-package and per-unit module calls whose
answer is already known.

The live read prints sections separated by a line ``--``; ``live_sections`` splits them.
``unit_states(units, unit_files)`` turns the lines of ``systemctl list-units --all
--no-legend --plain`` and ``systemctl list-unit-files --no-legend --plain`` into
``{unit: {"load": ..., "active": ..., "file": ...}}``.

``packages_missing``, ``units_to_start``, ``units_to_mask`` and ``units_to_stop`` answer "what is left to do"
from that read. When the read is missing (``None``: a play without the prechecks, such as
a molecule scenario) every package and unit counts as left to do, so the module calls run
as they would without the read. A unit or package the read does not know is left to do
(for ``units_to_stop``, a unit the read does not know is not installed, and is left alone).

``db_sync_markers`` turns the read's last section (``package<TAB>installed version<TAB>
marker``, one line per marker file of roles/openstack_common/tasks/db_sync.yml) into
``{package: {"installed": ..., "ran": ...}}``; ``db_sync_due(sync, markers, changed)`` is
false only when that read proves the migrations of ``sync`` ran for the installed version
(and stamp) and no package changed on the node since the read: then db_sync.yml, which
reads the same again on the node, would do nothing.
"""


def live_sections(lines, count=None):
    """Split the lines of the live read at each ``--`` line; pad to ``count`` sections."""
    sections = [[]]
    for line in lines or []:
        if line == "--":
            sections.append([])
        else:
            sections[-1].append(line)
    if count is not None:
        sections.extend([] for _ in range(count - len(sections)))
    return sections


def _unit_name(name):
    name = str(name)
    return name if "." in name else name + ".service"


def unit_states(units, unit_files):
    """{unit: {load, active, file}} from list-units and list-unit-files lines."""
    states = {}
    for line in units or []:
        fields = line.split()
        if len(fields) >= 3:
            states.setdefault(fields[0], {}).update(load=fields[1], active=fields[2])
    for line in unit_files or []:
        fields = line.split()
        if len(fields) >= 2:
            states.setdefault(fields[0], {})["file"] = fields[1]
    return states


def packages_missing(packages, installed):
    """The packages (apt names, maybe with =version or :arch) not in ``installed``."""
    wanted = [str(p) for p in packages or []]
    if installed is None:
        return wanted
    have = set(installed)
    return [p for p in wanted if p.split("=", 1)[0].split(":", 1)[0] not in have]


# Unit file states for which "enabled: true" has nothing to do.
_ENABLED = ("enabled", "static", "alias", "indirect", "generated")


def _units_left(units, states, done):
    """The units for which ``done(state)`` is false; every unit when there is no read."""
    wanted = [str(u) for u in units or []]
    if states is None:
        return wanted
    return [unit for unit in wanted if not done(states.get(_unit_name(unit), {}))]


def units_to_start(units, states):
    """The units not both active and enabled (or not known) in ``states``."""
    return _units_left(units, states,
                       lambda state: state.get("active") == "active" and state.get("file") in _ENABLED)


def units_to_mask(units, states):
    """The units not both masked and stopped in ``states``. A unit no package ships is left
    alone by masking too, so one the read does not know still counts as left to do."""
    return _units_left(units, states,
                       lambda state: state.get("file") == "masked" and state.get("active") in ("inactive", "failed"))


def units_to_stop(units, states):
    """The units installed (known to ``states``) and either running or enabled: those a
    service turned off still has to stop or disable. A unit the read does not know is not
    installed, and is left alone; without a read every unit counts as left to do."""
    return _units_left(units, states,
                       lambda state: not state or (state.get("active", "inactive") in ("inactive", "failed")
                                                   and state.get("file") != "enabled"))


def db_sync_markers(lines):
    """``{package: {"installed": version, "ran": marker}}`` from the read's tab-separated lines."""
    markers = {}
    for line in lines or []:
        fields = line.split("\t")
        if len(fields) == 3 and fields[0]:
            markers[fields[0]] = {"installed": fields[1].strip(), "ran": fields[2].strip()}
    return markers


def db_sync_marker(version, stamp=None):
    """What the migrations' marker holds once they ran for ``version``: the version, and the
    stamp after a space when there is one (roles/openstack_common/tasks/db_sync.yml writes it)."""
    version = (version or "").strip()
    return version + ((" " + stamp) if stamp else "")


def db_sync_due(sync, markers, packages_changed=False):
    """True unless the read proves the migrations of ``sync`` ({package, stamp}) are done."""
    if markers is None or packages_changed or not isinstance(sync, dict):
        return True
    marker = markers.get(sync.get("package"))
    if not marker or not marker["installed"]:
        return True
    return db_sync_marker(marker["installed"], sync.get("stamp")) != marker["ran"]


class FilterModule:
    def filters(self):
        return {
            "live_sections": live_sections,
            "unit_states": unit_states,
            "packages_missing": packages_missing,
            "units_to_start": units_to_start,
            "units_to_mask": units_to_mask,
            "units_to_stop": units_to_stop,
            "db_sync_markers": db_sync_markers,
            "db_sync_marker": db_sync_marker,
            "db_sync_due": db_sync_due,
        }
