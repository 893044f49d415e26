"""The connection ``invoke experiment`` opens before it plans (``remote.early``): the same
parameters the checked host gives, taken once by the run, its error kept for the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from labkit.config.hostvars import host_config
from labkit.config.inventory import Inventory
from labkit.errors import ConnectError
from labkit.remote.connect import ssh_params
from labkit.remote.early import SWITCH_S, Early, connect_early, raw_params
from labkit.remote.params import SshParams
from tests.labhost import ssh_host, trust, write_inventory
from tests.sshd import LOOPBACK, free_port


@pytest.fixture(autouse=True)
def switch_interval():
    """The interpreter's switch interval as it was, whatever a test left (an early
    connection shortens it until it is taken or given up)."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


# (group vars, host vars): every way the inventory may spell a connection
SPELLINGS = {
    "all in the host": ({}, {"ansible_host": "10.0.0.9", "ansible_port": 2222,
                             "ansible_user": "nv", "ansible_ssh_private_key_file": "~/.ssh/k"}),
    "from the group": ({"ansible_user": "nv", "ansible_port": 22}, {"ansible_host": "thor.lan"}),
    "the host's name as its address": ({}, {}),
    "the port as text": ({}, {"ansible_port": "2201"}),
    "the host over the group": ({"ansible_user": "a"}, {"ansible_user": "b"}),
}  # fmt: skip


def inventory(tmp_path: Path, group: dict, host: dict, name: str = "thor") -> Path:
    doc = {"all": {"vars": group, "hosts": {name: host or None}}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_raw_values_give_the_parameters_the_checked_host_gives(spelling, tmp_path):
    # a difference would open a second connection: the early one would go unused
    path = inventory(tmp_path, *SPELLINGS[spelling])
    values, _ = Inventory(path).resolve("thor")
    assert raw_params(values, "thor") == ssh_params(host_config(Inventory(path), "thor"))


@pytest.mark.parametrize(
    "host",
    [
        {"ansible_connection": "local"},
        {"labkit_host_key_policy": "trust-all"},  # refused by the checks: the run says so
        # a key trusted on first contact: not before the whole inventory is checked
        {"labkit_host_key_policy": "accept-new"},
        {"ansible_port": "twenty-two"},
        {"ansible_port": True},
        {"ansible_user": ["a", "b"]},
    ],
)
def test_nothing_is_opened_for_a_local_host_a_refused_value_or_a_key_trusted_anew(host):
    assert raw_params(host, "thor") is None


def test_an_inventory_that_cannot_be_read_opens_nothing(tmp_path):
    said: list[str] = []
    bad = tmp_path / "bad.yml"
    bad.write_text("all: [unclosed\n")
    assert connect_early(bad, "thor", said.append) is None
    assert connect_early(tmp_path / "missing.yml", "thor", said.append) is None
    good = inventory(tmp_path, {}, {"ansible_connection": "local"})
    assert connect_early(good, "thor", said.append) is None  # a local host: nothing to open
    assert connect_early(good, "no-such-host", said.append) is None
    assert said == []  # nor says it is connecting


class Held:
    """A connection stand-in that records being closed."""

    closed = False

    def close(self) -> None:
        self.closed = True


PARAMS = SshParams(LOOPBACK, "nv", 22)


def opened(result) -> Early:
    """An early connection whose attempt gave ``result`` (a connection, or raised it)."""
    early = Early("thor", PARAMS)

    def connect(name: str, **params):
        if isinstance(result, BaseException):
            raise result
        return result

    early._open(connect)  # what the thread runs
    return early


def test_the_run_takes_the_connection_once_when_its_host_is_the_same():
    held = Held()
    early = opened(held)
    assert early.take("thor", PARAMS) is held
    assert early.take("thor", PARAMS) is None  # a second run connects anew
    early.close()
    assert not held.closed  # the run's now: the run closes it


@pytest.mark.parametrize(
    "name, params",
    [
        ("thor", SshParams(LOOPBACK, "nv", 2222)),
        ("thor", SshParams(LOOPBACK, "root", 22)),
        ("thor", SshParams(LOOPBACK, "nv", 22, host_key_policy="accept-new")),
        ("orin", PARAMS),
    ],
)
def test_a_connection_to_other_parameters_is_closed_not_taken(name, params):
    held = Held()
    assert opened(held).take(name, params) is None
    assert held.closed


def test_a_connection_that_opens_after_it_was_given_up_is_closed():
    # planning failed (or Ctrl-C) while the handshake went on: nobody will take it
    held = Held()
    early = Early("thor", PARAMS)
    early.close()
    early._open(lambda name, **params: held)
    assert held.closed
    assert early.take("thor", PARAMS) is None


def test_the_error_connecting_gave_is_raised_by_the_run_that_takes_it():
    early = opened(ConnectError("thor: cannot reach 127.0.0.1:22 over SSH: refused"))
    with pytest.raises(ConnectError, match="cannot reach"):
        early.take("thor", PARAMS)


def test_the_switch_interval_comes_back_when_the_last_early_connection_settles():
    # two early connections given up in the other order than they started (to a loopback
    # port where nobody listens: refused at once)
    own = sys.getswitchinterval()
    nobody = SshParams(LOOPBACK, "nv", free_port())
    first, second = Early("a", nobody), Early("b", nobody)
    first.start()
    second.start()
    assert sys.getswitchinterval() == min(SWITCH_S, own)
    first.close()
    assert sys.getswitchinterval() == min(SWITCH_S, own)  # the second still opens
    second.close()
    assert sys.getswitchinterval() == own


def test_a_bug_while_connecting_early_leaves_the_run_to_connect_itself():
    # not a link error: the run connects anew, where the bug shows with its traceback
    assert opened(RuntimeError("a bug")).take("thor", PARAMS) is None


def test_an_unreachable_host_keeps_its_error_for_the_run_to_raise(sshd, tmp_path, fake_home):
    host = {**ssh_host(sshd, tmp_path / "wd"), "ansible_port": free_port()}  # nobody there
    path = write_inventory(tmp_path / "hosts.yml", {"thor": host})
    said: list[str] = []
    early = connect_early(path, "thor", said.append)
    assert early is not None
    assert said == [f"thor: connecting (ssh {sshd.user}@{LOOPBACK}:{host['ansible_port']} "
                    "(simulated Jetson))"]  # fmt: skip
    with pytest.raises(ConnectError, match="cannot reach"):
        early.take("thor", ssh_params(host_config(Inventory(path), "thor")))


def test_the_connection_opened_early_runs_the_runs_commands(sshd, tmp_path, fake_home):
    trust(fake_home, sshd)
    path = write_inventory(tmp_path / "hosts.yml", {"thor": ssh_host(sshd, tmp_path / "wd")})
    early = connect_early(path, "thor", lambda line: None)
    assert early is not None
    target = early.take("thor", ssh_params(host_config(Inventory(path), "thor")))
    assert target is not None
    try:
        assert target.run("echo $((6 * 7))").stdout == "42\n"
    finally:
        target.close()


# values around each check's edges, for every connection variable raw_params reads
EDGES = {
    "ansible_connection": ["ssh", "paramiko", "local", "docker", None],
    "ansible_port": [None, 0, 1, 22, 65535, 65536, 70000, -1, "22", "²", "+22", "", True, 22.0],
    "labkit_host_key_policy": ["strict", "accept-new", "trust-all", None],
    "ansible_host": [None, "", "thor.lan", 10],
    "ansible_user": [None, "", "nv", 1],
    "ansible_ssh_private_key_file": [None, "", "~/.ssh/k", 1],
}


@pytest.mark.parametrize("var", EDGES)
def test_whatever_opens_early_is_what_the_checks_accept(var, tmp_path):
    # never a connection the checked host would refuse (a port 70000 wrapping to 4464, a
    # host key trusted for a host the checks then reject)
    opened_for = []
    for value in EDGES[var]:
        host = {} if value is None else {var: value}
        values = {"ansible_host": LOOPBACK, **host} if var != "ansible_host" else host
        params = raw_params(values, "thor")
        if params is None:
            continue
        opened_for.append(value)
        path = inventory(tmp_path, {}, values)
        assert ssh_params(host_config(Inventory(path), "thor")) == params, (var, value)
    assert opened_for  # the usual values do open early
