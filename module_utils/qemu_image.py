# -*- coding: utf-8 -*-
"""Logic of the ``qemu_image`` module: want / have / steps for disk images handled by qemu-img.

Everything that decides is a pure function (``parse_size``, ``build_want``, ``image_facts``,
``plan``) and is unit-tested; ``QemuImageManager`` reads the machine (``qemu-img info``,
``qemu-img compare``, checksums, downloads) and applies the planned steps outside check mode.
Errors are ``QemuImageError`` subclasses; the module turns them into one ``fail_json``.

Idempotency is decided from ``qemu-img info --output=json`` (format, virtual-size, backing
file) and, for images made from a source (``src``/``url``), from the content: a sha256 match
with the given checksum, else ``qemu-img compare`` (which treats a grown tail of zeros as
identical). An existing image whose format, backing file or content differs is never replaced
unless ``force`` is set.
"""

import hashlib
import json
import os
import re
import shlex
from decimal import Decimal, InvalidOperation

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover - Python 2 is not supported by this suite
    from urlparse import urlparse

FORMATS = ("raw", "qcow2")
SECTOR = 512
CHECKSUM_ALGORITHMS = {"sha256": 64, "sha512": 128}
CHUNK = 1024 * 1024

# Binary units, as qemu-img itself reads them (k/M/G/T/P/E are powers of 1024).
_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kib": 1024,
    "m": 1024 ** 2, "mib": 1024 ** 2,
    "g": 1024 ** 3, "gib": 1024 ** 3,
    "t": 1024 ** 4, "tib": 1024 ** 4,
    "p": 1024 ** 5, "pib": 1024 ** 5,
}
_DECIMAL_UNITS = ("kb", "mb", "gb", "tb", "pb")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


class QemuImageError(Exception):
    """Base of every error this module reports; the message says what to change."""


class ValidationError(QemuImageError):
    """A parameter value is invalid."""


class PreconditionError(QemuImageError):
    """Something the task relies on is missing (directory, backing file, source)."""


class ConflictError(QemuImageError):
    """The existing image differs and ``force`` is not set."""


class ChecksumError(QemuImageError):
    """The downloaded or source file does not match ``checksum``."""


class FetchError(QemuImageError):
    """The URL could not be downloaded."""


class CommandError(QemuImageError):
    """qemu-img failed."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        super().__init__("%s failed (rc=%s): %s" % (shlex.join(self.argv), rc,
                                                    (stderr or stdout or "").strip()))


# --------------------------------------------------------------------------- pure helpers

def parse_size(value, what="size", multiple=SECTOR):
    """Bytes from an int or a string like ``10G``, ``512M``, ``1.5GiB``, ``1073741824``.

    Units are binary (K = 1024), as qemu-img reads them. The result must be a positive
    multiple of ``multiple`` bytes (512 for qemu-img), because other sizes are rounded up and the
    image would never match the request.
    """
    if isinstance(value, bool) or value is None:
        raise ValidationError("%s: %r is not a size; use bytes (1073741824) or a number with a "
                              "binary unit (10G, 512M, 1.5GiB)" % (what, value))
    if isinstance(value, int):
        size = value
    elif isinstance(value, float):
        if value != int(value):
            raise ValidationError("%s: %r is not a whole number of bytes" % (what, value))
        size = int(value)
    else:
        text = str(value)
        match = _SIZE_RE.match(text)
        if not match:
            raise ValidationError("%s: %r is not a size; use bytes (1073741824) or a number with a "
                                  "binary unit (10G, 512M, 1.5GiB)" % (what, text))
        number, unit = match.group(1), match.group(2).lower()
        if unit in _DECIMAL_UNITS:
            raise ValidationError("%s: %r uses a decimal unit; write %s%s or %s%siB (binary units, "
                                  "as qemu-img uses)" % (what, text, number, unit[0].upper(),
                                                         number, unit[0].upper()))
        if unit not in _UNITS:
            raise ValidationError("%s: unknown unit %r in %r; use one of B, K, M, G, T, P "
                                  "(or KiB, MiB, GiB, TiB, PiB)" % (what, match.group(2), text))
        try:
            exact = Decimal(number) * _UNITS[unit]
        except InvalidOperation:  # pragma: no cover - the regex admits only digits
            raise ValidationError("%s: %r is not a number" % (what, number))
        if exact != exact.to_integral_value():
            raise ValidationError("%s: %r is not a whole number of bytes; use a smaller unit (e.g. K) or "
                                  "bytes" % (what, text))
        size = int(exact)
    if size <= 0:
        raise ValidationError("%s must be greater than zero (got %r)" % (what, value))
    if size % multiple:
        rounded = (size // multiple + 1) * multiple
        raise ValidationError("%s: %r is %d bytes, not a multiple of %d; it would be rounded up to %d, so "
                              "ask for that (or use a unit such as M or G)" % (what, value, size, multiple, rounded))
    return size


def parse_checksum(value):
    """``(algorithm, hexdigest)`` from ``sha256:HEX`` (or ``sha512:HEX``)."""
    if value is None:
        return None
    algo, sep, digest = str(value).partition(":")
    algo = algo.strip().lower()
    digest = digest.strip().lower()
    if not sep or algo not in CHECKSUM_ALGORITHMS:
        raise ValidationError("checksum %r must look like sha256:<64 hex digits> (or sha512:<128 hex "
                              "digits>)" % (value,))
    if len(digest) != CHECKSUM_ALGORITHMS[algo] or not re.match(r"^[0-9a-f]+$", digest):
        raise ValidationError("checksum %r: a %s digest is %d hex digits"
                              % (value, algo, CHECKSUM_ALGORITHMS[algo]))
    return algo, digest


def url_scheme(url):
    scheme = urlparse(url).scheme.lower()
    if scheme not in ("file", "http", "https"):
        raise ValidationError("url %r: only file://, http:// and https:// URLs are supported" % (url,))
    return scheme


class Want(object):
    """The validated request. Sizes in bytes, paths absolute and normalised."""

    FIELDS = ("state", "path", "format", "size", "backing_file", "backing_format", "src",
              "src_format", "url", "checksum", "force", "allow_shrink")

    def __init__(self, **kwargs):
        for field in self.FIELDS:
            setattr(self, field, kwargs.get(field))

    @property
    def mode(self):
        """create | overlay | convert | fetch | absent | info."""
        if self.state != "present":
            return self.state
        if self.url:
            return "fetch"
        if self.src:
            return "convert"
        if self.backing_file:
            return "overlay"
        return "create"

    def as_dict(self):
        return dict((field, getattr(self, field)) for field in self.FIELDS)


def _abs(path, what):
    if not path:
        return None
    path = str(path)
    if not os.path.isabs(path):
        raise ValidationError("%s %r must be an absolute path" % (what, path))
    return os.path.normpath(path)


def build_want(params):
    """Validate the module parameters into a ``Want``. Pure: reads nothing from disk."""
    state = params.get("state") or "present"
    want = Want(
        state=state,
        path=_abs(params.get("path"), "path"),
        format=params.get("format"),
        size=None,
        backing_file=_abs(params.get("backing_file"), "backing_file"),
        backing_format=params.get("backing_format"),
        src=_abs(params.get("src"), "src"),
        src_format=params.get("src_format"),
        url=params.get("url"),
        checksum=parse_checksum(params.get("checksum")),
        force=bool(params.get("force")),
        allow_shrink=bool(params.get("allow_shrink")),
    )
    for key in ("format", "backing_format", "src_format"):
        value = getattr(want, key)
        if value is not None and value not in FORMATS:
            raise ValidationError("%s %r is not supported; use one of: %s" % (key, value, ", ".join(FORMATS)))
    if not want.path:
        raise ValidationError("path is required")
    if want.url:
        url_scheme(want.url)
    if params.get("size") is not None:
        want.size = parse_size(params.get("size"))

    if state in ("absent", "info"):
        return want

    sources = [k for k in ("src", "url", "backing_file") if getattr(want, k)]
    if len(sources) > 1:
        raise ValidationError("set only one of src, url and backing_file (got %s)" % ", ".join(sources))
    if want.checksum and not (want.src or want.url):
        raise ValidationError("checksum verifies a source: set it together with src or url")
    if want.src_format and not want.src:
        raise ValidationError("src_format describes src: set it only together with src")
    if want.backing_file:
        if not want.backing_format:
            raise ValidationError("backing_format is required with backing_file (qcow2 or raw); qemu-img "
                                  "must not guess the backing file's format")
        if want.format == "raw":
            raise ValidationError("a raw image cannot have a backing file; use format: qcow2 for an overlay")
        want.format = "qcow2"
        if want.backing_file == want.path:
            raise ValidationError("backing_file must differ from path")
    elif want.backing_format:
        raise ValidationError("backing_format describes backing_file: set it only together with backing_file")
    if want.src and want.src == want.path:
        raise ValidationError("src must differ from path; to change an image in place use size")
    if want.mode == "create" and want.size is None:
        raise ValidationError("size is required to create an image (or set src, url or backing_file)")
    return want


def image_facts(info):
    """The facts idempotency is decided on, from parsed ``qemu-img info --output=json``."""
    if info is None:
        return None
    backing = info.get("full-backing-filename") or info.get("backing-filename")
    return {
        "format": info.get("format"),
        "virtual_size": info.get("virtual-size"),
        "backing_file": os.path.normpath(backing) if backing else None,
        "backing_format": info.get("backing-filename-format") if backing else None,
    }


class Step(object):
    """One action: a qemu-img command line or a file operation, rendered for ``commands``."""

    def __init__(self, kind, argv=None, **data):
        self.kind = kind          # qemu-img | fetch | verify | copy-checksum | move | remove
        self.argv = list(argv) if argv else None
        self.data = data

    def render(self):
        if self.kind == "qemu-img":
            return shlex.join(self.argv)
        if self.kind == "fetch":
            return "fetch %s -> %s" % (self.data["url"], self.data["dest"])
        if self.kind == "verify":
            return "verify %s:%s %s" % (self.data["algo"], self.data["digest"], self.data["path"])
        if self.kind == "move":
            return "mv -f -- %s %s" % (shlex.quote(self.data["src"]), shlex.quote(self.data["dest"]))
        if self.kind == "remove":
            return "rm -f -- %s" % shlex.quote(self.data["path"])
        raise ValueError(self.kind)  # pragma: no cover

    def __repr__(self):
        return "<Step %s>" % self.render()


class Plan(object):
    def __init__(self, steps, before, after, differences=None):
        self.steps = steps
        self.before = before
        self.after = after
        self.differences = differences or []

    @property
    def changed(self):
        return bool(self.steps)

    @property
    def commands(self):
        return [step.render() for step in self.steps]


def temp_path(path):
    """Deterministic scratch name next to ``path`` (same file system, so the final move is atomic)."""
    return os.path.join(os.path.dirname(path), ".%s.qemu_image-tmp" % os.path.basename(path))


def fetch_path(path):
    return os.path.join(os.path.dirname(path), ".%s.qemu_image-download" % os.path.basename(path))


def _diff_view(want, facts, created=False):
    """Whether the image exists and what the user set; everything for an image the task creates."""
    view = {"state": "present" if facts else "absent"}
    if not facts:
        return view
    if want.format is not None or want.mode in ("convert", "fetch") or created:
        view["format"] = facts.get("format")
    if want.size is not None or created:
        view["virtual_size"] = facts.get("virtual_size")
    if want.backing_file is not None or (created and facts.get("backing_file")):
        view["backing_file"] = facts.get("backing_file")
        view["backing_format"] = facts.get("backing_format")
    return view


def resize_step(fmt, path, size, current, allow_shrink):
    """The resize step for ``current`` -> ``size`` bytes, or None. Shrinking needs ``allow_shrink``."""
    if size is None or current is None or size == current:
        return None
    if size < current and not allow_shrink:
        raise ConflictError("%s is %d bytes and size asks for %d: shrinking destroys the data past the new "
                            "end, so it is refused; set allow_shrink: true to shrink it"
                            % (path, current, size))
    argv = ["qemu-img", "resize", "-f", fmt]
    if size < current:
        argv.append("--shrink")
    argv += [path, str(size)]
    return Step("qemu-img", argv)


def _build_steps(want, source_facts):
    """Steps that make the image from nothing (at a scratch path, moved into place at the end)."""
    path = want.path
    tmp = temp_path(path)
    steps = []
    mode = want.mode
    if mode == "create":
        fmt = want.format or "qcow2"
        steps.append(Step("qemu-img", ["qemu-img", "create", "-q", "-f", fmt, tmp, str(want.size)]))
        result = {"format": fmt, "virtual_size": want.size, "backing_file": None, "backing_format": None}
    elif mode == "overlay":
        argv = ["qemu-img", "create", "-q", "-f", "qcow2", "-b", want.backing_file, "-F", want.backing_format, tmp]
        size = want.size if want.size is not None else (source_facts or {}).get("virtual_size")
        if want.size is not None:
            argv.append(str(want.size))
        steps.append(Step("qemu-img", argv))
        result = {"format": "qcow2", "virtual_size": size, "backing_file": want.backing_file,
                  "backing_format": want.backing_format}
    else:  # convert | fetch
        src_fmt = source_facts["format"]
        fmt = want.format or src_fmt
        origin = want.src if mode == "convert" else fetch_path(path)
        if mode == "fetch":
            steps.append(Step("fetch", url=want.url, dest=origin))
        if want.checksum:
            steps.append(Step("verify", algo=want.checksum[0], digest=want.checksum[1], path=origin))
        if mode == "fetch" and fmt == src_fmt:
            tmp = origin  # the download is already the image: move it into place as it is
            result = dict(source_facts)
        else:
            steps.append(Step("qemu-img", ["qemu-img", "convert", "-q", "-f", src_fmt, "-O", fmt, origin, tmp]))
            if mode == "fetch":
                steps.append(Step("remove", path=origin))
            result = {"format": fmt, "virtual_size": source_facts["virtual_size"],
                      "backing_file": None, "backing_format": None}
        grow = resize_step(fmt, tmp, want.size, result["virtual_size"], want.allow_shrink)
        if grow:
            steps.append(grow)
            result["virtual_size"] = want.size
    steps.append(Step("move", src=tmp, dest=path))
    return steps, result


def plan(want, have, source_facts=None, content_identical=None):
    """Derive the steps that turn ``have`` into ``want``.

    ``have``: ``image_facts`` of the existing image, or None.
    ``source_facts``: ``image_facts`` of the source (``src``, the download, or the backing file).
    ``content_identical``: for convert/fetch on an existing image, whether its content equals the
    source's (True/False), as measured by the caller.
    Raises ``ConflictError`` when the image differs and ``want.force`` is not set.
    """
    if want.state == "info":
        return Plan([], _diff_view(want, have), _diff_view(want, have))
    if want.state == "absent":
        before = {"state": "present" if have is not None else "absent"}
        steps = [Step("remove", path=want.path)] if have is not None else []
        return Plan(steps, before, {"state": "absent"})

    mode = want.mode
    before = _diff_view(want, have)
    if have is None:
        steps, result = _build_steps(want, source_facts)
        return Plan(steps, before, _diff_view(want, result, created=True))

    differences = []
    if mode in ("convert", "fetch"):
        expected_format = want.format or source_facts["format"]
    elif mode == "overlay":
        expected_format = "qcow2"
    else:
        expected_format = want.format
    if expected_format is not None and have["format"] != expected_format:
        differences.append("format is %s, wanted %s" % (have["format"], expected_format))
    if mode == "overlay":
        if have["backing_file"] != want.backing_file or have["backing_format"] != want.backing_format:
            differences.append("backing file is %s (%s), wanted %s (%s)" % (
                have["backing_file"] or "none", have["backing_format"] or "-",
                want.backing_file, want.backing_format))
    elif mode == "create" and have["backing_file"]:
        differences.append("it is an overlay on %s, wanted an image with no backing file" % have["backing_file"])
    if mode in ("convert", "fetch") and content_identical is False:
        differences.append("content differs from %s" % (want.src or want.url))

    if differences:
        if not want.force:
            raise ConflictError("%s exists and differs: %s. It was left untouched; set force: true to replace "
                                "it (its current content is lost)" % (want.path, "; ".join(differences)))
        steps, result = _build_steps(want, source_facts)
        return Plan(steps, before, _diff_view(want, result, created=True), differences)

    steps = []
    result = dict(have)
    step = resize_step(have["format"], want.path, want.size, have["virtual_size"], want.allow_shrink)
    if step:
        steps.append(step)
        result["virtual_size"] = want.size
    return Plan(steps, before, _diff_view(want, result))


def parse_info(stdout):
    try:
        return json.loads(stdout)
    except ValueError:
        raise QemuImageError("qemu-img info printed no JSON: %r" % (stdout[:500],))


def file_digest(path, algo):
    digest = hashlib.new(algo)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- machine side

class QemuImageManager(object):
    """Reads the machine and applies a plan through an AnsibleModule (run_command, atomic_move,
    fetch_url). The ``fetch_url`` function is passed in so this file imports nothing from the
    network stack at import time."""

    def __init__(self, module, fetch_url=None):
        self.module = module
        self.fetch_url = fetch_url
        self.qemu_img = module.get_bin_path("qemu-img", required=False)
        self._downloads = []

    # -- reading
    def run(self, argv, check_rc=True):
        if argv[0] == "qemu-img":
            if not self.qemu_img:
                raise PreconditionError("qemu-img is not installed on the target; install it "
                                        "(Debian: apt-get install qemu-utils)")
            argv = [self.qemu_img] + list(argv[1:])
        rc, out, err = self.module.run_command(argv)
        if check_rc and rc != 0:
            raise CommandError(["qemu-img"] + list(argv[1:]), rc, out, err)
        return rc, out, err

    def info(self, path):
        """Parsed ``qemu-img info`` of ``path``, or None when nothing is there."""
        if not os.path.lexists(path):
            return None
        if os.path.isdir(path):
            raise PreconditionError("%s is a directory; path must name an image file" % path)
        _, out, _ = self.run(["qemu-img", "info", "-U", "--output=json", path])
        return parse_info(out)

    def compare(self, fmt_a, path_a, fmt_b, path_b):
        rc, out, err = self.run(["qemu-img", "compare", "-q", "-U", "-f", fmt_a, "-F", fmt_b, path_a, path_b],
                                check_rc=False)
        if rc == 0:
            return True
        if rc == 1:
            return False
        raise CommandError(["qemu-img", "compare", "-f", fmt_a, "-F", fmt_b, path_a, path_b], rc, out, err)

    def check_preconditions(self, want):
        if want.state != "present":
            if want.state == "absent" and os.path.isdir(want.path):
                raise PreconditionError("%s is a directory; qemu_image removes only image files" % want.path)
            return
        parent = os.path.dirname(want.path)
        if not os.path.isdir(parent):
            raise PreconditionError("directory %s does not exist; create it first (e.g. ansible.builtin.file "
                                    "state: directory) or fix path" % parent)
        if want.backing_file and not os.path.isfile(want.backing_file):
            raise PreconditionError("backing file %s does not exist; create it first or fix backing_file"
                                    % want.backing_file)
        if want.src and not os.path.isfile(want.src):
            raise PreconditionError("src %s does not exist; fix src or fetch it first (url)" % want.src)

    def verify(self, path, checksum):
        algo, digest = checksum
        got = file_digest(path, algo)
        if got != digest:
            raise ChecksumError("%s has %s %s, but checksum says %s; nothing was written: fix checksum or the "
                                "source" % (path, algo, got, digest))

    def download(self, url, dest, checksum=None):
        """Stream ``url`` to ``dest`` (verifying ``checksum`` on the way); remove ``dest`` on failure."""
        scheme = url_scheme(url)
        resp, info = self.fetch_url(self.module, url, timeout=self.module.params.get("timeout") or 30)
        status = info.get("status")
        if resp is None or (scheme != "file" and status != 200):
            raise FetchError("could not fetch %s: %s (status %s); check url and that the server answers"
                             % (url, info.get("msg"), status))
        algo = checksum[0] if checksum else "sha256"
        digest = hashlib.new(algo)
        self._downloads.append(dest)
        try:
            with open(dest, "wb") as out:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    digest.update(block)
                    out.write(block)
        except Exception:
            self._discard(dest)
            raise
        if checksum and digest.hexdigest() != checksum[1]:
            self._discard(dest)
            raise ChecksumError("%s has %s %s, but checksum says %s; nothing was written: fix checksum or url"
                                % (url, algo, digest.hexdigest(), checksum[1]))
        return digest.hexdigest()

    def _discard(self, path):
        if os.path.lexists(path):
            os.unlink(path)

    def cleanup(self):
        for path in self._downloads:
            self._discard(path)
        self._downloads = []

    # -- deciding
    def source(self, want, have):
        """(source_facts, content_identical, local source path) for the current mode."""
        mode = want.mode
        if mode == "overlay":
            return image_facts(self.info(want.backing_file)), None, None
        if mode == "convert":
            if want.checksum:
                self.verify(want.src, want.checksum)
            info = self.info(want.src)
            facts = image_facts(info)
            if want.src_format and facts["format"] != want.src_format:
                raise ValidationError("src %s is %s, not %s as src_format says; fix src_format"
                                      % (want.src, facts["format"], want.src_format))
            identical = None
            if have is not None:
                identical = self.compare(facts["format"], want.src, have["format"], want.path)
            return facts, identical, want.src
        if mode == "fetch":
            if have is not None and want.checksum and os.path.isfile(want.path) \
                    and file_digest(want.path, want.checksum[0]) == want.checksum[1]:
                # The image is byte for byte the published file: no download needed.
                return image_facts(self.info(want.path)), True, None
            if self.module.check_mode:
                scratch = os.path.join(self.module.tmpdir, "qemu_image-download")
            else:
                scratch = fetch_path(want.path)
            if have is None and self.module.check_mode:
                return None, None, None
            self.download(want.url, scratch, want.checksum)
            facts = image_facts(self.info(scratch))
            identical = None
            if have is not None:
                identical = self.compare(facts["format"], scratch, have["format"], want.path)
            return facts, identical, scratch
        return None, None, None

    # -- applying
    def apply(self, want, the_plan, downloaded):
        for step in the_plan.steps:
            if step.kind == "qemu-img":
                self.run(step.argv)
            elif step.kind == "fetch":
                if downloaded != step.data["dest"]:
                    self.download(step.data["url"], step.data["dest"], want.checksum)
                    downloaded = step.data["dest"]
            elif step.kind == "verify":
                if step.data["path"] != downloaded:  # a download is verified while it streams
                    self.verify(step.data["path"], (step.data["algo"], step.data["digest"]))
            elif step.kind == "move":
                self.module.atomic_move(step.data["src"], step.data["dest"])
                if step.data["src"] in self._downloads:
                    self._downloads.remove(step.data["src"])
            elif step.kind == "remove":
                self._discard(step.data["path"])

    def _stale_scratch(self, want):
        for scratch in (temp_path(want.path), fetch_path(want.path)):
            if os.path.lexists(scratch) and scratch not in self._downloads:
                os.unlink(scratch)

    def execute(self, params):
        """Run the whole task; return the result dict (file attributes are the module's business)."""
        want = build_want(params)
        self.check_preconditions(want)
        if want.state == "absent":
            the_plan = plan(want, {"exists": True} if os.path.lexists(want.path) else None)
            if the_plan.changed and not self.module.check_mode:
                self.apply(want, the_plan, None)
            return {"changed": the_plan.changed, "path": want.path, "commands": the_plan.commands,
                    "diff": {"before": the_plan.before, "after": the_plan.after}, "differences": []}

        info = self.info(want.path)
        have = image_facts(info)
        if want.state == "info":
            result = {"changed": False, "path": want.path, "exists": info is not None, "info": info or {},
                      "commands": []}
            result.update(have or {})
            return result

        try:
            source_facts, identical, downloaded = self.source(want, have)
            if want.mode == "fetch" and have is None and self.module.check_mode:
                the_plan = _check_mode_fetch_plan(want)
            else:
                the_plan = plan(want, have, source_facts, identical)
            if the_plan.changed and not self.module.check_mode:
                self._stale_scratch(want)
                self.apply(want, the_plan, downloaded)
        finally:
            self.cleanup()
        final = info if self.module.check_mode else self.info(want.path)
        result = {"changed": the_plan.changed, "path": want.path, "commands": the_plan.commands,
                  "diff": {"before": the_plan.before, "after": the_plan.after},
                  "differences": the_plan.differences, "exists": final is not None, "info": final or {}}
        result.update(image_facts(final) or {})
        return result


def _check_mode_fetch_plan(want):
    """Check mode, nothing at ``path`` yet: the download is not made, so the format of what would be
    fetched is not known. Report the fetch, the verification and the move; a conversion (when
    ``format`` differs from the download's) and a resize would follow in the real run."""
    origin = fetch_path(want.path)
    steps = [Step("fetch", url=want.url, dest=origin)]
    if want.checksum:
        steps.append(Step("verify", algo=want.checksum[0], digest=want.checksum[1], path=origin))
    steps.append(Step("move", src=origin, dest=want.path))
    after = {"state": "present"}
    if want.format is not None:
        after["format"] = want.format
    if want.size is not None:
        after["virtual_size"] = want.size
    return Plan(steps, {"state": "absent"}, after)
