"""Playbooks: the experiments of an investigation, its host settings and its hypotheses.

A playbook is YAML validated by pydantic models (structure) and the parameter registry
(``labkit.config.params``: names, types, ranges). Every error names the file, the line and the
field path, and says what was expected.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from labkit.config.params import (
    MONITOR_DEFAULTS,
    MONITOR_PARAMS,
    SETTINGS_DEFAULTS,
    SETTINGS_PARAMS,
    ParamError,
    coerce,
    flatten,
    suggest,
)
from labkit.core.yamlsrc import Located, load_file, pydantic_error
from labkit.errors import PlaybookError, UnknownNameError
from labkit.metric_names import Metric, families_for, family_metric, metrics_for
from labkit.registry import DEFAULT_KIND, DEFAULT_PROBES, PROBES, WORKLOADS, plugin_playbook_vars
from labkit.workloads import Workload
from labkit.workloads.base import MAX_DURATION_S

Strict = ConfigDict(extra="forbid")


class Check(BaseModel):
    """One test of a hypothesis, evaluated on run metrics by the report.

    ``compare``: the variant's metric moved in ``expect`` direction by at least
    ``min_effect`` (relative) against the baseline's. ``every_run``: the metric satisfies
    ``op value`` on every run of ``experiments``. ``rate``: the rate of a count (events
    per minute over the recorded time), pooled over the runs of ``experiments``, is ``op``
    (gt, ge, lt, le) ``value`` by its 95 % interval. ``if_holds``/``if_fails`` say what the
    outcome means for the hypothesis.
    """

    model_config = Strict
    kind: Literal["compare", "every_run", "rate"]
    metric: str
    baseline: str | None = None
    variant: str | None = None
    expect: Literal["lower", "higher"] | None = None
    min_effect: float = Field(default=0.3, ge=0, le=10)
    experiments: list[str] | Literal["all"] = "all"
    op: Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le"] | None = None
    value: Any = None
    if_holds: Literal["supports", "refutes"] = "supports"
    if_fails: Literal["supports", "refutes", "inconclusive"] | None = None
    note: str = ""

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Check:
        if self.kind == "compare":
            missing = [f for f in ("baseline", "variant", "expect") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a compare check needs {', '.join(missing)}")
        elif self.kind == "rate":
            if self.op not in ("gt", "ge", "lt", "le") or not isinstance(self.value, int | float):
                raise ValueError(
                    "a rate check needs op (gt, ge, lt, le) and a number of events per minute "
                    "as value"
                )
        else:
            if self.op is None:
                raise ValueError(
                    "an every_run check needs op (eq, ne, in, not_in, gt, ge, lt, le) and value"
                )
        return self

    def outcome_if_fails(self) -> str:
        if self.if_fails is not None:
            return self.if_fails
        opposite = {"supports": "refutes", "refutes": "supports"}[self.if_holds]
        return opposite if self.kind in ("compare", "rate") else "inconclusive"


class Hypothesis(BaseModel):
    model_config = Strict
    id: str
    title: str
    question: str = ""
    checks: list[Check] = Field(min_length=1)
    conclusion_if_supported: str = ""
    conclusion_if_refuted: str = ""


# Most repeats of one experiment: a playbook's `repeats` and `--repeat` alike (a batch of
# 1000 one-minute runs already takes 17 hours per experiment; more is a typo).
MAX_REPEATS = 1000


class Experiment(BaseModel):
    model_config = Strict
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    repeats: int = Field(default=1, ge=1, le=MAX_REPEATS)
    duration_s: float | None = Field(default=None, gt=0, le=MAX_DURATION_S, allow_inf_nan=False)
    # parameter -> values: one experiment per combination, named <name>-<key><value>
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    # the probes beside this experiment's workload (default: the playbook's) and options
    probes: list[str] | None = None
    probe_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("sweep")
    @classmethod
    def _sweep_lists(cls, sweep: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in sweep.items():
            if not values:
                raise ValueError(f"sweep {key!r} needs at least one value")
            if len({repr(v) for v in values}) < len(values):
                raise ValueError(f"sweep {key!r} repeats a value: {values}")
        return sweep


class Monitor(BaseModel):
    model_config = Strict
    interval_ms: int = Field(default=1000, ge=10, le=60000)


class ReportText(BaseModel):
    model_config = Strict
    scope: str = ""
    reference: str = ""
    setup_notes: list[str] = Field(default_factory=list)
    followups: list[str] = Field(default_factory=list)


class ConfigFile(BaseModel):
    """A config file deployed for the run: a Jinja2 template rendered with host vars."""

    model_config = Strict
    template: str = Field(min_length=1)
    dest: str = Field(pattern=r"^/.+$")
    mode: str = Field(default="0644", pattern=r"^0?[0-7]{3,4}$")
    experiments: list[str] | Literal["all"] = "all"
    # run as root after the file is placed and after it is put back (e.g. udev reload)
    after_change: str = ""


class PlaybookModel(BaseModel):
    model_config = Strict
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    # what an experiment runs: {kind: command, ...} (labkit.workloads); without it,
    # lerobot-record with the parameters under `record:`
    workload: dict[str, Any] | None = None
    record: dict[str, Any] = Field(default_factory=dict)
    # samplers beside the workload (labkit.probes) and their options
    probes: list[str] = Field(default_factory=lambda: list(DEFAULT_PROBES))
    probe_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    monitor: Monitor = Field(default_factory=Monitor)
    files: list[ConfigFile] = Field(default_factory=list)
    experiments: list[Experiment] = Field(min_length=1)
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    report: ReportText = Field(default_factory=ReportText)


class Playbook:
    """A validated playbook with flattened, checked parameters per experiment."""

    def __init__(self, model: PlaybookModel, doc: Located, text_hash: str) -> None:
        self.model = model
        self.doc = doc
        self.file = doc.file
        self.sha256 = text_hash
        self.name = model.name
        self.workload: Workload = _workload(doc, model)
        known = self.workload.params
        self.record = _checked(doc, model.record, ("record",), known)
        self.settings = _checked(
            doc, model.settings, ("settings",), SETTINGS_PARAMS, prefix="settings."
        )
        self.experiments: dict[str, Experiment] = {}
        self.exp_params: dict[str, dict[str, Any]] = {}
        self.param_paths: dict[str, dict[str, tuple]] = {}
        self.exp_settings: dict[str, dict[str, Any]] = {}
        self.sweep_of: dict[str, str] = {}  # expanded sweep point -> the experiment it came from
        self.exp_index: dict[str, int] = {}
        for i, exp in enumerate(model.experiments):
            params = _checked(doc, exp.params, ("experiments", i, "params"), known)
            paths = {
                k: ("experiments", i, "params", *rel)
                for k, (_, rel) in flatten(exp.params, "", known).items()
            }
            if exp.duration_s is not None:
                if self.workload.duration_param is None:
                    raise doc.error(
                        f"duration_s sets the {DEFAULT_KIND} workload's episode time; a "
                        f"{self.workload.kind} workload takes its duration from its params",
                        ("experiments", i, "duration_s"),
                        PlaybookError,
                    )
                params[self.workload.duration_param] = exp.duration_s
            settings = _checked(
                doc,
                exp.settings,
                ("experiments", i, "settings"),
                SETTINGS_PARAMS,
                prefix="settings.",
            )
            for name, extra_p, extra_s, label in _sweep_points(doc, i, exp, known):
                if name in self.experiments:
                    first = self.exp_index[name]
                    raise doc.error(
                        f"duplicate experiment name {name!r} (also experiments[{first}])",
                        ("experiments", i, "name"),
                        PlaybookError,
                    )
                point = exp
                if exp.sweep:
                    self.sweep_of[name] = exp.name
                    desc = f"{exp.description} ({label})" if exp.description else label
                    point = exp.model_copy(update={"name": name, "description": desc})
                self.experiments[name] = point
                self.exp_index[name] = i
                self.exp_params[name] = {**params, **extra_p}
                self.exp_settings[name] = {**settings, **extra_s}
                self.param_paths[name] = {
                    **paths,
                    **{k: ("experiments", i, "sweep", k) for k in extra_p},
                }
        self.probes: dict[str, list[str]] = {}
        self.probe_options: dict[str, dict[str, Any]] = {}
        default_opts = _probe_options(doc, model.probe_options, ("probe_options",))
        _check_probes(doc, model.probes, ("probes",))
        for name, exp in self.experiments.items():
            i = self.exp_index[name]
            if exp.probes is not None:
                _check_probes(doc, exp.probes, ("experiments", i, "probes"))
            self.probes[name] = list(model.probes if exp.probes is None else exp.probes)
            opts = _probe_options(
                doc, exp.probe_options, ("experiments", i, "probe_options"), default_opts
            )
            self.probe_options[name] = opts
        used = sorted({p for names in self.probes.values() for p in names})
        devices = sorted(
            {d for n in self.experiments for d in self.workload.metric_devices(self.params_for(n))}
        )
        self.metrics: dict[str, Metric] = metrics_for(self.workload, used, devices)
        # metrics named after what runs find (runq's busiest threads): a check may name
        # one; the report adds those its runs have (``with_found_metrics``)
        self.metric_families: dict[str, Metric] = families_for(used)
        self._check_references()

    def with_found_metrics(self, run_metrics: list[dict]) -> None:
        """Add the family metrics (``runq_wait_share_<thread>``) these runs computed, in
        the order first found, after the declared ones."""
        for metrics in run_metrics:
            for name in metrics:
                if name not in self.metrics:
                    found = family_metric(self.metric_families, name)
                    if found is not None:
                        self.metrics[name] = found

    @property
    def monitor_interval_ms(self) -> int:
        return self.model.monitor.interval_ms

    def _check_references(self) -> None:
        for hi, hyp in enumerate(self.model.hypotheses):
            for ci, check in enumerate(hyp.checks):
                base = ("hypotheses", hi, "checks", ci)
                metric = check.metric
                found = family_metric(self.metric_families, metric)
                if found is not None and metric not in self.metrics:
                    self.metrics[metric] = found
                if metric not in self.metrics and not metric.startswith("fact."):
                    raise self.doc.error(
                        f"unknown metric {metric!r}{suggest(metric, self.metrics)}; "
                        f"known: {', '.join(self.metrics)} or fact.<name>",
                        (*base, "metric"),
                        PlaybookError,
                    )
                for fname in ("baseline", "variant"):
                    name = getattr(check, fname)
                    if name is not None and name not in self.experiments:
                        raise self.doc.error(
                            f"hypothesis {hyp.id} names unknown experiment {name!r}; "
                            f"experiments are: {', '.join(self.experiments)}",
                            (*base, fname),
                            PlaybookError,
                        )
                if check.experiments != "all":
                    for k, name in enumerate(check.experiments):
                        if name not in self.experiments:
                            raise self.doc.error(
                                f"hypothesis {hyp.id} names unknown experiment {name!r}; "
                                f"experiments are: {', '.join(self.experiments)}",
                                (*base, "experiments", k),
                                PlaybookError,
                            )
        base_dir = Path(self.file).parent
        for fi, f in enumerate(self.model.files):
            if not (base_dir / f.template).is_file():
                raise self.doc.error(
                    f"template {f.template!r} not found (looked in {base_dir})",
                    ("files", fi, "template"),
                    PlaybookError,
                )
            for k, name in enumerate([] if f.experiments == "all" else f.experiments):
                if name not in self.experiments:
                    raise self.doc.error(
                        f"file {f.dest} names unknown experiment {name!r}",
                        ("files", fi, "experiments", k),
                        PlaybookError,
                    )
        ids = [h.id for h in self.model.hypotheses]
        for hi, hid in enumerate(ids):
            if ids.index(hid) != hi:
                raise self.doc.error(
                    f"duplicate hypothesis id {hid!r}", ("hypotheses", hi, "id"), PlaybookError
                )

    def where(self, experiment: str, key: str) -> tuple:
        """YAML path of the value ``key`` has in ``experiment`` (experiment, else record)."""
        if key in self.param_paths.get(experiment, {}):
            return self.param_paths[experiment][key]
        for k, (_, rel) in flatten(self.model.record, "", self.workload.params).items():
            if k == key:
                return ("record", *rel)
        return ("experiments", self.exp_index[experiment])

    def experiment(self, name: str) -> Experiment:
        if not name:
            raise UnknownNameError(
                f"an experiment name is required (--name); experiments in "
                f"{self.file} are: {', '.join(self.experiments)}"
            )
        if name not in self.experiments:
            raise UnknownNameError(
                f"{self.file}: no experiment {name!r}{suggest(name, self.experiments)}; "
                f"experiments are: {', '.join(self.experiments)}"
            )
        return self.experiments[name]

    def files_for(self, name: str) -> list[ConfigFile]:
        self.experiment(name)
        return [f for f in self.model.files if f.experiments == "all" or name in f.experiments]

    def template_path(self, f: ConfigFile) -> Path:
        return Path(self.file).parent / f.template

    def params_for(self, name: str) -> dict[str, Any]:
        """Workload parameters: the kind's defaults < playbook record < experiment params."""
        self.experiment(name)
        return {**self.workload.defaults(), **self.record, **self.exp_params[name]}

    def known_params(self) -> dict[str, Any]:
        """Every key ``--set`` takes for this playbook: the workload's params, settings,
        monitor."""
        return {**self.workload.params, **SETTINGS_PARAMS, **MONITOR_PARAMS}

    def probes_for(self, name: str) -> list[str]:
        self.experiment(name)
        return list(self.probes[name])

    def settings_for(self, name: str) -> dict[str, Any]:
        self.experiment(name)
        merged = {**SETTINGS_DEFAULTS, **self.settings, **self.exp_settings[name]}
        merged["monitor.interval_ms"] = (
            self.monitor_interval_ms or MONITOR_DEFAULTS["monitor.interval_ms"]
        )
        return merged


def _point_suffix(key: str, value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    safe = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in text)
    return f"{key.rsplit('.', 1)[-1]}{safe}"


def _sweep_points(doc: Located, i: int, exp: Experiment, known_params: dict[str, Any]):
    """(name, params, settings, label) of every combination of ``exp.sweep`` (itself if none)."""
    if not exp.sweep:
        yield exp.name, {}, {}, ""
        return
    checked: list[list[tuple[str, Any]]] = []
    for key, values in exp.sweep.items():
        known = SETTINGS_PARAMS if key.startswith("settings.") else known_params
        row = []
        for k, value in enumerate(values):
            try:
                row.append((key, coerce(key, value, known)))
            except ParamError as exc:
                raise doc.error(
                    str(exc), ("experiments", i, "sweep", key, k), PlaybookError
                ) from None
        checked.append(row)
    varied = {key for key, values in exp.sweep.items() if len(values) > 1} or {
        next(iter(exp.sweep))
    }
    for combo in itertools.product(*checked):
        name = "-".join([exp.name, *(_point_suffix(k, v) for k, v in combo if k in varied)])
        params = {k: v for k, v in combo if not k.startswith("settings.")}
        settings = {k: v for k, v in combo if k.startswith("settings.")}
        label = ", ".join(f"{k}={v}" for k, v in combo)
        yield name, params, settings, label


def _checked(
    doc: Located,
    raw: dict[str, Any],
    path: tuple,
    known,
    prefix: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (value, rel) in flatten(raw, prefix, known).items():
        try:
            out[key] = coerce(key, value, known)
        except ParamError as exc:
            # the YAML path of a dotted key is the key itself; of a nested one, its parts
            raise doc.error(str(exc), (*path, *rel), PlaybookError) from None
    return out


def _workload(doc: Located, model: PlaybookModel) -> Workload:
    """The playbook's workload, validated by its kind (lerobot-record without one)."""
    raw = model.workload if model.workload is not None else {"kind": DEFAULT_KIND}
    kind = raw.get("kind")
    if kind not in WORKLOADS:
        hint = suggest(str(kind), WORKLOADS) if kind else ""
        raise doc.error(
            f"unknown workload kind {kind!r}{hint}; expected one of: {', '.join(WORKLOADS)}",
            ("workload", "kind") if kind is not None else ("workload",),
            PlaybookError,
        )
    cls = WORKLOADS[kind]
    if model.record and not cls.record_section:
        raise doc.error(
            f"`record:` holds {DEFAULT_KIND}'s parameters; a {kind} workload takes its "
            "parameters under workload.params",
            ("record",),
            PlaybookError,
        )
    return cls.from_playbook(raw, doc, Path(doc.file).parent)


def _check_probes(doc: Located, names: list[str], path: tuple) -> None:
    for k, name in enumerate(names):
        if name not in PROBES:
            raise doc.error(
                f"unknown probe {name!r}{suggest(name, PROBES)}; known: {', '.join(PROBES)}",
                (*path, k),
                PlaybookError,
            )
        if names.index(name) != k:
            raise doc.error(f"probe {name!r} is named twice", (*path, k), PlaybookError)


def _probe_options(
    doc: Located, raw: dict[str, dict[str, Any]], path: tuple, base: dict | None = None
) -> dict[str, Any]:
    """Probe name -> its validated options (``base``: the playbook's, merged under)."""
    out = dict(base or {})
    for name, values in raw.items():
        if name not in PROBES:
            raise doc.error(
                f"options for unknown probe {name!r}{suggest(name, PROBES)}; "
                f"known: {', '.join(PROBES)}",
                (*path, name),
                PlaybookError,
            )
        model = PROBES[name].Options
        merged = {**(out[name].model_dump() if name in out else {}), **(values or {})}
        try:
            out[name] = model.model_validate(merged)
        except ValidationError as exc:
            raise pydantic_error(doc, exc, model, (*path, name), PlaybookError) from None
    return out


def _pydantic_error(doc: Located, exc: ValidationError, model: type) -> PlaybookError:
    return pydantic_error(doc, exc, model, (), PlaybookError)  # type: ignore[return-value]


def playbook_model() -> type[PlaybookModel]:
    """The playbook's model with the top-level keys the registered kinds own
    (``Workload.playbook_vars``: lerobot-record's ``lerobot_version``)."""
    return _with_plugin_keys(plugin_playbook_vars())


@functools.cache
def _with_plugin_keys(owned: tuple[type[BaseModel], ...]) -> type[PlaybookModel]:
    if not owned:
        return PlaybookModel
    # the core keys first in messages ("expected one of: name, description, ..."), its
    # configuration (extra keys forbidden) last so it wins
    return create_model("PlaybookModel", __base__=(*owned, PlaybookModel))


def load_playbook(path: str | Path) -> Playbook:
    """Load and validate a playbook; every failure is a ``PlaybookError`` with file/line."""
    doc = load_file(path)
    text_hash = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if not isinstance(doc.data, dict):
        raise doc.error(
            "expected a mapping with name, experiments, hypotheses, ...", cls=PlaybookError
        )
    schema = playbook_model()
    try:
        model = schema.model_validate(doc.data)
    except ValidationError as exc:
        raise _pydantic_error(doc, exc, schema) from None
    return Playbook(model, doc, text_hash)
