"""ansible-test's validate-modules over the custom modules (documentation schema, author format, FQCN
references in seealso and M()/O() markup, argument spec against documentation).

validate-modules checks collections (or ansible-core itself), so the modules are copied into a temporary
collection tree, ansible_collections/ostack/cloud, with the only edits a collection needs: imports of this
repo's module_utils become ansible_collections.ostack.cloud.plugins.module_utils.*, and the short
doc fragment names become ostack.cloud.*. Documentation, argument specs and code are otherwise unchanged.

It runs ansible-test's own validate.py (shipped with the pinned ansible-core) with the arguments
``ansible-test sanity --test validate-modules`` gives it. ``ansible-test sanity`` itself cannot run here: it
builds a virtualenv for every sanity test and bootstraps pip into it from ci-files.testing.ansible.com, which
is not a package registry and is not reachable. Its Python requirements (voluptuous, antsibull-docs-parser)
are pinned in requirements.txt instead.

Accepted findings are listed, with the reason for each, in validate-modules-ignore.txt (the format of
ansible-test's tests/sanity/ignore-*.txt). An entry that no longer matches a finding fails the test too, so the
list cannot go stale.
"""
import glob
import json
import os
import re
import subprocess
import sys

import ansible_test

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IGNORE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "validate-modules-ignore.txt")
VALIDATE = os.path.join(os.path.dirname(ansible_test.__file__), "_util", "controller", "sanity",
                        "validate-modules", "validate.py")
NAMESPACE, NAME = "ostack", "cloud"
FQ = "ansible_collections.%s.%s.plugins" % (NAMESPACE, NAME)


def _local(directory):
    return sorted(os.path.splitext(os.path.basename(p))[0]
                  for p in glob.glob(os.path.join(REPO, directory, "*.py")))


def collectionize(text, module_utils, fragments):
    """The source ``text`` of a module or module_util as it would read in the collection."""
    names = "|".join(map(re.escape, module_utils))
    text = re.sub(r"\bansible\.module_utils\.(%s)\b" % names, FQ + r".module_utils.\1", text)
    text = re.sub(r"^(\s*)from ansible\.module_utils import (%s)\b" % names,
                  r"\1from %s.module_utils import \2" % FQ, text, flags=re.M)
    frags = "|".join(map(re.escape, fragments))
    return re.sub(r"^(\s+- )(%s)$" % frags, r"\1%s.%s.\2" % (NAMESPACE, NAME), text, flags=re.M)


def _build(root):
    """Write the temporary collection under ``root``; return the collection directory."""
    coll = os.path.join(root, "ansible_collections", NAMESPACE, NAME)
    module_utils, fragments = _local("module_utils"), _local("doc_fragments")
    for src_dir, dest in (("library", "modules"), ("module_utils", "module_utils"),
                          ("doc_fragments", "doc_fragments")):
        os.makedirs(os.path.join(coll, "plugins", dest))
        for path in glob.glob(os.path.join(REPO, src_dir, "*.py")):
            with open(path, encoding="utf-8") as f:
                text = collectionize(f.read(), module_utils, fragments)
            with open(os.path.join(coll, "plugins", dest, os.path.basename(path)), "w", encoding="utf-8") as f:
                f.write(text)
    with open(os.path.join(coll, "galaxy.yml"), "w", encoding="utf-8") as f:
        f.write("namespace: %s\nname: %s\nversion: 1.0.0\nreadme: README.md\nauthors: [ostack maintainers]\n"
                % (NAMESPACE, NAME))
    return coll


def read_ignores(text):
    """{(repo path, code): reason} from the ignore file's lines ``path code  # reason``."""
    ignores = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        entry, _, reason = line.partition("#")
        fields = entry.split()
        assert len(fields) == 2 and reason.strip(), (
            "%s:%d: write 'library/<module>.py <code>  # <reason>', not %r" % (IGNORE, number, line))
        ignores[tuple(fields)] = reason.strip()
    return ignores


def test_collectionize_rewrites_only_this_repos_imports_and_fragments():
    src = ("from ansible.module_utils.basic import AnsibleModule\n"
           "from ansible.module_utils.qemu_image import X\n"
           "from ansible.module_utils import qemu_image as q\n"
           "extends_documentation_fragment:\n  - files\n  - libvirt_connection\n")
    out = collectionize(src, ["qemu_image"], ["libvirt_connection"])
    assert "from ansible.module_utils.basic import AnsibleModule" in out
    assert "from %s.module_utils.qemu_image import X" % FQ in out
    assert "from %s.module_utils import qemu_image as q" % FQ in out
    assert "  - files\n  - ostack.cloud.libvirt_connection\n" in out


def test_custom_modules_pass_validate_modules(tmp_path):
    coll = _build(str(tmp_path))
    modules = sorted(os.path.join("plugins", "modules", os.path.basename(p))
                     for p in glob.glob(os.path.join(coll, "plugins", "modules", "*.py")))
    assert modules, "no modules found in library/"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path), PYTHONPATH=str(tmp_path))
    proc = subprocess.run([sys.executable, VALIDATE, "--format", "json", "--arg-spec",
                           "--collection", "ansible_collections/%s/%s" % (NAMESPACE, NAME),
                           "--collection-version", "1.0.0"] + modules,
                          cwd=coll, env=env, capture_output=True, text=True, timeout=300)
    # validate.py exits 3 when it found errors and writes them as JSON; anything else is a crash
    assert proc.returncode in (0, 3) and not proc.stderr, proc.stdout[-4000:] + proc.stderr[-4000:]
    found = {}
    for path, result in json.loads(proc.stdout).items():
        repo_path = os.path.join("library", os.path.basename(path))
        for error in result["errors"]:
            found.setdefault((repo_path, error["code"]), []).append(error["msg"])
    with open(IGNORE, encoding="utf-8") as f:
        ignores = read_ignores(f.read())
    unexpected = {key: msgs for key, msgs in found.items() if key not in ignores}
    stale = sorted(key for key in ignores if key not in found)
    assert not unexpected, "validate-modules findings:\n" + "\n".join(
        "%s %s: %s" % (path, code, msg) for (path, code), msgs in sorted(unexpected.items()) for msg in msgs)
    assert not stale, "entries of %s that match no finding any more (remove them): %s" % (IGNORE, stale)
