#!/usr/bin/python3
"""docker-archive.py LAYER_TAR OUT_TAR CONFIG_JSON REPO:TAG...

Writes, without docker, a one-layer image archive in the format of `docker save` (which
`docker load` reads, docker 1.10 and later):

    manifest.json               [{"Config": "<id>.json", "RepoTags": [...], "Layers": ["<l>/layer.tar"]}]
    <id>.json                   the image config: CONFIG_JSON's settings plus rootfs.diff_ids
                                = [sha256 of LAYER_TAR]; <id> is the sha256 of this file (the image ID)
    <l>/layer.tar, <l>/VERSION, <l>/json   the layer (an uncompressed tar of the root file system)
    repositories                {"<repo>": {"<tag>": "<l>"}}

CONFIG_JSON is a file holding a JSON object with the keys "config" (Entrypoint, Cmd, Env,
User, WorkingDir, ExposedPorts, ...), and optionally "created", "architecture", "os",
"history". Every entry of OUT_TAR is owned by root with the time "created" (default 1980),
so equal inputs give an equal archive. OUT_TAR is written in place (the caller renames).
"""
import calendar
import hashlib
import io
import json
import re
import sys
import tarfile
import time

DEFAULT_CREATED = "1980-01-02T00:00:00Z"
TAG_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class ArchiveError(Exception):
    """Bad input for the archive (a malformed repo:tag, a config that is not an object)."""


def sha256_file(path, bufsize=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(bufsize), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical(obj):
    """The JSON bytes docker would hash: compact, keys sorted."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def split_tags(repo_tags):
    """{'repo': ['tag', ...]} of 'repo:tag' strings (the tag is after the last colon)."""
    repos = {}
    for item in repo_tags:
        if not TAG_RE.match(item):
            raise ArchiveError(f"not a valid lower-case repo:tag: {item!r}")
        repo, tag = item.rsplit(":", 1)
        repos.setdefault(repo, [])
        if tag not in repos[repo]:
            repos[repo].append(tag)
    if not repos:
        raise ArchiveError("at least one repo:tag is needed")
    return repos


def image_documents(layer_sha256, settings, repo_tags):
    """The JSON documents of the archive, as {path inside the archive: bytes}, and the image ID.

    layer_sha256: hex sha256 of the uncompressed layer tar (its diff_id).
    settings: {"config": {...}, optional "created", "architecture", "os", "history"}.
    """
    if not isinstance(settings, dict) or not isinstance(settings.get("config", {}), dict):
        raise ArchiveError("the config JSON must be an object whose 'config' is an object")
    repos = split_tags(repo_tags)
    created = settings.get("created", DEFAULT_CREATED)
    image = {
        "architecture": settings.get("architecture", "amd64"),
        "os": settings.get("os", "linux"),
        "created": created,
        "config": settings.get("config", {}),
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_sha256}"]},
        "history": settings.get("history", [{"created": created, "created_by": "ostack trove_image"}]),
    }
    config_bytes = canonical(image)
    image_id = hashlib.sha256(config_bytes).hexdigest()
    # The legacy v1 layer ID; any stable 64-hex string works, docker load only uses it as a path.
    layer_id = hashlib.sha256(f"{layer_sha256}\n{image_id}".encode()).hexdigest()
    layer_json = {"id": layer_id, "created": created, "config": image["config"],
                  "architecture": image["architecture"], "os": image["os"]}
    tags = [f"{repo}:{tag}" for repo, tag_list in repos.items() for tag in tag_list]
    docs = {
        f"{image_id}.json": config_bytes,
        "manifest.json": canonical([{"Config": f"{image_id}.json", "RepoTags": tags,
                                     "Layers": [f"{layer_id}/layer.tar"]}]),
        "repositories": canonical({repo: {tag: layer_id for tag in tag_list}
                                   for repo, tag_list in repos.items()}),
        f"{layer_id}/VERSION": b"1.0",
        f"{layer_id}/json": canonical(layer_json),
    }
    return docs, image_id, layer_id


def _mtime(created):
    return calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))


def write_archive(layer_tar, out_tar, settings, repo_tags):
    """Write the archive; returns (image_id, layer_sha256)."""
    layer_sha256 = sha256_file(layer_tar)
    docs, image_id, layer_id = image_documents(layer_sha256, settings, repo_tags)
    mtime = _mtime(settings.get("created", DEFAULT_CREATED))

    def info(name, size, kind=tarfile.REGTYPE, mode=0o644):
        entry = tarfile.TarInfo(name)
        entry.size, entry.type, entry.mode, entry.mtime = size, kind, mode, mtime
        entry.uid = entry.gid = 0
        entry.uname = entry.gname = "root"
        return entry

    with tarfile.open(out_tar, "w", format=tarfile.PAX_FORMAT) as out:
        out.addfile(info(layer_id, 0, tarfile.DIRTYPE, 0o755))
        for name in sorted(docs):
            if name.startswith(layer_id + "/"):
                out.addfile(info(name, len(docs[name])), io.BytesIO(docs[name]))
        with open(layer_tar, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(0)
            out.addfile(info(f"{layer_id}/layer.tar", size), handle)
        for name in sorted(docs):
            if "/" not in name:
                out.addfile(info(name, len(docs[name])), io.BytesIO(docs[name]))
    return image_id, layer_sha256


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    try:
        with open(argv[3], encoding="utf-8") as handle:
            settings = json.load(handle)
        image_id, layer_sha256 = write_archive(argv[1], argv[2], settings, argv[4:])
    except (ArchiveError, OSError, ValueError) as err:
        sys.stderr.write(f"docker-archive.py: {err}\n")
        return 1
    print(f"image sha256:{image_id} layer sha256:{layer_sha256} tags {' '.join(argv[4:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
