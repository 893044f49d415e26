"""The shared run store on a real S3-compatible server (SeaweedFS on 127.0.0.1): runs
uploaded record last, concurrent writers, an upload cut off by the server stopping and
pushed later, and the report from S3 the same as from the same runs on disk."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import s3fs

from labkit import cli
from labkit.config.playbook import load_playbook
from labkit.records import s3 as s3mod
from labkit.records.backends import PUSHED, open_store
from labkit.records.metrics_cache import input_sizes, read_stored
from labkit.records.model import read_record
from labkit.records.s3 import S3Runs
from labkit.records.store import write_manifest
from labkit.study.importer import import_logs
from tests.conftest import DATA, REPO
from tests.labhost import env, invoke_argv, ssh_host, trust, wait_for, write_inventory
from tests.runrecord import run_record
from tests.s3server import WeedS3
from tests.seedlogs import SEED, write_seed_logs

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"
E2E = DATA / "playbooks" / "e2e"


@pytest.fixture(scope="module")
def weed(tmp_path_factory):
    server = WeedS3(tmp_path_factory.mktemp("weed"))
    server.start()
    yield server
    server.stop(keep=False)  # its data goes with its temp dir


@pytest.fixture
def s3(weed, monkeypatch, tmp_path):
    """This test's store: a fresh prefix; the AWS variables set as a workstation would; a
    project folder of its own as the working directory (its staging folder is there)."""
    for key, value in weed.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return f"s3://labkit-runs/{tmp_path.name}"


def seed_logs(folder: Path, names=("exp1", "exp2b", "exp3")) -> Path:
    for name in names:
        hz, target = SEED[name]
        write_seed_logs(folder, name, hz, target)
    return folder


def when(report: str) -> str:
    """The report with the time it was generated taken out."""
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "<generated>", report)


def quiet(_msg: str) -> None:
    pass


def puts(monkeypatch, before=None) -> list[str]:
    """Every object key uploaded from now on, in order (s3fs's own put, wrapped);
    ``before(n)`` is called before the n-th upload (0-based) is sent."""
    sent: list[str] = []
    real = s3fs.S3FileSystem.put_file

    def put_file(self, lpath, rpath, *args, **kwargs):
        if before is not None:
            before(len(sent))
        out = real(self, lpath, rpath, *args, **kwargs)
        sent.append(rpath)
        return out

    monkeypatch.setattr(s3fs.S3FileSystem, "put_file", put_file)
    return sent


def local_files(run_dir: Path) -> set[str]:
    """A run's files by their path in it, its folders' too, hidden ones left out."""
    return {
        p.relative_to(run_dir).as_posix()
        for p in run_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(run_dir).parts)
    }


def test_import_uploads_every_run_record_last_and_a_second_push_sends_nothing(
    s3, tmp_path, monkeypatch
):
    logs = seed_logs(tmp_path / "logs")
    sent = puts(monkeypatch)
    added = cli.import_logs(str(logs), playbook=str(PLAYBOOK), runs=s3, out=io.StringIO())
    store = open_store(s3, Path.cwd())
    listing = store.remote.listing()
    assert sorted(run_id for _, run_id in listing) == sorted(m.run_id for m in added)
    for (exp, run_id), files in listing.items():
        local = store.local / exp / run_id
        assert (local / PUSHED).exists()  # uploaded as it is: not pending
        assert set(files) == local_files(local)
        assert "metrics.json" in files  # computed once, at import: it travels with the run
        # the record is the run's last object sent
        mine = [key.rsplit(f"/{run_id}/", 1)[1] for key in sent if f"/{run_id}/" in key]
        assert sorted(mine) == sorted(files) and mine[-1] == "manifest.json", mine
    # uploading again sends the same keys and nothing new
    assert store.pending() == ([], [])
    again = store.push(say=quiet)
    assert again.uploaded == [] and store.remote.uploads == 0


def test_a_large_file_sent_in_parts_is_not_sent_again(s3, tmp_path, monkeypatch):
    """A file s3fs uploads in parts (a dataset's video) gets an ETag that is not its MD5:
    a second upload of the run still sends nothing, and a changed file is sent again."""
    monkeypatch.setattr(s3mod, "PART_SIZE", 5 * 2**20)  # S3's smallest part: a small test
    run_dir = tmp_path / "exp1" / "r1"
    (run_dir / "videos").mkdir(parents=True)
    video = run_dir / "videos" / "front.mp4"
    video.write_bytes(os.urandom(11 * 2**20))  # three parts
    write_manifest(run_dir, run_record(status="complete"))
    remote = S3Runs(s3)
    remote.ensure_bucket()
    assert remote.upload_run(run_dir, "exp1", "r1") == 2
    etag = remote.run_files("exp1", "r1")["videos/front.mp4"].etag
    assert etag.endswith("-3")  # it went up in parts, as a large file does
    assert remote.upload_run(run_dir, "exp1", "r1") == 0
    with video.open("r+b") as fh:
        fh.write(b"x")  # the same size, other content
    assert remote.upload_run(run_dir, "exp1", "r1") == 1


def test_a_run_s_files_in_folders_reach_the_store_and_the_mirror(s3, tmp_path, monkeypatch):
    """The same layout in both: a run's ``dataset/meta/`` files as well as its own."""
    runs = tmp_path / "disk"
    import_logs(seed_logs(tmp_path / "logs", ("exp1",)), load_playbook(PLAYBOOK), runs, quiet)
    (run_dir,) = [p.parent for p in runs.glob("*/*/manifest.json")]
    nested = run_dir / "dataset" / "meta" / "info.json"
    nested.parent.mkdir(parents=True)
    nested.write_text('{"fps": 30}\n')
    (run_dir / "dataset" / ".hidden").write_text("this workstation's\n")
    remote = S3Runs(s3)
    remote.ensure_bucket()
    exp, run_id = run_dir.parent.name, run_dir.name
    remote.upload_run(run_dir, exp, run_id)
    files = remote.listing()[(exp, run_id)]
    assert set(files) == local_files(run_dir) and "dataset/meta/info.json" in files
    assert set(remote.run_files(exp, run_id)) == set(files)
    mirror = open_store(s3, Path.cwd()).read_dir(say=quiet)
    assert local_files(mirror / exp / run_id) == set(files)
    assert (mirror / exp / run_id / "dataset/meta/info.json").read_text() == '{"fps": 30}\n'
    assert remote.upload_run(run_dir, exp, run_id) == 0  # all there already
    # with its metrics stored, a mirror leaves the folders' files in the store until read
    cli.store_metrics(run_dir, read_record(run_dir / "manifest.json"))
    assert remote.upload_run(run_dir, exp, run_id) == 1
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "lazy-cache"))
    lazy = open_store(s3, Path.cwd())
    got = lazy.read_dir(say=quiet) / exp / run_id
    assert local_files(got) == {"manifest.json", "metrics.json"}
    lazy.fetch(got)
    assert local_files(got) == set(remote.listing()[(exp, run_id)])
    assert (got / "dataset/meta/info.json").read_text() == '{"fps": 30}\n'


def test_a_run_record_is_what_makes_it_visible(s3, tmp_path):
    """A run whose files are there but whose record is not (an upload cut short) is not
    seen by a reader; once its record lands it is."""
    runs = tmp_path / "disk"
    import_logs(seed_logs(tmp_path / "logs", ("exp1",)), load_playbook(PLAYBOOK), runs, quiet)
    (run_dir,) = [p.parent for p in runs.glob("*/*/manifest.json")]
    remote = S3Runs(s3)
    remote.ensure_bucket()
    exp, run_id = run_dir.parent.name, run_dir.name
    remote.fs.put_file(str(run_dir / "record.log"), f"{remote._path(exp, run_id, 'record.log')}")
    store = open_store(s3, Path.cwd())
    mirror = store.read_dir(say=quiet)
    assert list(mirror.glob("*/*/manifest.json")) == []
    # a bucket nobody wrote to yet: no runs, not an error
    assert open_store("s3://labkit-no-such-bucket/x", Path.cwd()).remote.listing() == {}
    remote.upload_run(run_dir, exp, run_id)
    mirror = store.read_dir(say=quiet)
    assert [p.parent.name for p in mirror.glob("*/*/manifest.json")] == [run_id]
    assert (mirror / exp / run_id / "record.log").read_bytes() == (
        run_dir / "record.log"
    ).read_bytes()


WRITER = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path
    from labkit.records.backends import open_store
    from labkit.records.model import RunRecord
    from labkit.records.store import load_manifest, new_run_id, write_manifest

    template, project, url, writer, n = sys.argv[1:6]
    template = Path(template)
    store = open_store(url, Path(project))
    made = []
    for i in range(int(n)):
        run_id = new_run_id("sim")  # both workstations run on hosts named sim
        run_dir = store.local / template.parent.name / run_id
        shutil.copytree(template, run_dir)
        record = load_manifest(run_dir)
        mine = {"run_id": run_id, "writer": writer, "index": i}
        write_manifest(run_dir, RunRecord.model_validate(record.as_dict() | mine))
        assert store.publish(run_dir, say=lambda m: None), run_id
        made.append(run_id)
    print(json.dumps(made))
    """
)


@pytest.mark.slow
def test_two_workstations_writing_at_once_lose_nothing(s3, tmp_path):
    runs = tmp_path / "template"
    import_logs(seed_logs(tmp_path / "logs", ("exp1",)), load_playbook(PLAYBOOK), runs, quiet)
    (template,) = [p.parent for p in runs.glob("*/*/manifest.json")]
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    n = 12
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", WRITER, str(template), str(tmp_path / name), s3, name, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("ws1", "ws2")
    }
    made = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        made[name] = json.loads(out)
    assert len(set(made["ws1"]) | set(made["ws2"])) == 2 * n  # ids unique per workstation
    mirror = open_store(s3, Path.cwd()).read_dir(say=quiet)
    seen = {p.parent.name: json.loads(p.read_text()) for p in mirror.glob("*/*/manifest.json")}
    assert sorted(seen) == sorted(made["ws1"] + made["ws2"])
    for name, ids in made.items():
        for i, run_id in enumerate(ids):
            assert (seen[run_id]["writer"], seen[run_id]["index"]) == (name, i)
            staged = tmp_path / name / ".labkit" / "staging"
            (local,) = staged.glob(f"*/*/exp1/{run_id}/manifest.json")
            assert json.loads(local.read_text()) == seen[run_id]  # nobody overwrote it


@pytest.mark.slow
def test_an_upload_cut_off_by_the_store_stopping_is_kept_and_pushed_later(
    s3, weed, tmp_path, monkeypatch
):
    """The server stops in the middle of the first run's upload (after its second object):
    both runs stay complete locally and pending, the half-sent run is invisible to a
    reader (no record), and a push once it is back sends the rest, not what got there."""
    logs = seed_logs(tmp_path / "logs", ("exp1", "exp3"))
    store = open_store(s3, Path.cwd())

    stopped = []

    def stop_at_third(n: int) -> None:
        if n == 2 and not stopped:  # once: the push after the restart goes through
            stopped.append(n)
            weed.stop()

    sent = puts(monkeypatch, stop_at_third)
    try:
        said = io.StringIO()
        added = cli.import_logs(str(logs), playbook=str(PLAYBOOK), runs=s3, out=said)
        out = said.getvalue()
        assert "not uploaded" in out and "2 still pending" in out, out
        assert len(sent) == 2  # cut off mid-run: two objects in, no record
        waiting, unfinished = store.pending()
        assert len(waiting) == 2 and unfinished == []
        for run_dir in waiting:  # complete locally: the record and the logs
            assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"
            assert (run_dir / "record.log").stat().st_size > 0
        with pytest.raises(Exception) as exc:  # a push while it is still away: exit 1
            cli.push(runs=s3, out=said)
        assert getattr(exc.value, "code", None) == 1
        assert len(store.pending()[0]) == 2
    finally:
        weed.start()
    half = [k for k, files in store.remote.listing().items() if "manifest.json" not in files]
    assert len(half) == 1  # the cut-off run's objects are there, its record is not
    assert list(store.read_dir(say=quiet).glob("*/*/manifest.json")) == []  # so unseen
    before = len(sent)
    result = cli.push(runs=s3, out=said)
    assert len(result.uploaded) == 2 and result.failed == []
    assert store.pending() == ([], [])
    listing = store.remote.listing()
    assert sorted(r for _, r in listing) == sorted(m.run_id for m in added)
    total = sum(len(files) for files in listing.values())
    assert len(sent) - before == total - 2  # what got there before the cut is not re-sent
    # and again: nothing to send
    assert cli.push(runs=s3, out=said).uploaded == []


@pytest.mark.slow
def test_report_from_s3_equals_the_report_from_disk_and_a_second_downloads_nothing(s3, tmp_path):
    logs = seed_logs(tmp_path / "logs", tuple(SEED))
    hz, target = SEED["exp1"]
    write_seed_logs(tmp_path / "logs-2", "exp1", hz, target, stop_s=55)  # exp1 once more
    disk = tmp_path / "disk"
    sink = io.StringIO()
    for folder in (logs, tmp_path / "logs-2"):
        cli.import_logs(str(folder), playbook=str(PLAYBOOK), runs=str(disk), out=sink)
        cli.import_logs(str(folder), playbook=str(PLAYBOOK), runs=s3, out=sink)
    cli.report(playbook=str(PLAYBOOK), runs=str(disk), out=str(tmp_path / "from-disk"), stdout=sink)
    cli.report(playbook=str(PLAYBOOK), runs=s3, out=str(tmp_path / "from-s3"), stdout=sink)
    name = PLAYBOOK.stem
    a = (tmp_path / "from-disk" / f"{name}.md").read_text()
    b = (tmp_path / "from-s3" / f"{name}.md").read_text()
    assert "exp1" in a and len(a) > 1000
    assert when(a) == when(b)  # the same report, but for the minute it was made
    tables = sorted((tmp_path / "from-disk" / name).glob("*.csv")) + [
        tmp_path / "from-disk" / name / "hypotheses.json"
    ]
    assert len(tables) >= 2 and (tmp_path / "from-disk" / name / "summary.csv") in tables
    for table in tables:
        assert table.read_text() == (tmp_path / "from-s3" / name / table.name).read_text()
    # the report read a run's logs only where a figure draws it: one exp1 run at least
    # is in the cache by its record and metrics alone, and reported all the same
    mirror = Path(os.environ["LABKIT_CACHE_DIR"]) / "stores" / "labkit-runs" / tmp_path.name
    lazy = [p.parent for p in mirror.glob("*/*/.not-fetched.json")]
    assert lazy and not any((r / "record.log").exists() for r in lazy)
    assert len(list(mirror.glob("*/*/manifest.json"))) == len(SEED) + 1
    # a second report: everything it read is in the cache already
    store = open_store(s3, Path.cwd())
    store.read_dir(say=quiet)
    assert store.remote.downloads == 0
    said = io.StringIO()
    cli.report(playbook=str(PLAYBOOK), runs=s3, out=str(tmp_path / "again"), stdout=said)
    assert "0 file(s) downloaded" in said.getvalue() and "of the runs the figures" not in (
        said.getvalue()
    )
    # an empty cache downloads each run's record and metrics, and no log
    fresh = tmp_path / "fresh-cache"
    os.environ["LABKIT_CACHE_DIR"] = str(fresh)  # monkeypatched per test: undone after
    again = open_store(s3, Path.cwd())
    mirror = again.read_dir(say=quiet)
    runs = sorted(p.parent for p in mirror.glob("*/*/manifest.json"))
    assert len(runs) == len(SEED) + 1
    held = {p.relative_to(mirror).as_posix() for p in mirror.rglob("*")
            if p.is_file() and not p.name.startswith(".")}  # fmt: skip
    assert held == {f"{r.parent.name}/{r.name}/{n}" for r in runs
                    for n in ("manifest.json", "metrics.json")}  # fmt: skip
    assert again.remote.downloads == 2 * len(runs)
    # mirrored again, it is left as it was: no file written again (each a new inode)
    as_mirrored = files_as_they_are(mirror)
    assert again.read_dir(say=quiet) == mirror and files_as_they_are(mirror) == as_mirrored
    assert again.remote.downloads == 2 * len(runs)
    # a run's logs are fetched when something reads them, and its metrics stay valid
    first = runs[0]
    record = json.loads((first / "manifest.json").read_text())
    stored = read_stored(first)
    assert stored["inputs"] == input_sizes(first)  # counted by their sizes in the store
    again.fetch(first)
    assert (first / "record.log").read_bytes() == (
        store.local / first.parent.name / first.name / "record.log"
    ).read_bytes()
    assert input_sizes(first) == stored["inputs"] and record["status"] == "complete"
    shutil.rmtree(fresh)


def files_as_they_are(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file under ``folder`` (hidden ones too) by its inode and modification time."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.mark.slow
def test_a_run_stored_without_metrics_is_mirrored_whole(s3, tmp_path):
    """Metrics made nowhere yet (a run uploaded by an older labkit): the report computes
    them, so the mirror holds the run's logs."""
    runs = tmp_path / "disk"
    import_logs(seed_logs(tmp_path / "logs", ("exp1",)), load_playbook(PLAYBOOK), runs, quiet)
    (run_dir,) = [p.parent for p in runs.glob("*/*/manifest.json")]
    (run_dir / "metrics.json").unlink(missing_ok=True)
    remote = S3Runs(s3)
    remote.ensure_bucket()
    remote.upload_run(run_dir, run_dir.parent.name, run_dir.name)
    mirror = open_store(s3, Path.cwd()).read_dir(say=quiet)
    got = mirror / run_dir.parent.name / run_dir.name
    assert local_files(got) == local_files(run_dir) and (got / "record.log").exists()


@pytest.mark.slow
def test_runs_on_a_host_over_ssh_reach_the_store_and_a_detached_one_once_collected(
    s3, weed, sshd, tmp_path, fake_home
):
    """`invoke experiment` uploads the run when it ends; `--detach` leaves it in staging
    (not finished) until `invoke collect` finishes and uploads it."""
    wd = tmp_path / "wd"
    trust(fake_home, sshd)
    inv = write_inventory(tmp_path / "hosts.yml", {"simthor": ssh_host(sshd, wd)})
    shutil.copytree(E2E, tmp_path / "pb")
    base = ["--target", "simthor", "--inventory", str(inv),
            "--playbook", str(tmp_path / "pb" / "e2e.yml"), "--runs", s3]  # fmt: skip

    def invoke_here(*args):  # from the project folder, with the AWS variables set
        return subprocess.run(
            [*invoke_argv("--search-root", str(REPO)), *args],
            cwd=Path.cwd(),
            env=env(fake_home),
            capture_output=True,
            text=True,
            timeout=240,
        )

    res = invoke_here("experiment", *base, "--name", "short")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "uploaded to " + s3 in res.stdout
    store = open_store(s3, Path.cwd())
    [first] = list(store.remote.listing())
    res = invoke_here("experiment", *base, "--name", "short", "--detach")
    assert res.returncode == 0, res.stdout + res.stderr
    waiting, unfinished = store.pending()
    assert waiting == [] and len(unfinished) == 1
    assert list(store.remote.listing()) == [first]  # a detached run is not uploaded
    wait_for(lambda: _done(wd, "short", 2), 60, "the detached run to finish")
    res = invoke_here("collect", *base)
    assert res.returncode == 0, res.stdout + res.stderr
    assert store.pending() == ([], [])
    listing = store.remote.listing()
    assert len(listing) == 2
    for (exp, run_id), files in listing.items():
        record = json.loads((store.local / exp / run_id / "manifest.json").read_text())
        assert record["status"] == "complete"
        # the whole run, its dataset's folders and the metrics stored as it was collected
        assert local_files(store.local / exp / run_id) == set(files)
        assert {"record.log", "metrics.json", "dataset/meta/tasks.jsonl"} <= set(files)


def _done(wd: Path, experiment: str, n: int) -> bool:
    states = [json.loads(p.read_text()).get("state")
              for p in (wd / "runs" / experiment).glob("*/status.json")]  # fmt: skip
    return len(states) == n and all(s == "done" for s in states)
