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
