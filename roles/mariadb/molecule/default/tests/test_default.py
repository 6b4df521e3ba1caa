"""testinfra checks of the mariadb role: the install guide's server, on the management
address only, root through the unix socket, no anonymous accounts or test database."""
MGMT = "10.0.0.63"
SOCKET = "/run/mysqld/mysqld.sock"


def _sql(host, query):
    """Run a query as root through the unix socket; return its rows (tab-separated)."""
    return host.check_output("mysql --protocol=socket -S %s -u root -N -B -e %s", SOCKET, query)


def test_packages_installed(host):
    assert host.package("mariadb-server").is_installed
    assert host.package("python3-pymysql").is_installed


def test_service_running_and_enabled(host):
    svc = host.service("mariadb")
    assert svc.is_running
    assert svc.is_enabled


def test_listens_only_on_the_management_address(host):
    assert host.socket("tcp://%s:3306" % MGMT).is_listening
    assert not host.socket("tcp://0.0.0.0:3306").is_listening
    assert not host.socket("tcp://127.0.0.1:3306").is_listening
    assert not host.socket("tcp://:::3306").is_listening
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":3306")]
    assert listening == ["tcp://%s:3306" % MGMT], listening
    assert host.socket("unix://%s" % SOCKET).is_listening


def test_config_file(host):
    cnf = host.file("/etc/mysql/mariadb.conf.d/99-openstack.cnf")
    assert cnf.mode == 0o644 and cnf.user == "root"
    lines = cnf.content_string.splitlines()
    assert lines[0].startswith("#")
    for line in ("[mysqld]", "bind-address = %s" % MGMT, "default-storage-engine = innodb",
                 "innodb_file_per_table = on", "max_connections = 4096",
                 "collation-server = utf8_general_ci", "character-set-server = utf8",
                 "max_allowed_packet = 64M"):
        assert line in lines, line


def test_server_runs_with_the_install_guide_settings(host):
    row = _sql(host, "select @@bind_address, @@default_storage_engine, @@innodb_file_per_table, "
                     "@@max_connections, @@character_set_server, @@collation_server, @@max_allowed_packet")
    bind, engine, per_table, conns, charset, collation, packet = row.split("\t")
    assert bind == MGMT
    assert engine == "InnoDB"
    assert per_table == "1"
    assert conns == "4096"
    # MariaDB 10.6+ reports the utf8 alias by its real name, utf8mb3.
    assert charset in ("utf8", "utf8mb3")
    assert collation in ("utf8_general_ci", "utf8mb3_general_ci")
    assert packet == str(64 * 1024 * 1024)


def test_root_logs_in_through_the_socket(host):
    assert host.check_output("mysql -N -B -e 'select 1'") == "1"
    assert _sql(host, "select current_user()") == "root@localhost"


def test_root_cannot_log_in_over_tcp(host):
    res = host.run("mysql -h %s -u root -N -B -e 'select 1'", MGMT)
    assert res.rc != 0
    assert "Access denied" in res.stderr or "is not allowed to connect" in res.stderr, res.stderr


def test_no_anonymous_accounts(host):
    assert _sql(host, "select count(*) from mysql.user where user = ''") == "0"
    assert _sql(host, "select count(*) from mysql.global_priv where user = ''") == "0"


def test_no_test_database(host):
    assert _sql(host, "show databases like 'test'") == ""
    assert _sql(host, "select count(*) from mysql.db where db like 'test%'") == "0"
