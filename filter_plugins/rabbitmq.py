"""erlang_binary: a string as an Erlang binary of its UTF-8 bytes, for the expression that
roles/rabbitmq gives ``rabbitmqctl eval`` (tasks/users.yml):

    {{ 'pw' | erlang_binary }}   ->   <<112,119>>

Only digits and commas, whatever the string holds (a password may hold anything): Debian's
rabbitmqctl is a shell wrapper that puts its arguments in double quotes for ``su -c``, where
a backslash, a $ or a backquote would be the shell's, not Erlang's.
"""
from ansible.errors import AnsibleFilterError


def erlang_binary(value):
    if not isinstance(value, str):
        raise AnsibleFilterError("erlang_binary expects a string, got %s" % type(value).__name__)
    return "<<%s>>" % ",".join(str(byte) for byte in value.encode("utf-8"))


class FilterModule:
    def filters(self):
        return {"erlang_binary": erlang_binary}
