"""The Jinja2 templates a playbook's workload fields are (a command, a pipeline, a
duration): one environment (strict: an unknown name is an error; ``quote`` for the shell)
and one rendering over a plan, whose error names the playbook and the field.
"""

from __future__ import annotations

import shlex

import jinja2

from labkit.errors import ConfigError


def template_env() -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["quote"] = lambda v: shlex.quote(str(v))
    return env


def render_template(plan, text: str, what: str) -> str:
    """A workload field's template for ``plan`` (params, host vars, settings, experiment);
    a template error names the playbook and the field ``workload.<what>``."""
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
