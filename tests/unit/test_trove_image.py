"""roles/trove_image: the package resolver's closure, the docker-save archive writer, and the
cache key's coverage of the role's files."""
import hashlib
import importlib.util
import json
import os
import tarfile

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(REPO, "roles", "trove_image")
FILES = os.path.join(ROLE, "files")


def _load(name, filename):
    spec = importlib.util.spec_from_file_location(name, os.path.join(FILES, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


resolve = _load("trove_image_resolve", "resolve-packages.py")
archive = _load("trove_image_docker_archive", "docker-archive.py")


# --- resolve-packages.py: closure() -----------------------------------------------------------
class Ver:
    def __init__(self, name, version="1"):
        self.name, self.version = name, version


class Dep:
    def __init__(self, name):
        self.name = name


def make(universe, deps):
    """universe: {name: Ver}; deps: {name: [[alt, ...], ...]} (names; '!x' is uninstallable)."""

    def depends_of(ver):
        return [[Dep(n) for n in group] for group in deps.get(ver.name, [])]

    def alternatives_of(dep):
        return [universe[dep.name]] if dep.name in universe else []

    return depends_of, alternatives_of


def test_closure_follows_dependencies_recursively():
    universe = {n: Ver(n, v) for n, v in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]}
    depends_of, alternatives_of = make(universe, {"a": [["b"]], "b": [["c"]]})
    assert resolve.closure([universe["a"]], depends_of, alternatives_of) == {"a": "1", "b": "2", "c": "3"}


def test_or_group_takes_the_first_installable_alternative():
    universe = {n: Ver(n) for n in ["a", "y", "z"]}
    depends_of, alternatives_of = make(universe, {"a": [["x", "y", "z"]]})
    assert set(resolve.closure([universe["a"]], depends_of, alternatives_of)) == {"a", "y"}


def test_or_group_prefers_an_alternative_already_chosen():
    # mawk is in the base set, so "gawk | mawk" must not add gawk (apt would not either).
    universe = {n: Ver(n) for n in ["mawk", "gawk", "tool"]}
    depends_of, alternatives_of = make(universe, {"tool": [["gawk", "mawk"]]})
    chosen = resolve.closure([universe["mawk"], universe["tool"]], depends_of, alternatives_of)
    assert set(chosen) == {"mawk", "tool"}


def test_cycles_terminate():
    universe = {n: Ver(n) for n in ["a", "b"]}
    depends_of, alternatives_of = make(universe, {"a": [["b"]], "b": [["a"]]})
    assert set(resolve.closure([universe["a"]], depends_of, alternatives_of)) == {"a", "b"}


def test_unsatisfiable_dependency_names_package_and_group():
    universe = {"a": Ver("a")}
    depends_of, alternatives_of = make(universe, {"a": [["gone", "also-gone"]]})
    with pytest.raises(resolve.ResolveError, match=r"'gone \| also-gone' for 'a'"):
        resolve.closure([universe["a"]], depends_of, alternatives_of)


def test_format_lines_sorted_name_equals_version():
    assert resolve.format_lines({"b": "1:2.0-1", "a": "1.0"}) == "a=1.0\nb=1:2.0-1\n"


def test_resolver_without_arguments_prints_usage(capsys):
    assert resolve.main(["resolve-packages.py"]) == 2
    assert "resolve-packages.py" in capsys.readouterr().err


# --- docker-archive.py ---------------------------------------------------------------------
SETTINGS = {"config": {"Entrypoint": ["/usr/local/bin/docker-entrypoint.sh"], "Cmd": ["mariadbd"],
                       "User": "1001:1001"}}


def test_split_tags_groups_by_repository_and_refuses_bad_names():
    assert archive.split_tags(["ostack/mariadb:10.11", "ostack/mariadb:latest", "x:1"]) == {
        "ostack/mariadb": ["10.11", "latest"], "x": ["1"]}
    for bad in ["Ostack/mariadb:1", "ostack/mariadb", "ostack/mariadb:", "a:b c", ""]:
        with pytest.raises(archive.ArchiveError):
            archive.split_tags([bad])
    with pytest.raises(archive.ArchiveError, match="at least one"):
        archive.split_tags([])


def test_documents_reference_each_other():
    docs, image_id, layer_id = archive.image_documents("ab" * 32, SETTINGS, ["ostack/mariadb:10.11"])
    config = json.loads(docs[f"{image_id}.json"])
    assert hashlib.sha256(docs[f"{image_id}.json"]).hexdigest() == image_id
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + "ab" * 32]}
    assert config["config"]["User"] == "1001:1001"
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    manifest = json.loads(docs["manifest.json"])
    assert manifest == [{"Config": f"{image_id}.json", "RepoTags": ["ostack/mariadb:10.11"],
                         "Layers": [f"{layer_id}/layer.tar"]}]
    assert json.loads(docs["repositories"]) == {"ostack/mariadb": {"10.11": layer_id}}
    assert len(layer_id) == 64 and layer_id != image_id


def test_documents_are_deterministic_and_follow_the_layer():
    first = archive.image_documents("00" * 32, SETTINGS, ["a/b:1"])
    assert first == archive.image_documents("00" * 32, SETTINGS, ["a/b:1"])
    assert first[1] != archive.image_documents("11" * 32, SETTINGS, ["a/b:1"])[1]


def test_config_must_be_an_object():
    with pytest.raises(archive.ArchiveError):
        archive.image_documents("00" * 32, {"config": []}, ["a:1"])
    with pytest.raises(archive.ArchiveError):
        archive.image_documents("00" * 32, [], ["a:1"])


def test_write_archive_is_a_loadable_docker_save_layout(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr" / "local" / "bin").mkdir(parents=True)
    (rootfs / "usr" / "local" / "bin" / "docker-entrypoint.sh").write_text("#!/bin/sh\n")
    layer = tmp_path / "layer.tar"
    with tarfile.open(layer, "w") as tar:
        tar.add(rootfs, arcname=".")
    out = tmp_path / "image.tar"
    image_id, layer_sha = archive.write_archive(str(layer), str(out), SETTINGS,
                                                ["ostack/mariadb:10.11", "ostack/mariadb:latest"])
    assert layer_sha == hashlib.sha256(layer.read_bytes()).hexdigest()
    with tarfile.open(out) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
        config_raw = tar.extractfile(manifest[0]["Config"]).read()
        layer_in = tar.extractfile(manifest[0]["Layers"][0]).read()
        members = tar.getmembers()
    assert hashlib.sha256(config_raw).hexdigest() == image_id
    assert json.loads(config_raw)["rootfs"]["diff_ids"] == [f"sha256:{layer_sha}"]
    assert layer_in == layer.read_bytes()
    assert manifest[0]["RepoTags"] == ["ostack/mariadb:10.11", "ostack/mariadb:latest"]
    assert "repositories" in names
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 315619200 for m in members)
    # the same inputs give the same bytes
    again = tmp_path / "again.tar"
    archive.write_archive(str(layer), str(again), SETTINGS, ["ostack/mariadb:10.11", "ostack/mariadb:latest"])
    assert again.read_bytes() == out.read_bytes()


def test_main_reports_bad_input(tmp_path, capsys):
    (tmp_path / "layer.tar").write_bytes(b"")
    (tmp_path / "config.json").write_text("[1]")
    rc = archive.main(["docker-archive.py", str(tmp_path / "layer.tar"), str(tmp_path / "out.tar"),
                       str(tmp_path / "config.json"), "a:1"])
    assert rc == 1 and "must be an object" in capsys.readouterr().err


def test_image_config_template_is_json_with_the_uid_placeholder():
    with open(os.path.join(FILES, "mariadb", "image-config.json"), encoding="utf-8") as handle:
        text = handle.read()
    settings = json.loads(text.replace("@UID@", "1001"))
    assert settings["config"]["User"] == "1001:1001"
    assert settings["config"]["Entrypoint"] == ["/usr/local/bin/docker-entrypoint.sh"]


# --- the cache key covers every file of the role that goes into the image ---------------------
def test_every_role_file_is_part_of_the_cache_key():
    with open(os.path.join(ROLE, "vars", "main.yml"), encoding="utf-8") as handle:
        sources = yaml.safe_load(handle)["_trove_image_sources"]
    listed = {s.replace("{{ _trove_image_files_dir }}/", "") for s in sources}
    present = {os.path.relpath(os.path.join(d, f), FILES) for d, _, fs in os.walk(FILES) for f in fs
               if "__pycache__" not in d}
    assert listed == present
