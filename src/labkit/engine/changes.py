"""Host changes around a run: config files rendered from the playbook's Jinja2 templates
with the host vars, and the settings plan shown one line per setting."""

from __future__ import annotations

from typing import Any

from labkit.errors import LabkitError
from labkit.remote.settings import Change, FileSpec


def render_files(plan, host_vars: dict[str, Any]) -> list[FileSpec]:
    files = plan.playbook.files_for(plan.experiment)
    if not files:
        return []
    # ~45 ms with asyncio: only for playbooks that deploy files
    import jinja2  # noqa: PLC0415

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    out = []
    for f in files:
        path = plan.playbook.template_path(f)
        try:
            tpl = env.from_string(path.read_text())
            content = tpl.render(
                host=host_vars,
                params=plan.params,
                settings=plan.settings,
                experiment=plan.experiment,
            )
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f"{path}:{line}" if line else str(path)
            raise LabkitError(f"{where}: template error: {exc}") from None
        out.append(FileSpec(f.dest, content, f.mode, f.after_change))
    return out


def show_changes(changes: list[Change], say, detail: bool, as_root: bool = False) -> None:
    """One line per setting (before -> after); with ``detail`` its commands and file diff."""
    for c in changes:
        say(f"  {c.describe()}")
        if not detail:
            continue
        for cmd in c.apply:
            say(f"      $ {cmd}{'   (as root)' if c.sudo and as_root else ''}")
        if c.diff:
            say("".join(f"      {line}" for line in c.diff.splitlines(keepends=True)).rstrip())
