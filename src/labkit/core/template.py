"""The Jinja2 templates a playbook's workload fields are (a command, a pipeline, a
duration): one environment (strict: an unknown name is an error; ``quote`` for the shell)
and one rendering over a plan, whose error names the playbook and the field.

Jinja2 is imported where a template is first read, not with this module: the plug-ins
that use it are imported by every command, and a LeRobot run renders no template (~25 ms
of every ``invoke experiment``'s start-up).
"""

from __future__ import annotations

import functools
import shlex
from typing import TYPE_CHECKING, Any

from labkit.errors import ConfigError

if TYPE_CHECKING:
    import jinja2


def template_env() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 -- start-up time (module docstring)

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["quote"] = lambda v: shlex.quote(str(v))
    return env


def syntax_error(text: str) -> str | None:
    """What is wrong with ``text`` as a template (None: it parses), for a playbook check
    made before any host is known."""
    import jinja2  # noqa: PLC0415 -- start-up time (module docstring)

    try:
        template_env().parse(text)
    except jinja2.TemplateError as exc:
        return str(exc)
    return None


@functools.cache
def _lenient() -> type:
    """An undefined that renders unknown names as nothing (made once, on first use)."""
    import jinja2  # noqa: PLC0415 -- start-up time (module docstring)

    class Lenient(jinja2.Undefined):
        def __str__(self) -> str:
            return ""

        def __iter__(self):
            return iter(())

        def __getattr__(self, name: str):
            return self

    return Lenient


def render_lenient(text: str, **context: Any) -> str | None:
    """``text`` rendered with every unknown name as nothing: enough to read a template's
    shape when the playbook is read, before any host is known; None: it cannot be."""
    import jinja2  # noqa: PLC0415 -- start-up time (module docstring)

    try:
        return jinja2.Environment(undefined=_lenient()).from_string(text).render(**context)
    except (jinja2.TemplateError, TypeError, ValueError):
        return None


def render_template(plan, text: str, what: str) -> str:
    """A workload field's template for ``plan`` (params, host vars, settings, experiment);
    a template error names the playbook and the field ``workload.<what>``."""
    import jinja2  # noqa: PLC0415 -- start-up time (module docstring)

    try:
        return (
            template_env()
            .from_string(text)
            .render(
                params=plan.params,
                host=plan.host_vars or plan.host.model_dump(),
                settings=plan.settings,
                experiment=plan.experiment,
            )
        )
    except jinja2.TemplateError as exc:
        raise ConfigError(
            f"workload {what}: template error: {exc} (experiment {plan.experiment})",
            file=str(plan.playbook.file),
            field=f"workload.{what}",
        ) from None
