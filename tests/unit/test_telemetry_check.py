"""The pure parts of roles/cloud_verify/files/telemetry_check.py: reading Gnocchi's
granularities and the ISO times Nova and Gnocchi give."""
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    "telemetry_check", os.path.join(REPO, "roles", "cloud_verify", "files", "telemetry_check.py"))
telemetry_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(telemetry_check)


@pytest.mark.parametrize("span, want", [
    ("0:00:01", 1), ("0:01:00", 60), ("1:00:00", 3600), ("1 day, 0:00:00", 86400),
    ("2 days, 1:00:30", 2 * 86400 + 3630), ("0:00:00.500000", 0.5), (300, 300), (60.0, 60),
])
def test_granularities_read_as_seconds(span, want):
    assert telemetry_check.seconds(span) == want


def test_an_unreadable_granularity_fails_naming_it(capsys):
    with pytest.raises(SystemExit):
        telemetry_check.seconds("five minutes")
    assert "'five minutes'" in capsys.readouterr().err


@pytest.mark.parametrize("text", [
    "2026-12-05T09:20:01+00:00", "2026-12-05T09:20:01Z", "2026-12-05T09:20:01.000000", "2026-12-05T10:20:01+01:00",
])
def test_times_with_or_without_a_zone_are_utc(text):
    assert telemetry_check.timestamp(text) == 1796462401.0
