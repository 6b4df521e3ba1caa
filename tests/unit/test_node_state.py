from node_state import (db_sync_due, db_sync_marker, db_sync_markers, live_sections, packages_missing, unit_states,
                        units_to_mask, units_to_start, units_to_stop)

# Lines as `systemctl list-units --all --no-legend --plain` and `list-unit-files` print them.
UNITS = [
    "apache2.service                      loaded    active   running   The Apache HTTP Server",
    "epmd.service                         loaded    inactive dead      Erlang Port Mapper Daemon",
    "nova-api.service                     loaded    active   running   OpenStack Nova API (nova-api)",
    "nova-scheduler.service               loaded    failed   failed    OpenStack Nova Scheduler",
    "nova-conductor.service               loaded    active   running   OpenStack Nova Conductor",
    "nova-serialproxy.service             masked    inactive dead      nova-serialproxy.service",
    "nova-spicehtml5proxy.service         masked    active   running   nova-spicehtml5proxy.service",
    "epmd.socket                          loaded    failed   failed    Erlang Port Mapper Daemon Activation Socket",
]
UNIT_FILES = [
    "apache2.service                        enabled         enabled",
    "epmd.service                           enabled         enabled",
    "nova-api.service                       enabled         enabled",
    "nova-scheduler.service                 enabled         enabled",
    "nova-conductor.service                 disabled        enabled",
    "nova-serialproxy.service               masked          enabled",
    "nova-spicehtml5proxy.service           masked          enabled",
    "epmd.socket                            enabled         enabled",
]
STATES = unit_states(UNITS, UNIT_FILES)


def test_the_live_read_splits_into_its_sections_padded_to_the_count_asked():
    assert live_sections(["1700000000", "eth0", "--", "--", "--", "adduser"], 6) == [
        ["1700000000", "eth0"], [], [], ["adduser"], [], []]
    assert live_sections([]) == [[]]


def test_unit_states_join_the_two_listings():
    assert STATES["nova-api.service"] == {"load": "loaded", "active": "active", "file": "enabled"}
    assert STATES["epmd.socket"]["active"] == "failed"


def test_only_units_active_and_enabled_are_left_out_of_the_starts():
    wanted = ["apache2", "nova-api", "nova-scheduler", "nova-conductor", "nova-novncproxy", "epmd.socket"]
    # failed; disabled; not installed when the run began; a failed socket
    assert units_to_start(wanted, STATES) == ["nova-scheduler", "nova-conductor", "nova-novncproxy", "epmd.socket"]


def test_only_units_masked_and_stopped_are_left_out_of_the_masks():
    wanted = ["nova-serialproxy", "nova-spicehtml5proxy", "nova-novncproxy", "apache2"]
    assert units_to_mask(wanted, STATES) == ["nova-spicehtml5proxy", "nova-novncproxy", "apache2"]


def test_without_a_read_every_unit_and_package_is_left_to_do():
    assert units_to_start(["a", "b"], None) == ["a", "b"]
    assert units_to_mask(["a"], None) == ["a"]
    assert packages_missing(["x", "y"], None) == ["x", "y"]


def test_missing_packages_ignore_version_and_architecture_qualifiers():
    installed = ["nova-api", "python3-pymysql", "qemu-block-extra"]
    assert packages_missing(["nova-api", "python3-pymysql=1.0.2-2", "qemu-block-extra:amd64", "nova-compute"],
                            installed) == ["nova-compute"]
    assert packages_missing([], installed) == []


STOP_STATES = {
    "gnocchi-api.service": {"load": "loaded", "active": "active", "file": "enabled"},
    "gnocchi-metricd.service": {"load": "loaded", "active": "inactive", "file": "enabled"},
    "aodh-api.service": {"load": "loaded", "active": "inactive", "file": "disabled"},
    "aodh-listener.service": {"load": "loaded", "active": "failed", "file": "disabled"},
    "aodh-evaluator.service": {"file": "disabled"},
    "aodh-notifier.service": {"load": "loaded", "active": "activating", "file": "disabled"},
}


def test_units_to_stop_are_the_installed_units_running_or_enabled():
    wanted = ["gnocchi-api", "gnocchi-metricd", "aodh-api", "aodh-listener", "aodh-evaluator",
              "ceilometer-agent-central", "aodh-notifier"]
    assert units_to_stop(wanted, STOP_STATES) == ["gnocchi-api", "gnocchi-metricd", "aodh-notifier"]


def test_units_to_stop_without_a_read_are_all_of_them():
    assert units_to_stop(["a", "b"], None) == ["a", "b"]
    assert units_to_stop([], STOP_STATES) == []


# The read's last section: package, installed version, what db_sync.yml's marker says.
MARKERS = db_sync_markers([
    "glance-common\t2:25.0.0-4\t2:25.0.0-4",
    "nova-common\t2:26.1.0-2\t2:26.0.0-1",
    "gnocchi-common\t4.4.2-1\t4.4.2-1 ceph",
    "heat-common\t\t1:19.0.0-2",
    "a line that is not three fields",
])


def test_markers_are_read_per_package():
    assert MARKERS == {
        "glance-common": {"installed": "2:25.0.0-4", "ran": "2:25.0.0-4"},
        "nova-common": {"installed": "2:26.1.0-2", "ran": "2:26.0.0-1"},
        "gnocchi-common": {"installed": "4.4.2-1", "ran": "4.4.2-1 ceph"},
        "heat-common": {"installed": "", "ran": "1:19.0.0-2"},
    }


def test_migrations_are_done_only_when_the_marker_names_the_installed_version_and_stamp():
    assert not db_sync_due({"package": "glance-common"}, MARKERS)
    assert not db_sync_due({"package": "gnocchi-common", "stamp": "ceph"}, MARKERS)
    # An upgrade since the migrations ran; a changed stamp (Gnocchi's storage driver).
    assert db_sync_due({"package": "nova-common"}, MARKERS)
    assert db_sync_due({"package": "gnocchi-common", "stamp": "file"}, MARKERS)
    assert db_sync_due({"package": "gnocchi-common"}, MARKERS)


def test_migrations_are_due_whenever_the_read_cannot_prove_them_done():
    # No marker (first deploy), the package not installed as the run began, no read at all
    # (a play without the prechecks), packages changed on the node since the read.
    assert db_sync_due({"package": "trove-common"}, MARKERS)
    assert db_sync_due({"package": "heat-common"}, MARKERS)
    assert db_sync_due({"package": "glance-common"}, None)
    assert db_sync_due({"package": "glance-common"}, MARKERS, packages_changed=True)
    assert db_sync_due({"package": "glance-common"}, db_sync_markers([]))


def test_the_marker_db_sync_writes_is_the_one_the_read_compares():
    # db_sync.yml writes db_sync_marker(version, stamp); db_sync_due compares the same.
    assert db_sync_marker("4.4.2-1\n", "ceph") == "4.4.2-1 ceph"
    assert db_sync_marker("2:25.0.0-4", "") == db_sync_marker("2:25.0.0-4") == "2:25.0.0-4"
    assert db_sync_marker("", None) == ""
    read = db_sync_markers(["gnocchi-common\t4.4.2-1\t" + db_sync_marker("4.4.2-1", "ceph")])
    assert not db_sync_due({"package": "gnocchi-common", "stamp": "ceph"}, read)
