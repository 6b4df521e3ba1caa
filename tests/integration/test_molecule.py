"""Every role's molecule scenarios, each through molecule's full test sequence
(create on throwaway lab nodes, converge, idempotence, testinfra verify, destroy)."""
import glob
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
SCENARIOS = sorted(glob.glob(os.path.join(REPO, "roles", "*", "molecule", "*", "molecule.yml")))


def _id(path):
    parts = path.split(os.sep)
    return f"{parts[-4]}:{parts[-2]}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=_id)
def test_molecule_scenario(scenario):
    role_dir = os.path.dirname(os.path.dirname(os.path.dirname(scenario)))
    name = os.path.basename(os.path.dirname(scenario))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), NO_COLOR="1",
               ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run([os.path.join(BIN, "molecule"), "test", "-s", name], cwd=role_dir, env=env,
                          capture_output=True, text=True, timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    # The sequence really ran the steps that matter, not just exited 0.
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in out, f"{step} did not succeed:\n{out[-8000:]}"
