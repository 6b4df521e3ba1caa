"""Shared pytest setup for unit tests.

The repo's module_utils/ are imported by modules as ``ansible.module_utils.<name>``;
extending that package's search path lets unit tests import them the same way,
with no copy and no mock.
"""
import os
import sys

import ansible.module_utils

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("library", "filter_plugins", "callback_plugins"):
    path = os.path.join(REPO, sub)
    if path not in sys.path:
        sys.path.insert(0, path)
_mu = os.path.join(REPO, "module_utils")
if _mu not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_mu)
