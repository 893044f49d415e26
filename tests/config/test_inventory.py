import json

import pytest

from labkit.config.hostvars import host_config
from labkit.config.inventory import Inventory, expand_host_pattern
from labkit.errors import InventoryError, UnknownNameError
from tests.conftest import DATA, REPO


def test_ansible_docs_inventory_matches_ansible_inventory_list():
    """expected-list.json was printed by the real `ansible-inventory --list`."""
    inv = Inventory(DATA / "inventory/ansible-docs/hosts.yml")
    expected = json.loads((DATA / "inventory/ansible-docs/expected-list.json").read_text())
    assert inv.to_ansible_list() == expected


def test_folder_inventory_matches_ansible_inventory_list():
    """expected-list.json was printed by `ansible-inventory -i inventory --list` (core
    2.19): every file in the folder (sorted, sub-folders too, README.md, *.bak and hidden
    files skipped, a file without extension read) plus its group_vars/ and host_vars/."""
    folder = DATA / "inventory/folder"
    inv = Inventory(folder / "inventory")
    expected = json.loads((folder / "expected-list.json").read_text())
    assert inv.to_ansible_list() == expected


def test_folder_inventory_remembers_each_file():
    inv = Inventory(DATA / "inventory/folder/inventory")
    _, origins = inv.resolve("sim")
    assert str(origins["ansible_connection"]) == str(
        DATA / "inventory/folder/inventory/02-sim.yaml:5"
    )
    _, origins = inv.resolve("thor01")
    assert origins["ansible_host"].file.endswith("host_vars/thor01.yml")


def test_children_cycle_is_an_ansible_like_error(tmp_path):
    p = _write(tmp_path, "all:\n  children:\n    a:\n      children:\n        b:\n"
               "          children:\n            a: {}\n")  # fmt: skip
    with pytest.raises(InventoryError) as err:
        Inventory(p)
    assert err.value.line == 7
    assert "adding group 'a' as child to 'b' creates a recursive dependency loop" in str(err.value)


def test_top_level_list_is_an_ansible_like_error(tmp_path):
    with pytest.raises(InventoryError, match="invalid inventory structure.*got a list"):
        Inventory(_write(tmp_path, "- sim\n- thor1\n"))


def test_folder_with_a_non_yaml_inventory_names_it(tmp_path):
    (tmp_path / "hosts.ini").write_text("[thors]\nthor1\n")
    with pytest.raises(InventoryError, match="hosts.ini: not a YAML inventory"):
        Inventory(tmp_path)


@pytest.mark.parametrize(
    ("host", "key", "value", "origin"),
    [
        # child group (southeast) over all; group_vars/<group> over inventory group vars
        ("host1", "escape_pods", 3, "group_vars/southeast.yml"),
        # host_vars over everything
        ("host2", "escape_pods", 5, "host_vars/host2.yml"),
        ("host2", "http_port", 9090, "host_vars/host2.yml"),
        # group_vars/<dir>/ files, deeper group (raleigh) over its parent
        ("host3", "self_destruct_countdown", 10, "group_vars/raleigh/main.yml"),
        # same depth: later name wins (webservers over prod)
        ("one.example.com", "ntp_server", "ntp.prod.example.com", "hosts.yml"),
        ("bar.example.com", "ntp_server", "ntp.web.example.com", "hosts.yml"),
        # group_vars/all over the all group's inline vars
        ("mail.example.com", "proxy", "proxy.group-vars-all.example.com", "group_vars/all.yml"),
    ],
)
def test_precedence_and_origin(host, key, value, origin):
    inv = Inventory(DATA / "inventory/ansible-docs/hosts.yml")
    values, origins = inv.resolve(host)
    assert values[key] == value
    assert origins[key].file.endswith(origin)


def test_host_ranges():
    assert expand_host_pattern("www[01:03].x") == ["www01.x", "www02.x", "www03.x"]
    assert expand_host_pattern("n[a:c]") == ["na", "nb", "nc"]
    assert expand_host_pattern("r[1:5:2]") == ["r1", "r3", "r5"]


def test_select_group_and_unknown():
    inv = Inventory(DATA / "inventory/ansible-docs/hosts.yml")
    assert inv.select("southeast") == ["host1", "host2", "host3"]
    with pytest.raises(UnknownNameError, match="no host or group 'nope'"):
        inv.select("nope")


def test_shipped_inventory_has_simulated_default():
    inv = Inventory(REPO / "inventory/hosts.yml")
    cfg = host_config(inv, "sim")
    assert cfg.labkit_simulate and cfg.connection == "local"
    assert set(cfg.labkit_cameras) == {"context", "right_wrist", "left_wrist"}


def _write(tmp_path, text):
    p = tmp_path / "hosts.yml"
    p.write_text(text)
    return p


def test_literal_become_password_is_refused(tmp_path):
    p = _write(tmp_path, "all:\n  hosts:\n    t:\n      ansible_become_password: hunter2\n")
    with pytest.raises(InventoryError) as err:
        host_config(Inventory(p), "t")
    assert err.value.line == 4 and "reference" in str(err.value)
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize("ref", ["\"{{ lookup('env', 'T_SUDO') }}\"", "env:T_SUDO", "prompt"])
def test_become_password_references(tmp_path, ref):
    p = _write(tmp_path, f"all:\n  hosts:\n    t:\n      ansible_become_password: {ref}\n")
    cfg = host_config(Inventory(p), "t")
    assert cfg.ansible_become_password.kind in ("env", "prompt")


def test_misspelt_labkit_var(tmp_path):
    p = _write(tmp_path, "all:\n  hosts:\n    t:\n      labkit_simluate: true\n")
    with pytest.raises(InventoryError, match="did you mean 'labkit_simulate'") as err:
        host_config(Inventory(p), "t")
    assert err.value.line == 4


def test_bad_group_key(tmp_path):
    p = _write(tmp_path, "all:\n  host:\n    t: {}\n")
    with pytest.raises(InventoryError, match="unknown key 'host'") as err:
        Inventory(p)
    assert err.value.line == 2
