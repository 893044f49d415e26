"""labkit's command line: thin Invoke tasks over the ``labkit`` package.

Run ``invoke --list`` for the tasks and ``invoke <task> --help`` for their options.
"""

from invoke import Task
from invoke import task as invoke_task

from labkit import cli

cli.quiet_when_reader_leaves()  # `invoke --list | head -3`: no BrokenPipeError traceback
cli.quick_exit()  # no last garbage collection over pandas' objects after the last line

# One set of short flags for every task (an option a task does not have is not there).
SHORT = {
    "check": "c",
    "inventory": "i",
    "json": "j",
    "name": "n",
    "out": "o",
    "playbook": "p",
    "runs": "r",
    "set_": "s",
    "target": "t",
    "verbose": "v",
}
# Ansible's spellings, accepted beside labkit's own: `--limit thors`, `--extra-vars k=v`
ALIASES = {"target": "limit", "set_": "extra_vars"}


class LabkitTask(Task):
    """An Invoke task whose short flags come from ``SHORT``, the same in every task."""

    def arg_opts(self, name, default, taken_names):
        opts = super().arg_opts(name, default, taken_names)
        if name in SHORT:
            opts["names"] = [opts["names"][0], SHORT[name]]
        if name in ALIASES:
            opts["names"] = [*opts["names"], ALIASES[name]]
        return opts


def task(**kwargs):
    """``@task`` with labkit's short flags and no positional arguments: every option is a
    flag, so ``invoke import --help`` is help, not a value. Numbers are taken as text and
    checked by ``labkit.cli`` (a one-line error, exit 2) instead of by Invoke's parser."""
    return invoke_task(klass=LabkitTask, auto_shortflags=False, positional=[], **kwargs)


RUNS_HELP = "run store: a folder or s3://bucket/prefix (default: labkit.yml's runs, else runs/)"
INV = {"inventory": "inventory file or folder (Ansible YAML format)"}
PB = {"playbook": "playbook file with experiments and hypotheses"}
# host tasks that run no workload read no playbook; they take the option so a command line
# shared with `invoke experiment` (--target, --inventory, --playbook) works as it is
PB_UNREAD = {"playbook": "not read: this task runs no workload (accepted like the others')"}


@task(help={**INV, "json": "print the same JSON shape as `ansible-inventory --list`"})
def hosts(c, inventory=cli.DEFAULT_INVENTORY, json=False):
    """List inventory hosts, groups and their resolved variables."""
    cli.guard(cli.hosts, inventory=inventory, as_json=json)


@task(help=PB)
def experiments(c, playbook=cli.DEFAULT_PLAYBOOK):
    """List the experiments and hypotheses of a playbook."""
    cli.guard(cli.experiments, playbook=playbook)


@task(
    iterable=["set_"],
    help={
        "name": "experiment name from the playbook (e.g. exp2b)",
        "target": "inventory host to run on (default: sim, the simulated Jetson)",
        "set": "override a parameter, LeRobot dotted names: --set dataset.fps=25 (repeatable)",
        **INV,
        **PB,
    },
)
def plan(
    c,
    name,
    target=cli.DEFAULT_TARGET,
    playbook=cli.DEFAULT_PLAYBOOK,
    inventory=cli.DEFAULT_INVENTORY,
    set_=None,
):
    """Print a fully resolved experiment (commands, settings, log paths); touches nothing."""
    cli.guard(cli.plan, name, target=target, playbook=playbook, inventory=inventory, sets=set_)


VERBOSE = {"verbose": "show each remote command with its time and exit code (as LABKIT_TRACE=1)"}
RUN_HELP = {
    "name": "experiment name from the playbook (e.g. exp2b)",
    "target": "inventory host to run on (default: sim, the simulated Jetson)",
    "set": "override a parameter: --set dataset.fps=25, --set settings.cpu_governor=performance",
    "runs": RUNS_HELP,
    "repeat": "run the experiment N times in a row",
    "check": "print every planned change (before -> after, diffs, commands); touch nothing",
    "detach": "start the run and return; `invoke collect` brings it back later",
    **INV,
    **PB,
    **VERBOSE,
}


@task(iterable=["set_"], help=RUN_HELP)
def experiment(
    c,
    name,
    target=cli.DEFAULT_TARGET,
    playbook=cli.DEFAULT_PLAYBOOK,
    inventory=cli.DEFAULT_INVENTORY,
    set_=None,
    runs=cli.DEFAULT_RUNS,
    repeat=None,
    check=False,
    detach=False,
    verbose=False,
):
    """Run one experiment on a host: settings, tegrastats + lerobot-record, logs pulled back."""
    cli.guard(
        cli.experiment,
        name,
        target=target,
        playbook=playbook,
        inventory=inventory,
        sets=set_,
        runs=runs,
        repeat=repeat,
        check=check,
        detach=detach,
        verbose=verbose,
    )


TARGET = {"target": "inventory host (default: sim, the simulated Jetson)"}


@task(
    help={
        **TARGET,
        **INV,
        **PB_UNREAD,
        **VERBOSE,
        "json": "print the facts as one JSON object (sorted keys)",
    }
)
def facts(
    c,
    target=cli.DEFAULT_TARGET,
    inventory=cli.DEFAULT_INVENTORY,
    playbook=None,
    json=False,
    verbose=False,
):
    """Gather a host's facts: L4T, kernel, nvpmodel, CPUs, lerobot, cameras, USB, disk."""
    cli.guard(
        cli.facts,
        target=target,
        inventory=inventory,
        as_json=json,
        verbose=verbose,
    )


@task(
    name="setup-host",
    iterable=["set_"],
    help={
        **TARGET,
        "name": "experiment whose settings and files to apply (default: the playbook's first)",
        "set": "override a setting: --set settings.cpu_governor=performance (repeatable)",
        "check": "print what would change (before -> after, diffs, commands); touch nothing",
        **INV,
        **PB,
        **VERBOSE,
    },
)
def setup_host(
    c,
    target=cli.DEFAULT_TARGET,
    name=None,
    playbook=cli.DEFAULT_PLAYBOOK,
    inventory=cli.DEFAULT_INVENTORY,
    set_=None,
    check=False,
    verbose=False,
):
    """Apply a playbook's host settings and config files and keep them (no restore)."""
    cli.guard(
        cli.setup_host,
        target=target,
        name=name,
        playbook=playbook,
        inventory=inventory,
        sets=set_,
        check=check,
        verbose=verbose,
    )


@task(
    help={
        **TARGET,
        **INV,
        **PB_UNREAD,
        "setup": "also put back what `invoke setup-host` changed (the values before it)",
        **VERBOSE,
    }
)
def restore(
    c,
    target=cli.DEFAULT_TARGET,
    inventory=cli.DEFAULT_INVENTORY,
    playbook=None,
    setup=False,
    verbose=False,
):
    """Put back the settings a dead run left changed on a host (--setup: and what
    setup-host changed), and clear its lock."""
    cli.guard(
        cli.restore,
        target=target,
        inventory=inventory,
        setup=setup,
        verbose=verbose,
    )


@task(help={"runs": RUNS_HELP})
def push(c, runs=cli.DEFAULT_RUNS):
    """Upload the runs a shared (S3) run store has not received yet; safe to repeat."""
    cli.guard(cli.push, runs=runs)


@task(help={**TARGET, **INV, **PB_UNREAD, **VERBOSE, "runs": RUNS_HELP})
def collect(
    c,
    target=cli.DEFAULT_TARGET,
    inventory=cli.DEFAULT_INVENTORY,
    playbook=None,
    runs=cli.DEFAULT_RUNS,
    verbose=False,
):
    """Pull finished runs left on a host (after --detach or a lost connection); restore it."""
    cli.guard(
        cli.collect,
        target=target,
        inventory=inventory,
        runs=runs,
        verbose=verbose,
    )


@task(
    name="import",
    help={
        "logs": "folder with <experiment>_record.log and <experiment>_tegrastats.log files "
        "(and its subfolders, one level down)",
        "runs": RUNS_HELP,
        "jobs": "processes that parse the logs (default: one per CPU)",
        **PB,
    },
)
def import_(c, logs=None, playbook=cli.DEFAULT_PLAYBOOK, runs=cli.DEFAULT_RUNS, jobs=None):
    """Import hand-run logs (the seed's layout) into the run store as complete runs."""
    cli.guard(cli.import_logs, logs, playbook=playbook, runs=runs, jobs=jobs)


@task(
    help={
        **PB,
        "runs": RUNS_HELP,
        "out": "folder for <playbook>.md and <playbook>/ (default: reports/)",
        "template": "your own Jinja2 template instead of the shipped one",
        "include_incomplete": "count failed and interrupted runs in the numbers too",
    }
)
def report(
    c,
    playbook=cli.DEFAULT_PLAYBOOK,
    runs=cli.DEFAULT_RUNS,
    out="reports",
    template=None,
    include_incomplete=False,
):
    """Render the investigation report (Markdown, figures, CSV, JSON) from the run store."""
    cli.guard(
        cli.report,
        playbook=playbook,
        runs=runs,
        out=out,
        template=template,
        include_incomplete=include_incomplete,
    )


@task(
    name="runs",
    help={
        "runs": RUNS_HELP,
        "name": "only this experiment's runs",
        "status": "only runs with this status (complete, failed, ..., unreadable)",
        "since": "only runs started since a date or time (2026-12-01) or a span (2h, 3d)",
        "json": "print the runs as one JSON array (an object per run)",
    },
)
def runs_(c, runs=cli.DEFAULT_RUNS, name=None, status=None, since=None, json=False):
    """List the run store: experiment, configuration, host, status, start, length, headline."""
    cli.guard(cli.list_runs, runs=runs, name=name, status=status, since=since, as_json=json)


@task(
    iterable=["set_"],
    help={
        **PB,
        **INV,
        "target": "inventory host or group (default: sim)",
        "runs": RUNS_HELP,
        "only": "comma-separated experiments (a sweep's name selects all its points)",
        "repeat": "runs per experiment (default: each experiment's `repeats`, else 1)",
        "order": "interleaved (default: exp1, exp2, ..., exp1, exp2, ...), as-written or random",
        "seed": "seed for --order random (default: a fresh one, printed and recorded)",
        "forks": "hosts run in parallel (default 5)",
        "fail_fast": "stop every host (each restored) at the first failed run",
        "force": "run again what the store already has complete",
        "check": "print the runs per host in order, and what is already done; run nothing",
        "set": "override a parameter for every run: --set dataset.fps=25 (repeatable)",
        "until_decided": "run in rounds until every compare check the experiments reach is "
        "decided (each look at 5 % split over the looks)",
        "max_runs": "with --until-decided: most runs per experiment (default 10)",
        **VERBOSE,
    },
)
def batch(
    c,
    playbook=cli.DEFAULT_PLAYBOOK,
    target=cli.DEFAULT_TARGET,
    inventory=cli.DEFAULT_INVENTORY,
    runs=cli.DEFAULT_RUNS,
    only=None,
    repeat=None,
    order="interleaved",
    seed=None,
    forks=None,
    fail_fast=False,
    force=False,
    check=False,
    set_=None,
    verbose=False,
    until_decided=False,
    max_runs=None,
):
    """Run a playbook's experiments x repeats x sweeps on one or many hosts, resumably."""
    cli.guard(
        cli.batch,
        playbook=playbook,
        target=target,
        inventory=inventory,
        runs=runs,
        only=only,
        repeat=repeat,
        order=order,
        seed=seed,
        forks=forks,
        fail_fast=fail_fast,
        force=force,
        check=check,
        sets=set_,
        verbose=verbose,
        until_decided=until_decided,
        max_runs=max_runs,
    )
