import pytest
from ansible.errors import AnsibleFilterError

from rabbitmq import erlang_binary


@pytest.mark.parametrize("value, literal", [
    ("pw", "<<112,119>>"),
    (".*", "<<46,42>>"),
    ("", "<<>>"),
    ('"$`\\', "<<34,36,96,92>>"),
    ("é\n", "<<195,169,10>>"),
])
def test_a_string_becomes_the_binary_of_its_utf8_bytes(value, literal):
    assert erlang_binary(value) == literal


def test_not_a_string_is_refused():
    with pytest.raises(AnsibleFilterError, match="expects a string"):
        erlang_binary(5)
