"""Ansible-style YAML inventory: groups, children, vars, group_vars/ and host_vars/.

A lab that already keeps an Ansible inventory can point labkit at it. Variables resolve
the way Ansible's default ``VARIABLE_PRECEDENCE`` does, lowest first:

1. inventory vars of ``all``
2. inventory vars of every other group of the host, sorted by (depth, priority, name)
3. ``group_vars/all``
4. ``group_vars/<group>`` in the same group order
5. inventory vars of the host
6. ``host_vars/<host>``

so a child group beats its parent, a host beats its groups, and host_vars beat group_vars.
Every variable remembers the file and line it came from, so a bad value can be reported
where it was written.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.config.params import suggest
from labkit.core.yamlsrc import Located, load_file
from labkit.errors import InventoryError, LabkitError, UnknownNameError

GROUP_KEYS = {"hosts", "children", "vars"}
_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(\d+))?\]")


@dataclass
class Origin:
    """Where a variable's winning value was written."""

    file: str
    line: int | None
    path: tuple = ()  # the variable's field path in ``file``, for nested values' lines

    def line_of(self, sub: tuple) -> int | None:
        """Line of ``sub`` (a path inside this variable's value), re-read from the file."""
        if not sub or not self.file:
            return self.line
        try:
            return load_file(self.file).line_of((*self.path, *sub)) or self.line
        except LabkitError:
            return self.line

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)


@dataclass
class HostEntry:
    name: str
    groups: list[str] = field(default_factory=list)  # direct groups, in order seen
    vars: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)


def expand_host_pattern(pattern: str) -> list[str]:
    """Expand Ansible host ranges: ``db[01:03]`` -> db01, db02, db03; ``n[a:c]`` too."""
    m = _RANGE.search(pattern)
    if not m:
        return [pattern]
    start, end, step = m.group(1), m.group(2), int(m.group(3) or 1)
    head, tail = pattern[: m.start()], pattern[m.end() :]
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        items = [str(i).zfill(width) for i in range(int(start), int(end) + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        letters = string.ascii_letters
        items = list(letters[letters.index(start) : letters.index(end) + 1 : step])
    else:
        raise ValueError(f"invalid host range [{start}:{end}]")
    return [name for item in items for name in expand_host_pattern(head + item + tail)]


# What Ansible skips in an inventory folder (INVENTORY_IGNORE_EXTS and its always-ignored
# names); every other entry is an inventory source, sub-folders too.
IGNORED_NAMES = {"group_vars", "host_vars", "vars_plugins"}
IGNORED_EXTS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst")
IGNORED_EXTS += (".orig", ".cfg", ".retry")
YAML_EXTS = ("", ".yml", ".yaml", ".json")
# A section header (`[thors]`, `[thors:vars]`) at the start of a line: Ansible's INI format.
_INI_SECTION = re.compile(r"^\[[^\]\s,]+\]\s*$", re.M)
INI_HINT = "convert it with `ansible-inventory -i {name} --list -y > {yml}` and pass that file"


def _ini_error(path: Path) -> InventoryError:
    return InventoryError(
        "an INI inventory, not YAML: labkit reads Ansible's YAML format only; "
        + INI_HINT.format(name=path, yml=path.with_suffix(".yml")),
        file=str(path),
    )


def load_inventory_file(path: Path) -> Located:
    """One inventory source as YAML; an INI inventory (``.ini``, or ``[group]`` lines that
    do not parse as a YAML mapping) is refused with the command that converts it."""
    if path.suffix == ".ini":
        raise _ini_error(path)
    try:
        doc = load_file(path)
    except InventoryError:
        raise
    except LabkitError:
        if _looks_ini(path):
            raise _ini_error(path) from None
        raise
    if doc.data is not None and not isinstance(doc.data, dict) and _looks_ini(path):
        raise _ini_error(path)
    return doc


def _looks_ini(path: Path) -> bool:
    try:
        return bool(_INI_SECTION.search(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def inventory_files(folder: Path) -> list[Path]:
    """The inventory files of a folder, in the order ``ansible-inventory -i DIR`` reads
    them: sorted by name, sub-folders recursively, hidden names, ``group_vars``,
    ``host_vars`` and ignored extensions (``.md``, ``.txt``, ``.bak``, ``~`` ...) left out."""
    out: list[Path] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        name = entry.name
        if name.startswith(".") or name in IGNORED_NAMES or name.endswith(IGNORED_EXTS):
            continue
        if entry.is_dir():
            out += inventory_files(entry)
        elif entry.suffix not in YAML_EXTS:
            raise InventoryError(
                "not a YAML inventory (expected .yml, .yaml, .json or no extension; "
                "labkit reads Ansible's YAML format only: for an INI inventory, "
                + INI_HINT.format(name=entry, yml=entry.with_suffix(".yml"))
                + ")",
                file=str(entry),
            )
        else:
            out.append(entry)
    return out


class Inventory:
    """A loaded inventory: groups, hosts and their resolved variables.

    ``path`` is a YAML file or, as with ``ansible-inventory -i DIR``, a folder: every
    inventory file in it (see ``inventory_files``) plus the folder's ``group_vars/`` and
    ``host_vars/``. A file's ``group_vars/`` and ``host_vars/`` sit beside it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
        self.hosts: dict[str, HostEntry] = {}
        self._group_files: dict[str, list[Located]] = {}
        self._host_files: dict[str, list[Located]] = {}
        self._links: dict[tuple[str, str], Origin] = {}  # (parent, child) -> where written
        if self.path.is_dir():
            self.base = self.path
            files = inventory_files(self.path)
        else:
            self.base = self.path.parent
            files = [self.path]
        for f in files:
            self._load(load_inventory_file(f))
        self._link_all()
        self._load_var_dirs()

    # ---- loading -------------------------------------------------------------------
    def _group(self, name: str) -> Group:
        if name not in self.groups:
            self.groups[name] = Group(name)
        return self.groups[name]

    def _load(self, doc: Located) -> None:
        data = doc.data
        if data is None:
            return
        if not isinstance(data, dict):
            raise doc.error(
                "invalid inventory structure: expected a mapping of group names "
                f"(all:, <group>:) at the top level, got {_kind(data)} (Ansible: "
                "'YAML inventory has invalid structure, it should be a dictionary')",
                cls=InventoryError,
            )
        for name, body in data.items():
            self._load_group(doc, str(name), body, (name,))

    def _load_group(self, doc: Located, name: str, body: Any, path: tuple) -> None:
        group = self._group(name)
        if body is None:
            return
        if not isinstance(body, dict):
            raise doc.error(
                f"group {name!r} must be a mapping with hosts/children/vars", path, InventoryError
            )
        for key in body:
            if key not in GROUP_KEYS:
                raise doc.error(
                    f"unknown key {key!r} in group {name!r}; expected one of hosts, children, "
                    "vars (host variables go under hosts.<name> or vars)",
                    (*path, key),
                    InventoryError,
                )
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise doc.error(
                "'hosts' must be a mapping of host names", (*path, "hosts"), InventoryError
            )
        for pattern, hvars in hosts.items():
            hpath = (*path, "hosts", pattern)
            try:
                names = expand_host_pattern(str(pattern))
            except ValueError as exc:
                raise doc.error(str(exc), hpath, InventoryError) from None
            if hvars is not None and not isinstance(hvars, dict):
                raise doc.error("host variables must be a mapping", hpath, InventoryError)
            for hname in names:
                host = self.hosts.setdefault(hname, HostEntry(hname))
                if name not in host.groups:
                    host.groups.append(name)
                if hname not in group.hosts:
                    group.hosts.append(hname)
                for k, v in (hvars or {}).items():
                    _check_var_name(doc, k, (*hpath, k))
                    host.vars[k] = v
                    host.origins[k] = Origin(doc.file, doc.line_of((*hpath, k)), (*hpath, k))
        gvars = body.get("vars") or {}
        if not isinstance(gvars, dict):
            raise doc.error("'vars' must be a mapping", (*path, "vars"), InventoryError)
        for k, v in gvars.items():
            vpath = (*path, "vars", k)
            _check_var_name(doc, k, vpath)
            if k == "ansible_group_priority":
                v = _group_priority(doc, v, vpath)
            group.vars[k] = v
            group.origins[k] = Origin(doc.file, doc.line_of(vpath), vpath)
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise doc.error(
                "'children' must be a mapping of group names", (*path, "children"), InventoryError
            )
        for cname, cbody in children.items():
            cname = str(cname)
            child = self._group(cname)
            if cname not in group.children:
                group.children.append(cname)
            if name not in child.parents:
                child.parents.append(name)
                cpath = (*path, "children", cname)
                self._links[(name, cname)] = Origin(doc.file, doc.line_of(cpath))
            self._load_group(doc, cname, cbody, (*path, "children", cname))

    def _link_all(self) -> None:
        all_ = self.groups["all"]
        for gname, group in self.groups.items():
            if gname != "all" and not group.parents:
                group.parents.append("all")
                if gname not in all_.children:
                    all_.children.append(gname)
        # "ungrouped" first among all's children, as Ansible lists it
        all_.children.sort(key=lambda g: g != "ungrouped")
        for hname, host in self.hosts.items():
            direct = [g for g in host.groups if g not in ("all", "ungrouped")]
            if not direct and hname not in self.groups["ungrouped"].hosts:
                self.groups["ungrouped"].hosts.append(hname)
                host.groups = ["ungrouped"]
            elif direct:
                host.groups = direct
        for name in self.groups:
            self._check_cycle(name, [])

    def _check_cycle(self, name: str, trail: list[str]) -> None:
        """``trail``: the groups walked so far, each a parent of the one before it."""
        if name in trail:
            loop = [*trail[trail.index(name) :], name][::-1]  # parent -> child -> ...
            parent, child = loop[-2], loop[-1]
            where = self._links.get((parent, child), Origin(str(self.path), None))
            raise InventoryError(
                f"adding group {child!r} as child to {parent!r} creates a recursive "
                f"dependency loop ({' -> '.join(loop)}); remove one of these children",
                file=where.file,
                line=where.line,
                field=f"{parent}.children.{child}",
            )
        for parent in self.groups[name].parents:
            self._check_cycle(parent, [*trail, name])

    def _load_var_dirs(self) -> None:
        base = self.base
        for kind, target in (("group_vars", self._group_files), ("host_vars", self._host_files)):
            folder = base / kind
            if not folder.is_dir():
                continue
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    name = entry.name
                    files = sorted(p for p in entry.rglob("*") if _is_vars_file(p))
                elif _is_vars_file(entry):
                    name = entry.stem if entry.suffix in (".yml", ".yaml", ".json") else entry.name
                    files = [entry]
                else:
                    continue
                for f in files:
                    doc = load_file(f)
                    if doc.data is None:
                        continue
                    if not isinstance(doc.data, dict):
                        raise doc.error("expected a mapping of variables", cls=InventoryError)
                    for k in doc.data:
                        _check_var_name(doc, k, (k,))
                    target.setdefault(name, []).append(doc)

    # ---- queries -------------------------------------------------------------------
    def depth(self, name: str) -> int:
        parents = self.groups[name].parents
        return 0 if not parents else 1 + max(self.depth(p) for p in parents)

    def ancestors(self, host: str) -> list[str]:
        """All groups a host belongs to, directly or through parents, except ``all``."""
        seen: list[str] = []
        stack = list(self.hosts[host].groups)
        while stack:
            g = stack.pop()
            if g in seen or g == "all":
                continue
            seen.append(g)
            stack.extend(self.groups[g].parents)
        return seen

    def _sorted_groups(self, names: list[str]) -> list[str]:
        def key(n: str) -> tuple[int, int, str]:
            prio = self.groups[n].vars.get("ansible_group_priority", 1)
            return (self.depth(n), prio, n)  # a whole number, checked when read

        return sorted(names, key=key)

    def resolve(self, host: str) -> tuple[dict[str, Any], dict[str, Origin]]:
        """Resolved variables of ``host`` and where each winning value came from."""
        if host not in self.hosts:
            raise UnknownNameError(
                f"{self.path}: no host {host!r}{suggest(host, self.hosts)}; "
                f"hosts are: {', '.join(self.hosts) or 'none'}"
            )
        values: dict[str, Any] = {}
        origins: dict[str, Origin] = {}

        def put(src: dict[str, Any], src_origins: dict[str, Origin] | None, doc: Located | None):
            for k, v in src.items():
                values[k] = v
                if doc is not None:
                    origins[k] = Origin(doc.file, doc.line_of((k,)), (k,))
                elif src_origins is not None:
                    origins[k] = src_origins[k]

        groups = self._sorted_groups(self.ancestors(host))
        put(self.groups["all"].vars, self.groups["all"].origins, None)
        for g in groups:
            put(self.groups[g].vars, self.groups[g].origins, None)
        for doc in self._group_files.get("all", []):
            put(doc.data, None, doc)
        for g in groups:
            for doc in self._group_files.get(g, []):
                put(doc.data, None, doc)
        entry = self.hosts[host]
        put(entry.vars, entry.origins, None)
        for doc in self._host_files.get(host, []):
            put(doc.data, None, doc)
        return values, origins

    def select(self, pattern: str) -> list[str]:
        """Hosts named by ``pattern``: a host name or a group name (``all`` included)."""
        if pattern in self.hosts:
            return [pattern]
        if pattern in self.groups:
            out: list[str] = []
            stack = [pattern]
            while stack:
                g = self.groups[stack.pop(0)]
                out.extend(h for h in g.hosts if h not in out)
                stack.extend(g.children)
            if pattern == "all":
                out.extend(h for h in self.hosts if h not in out)
            return out
        hint = suggest(pattern, [*self.hosts, *self.groups])
        groups = [g for g in self.groups if g not in ("all", "ungrouped")]
        raise UnknownNameError(
            f"{self.path}: no host or group {pattern!r}{hint}"
            f"; hosts: {', '.join(self.hosts) or 'none'}; groups: {', '.join(groups) or 'none'}"
        )

    def to_ansible_list(self) -> dict[str, Any]:
        """The shape ``ansible-inventory --list`` prints, for side-by-side comparison."""
        out: dict[str, Any] = {"_meta": {"hostvars": {}, "profile": "inventory_legacy"}}
        for h in self.hosts:
            hv, _ = self.resolve(h)
            if hv:
                out["_meta"]["hostvars"][h] = hv
        seen: set[str] = set()

        def fmt(name: str) -> None:
            g = self.groups[name]
            body: dict[str, Any] = {}
            if name != "all" and g.hosts:
                body["hosts"] = list(g.hosts)
            if g.children:
                body["children"] = list(g.children)
            for child in g.children:
                if child not in seen:
                    seen.add(child)
                    fmt(child)
            if body:
                out[name] = body

        fmt("all")
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_ansible_list(), indent=4, sort_keys=False, default=str)


def _check_var_name(doc: Located, key: Any, path: tuple) -> None:
    """Ansible's variable names are strings; YAML reads ``on:``/``yes:``/``true:`` unquoted
    as booleans and ``1:`` as a number."""
    if isinstance(key, str):
        return
    raise InventoryError(
        f"invalid variable name {key!r} ({_kind(key)}): variable names must be strings, "
        "as in Ansible; quote it in the YAML (e.g. 'on': ...), since unquoted on/off/yes/"
        "no/true/false read as booleans and digits as numbers",
        file=doc.file,
        line=doc.line_of(path),
        field=".".join(str(p) for p in path),
    )


def _group_priority(doc: Located, value: Any, path: tuple) -> int:
    """``ansible_group_priority``: a whole number (Ansible applies ``int()`` to it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    raise doc.error(
        f"ansible_group_priority is {value!r}; expected a whole number (groups of the same "
        "depth are merged in priority order, higher wins; default 1)",
        path,
        InventoryError,
    )


def _is_vars_file(p: Path) -> bool:
    return p.is_file() and (p.suffix in (".yml", ".yaml", ".json") or p.suffix == "")


def _kind(data: Any) -> str:
    kinds = {list: "a list", str: "a string", int: "a number", float: "a number"}
    return {**kinds, bool: "a boolean"}.get(type(data), type(data).__name__)
