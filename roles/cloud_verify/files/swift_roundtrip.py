#!/usr/bin/env python3
"""Swift, end to end, through the OpenStack SDK (no CLI), as the demo user.

    swift_roundtrip.py put   CONTAINER OBJECT SIZE_MB
    swift_roundtrip.py check CONTAINER OBJECT
    swift_roundtrip.py clean CONTAINER OBJECT

Credentials come from the environment, never the command line: OSTACK_DEMO_AUTH and
OSTACK_ADMIN_AUTH, JSON dicts in the form of openstack.cloud's auth.

put    creates the container, uploads SIZE_MB MiB of random data, and prints JSON:
       {account, sha256, bytes, upload_s, upload_mib_s}.
check  downloads the object and compares its checksum with the one put recorded (in
       OSTACK_SWIFT_SHA256), lists the container, and proves that a member of another
       project (created for the check and deleted after it) can neither read the object
       nor list the container; then deletes the object and the container and proves they
       are gone. Prints {download_s, download_mib_s, other_project_status}.
clean  deletes what a failed run left (the object, the container, the other project and
       its user); it is quiet when there is nothing to delete.
Exit 1 with the reason on stderr when a step fails.
"""
import hashlib
import json
import os
import secrets
import sys
import time

import openstack
from openstack import exceptions

OTHER = "ostack-verify-other"


def connect(var):
    return openstack.connect(auth=json.loads(os.environ[var]), auth_type="password")


def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)


def put(demo, container, name, size_mb):
    data = os.urandom(size_mb * 1024 * 1024)
    demo.object_store.create_container(name=container)
    start = time.monotonic()
    demo.object_store.upload_object(container=container, name=name, data=data)
    took = time.monotonic() - start
    head = demo.object_store.get_object_metadata(name, container=container)
    if int(head.content_length) != len(data):
        fail("Swift holds %s bytes of %s/%s, %d were uploaded" % (head.content_length, container, name, len(data)))
    return {"account": "AUTH_" + demo.current_project_id, "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data), "upload_s": round(took, 3), "upload_mib_s": round(size_mb / took, 1)}


def other_member(admin):
    password = secrets.token_urlsafe(24)
    project = admin.identity.find_project(OTHER, domain_id="default") or \
        admin.identity.create_project(name=OTHER, domain_id="default", description="ostack verify, deleted after")
    user = admin.identity.find_user(OTHER, domain_id="default")
    if user is None:
        user = admin.identity.create_user(name=OTHER, domain_id="default", password=password,
                                          default_project_id=project.id)
    else:
        admin.identity.update_user(user, password=password)
    member = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(project, user, member)
    auth = json.loads(os.environ["OSTACK_DEMO_AUTH"])
    auth.update({"username": OTHER, "password": password, "project_name": OTHER,
                 "user_domain_name": "Default", "project_domain_name": "Default"})
    return openstack.connect(auth=auth, auth_type="password")


def drop_other(admin):
    user = admin.identity.find_user(OTHER, domain_id="default")
    if user is not None:
        admin.identity.delete_user(user)
    project = admin.identity.find_project(OTHER, domain_id="default")
    if project is not None:
        admin.identity.delete_project(project)


def check(demo, admin, container, name, sha256):
    start = time.monotonic()
    data = demo.object_store.download_object(name, container=container)
    took = time.monotonic() - start
    if hashlib.sha256(data).hexdigest() != sha256:
        fail("%s/%s came back different: sha256 %s, uploaded %s" % (container, name,
                                                                     hashlib.sha256(data).hexdigest(), sha256))
    names = [o.name for o in demo.object_store.objects(container)]
    if names != [name]:
        fail("container %s lists %s, expected [%s]" % (container, names, name))
    account = "AUTH_" + demo.current_project_id
    other = other_member(admin)
    try:
        url = "%s/%s/%s" % (demo.object_store.get_endpoint(), container, name)
        statuses = []
        for target in (url, url.rsplit("/", 1)[0]):
            resp = other.session.get(target, endpoint_filter={"service_type": "object-store"},
                                     raise_exc=False)
            statuses.append(resp.status_code)
        if any(s != 403 for s in statuses):
            fail("a member of another project read %s's container %s: HTTP %s (expected 403)"
                 % (account, container, statuses))
    finally:
        drop_other(admin)
    demo.object_store.delete_object(name, container=container)
    demo.object_store.delete_container(container)
    try:
        demo.object_store.get_container_metadata(container)
        fail("container %s still exists after its delete" % container)
    except exceptions.NotFoundException:
        pass
    return {"download_s": round(took, 3), "download_mib_s": round(len(data) / 1048576 / took, 1),
            "other_project_status": statuses}


def clean(demo, admin, container, name):
    for call in (lambda: demo.object_store.delete_object(name, container=container),
                 lambda: demo.object_store.delete_container(container)):
        try:
            call()
        except exceptions.NotFoundException:
            pass
    drop_other(admin)
    return {}


def main(argv):
    if len(argv) < 3 or argv[0] not in ("put", "check", "clean"):
        fail(__doc__)
    action, container, name = argv[:3]
    demo = connect("OSTACK_DEMO_AUTH")
    try:
        if action == "put":
            result = put(demo, container, name, int(argv[3]) if len(argv) > 3 else 6)
        elif action == "check":
            result = check(demo, connect("OSTACK_ADMIN_AUTH"), container, name, os.environ["OSTACK_SWIFT_SHA256"])
        else:
            result = clean(demo, connect("OSTACK_ADMIN_AUTH"), container, name)
    except exceptions.SDKException as err:
        fail("%s %s/%s: %s" % (action, container, name, err))
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
