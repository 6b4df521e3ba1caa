# -*- coding: utf-8 -*-
"""NoCloud seed ISOs (volume id ``cidata``) for cloud-init, shared by cloud_init_seed and qemu_guest.

The seed's identity is the sha256 of its inputs (the rendered user-data, meta-data and
network-config), never the ISO bytes, which carry timestamps. The hash is written into the
ISO's application identifier (``sha256:`` + 56 hex digits, which fits the 64 characters a
Joliet volume descriptor allows), so an existing seed is recognised by reading 128 bytes of its
primary volume descriptor, whatever built it (pycdlib or genisoimage).

Pure parts (rendering, hashing, naming, reading the identifier) are unit-tested in
tests/unit/test_cloud_init_seed.py; ``build_iso`` is tested there too, with both builders.
"""

import hashlib
import io
import json
import os
import re
import shutil
import tempfile


def _pycdlib():
    """The pycdlib module, imported on first use (it is not needed to recognise an existing seed), or None."""
    try:
        import pycdlib
    except ImportError:
        return None
    return pycdlib

VOLUME_ID = "cidata"
APP_ID_PREFIX = "sha256:"
APP_ID_HEX = 56
PVD_OFFSET = 16 * 2048
PVD_VOLUME_ID = (40, 32)
PVD_APP_ID = (574, 128)
# ISO 9660 level-1 names (8.3, upper case) for the plain directory; readers use Rock Ridge / Joliet names.
ISO9660_NAMES = {"user-data": "USERDATA.;1", "meta-data": "METADATA.;1", "network-config": "NETWORKC.;1",
                 "vendor-data": "VENDORDA.;1"}
SEED_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,100}$")


class SeedError(Exception):
    """A seed could not be described or built; the message says why."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


def _dump(data):
    """A dict as YAML that cloud-init reads: JSON is valid YAML, and its output is deterministic."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_files(user_data=None, meta_data=None, network_config=None, vendor_data=None, default_name=None):
    """The seed's files as {name: bytes}. Dicts are dumped (user-data gets the ``#cloud-config`` line);
    strings are taken as written. meta-data defaults to an instance-id (and hostname) of ``default_name``."""
    files = {}
    if user_data is None:
        user_data = "#cloud-config\n{}\n"
    if isinstance(user_data, dict):
        user_data = "#cloud-config\n" + _dump(user_data)
    files["user-data"] = str(user_data)
    if meta_data is None:
        if not default_name:
            raise SeedError("meta_data is required (at least an instance-id) when no name is given")
        meta_data = {"instance-id": default_name, "local-hostname": default_name}
    if isinstance(meta_data, dict):
        meta_data = _dump(meta_data)
    files["meta-data"] = str(meta_data)
    for key, value in (("network-config", network_config), ("vendor-data", vendor_data)):
        if value is None:
            continue
        if isinstance(value, dict):
            value = _dump(value)
        files[key] = str(value)
    for name, text in files.items():
        if name != "user-data" and not text.strip():
            raise SeedError("%s is empty" % name)
    return {name: text.encode("utf-8") for name, text in files.items()}


def content_hash(files):
    """sha256 hex of the inputs, independent of dict order and of any ISO detail."""
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        digest.update(("%s\0%d\0" % (name, len(data))).encode("ascii"))
        digest.update(data)
    return digest.hexdigest()


def app_id(digest):
    return APP_ID_PREFIX + digest[:APP_ID_HEX]


def seed_path(directory, name, digest):
    """``<directory>/<name>-<sha256[:12]>.iso``: content-named, so a change makes a new file."""
    if not SEED_NAME_RE.match(name or ""):
        raise SeedError("invalid seed name %r: use letters, digits, '_', '.', '+', '-'" % (name,))
    return os.path.join(directory, "%s-%s.iso" % (name, digest[:12]))


def sibling_seeds(directory, name, keep):
    """Other content-named seeds of ``name`` in ``directory`` (``name-<12 hex>.iso``), not ``keep``."""
    pattern = re.compile(r"^%s-[0-9a-f]{12}\.iso$" % re.escape(name))
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    return sorted(os.path.join(directory, e) for e in entries
                  if pattern.match(e) and os.path.join(directory, e) != keep)


def read_identity(path):
    """(volume id, application id) of an ISO, read from its primary volume descriptor;
    (None, None) when the file is missing, short or not an ISO 9660 image."""
    try:
        with open(path, "rb") as handle:
            handle.seek(PVD_OFFSET)
            pvd = handle.read(2048)
    except OSError:
        return None, None
    if len(pvd) < 2048 or pvd[1:6] != b"CD001" or pvd[0] != 1:
        return None, None
    vol = pvd[PVD_VOLUME_ID[0]:sum(PVD_VOLUME_ID)].decode("ascii", "replace").strip()
    app = pvd[PVD_APP_ID[0]:sum(PVD_APP_ID)].decode("ascii", "replace").strip()
    return vol, app


def seed_matches(path, digest):
    """Whether ``path`` is a cidata seed built from inputs with this sha256."""
    vol, app = read_identity(path)
    return vol == VOLUME_ID and app == app_id(digest)


def recorded_hash(path):
    """The (truncated) input hash recorded in a seed, or None."""
    vol, app = read_identity(path)
    if vol != VOLUME_ID or not app or not app.startswith(APP_ID_PREFIX):
        return None
    return app[len(APP_ID_PREFIX):]


def choose_builder(requested, which):
    """'pycdlib' when it imports (and is requested or auto), else genisoimage/mkisofs if on PATH."""
    if requested in ("auto", "pycdlib") and _pycdlib() is not None:
        return "pycdlib", None
    if requested == "pycdlib":
        raise SeedError("builder=pycdlib, but the python module pycdlib does not import on the managed host "
                        "(Debian: apt-get install python3-pycdlib)")
    for tool in ("genisoimage", "mkisofs", "xorrisofs"):
        path = which(tool)
        if path:
            return "genisoimage", path
    raise SeedError("cannot build a seed ISO: neither the python module pycdlib nor genisoimage is on the "
                    "managed host; install python3-pycdlib or genisoimage")


def _build_pycdlib(files, digest, dest):
    iso = _pycdlib().PyCdlib()
    iso.new(interchange_level=1, joliet=3, rock_ridge="1.09", vol_ident=VOLUME_ID, app_ident_str=app_id(digest))
    for name in sorted(files):
        data = files[name]
        iso.add_fp(io.BytesIO(data), len(data), "/" + ISO9660_NAMES[name], rr_name=name, joliet_path="/" + name)
    iso.write(dest)
    iso.close()


def _build_genisoimage(files, digest, dest, tool, run_command):
    workdir = tempfile.mkdtemp(prefix=".seed-", dir=os.path.dirname(dest))
    try:
        names = []
        for name in sorted(files):
            with open(os.path.join(workdir, name), "wb") as handle:
                handle.write(files[name])
            names.append(os.path.join(workdir, name))
        cmd = [tool, "-quiet", "-output", dest, "-volid", VOLUME_ID, "-appid", app_id(digest),
               "-joliet", "-rock", "-input-charset", "utf-8"] + names
        rc, out, err = run_command(cmd)
        if rc != 0:
            raise SeedError("%s failed (rc=%d): %s" % (tool, rc, (err or out).strip()), cmd=cmd)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def build_iso(files, digest, dest, builder, tool=None, run_command=None):
    """Write the seed ISO to ``dest`` (a scratch path; the caller moves it into place)."""
    if builder == "pycdlib":
        _build_pycdlib(files, digest, dest)
    else:
        _build_genisoimage(files, digest, dest, tool, run_command)
    if not seed_matches(dest, digest):
        raise SeedError("the ISO built at %s does not carry volume id %s and the expected identifier"
                        % (dest, VOLUME_ID))


class Seed:
    """One seed: where it lives, what it holds, whether it is already there."""

    def __init__(self, files, path, digest, named_by_content):
        self.files = files
        self.path = path
        self.digest = digest
        self.named_by_content = named_by_content

    @property
    def present(self):
        return seed_matches(self.path, self.digest)


def describe(user_data=None, meta_data=None, network_config=None, vendor_data=None, dest=None,
             directory=None, name=None):
    """A Seed for these inputs: at the fixed ``dest``, or content-named in ``directory``."""
    files = render_files(user_data, meta_data, network_config, vendor_data, default_name=name)
    digest = content_hash(files)
    if dest:
        if not os.path.isabs(dest):
            raise SeedError("dest %r must be an absolute path" % dest)
        return Seed(files, dest, digest, False)
    if not directory or not name:
        raise SeedError("give dest, or directory and name")
    if not os.path.isabs(directory):
        raise SeedError("directory %r must be an absolute path" % directory)
    return Seed(files, seed_path(directory, name, digest), digest, True)


def write_seed(module, seed, builder="auto"):
    """Build the seed at a scratch path next to its destination and move it into place atomically."""
    directory = os.path.dirname(seed.path)
    if not os.path.isdir(directory):
        raise SeedError("directory %s for the seed does not exist" % directory)
    kind, tool = choose_builder(builder, lambda t: module.get_bin_path(t))
    fd, scratch = tempfile.mkstemp(prefix=".%s." % os.path.basename(seed.path), suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        if kind == "genisoimage":
            os.unlink(scratch)   # genisoimage refuses nothing, but start from no file at all
        build_iso(seed.files, seed.digest, scratch, kind, tool, module.run_command)
        os.chmod(scratch, 0o644)
        module.atomic_move(scratch, seed.path)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return kind


def run_module(module):
    """The cloud_init_seed module: want (inputs -> path + hash), have (the ISO's identifier), apply."""
    p = module.params
    try:
        seed = describe(p["user_data"], p["meta_data"], p["network_config"], p["vendor_data"],
                        dest=p["dest"], directory=p["directory"], name=p["name"])
    except SeedError:
        if p["state"] != "absent":
            raise
        seed = None
    result = {"changed": False}
    if p["state"] == "absent":
        if p["dest"]:
            targets = [p["dest"]] if os.path.exists(p["dest"]) else []
        else:
            targets = sibling_seeds(p["directory"], p["name"], keep=None)
        result.update(path=p["dest"], removed=targets, changed=bool(targets))
        result["diff"] = {"before": {"files": targets}, "after": {"files": []}}
        if targets and not module.check_mode:
            for path in targets:
                os.unlink(path)
        return result

    if not os.path.isdir(os.path.dirname(seed.path)):
        raise SeedError("directory %s for the seed does not exist; create it first" % os.path.dirname(seed.path))
    before_hash = recorded_hash(seed.path) if os.path.exists(seed.path) else None
    result.update(path=seed.path, sha256=seed.digest, files=sorted(seed.files))
    needs_build = not seed.present
    stale = sibling_seeds(p["directory"], p["name"], keep=seed.path) if seed.named_by_content and p["prune"] else []
    result["pruned"] = stale
    result["diff"] = {
        "before": {"path": seed.path, "exists": os.path.exists(seed.path), "sha256": before_hash,
                   "stale_seeds": stale},
        "after": {"path": seed.path, "exists": True, "sha256": seed.digest[:APP_ID_HEX], "stale_seeds": []},
    }
    result["changed"] = needs_build or bool(stale)
    if module.check_mode:
        if not needs_build and os.path.exists(seed.path):
            file_args = module.load_file_common_arguments(p, path=seed.path)
            result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
        return result
    if needs_build:
        result["builder"] = write_seed(module, seed, p["builder"])
    for path in stale:
        os.unlink(path)
    file_args = module.load_file_common_arguments(p, path=seed.path)
    result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
    return result
