"""A tiny stand-in for the metadata service at 169.254.169.254, for booting test guests in a
network namespace: it serves the EC2 paths (public key, hostname, instance id) and
OpenStack's meta_data.json for one instance, and logs every request, one per line.

    python3 metadata_server.py ADDRESS PORT PUBLIC_KEY_FILE HOSTNAME LOG_FILE

Run it inside the namespace (ip netns exec); it binds ADDRESS only."""
import http.server
import json
import sys
import uuid


def make_handler(public_key, hostname, log_file):
    uid = str(uuid.uuid5(uuid.NAMESPACE_DNS, hostname))
    meta_data = json.dumps({
        "uuid": uid, "name": hostname, "hostname": hostname + ".novalocal",
        "availability_zone": "nova", "launch_index": 0, "project_id": "test",
        "public_keys": {"test-key": public_key + "\n"},
        "keys": [{"name": "test-key", "type": "ssh", "data": public_key + "\n"}],
    }).encode()
    paths = {
        "/latest/meta-data/public-keys/0/openssh-key": (public_key + "\n").encode(),
        "/latest/meta-data/public-keys/": b"0=test-key",
        "/latest/meta-data/hostname": (hostname + ".novalocal").encode(),
        "/latest/meta-data/instance-id": b"i-00000001",
        "/openstack/latest/meta_data.json": meta_data,
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = paths.get(self.path)
            self.send_response(200 if body is not None else 404)
            body = body if body is not None else b"not found\n"
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "application/json" if self.path.endswith(".json") else "text/plain")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            with open(log_file, "a", encoding="utf-8") as log:
                log.write("%s %s\n" % (self.client_address[0], fmt % args))

    return Handler


def main(argv):
    address, port, key_file, hostname, log_file = argv[1:6]
    with open(key_file, encoding="utf-8") as f:
        public_key = f.read().strip()
    server = http.server.HTTPServer((address, int(port)), make_handler(public_key, hostname, log_file))
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
