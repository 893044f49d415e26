"""Whether a run's workload shares the controller's CPU (``engine.run.shares_cpu``): then
its CPU readings would see labkit's own work, and the summary's pandas loads only once
the workload has ended."""

from __future__ import annotations

import pytest

from labkit.config.hostvars import HostConfig
from labkit.engine.run import shares_cpu
from labkit.remote.target import LocalTarget


class _Remote(LocalTarget):
    """A target whose sshd is, or is not, this machine's (what ``SshTarget`` reads from
    its connection's addresses: tests/remote/test_ssh.py)."""

    def __init__(self, here: bool) -> None:
        super().__init__("board")
        self.here = here

    def on_this_machine(self) -> bool:
        return self.here


@pytest.mark.parametrize(
    ("connection", "simulated", "here", "shares"),
    [
        ("local", True, True, True),  # the README's simulated Jetson
        ("local", False, True, True),  # labkit run on the board it measures
        ("ssh", True, True, True),  # a simulated Jetson behind this machine's sshd
        ("ssh", False, True, False),  # a real board at a loopback address: a tunnel
        ("ssh", True, False, False),  # a simulated Jetson on another machine
        ("ssh", False, False, False),  # a board elsewhere
    ],
)
def test_by_default_a_host_on_this_machine_shares_its_cpu(connection, simulated, here, shares):
    host = HostConfig(name="h", ansible_connection=connection, labkit_simulate=simulated)
    target = LocalTarget("h") if connection == "local" else _Remote(here)
    assert shares_cpu(host, target) is shares


@pytest.mark.parametrize("setting", [True, False])
@pytest.mark.parametrize("here", [True, False])
def test_labkit_shares_cpu_overrides_the_guess(setting, here):
    host = HostConfig(name="h", labkit_simulate=True, labkit_shares_cpu=setting)
    assert shares_cpu(host, _Remote(here)) is setting
