import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))     # node_memory
# testinfra's ansible backend calls ansible-inventory by name: the venv's bin must be on PATH.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")
