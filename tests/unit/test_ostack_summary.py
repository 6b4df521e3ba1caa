import ostack_summary as cb


def test_failure_line_names_host_role_task_place_and_message():
    line = cb.describe_failure("controller", "Start nova-api", "nova", "/r/nova/tasks/main.yml:12",
                               {"msg": "Unable to start service nova-api\nmore detail"})
    assert line == "controller: nova : Start nova-api [/r/nova/tasks/main.yml:12]: Unable to start service nova-api"


def test_failure_line_falls_back_to_stderr_and_handles_no_role():
    line = cb.describe_failure("localhost", "Probe", "", "", {"stderr": "boom"})
    assert line == "localhost: Probe: boom"


def test_failure_line_without_any_message():
    assert cb.describe_failure("h", "t", "", "", {}).endswith(": no message")


def test_long_messages_are_cut():
    line = cb.first_line("x" * 1000, limit=50)
    assert len(line) == 50 and line.endswith("...")


def test_custom_stats_are_listed_readably():
    lines = cb.format_custom_stats({"lab_nodes": ["controller at 10.0.0.11"], "lab_ssh": "ssh root@x",
                                    "urls": {"horizon": "http://10.0.0.11/"}})
    assert lines == ["lab nodes:", "  - controller at 10.0.0.11", "lab ssh: ssh root@x",
                     "urls:", "  horizon: http://10.0.0.11/"]


def test_role_clock_charges_shared_steps_to_the_calling_role():
    clock = cb.RoleClock()
    clock.play(["glance", "nova"], 0.0)
    clock.start("glance", 0.0)            # glance : Load distribution data
    clock.start("openstack_common", 1.0)  # shared steps imported by glance
    clock.start("openstack_common", 5.0)
    clock.start("nova", 10.0)
    clock.start("openstack_common", 12.0)
    clock.stop(20.0)
    assert clock.totals == {"glance": 10.0, "nova": 10.0}
    assert clock.table()[0].startswith("glance") or clock.table()[0].startswith("nova")


def test_role_clock_counts_plain_tasks_and_new_plays_apart():
    clock = cb.RoleClock()
    clock.play([], 0.0)
    clock.start(None, 0.0)
    clock.start("nova", 2.0)               # import_role nova in a play without roles
    clock.start("openstack_common", 3.0)
    clock.play(["keystone"], 4.0)
    clock.start("keystone", 4.0)
    clock.stop(7.5)
    assert clock.totals == {"(play tasks)": 2.0, "nova": 2.0, "keystone": 3.5}
    assert clock.table(limit=1) == [f"{'keystone':<40} {3.5:8.1f}s"]
