#!/usr/bin/env python3
"""Check that a plain (not vault-encrypted) secrets file is a YAML mapping of names to
strings, and say where it is not -- without printing any of its content.

    check_secrets.py FILE        exit 0: fine or vault-encrypted; exit 1: the reason on stderr

PyYAML's own messages quote the offending line, which may hold a secret: only the
problem and its position are printed here.
"""
import sys

import yaml


def main(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if text.startswith("$ANSIBLE_VAULT"):
        return 0
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else ""
        sys.stderr.write("%s is not valid YAML%s: %s\n" % (path, where, err.problem or err.context))
        return 1
    except yaml.YAMLError as err:
        sys.stderr.write("%s is not valid YAML (%s)\n" % (path, type(err).__name__))
        return 1
    if data is None:
        return 0
    if not isinstance(data, dict):
        sys.stderr.write("%s holds a YAML %s; it must be a mapping of secret names to values\n"
                         % (path, type(data).__name__))
        return 1
    bad = sorted(str(k) for k, v in data.items() if not isinstance(k, str) or not isinstance(v, (str, int)))
    if bad:
        sys.stderr.write("%s: these entries are not 'name: value' strings: %s\n" % (path, ", ".join(bad)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
