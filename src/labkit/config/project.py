"""The project's settings, set once for a team: ``labkit.yml`` beside ``tasks.py``.

Today it holds where runs are kept (``runs: s3://bucket/prefix`` or a folder, relative
to the project); ``--runs`` on a task overrides it. Credentials never go here: an S3
store's endpoint and keys come from the standard AWS environment and config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from labkit.core.yamlsrc import load_file, pydantic_error

FILE = "labkit.yml"
DEFAULT_RUNS = "runs"


class ProjectModel(BaseModel):
    """What ``labkit.yml`` may say."""

    model_config = ConfigDict(extra="forbid")

    runs: str = DEFAULT_RUNS

    @field_validator("runs")
    @classmethod
    def _store(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("empty; expected a folder or s3://bucket/prefix")
        if "://" in value and not value.startswith("s3://"):
            raise ValueError(f"{value!r}: expected a folder or s3://bucket/prefix")
        if value.startswith("s3://") and not value[len("s3://") :].split("/")[0]:
            raise ValueError(f"{value!r}: no bucket; expected s3://bucket/prefix")
        return value


@dataclass
class Project:
    """The project folder and its settings (defaults when it has no ``labkit.yml``)."""

    dir: Path
    runs: str = DEFAULT_RUNS
    file: Path | None = None

    def runs_spec(self) -> str:
        """The run store: an S3 URL as written, a folder relative to the project."""
        if self.runs.startswith("s3://") or Path(self.runs).is_absolute():
            return self.runs
        if self.dir.resolve() == Path.cwd().resolve():
            return self.runs  # as written: messages name it as the user wrote it
        return str(self.dir / self.runs)


def find_project(start: Path | None = None) -> Path:
    """The nearest folder (from ``start`` up) with a ``labkit.yml`` or a ``tasks.py``;
    ``start`` itself when there is none."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / FILE).is_file() or (folder / "tasks.py").is_file():
            return folder
    return start


def load_project(start: Path | None = None) -> Project:
    """The project's settings; a bad ``labkit.yml`` is one error naming its line."""
    folder = find_project(start)
    path = folder / FILE
    if not path.is_file():
        return Project(folder)
    doc = load_file(path)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise doc.error("expected a mapping such as 'runs: s3://bucket/prefix'")
    try:
        model = ProjectModel.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error(doc, exc, ProjectModel) from None
    return Project(folder, model.runs, path)
