"""The plug-ins by name, built at the top (labkit.registry): each kind and probe once,
and the host facts each declares, gathered in the one facts round trip."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from labkit.errors import UnknownNameError
from labkit.registry import PROBES, WORKLOADS, get_probe, get_workload, plugin_facts


def test_every_plug_in_is_registered_under_its_own_name():
    assert {k: c.kind for k, c in WORKLOADS.items()} == {k: k for k in WORKLOADS}
    assert {k: c.name for k, c in PROBES.items()} == {k: k for k in PROBES}
    assert {"lerobot-record", "command", "gstreamer"} <= set(WORKLOADS)
    assert {"tegrastats", "threads", "pyspy", "runq"} <= set(PROBES)


def test_an_unknown_name_is_one_line_with_a_hint():
    with pytest.raises(UnknownNameError, match=r"'gstreamr'.*did you mean 'gstreamer'"):
        get_workload("gstreamr")
    with pytest.raises(UnknownNameError, match=r"'runk'.*known: tegrastats"):
        get_probe("runk")


def test_the_plug_ins_declare_their_facts_with_the_hosts_own_paths():
    host = SimpleNamespace(
        labkit_lerobot_record="/opt/conda/bin/lerobot-record", labkit_tegrastats="/usr/bin/teg"
    )
    facts = {f.name: f for f in plugin_facts(host)}
    assert set(facts) == {"lerobot", "gstreamer", "tegrastats", "pyspy"}
    assert "/opt/conda/bin/lerobot-record" in facts["lerobot"].command("", "/work")
    assert facts["tegrastats"].command("", "/work") == "command -v /usr/bin/teg"
    assert "/work/tools/bin/py-spy" in facts["pyspy"].command("", "/work")
    # a host without the variables: the programs on PATH
    assert "lerobot-record" in {f.name: f for f in plugin_facts(None)}["lerobot"].command("", "/w")
