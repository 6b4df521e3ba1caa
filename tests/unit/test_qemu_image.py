"""Unit tests of the qemu_image module's pure logic (module_utils/qemu_image.py) and of its
argument spec and documentation (library/qemu_image.py). Nothing here runs qemu-img; the
integration tests in tests/integration/modules/test_qemu_image.py do."""
import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

import qemu_image as module_file
from ansible.module_utils.qemu_image import (
    ConflictError, Plan, Step, ValidationError, _check_mode_fetch_plan, build_want, fetch_path, image_facts,
    parse_checksum, parse_size, plan, temp_path,
)

SHA = "a" * 64
G = 1024 ** 3
M = 1024 ** 2


def want(**params):
    params.setdefault("path", "/img/disk.qcow2")
    return build_want(params)


def facts(fmt="qcow2", size=G, backing=None, bfmt=None):
    return {"format": fmt, "virtual_size": size, "backing_file": backing, "backing_format": bfmt}


# --------------------------------------------------------------------------- sizes and checksums

@pytest.mark.parametrize("value,expected", [
    (1073741824, G),
    ("1073741824", G),
    ("10G", 10 * G),
    ("10g", 10 * G),
    ("10GiB", 10 * G),
    ("512M", 512 * M),
    ("512 MiB", 512 * M),
    ("1.5G", 1536 * M),
    ("64K", 64 * 1024),
    ("1T", 1024 ** 4),
    ("4096B", 4096),
    (512, 512),
    (2048.0, 2048),
])
def test_parse_size_accepts_bytes_and_binary_units(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize("value,fragment", [
    ("10GB", "decimal unit"),
    ("10 MB", "decimal unit"),
    ("10X", "unknown unit"),
    ("ten", "is not a size"),
    ("-1G", "is not a size"),
    ("", "is not a size"),
    (0, "greater than zero"),
    ("0", "greater than zero"),
    (1000, "not a multiple of 512"),
    ("1.3M", "not a whole number"),
    (True, "is not a size"),
    (None, "is not a size"),
    (1.5, "not a whole number"),
])
def test_parse_size_rejects_with_a_hint(value, fragment):
    with pytest.raises(ValidationError) as err:
        parse_size(value)
    assert fragment in str(err.value)


def test_parse_size_suggests_the_rounded_size():
    with pytest.raises(ValidationError) as err:
        parse_size(1000)
    assert "1024" in str(err.value)


def test_parse_size_custom_multiple():
    assert parse_size("3K", multiple=1024) == 3072
    with pytest.raises(ValidationError) as err:
        parse_size(1536, multiple=1024)
    assert "multiple of 1024" in str(err.value)


def test_parse_checksum():
    assert parse_checksum("sha256:" + SHA.upper()) == ("sha256", SHA)
    assert parse_checksum("sha512:" + "b" * 128) == ("sha512", "b" * 128)
    assert parse_checksum(None) is None
    for bad in ("md5:" + "a" * 32, SHA, "sha256:" + "a" * 63, "sha256:" + "g" * 64):
        with pytest.raises(ValidationError) as err:
            parse_checksum(bad)
        assert "sha256:" in str(err.value) or "hex digits" in str(err.value)


# --------------------------------------------------------------------------- validation

def test_modes():
    assert want(size="1G").mode == "create"
    assert want(backing_file="/img/base.qcow2", backing_format="qcow2").mode == "overlay"
    assert want(src="/img/a.raw").mode == "convert"
    assert want(url="file:///img/a.raw").mode == "fetch"
    assert want(state="absent").mode == "absent"
    assert want(state="info").mode == "info"


def test_overlay_is_always_qcow2():
    w = want(backing_file="/img/base.raw", backing_format="raw")
    assert w.format == "qcow2"


@pytest.mark.parametrize("params,fragment", [
    ({"path": "disk.qcow2", "size": "1G"}, "must be an absolute path"),
    ({"size": "1G", "format": "vmdk"}, "not supported"),
    ({}, "size is required"),
    ({"backing_file": "/img/base", "backing_format": None}, "backing_format is required"),
    ({"backing_file": "/img/base", "backing_format": "qcow2", "format": "raw"}, "raw image cannot have a backing"),
    ({"backing_file": "/img/disk.qcow2", "backing_format": "qcow2"}, "must differ from path"),
    ({"size": "1G", "backing_format": "qcow2"}, "only together with backing_file"),
    ({"src": "/img/disk.qcow2"}, "src must differ from path"),
    ({"size": "1G", "checksum": "sha256:" + SHA}, "set it together with src or url"),
    ({"size": "1G", "src_format": "raw"}, "only together with src"),
    ({"src": "/img/a", "url": "file:///img/a"}, "only one of src, url and backing_file"),
    ({"url": "ftp://example.invalid/a.img"}, "only file://, http:// and https://"),
    ({"src": "relative.raw"}, "must be an absolute path"),
])
def test_build_want_rejects_with_a_hint(params, fragment):
    with pytest.raises(ValidationError) as err:
        want(**params)
    assert fragment in str(err.value)


def test_absent_and_info_need_only_path():
    assert want(state="absent").path == "/img/disk.qcow2"
    assert want(state="info", path="/img//x/../disk.qcow2").path == "/img/disk.qcow2"


# --------------------------------------------------------------------------- facts

def test_image_facts_from_qemu_img_info():
    info = {"virtual-size": 1048576, "filename": "o.qcow2", "format": "qcow2",
            "backing-filename-format": "qcow2", "full-backing-filename": "/tmp/qi/a.qcow2",
            "backing-filename": "a.qcow2"}
    assert image_facts(info) == facts("qcow2", 1048576, "/tmp/qi/a.qcow2", "qcow2")
    assert image_facts({"format": "raw", "virtual-size": 1024}) == facts("raw", 1024)
    assert image_facts(None) is None


# --------------------------------------------------------------------------- planning

def test_create_new_image_is_built_aside_and_moved():
    p = plan(want(size="1G", format="qcow2"), None)
    tmp = temp_path("/img/disk.qcow2")
    assert p.commands == ["qemu-img create -q -f qcow2 %s %d" % (tmp, G),
                          "mv -f -- %s /img/disk.qcow2" % tmp]
    assert p.before == {"state": "absent"}
    assert p.after == {"state": "present", "format": "qcow2", "virtual_size": G}


def test_create_defaults_to_qcow2():
    p = plan(want(size="1G"), None)
    assert "-f qcow2" in p.commands[0]
    assert p.after == {"state": "present", "format": "qcow2", "virtual_size": G}  # a new image: all of it


def test_existing_identical_image_is_unchanged():
    p = plan(want(size="1G", format="qcow2"), facts())
    assert not p.changed and p.commands == []
    assert p.before == p.after == {"state": "present", "format": "qcow2", "virtual_size": G}


def test_grow_is_a_resize_in_place():
    p = plan(want(size="2G"), facts())
    assert p.commands == ["qemu-img resize -f qcow2 /img/disk.qcow2 %d" % (2 * G)]
    assert p.before["virtual_size"] == G and p.after["virtual_size"] == 2 * G


def test_shrink_is_refused_without_allow_shrink():
    with pytest.raises(ConflictError) as err:
        plan(want(size="512M"), facts())
    assert "allow_shrink: true" in str(err.value)


def test_shrink_with_allow_shrink():
    p = plan(want(size="512M", allow_shrink=True), facts(fmt="raw"))
    assert p.commands == ["qemu-img resize -f raw --shrink /img/disk.qcow2 %d" % (512 * M)]


def test_format_difference_is_refused_and_explained():
    with pytest.raises(ConflictError) as err:
        plan(want(size="1G", format="raw"), facts())
    msg = str(err.value)
    assert "format is qcow2, wanted raw" in msg and "force: true" in msg and "left untouched" in msg


def test_format_difference_with_force_rebuilds():
    p = plan(want(size="1G", format="raw", force=True), facts())
    assert p.commands[0].startswith("qemu-img create -q -f raw ")
    assert p.commands[-1].startswith("mv -f -- ")
    assert p.differences == ["format is qcow2, wanted raw"]


def test_create_over_an_overlay_is_refused():
    with pytest.raises(ConflictError) as err:
        plan(want(size="1G"), facts(backing="/img/base.qcow2", bfmt="qcow2"))
    assert "overlay on /img/base.qcow2" in str(err.value)


def test_unset_format_is_not_checked():
    assert not plan(want(size="1G"), facts(fmt="raw")).changed


def test_overlay_new():
    w = want(backing_file="/img/base.qcow2", backing_format="qcow2")
    p = plan(w, None, source_facts=facts(size=2 * G))
    tmp = temp_path(w.path)
    assert p.commands[0] == "qemu-img create -q -f qcow2 -b /img/base.qcow2 -F qcow2 %s" % tmp
    assert p.after == {"state": "present", "format": "qcow2", "virtual_size": 2 * G,
                       "backing_file": "/img/base.qcow2", "backing_format": "qcow2"}


def test_overlay_with_size():
    w = want(backing_file="/img/base.qcow2", backing_format="qcow2", size="4G")
    p = plan(w, None, source_facts=facts())
    assert p.commands[0].endswith(" %d" % (4 * G))


def test_overlay_existing_same_backing_is_unchanged():
    w = want(backing_file="/img/base.qcow2", backing_format="qcow2")
    assert not plan(w, facts(backing="/img/base.qcow2", bfmt="qcow2"), source_facts=facts()).changed


@pytest.mark.parametrize("have", [
    facts(backing="/img/other.qcow2", bfmt="qcow2"),
    facts(backing="/img/base.qcow2", bfmt="raw"),
    facts(),
])
def test_overlay_backing_difference_is_refused(have):
    w = want(backing_file="/img/base.qcow2", backing_format="qcow2")
    with pytest.raises(ConflictError) as err:
        plan(w, have, source_facts=facts())
    assert "backing file is" in str(err.value)


def test_convert_new():
    w = want(src="/src/a.raw", format="qcow2", checksum="sha256:" + SHA)
    p = plan(w, None, source_facts=facts(fmt="raw", size=2 * M))
    tmp = temp_path(w.path)
    assert p.commands == [
        "verify sha256:%s /src/a.raw" % SHA,
        "qemu-img convert -q -f raw -O qcow2 /src/a.raw %s" % tmp,
        "mv -f -- %s /img/disk.qcow2" % tmp,
    ]
    assert p.after == {"state": "present", "format": "qcow2", "virtual_size": 2 * M}


def test_diff_of_an_existing_image_shows_only_what_was_set():
    p = plan(want(size="2G"), facts())
    assert p.before == {"state": "present", "virtual_size": G}
    assert p.after == {"state": "present", "virtual_size": 2 * G}


def test_convert_then_grow():
    w = want(src="/src/a.raw", format="qcow2", size="4M")
    p = plan(w, None, source_facts=facts(fmt="raw", size=2 * M))
    assert p.commands[1] == "qemu-img resize -f qcow2 %s %d" % (temp_path(w.path), 4 * M)
    assert p.after["virtual_size"] == 4 * M


def test_convert_existing_identical_is_unchanged_even_if_grown():
    w = want(src="/src/a.raw", format="qcow2")
    assert not plan(w, facts(size=4 * M), source_facts=facts(fmt="raw", size=2 * M), content_identical=True).changed


def test_convert_existing_with_other_content_is_refused():
    w = want(src="/src/a.raw", format="qcow2")
    with pytest.raises(ConflictError) as err:
        plan(w, facts(size=2 * M), source_facts=facts(fmt="raw", size=2 * M), content_identical=False)
    assert "content differs from /src/a.raw" in str(err.value)


def test_convert_keeps_source_format_when_format_unset():
    w = want(src="/src/a.raw")
    p = plan(w, None, source_facts=facts(fmt="raw", size=2 * M))
    assert "-O raw" in p.commands[0]
    with pytest.raises(ConflictError):
        plan(w, facts(fmt="qcow2", size=2 * M), source_facts=facts(fmt="raw", size=2 * M), content_identical=True)


def test_fetch_same_format_moves_the_download():
    w = want(url="http://127.0.0.1:8000/a.qcow2", checksum="sha256:" + SHA)
    dl = fetch_path(w.path)
    p = plan(w, None, source_facts=facts())
    assert p.commands == ["fetch http://127.0.0.1:8000/a.qcow2 -> %s" % dl,
                          "verify sha256:%s %s" % (SHA, dl),
                          "mv -f -- %s /img/disk.qcow2" % dl]


def test_fetch_other_format_converts_and_drops_the_download():
    w = want(url="file:///src/a.raw", format="qcow2")
    dl = fetch_path(w.path)
    p = plan(w, None, source_facts=facts(fmt="raw", size=2 * M))
    assert p.commands == ["fetch file:///src/a.raw -> %s" % dl,
                          "qemu-img convert -q -f raw -O qcow2 %s %s" % (dl, temp_path(w.path)),
                          "rm -f -- %s" % dl,
                          "mv -f -- %s /img/disk.qcow2" % temp_path(w.path)]


def test_check_mode_fetch_plan_lists_fetch_verify_move():
    w = want(url="file:///src/a.raw", checksum="sha256:" + SHA, size="4M")
    p = _check_mode_fetch_plan(w)
    assert [c.split()[0] for c in p.commands] == ["fetch", "verify", "mv"]
    assert p.before == {"state": "absent"} and p.after == {"state": "present", "virtual_size": 4 * M}


def test_absent():
    assert plan(want(state="absent"), {"exists": True}).commands == ["rm -f -- /img/disk.qcow2"]
    p = plan(want(state="absent"), None)
    assert not p.changed and p.before == p.after == {"state": "absent"}


def test_info_never_changes():
    p = plan(want(state="info"), facts())
    assert not p.changed


def test_step_render_quotes_paths():
    step = Step("qemu-img", ["qemu-img", "info", "/img/my disk.qcow2"])
    assert step.render() == "qemu-img info '/img/my disk.qcow2'"
    assert Step("remove", path="/a b").render() == "rm -f -- '/a b'"
    assert Plan([step], {}, {}).changed


def test_scratch_paths_sit_next_to_the_image():
    assert temp_path("/img/disk.qcow2") == "/img/.disk.qcow2.qemu_image-tmp"
    assert fetch_path("/img/disk.qcow2") == "/img/.disk.qcow2.qemu_image-download"


# --------------------------------------------------------------------------- argument spec and docs

def _validate(params):
    kwargs = dict(module_file.MODULE_ARGS)
    kwargs.pop("add_file_common_args")
    spec = kwargs.pop("argument_spec")
    return ArgumentSpecValidator(spec, **kwargs).validate(params)


@pytest.mark.parametrize("params,fragment", [
    ({"path": "/a", "src": "/b", "url": "file:///c"}, "mutually exclusive"),
    ({"path": "/a", "backing_file": "/b"}, "backing_format"),
    ({"path": "/a"}, "size, src, url, backing_file"),
    ({"path": "/a", "size": "1G", "src_format": "raw"}, "src"),
    ({"path": "/a", "size": "1G", "format": "vmdk"}, "must be one of"),
    ({"path": "/a", "backing_file": "/b", "backing_format": "raw", "checksum": "sha256:" + SHA},
     "mutually exclusive"),
])
def test_argument_spec_rejects(params, fragment):
    result = _validate(params)
    assert result.error_messages, params
    assert any(fragment in m for m in result.error_messages), result.error_messages


def test_argument_spec_accepts_a_plain_create():
    result = _validate({"path": "/a", "size": "1G"})
    assert not result.error_messages
    assert result.validated_parameters["state"] == "present"


def test_documentation_matches_argument_spec(documentation_matches_argument_spec):
    returned = documentation_matches_argument_spec(module_file)
    assert {"commands", "path", "info", "format", "virtual_size", "backing_file"} <= set(returned)
