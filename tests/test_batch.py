"""Batch runs from manifests: jobs, sidecars, results.jsonl, path safety, resume, workers.

The classical backends (none, poisson, reinhard) keep these fast; stickers are small
generated RGBA files and the one cut uses the sample photo with a box.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compositor import cli
from compositor.batch import job_tasks, read_manifest, run_batch
from compositor.runs.outputs import verified
from compositor.runs.paths import RESULTS, check_job_id, confine
from compositor.errors import CompositorError, UsageError
from compositor.runs.executors import ProcessExecutor, threads_per_worker
from compositor.imageio import sha256_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


@pytest.fixture
def work(tmp_path):
    """Inputs in tmp/in: a background, two stickers, the coffee photo; a manifest writer."""
    src = tmp_path / "in"
    (src / "stickers").mkdir(parents=True)
    bg = np.asarray(Image.open(SAMPLES / "chelsea.png").convert("RGB").resize((226, 150)))
    Image.fromarray(bg).save(src / "bg.png")
    shutil.copy(SAMPLES / "coffee.png", src / "coffee.png")
    red = np.zeros((30, 40, 4), np.uint8)
    red[..., 0] = 220
    red[4:26, 4:36, 3] = 255
    Image.fromarray(red).save(src / "stickers" / "red.png")
    blue = np.zeros((20, 20, 4), np.uint8)
    blue[..., 2] = 230
    blue[2:18, 2:18, 3] = 255
    Image.fromarray(blue).save(src / "stickers" / "blue.png")
    return src


def write_jsonl(path: Path, jobs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    return path


def jobs(n: int = 3) -> list[dict]:
    backends = ["poisson", "none", "reinhard"]
    return [{"id": f"job-{i}", "background": "bg.png", "backend": backends[i % 3], "seed": i,
             "objects": [{"sticker": "stickers/red.png", "x": 60 + 20 * i, "y": 70, "scale": 1.2, "rotation": 10 * i},
                         {"sticker": "stickers/blue.png", "x": 150, "y": 60}]} for i in range(n)]


def results(outdir: Path) -> list[dict]:
    return [json.loads(line) for line in (outdir / RESULTS).read_text().splitlines()]


def assert_done(outdir: Path, record: dict) -> dict:
    sidecar = json.loads((outdir / record["sidecar"]).read_text())
    assert sidecar["image"]["sha256"] == sha256_file(outdir / record["image"])
    with Image.open(outdir / record["image"]) as im:
        im.load()  # decodes fully
        assert im.size == (sidecar["image"]["width"], sidecar["image"]["height"])
    return sidecar


# ----------------------------------------------------------------------------- manifests


@pytest.mark.slow
def test_smoke(work, tmp_path):
    manifest = write_jsonl(work / "m.jsonl", jobs(3) + [
        {"id": "cut", "background": "bg.png", "backend": "poisson",
         "objects": [{"source": "coffee.png", "cutter": "grabcut", "cut": {"box": [170, 40, 260, 300]},
                      "x": 60, "y": 100, "scale": 0.25, "label": "cup"}]},
        {"id": "broken", "background": "missing.png", "backend": "none", "objects": [{"sticker": "stickers/red.png"}]},
    ])
    out = tmp_path / "out"
    summary = run_batch(manifest, out)
    assert (summary.ok, summary.failed, summary.total) == (4, 1, 5)
    rows = results(out)
    assert [r["id"] for r in rows] == ["job-0", "job-1", "job-2", "cut", "broken"]
    assert rows[-1]["status"] == "failed" and "missing.png" in rows[-1]["error"] and "no such file" in rows[-1]["error"]
    assert not (out / "broken.png").exists() and not (out / "broken.json").exists()
    for row in rows[:-1]:
        assert row["status"] == "ok" and row["error"] is None
        sidecar = assert_done(out, row)
        assert sidecar["background"]["sha256"] == sha256_file(work / "bg.png")
    cut = json.loads((out / "cut.json").read_text())
    assert cut["objects"][0]["label"] == "cup" and cut["objects"][0]["cutter"] == "grabcut"
    two = json.loads((out / "job-1.json").read_text())
    assert two["harmonize"]["backend"] == "none" and two["seed"] == 1 and len(two["objects"]) == 2
    # the blue sticker is pasted where the manifest says (none = the composite as is)
    x, y, w, h = two["objects"][1]["box"]
    assert abs(x + w / 2 - 150.5) <= 1.5 and abs(y + h / 2 - 60.5) <= 1.5
    pixel = np.asarray(Image.open(out / "job-1.png"))[60, 150]
    assert pixel[2] > 200 and pixel[0] < 40


def test_csv_manifest_from_another_folder(work, tmp_path, monkeypatch):
    (work / "m.csv").write_text("id,background,sticker,x,y,scale,rotation,backend,settings,output\n"
                                "a,bg.png,stickers/red.png,50,50,1,0,reinhard,strength=0.5,a.jpg\n"
                                ",bg.png,stickers/blue.png,,,2,45,none,,\n")
    monkeypatch.chdir(tmp_path)  # relative paths resolve against the manifest's folder, not the cwd
    code = cli.main(["batch", str(work / "m.csv"), "-o", "out", "-q"])
    assert code == 0
    rows = results(tmp_path / "out")
    assert [r["id"] for r in rows] == ["a", "000003"] and [r["image"] for r in rows] == ["a.jpg", "000003.png"]
    sidecar = assert_done(tmp_path / "out", rows[0])
    assert sidecar["harmonize"]["settings"]["strength"] == 0.5


@pytest.mark.parametrize("job_id", ["../evil", ".hidden", "a/b", "", "sp ace", "x" * 201, "..", "a\\b", 1.5, None,
                                    True, -1])
def test_exception_job_ids(job_id):
    with pytest.raises(UsageError, match="job id"):
        check_job_id(job_id)
    assert check_job_id(7) == "7" and check_job_id("a.b_c-D") == "a.b_c-D"


@pytest.mark.parametrize("output", ["../out-evil/x.png", "../x.png", "/tmp/abs.png", "sub/../../x.png",
                                    ".x.png", "sub/.x.png", "results.jsonl", "run.json"])
def test_exception_outputs_escape(tmp_path, output):
    out = tmp_path / "out"
    with pytest.raises(UsageError) as err:
        confine(out, output)
    assert repr(output) in str(err.value) or output in str(err.value)
    assert not out.exists()


def test_exception_lookalike_sibling_and_symlink(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "out-evil").mkdir()
    out.mkdir()
    with pytest.raises(UsageError, match="escapes the output folder"):
        confine(out, "../out-evil/x.png")
    (out / "link").symlink_to(tmp_path / "out-evil")
    with pytest.raises(UsageError, match="escapes the output folder"):
        confine(out, "link/x.png")
    assert confine(out, "sub/x.png") == (out / "sub" / "x.png").resolve()


def test_exception_manifest_output_outside_outdir(work, tmp_path):
    manifest = write_jsonl(work / "m.jsonl", [{**jobs(1)[0], "output": "../out-evil/x.png"}])
    with pytest.raises(UsageError, match="escapes the output folder"):
        run_batch(manifest, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out-evil").exists()


def test_exception_output_would_overwrite_an_input(work):
    # the background lives in OUTDIR's place: the job's output is that very file
    manifest = write_jsonl(work / "m.jsonl", [{**jobs(1)[0], "output": "bg.png"}])
    before = sha256_file(work / "bg.png")
    with pytest.raises(UsageError, match="also an input"):
        job_tasks(read_manifest(manifest), work, manifest)
    assert sha256_file(work / "bg.png") == before


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    ('{"id": "a", "background": "bg.png", "objects": [{"sticker": "s.png"}], "colour": 1}', "unknown field"),
    ('{"id": "a", "background": "bg.png", "objects": []}', "non-empty list"),
    ('{"id": "a", "background": "bg.png", "objects": [{"sticker": "s.png", "source": "p.png"}]}', "exactly one"),
    ('{"id": "a", "background": "bg.png", "objects": [{"sticker": "s.png"}], "backend": "warp"}', "unknown harmonizer"),
    ('{"id": "a", "background": "bg.png", "objects": [{"sticker": "s.png"}], "backend": "reinhard", '
     '"settings": {"strength": "lots"}}', "strength"),
    ('{"id": "a", "background": "bg.png", "objects": [{"sticker": "s.png", "scale": -1}]}', "scale must be positive"),
    ('{"id": "a", "background": "bg.png", "objects": [{"sticker": "s.png"}], "output": "a.gif"}', "image format"),
])
def test_exception_manifest_lines(tmp_path, line, message):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n" + line + "\n")
    with pytest.raises(UsageError, match=message) as err:
        read_manifest(manifest)
    assert f"{manifest}:2" in str(err.value)


def test_exception_duplicate_ids(work):
    manifest = write_jsonl(work / "m.jsonl", [jobs(1)[0], jobs(1)[0]])
    with pytest.raises(UsageError, match="appears twice"):
        read_manifest(manifest)


def test_exception_cli_exit_codes(work, tmp_path, capsys):
    manifest = write_jsonl(work / "m.jsonl", [{**jobs(1)[0], "id": "../up"}])
    assert cli.main(["batch", str(manifest), "-o", str(tmp_path / "out"), "-q"]) == 2
    assert "job id '../up' is not allowed" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    manifest = write_jsonl(work / "m.jsonl", jobs(1))
    assert cli.main(["batch", str(manifest), "-o", str(tmp_path / "full"), "-q"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- resume


def test_resume_skips_verified_and_redoes_the_rest(work, tmp_path, capsys):
    manifest = write_jsonl(work / "m.jsonl", jobs(4))
    out = tmp_path / "out"
    assert cli.main(["batch", str(manifest), "-o", str(out), "-q"]) == 0
    assert cli.main(["batch", str(manifest), "-o", str(out), "-q"]) == 2  # refuses to mix runs
    assert "--resume" in capsys.readouterr().err
    first = {r["id"]: r for r in results(out)}
    # damage: a truncated image, a missing sidecar, a leftover temporary file, a torn results line
    data = (out / "job-0.png").read_bytes()
    (out / "job-0.png").write_bytes(data[: len(data) // 2])
    (out / "job-1.json").unlink()
    (out / ".job-2.png.abc.part").write_bytes(b"partial")
    with open(out / RESULTS, "a") as fh:
        fh.write('{"id": "job-3", "sta')
    summary = run_batch(manifest, out, resume=True)
    assert (summary.ok, summary.failed, summary.skipped) == (4, 0, 2)
    rows = results(out)
    assert [r["id"] for r in rows] == ["job-0", "job-1", "job-2", "job-3"]  # one line per job
    assert rows[2]["finished"] == first["job-2"]["finished"] and rows[3]["finished"] == first["job-3"]["finished"]
    assert not list(out.rglob("*.part"))
    for row in rows:
        assert_done(out, row)


def test_resume_redoes_jobs_whose_spec_changed(work, tmp_path):
    manifest = write_jsonl(work / "m.jsonl", jobs(2))
    out = tmp_path / "out"
    run_batch(manifest, out)
    changed = jobs(2)
    changed[1]["objects"][0]["x"] = 100
    write_jsonl(manifest, changed)
    summary = run_batch(manifest, out, resume=True)
    assert (summary.skipped, summary.redone, summary.ok) == (1, 1, 2)
    tasks = job_tasks(read_manifest(manifest), out, manifest)
    assert all(verified(out.resolve(), t) for t in tasks)


# ----------------------------------------------------------------------------- workers


@pytest.mark.slow
def test_workers_match_in_process_results(work, tmp_path):
    manifest = write_jsonl(work / "m.jsonl", jobs(4))
    run_batch(manifest, tmp_path / "one")
    summary = run_batch(manifest, tmp_path / "two", workers=2)
    assert summary.ok == 4
    assert len({r["worker"] for r in summary.records}) == 2  # both workers took jobs
    for i in range(4):
        assert sha256_file(tmp_path / "one" / f"job-{i}.png") == sha256_file(tmp_path / "two" / f"job-{i}.png")


@pytest.mark.slow
def test_a_dying_worker_fails_only_its_job():
    with ProcessExecutor(2, threads=1) as ex:
        items = ["1 + 1", "__import__('os')._exit(3)", "2 * 3", "__import__('os').kill(__import__('os').getpid(), 9)",
                 "7"]
        got = dict(ex.run(eval, items))
        assert [got[i].ok for i in range(5)] == [True, False, True, False, True]
        assert [got[i].value for i in (0, 2, 4)] == [2, 6, 7]
        assert "exited with code 3" in got[1].error and "SIGKILL" in got[3].error
        assert len(ex._pool) == 2  # replaced


def _die(_):
    import os

    os.kill(os.getpid(), 9)


@pytest.mark.slow
def test_a_worker_dying_in_setup_is_one_sentence():
    with ProcessExecutor(2, threads=1) as ex:
        with pytest.raises(CompositorError, match=r"^worker \d+ died while setting up: it was killed by SIGKILL"):
            ex.setup(_die, None)


def test_threads_per_worker():
    assert threads_per_worker(2, cores=2) == 1
    assert threads_per_worker(2, cores=16) == 8
    assert threads_per_worker(4, cores=2) == 1


def _thread_caps(_=None):
    import os

    import cv2

    from compositor import _ort

    return cv2.getNumThreads(), _ort.threads() or None, os.environ.get("OMP_NUM_THREADS")


@pytest.mark.slow
def test_threads_option_caps_each_worker_and_the_inline_run():
    import cv2

    from compositor.runs.executors import InlineExecutor, make_executor

    with ProcessExecutor(2, threads=1) as ex:
        caps = {outcome.value for _, outcome in ex.run(_thread_caps, range(4))}
    assert caps == {(1, "1", "1")}
    before = _thread_caps()
    with make_executor("local", 1, threads=1) as ex:
        assert isinstance(ex, InlineExecutor)
        assert [o.value for _, o in ex.run(_thread_caps, [0])] == [(1, "1", "1")]
    assert _thread_caps() == before  # the process gets its own settings back
    assert cv2.getNumThreads() == before[0]
    for bad in (0, -2, 1.5, True):
        with pytest.raises(UsageError, match=f"threads must be 1 or more; received {bad!r}"):
            make_executor("local", 2, threads=bad)


def _library_caps(_=None):
    from threadpoolctl import threadpool_info

    from compositor import _ort

    pools = [pool["num_threads"] for pool in threadpool_info()]
    return _ort.session_options().intra_op_num_threads, max(pools, default=1)


def _tensorflow_caps(_=None):
    from compositor._tf import quiet_import

    quiet_import()
    import tensorflow as tf

    threading = tf.config.threading
    return threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()


@pytest.mark.slow
def test_the_thread_count_reaches_each_library_through_its_api():
    """A worker's thread count, given as an argument, sets onnxruntime's sessions, the BLAS
    and OpenMP pools (threadpoolctl) and TensorFlow's pools (when TensorFlow is imported)."""
    from compositor import _ort
    from compositor.runs.executors import make_executor

    with ProcessExecutor(2, threads=1) as ex:
        assert {outcome.value for _, outcome in ex.run(_library_caps, range(2))} == {(1, 1)}
    with ProcessExecutor(1, threads=2) as ex:
        assert [outcome.value for _, outcome in ex.run(_tensorflow_caps, [0])] == [(2, 1)]
    before = _ort.threads()
    with make_executor("local", 1, threads=1) as ex:
        assert [o.value for _, o in ex.run(_library_caps, [0])] == [(1, 1)]
    assert _ort.threads() == before


def test_threads_do_not_change_the_pixels(work, tmp_path):
    manifest = write_jsonl(work / "m.jsonl", jobs(2))
    run_batch(manifest, tmp_path / "default")
    summary = run_batch(manifest, tmp_path / "one", threads=1)
    assert summary.ok == 2
    assert json.loads((tmp_path / "one" / "run.json").read_text())["threads"] == 1
    for i in range(2):
        assert sha256_file(tmp_path / "default" / f"job-{i}.png") == sha256_file(tmp_path / "one" / f"job-{i}.png")


@pytest.mark.slow
def test_worker_setup_loads_models_and_passes_over_a_broken_backend(monkeypatch):
    """Models load once per worker, before its first job; a backend that cannot load is
    left to fail its own jobs (the real Magenta ONNX weights are loaded here)."""
    from compositor.runs.caches import backends_to_load, load_models
    from compositor.harmonizers import magenta_onnx

    monkeypatch.setattr(magenta_onnx, "_SESSIONS", {})
    pairs = backends_to_load([("magenta", {}), ("poisson", {}), ("magenta", {}), ("nonesuch", {}),
                              ("magenta", {"source": "hub", "handle": "/no/such/model"})])
    assert pairs == [("magenta", {}), ("poisson", {}), ("nonesuch", {}),
                     ("magenta", {"source": "hub", "handle": "/no/such/model"})]
    load_models(pairs)
    assert len(magenta_onnx._SESSIONS) == 2  # the style-prediction and transform sessions
    sessions = dict(magenta_onnx._SESSIONS)
    load_models(pairs)
    assert magenta_onnx._SESSIONS == sessions  # once per process


def test_models_load_only_when_jobs_are_left_to_run(work, tmp_path, monkeypatch):
    import compositor.batch as batch_module

    calls = []
    real = batch_module.load_models
    monkeypatch.setattr(batch_module, "load_models", lambda pairs: (calls.append(pairs), real(pairs)))
    manifest = write_jsonl(work / "m.jsonl", jobs(2))
    assert run_batch(manifest, tmp_path / "out").ok == 2
    assert len(calls) == 1 and calls[0][0][0] == "poisson"
    summary = run_batch(manifest, tmp_path / "out", resume=True)
    assert summary.skipped == 2 and len(calls) == 1  # nothing left to run: nothing loaded


def test_make_executor():
    from compositor.runs.executors import InlineExecutor, make_executor

    assert isinstance(make_executor("local", None), InlineExecutor)
    assert isinstance(make_executor("local", 4, limit=1), InlineExecutor)  # never more workers than tasks
    with pytest.raises(UsageError, match="workers must be 1 or more; received 0"):
        make_executor("local", 0)
    with pytest.raises(UsageError, match="executor must be one of local, ray; received 'dask'"):
        make_executor("dask", 2)
    with pytest.raises(UsageError, match="--ray-address goes with --executor ray"):
        make_executor("local", 2, address="auto")


# ----------------------------------------------------------------------------- usage errors and the run folder


def test_usage_errors_leave_no_run_folder_behind(work, tmp_path, capsys, monkeypatch):
    """Options are checked before OUTDIR is made; a fresh run that fails before its first
    job takes back its run record (and OUTDIR, when it made it), so a rerun is not refused."""
    import compositor.batch as batch_module

    manifest = write_jsonl(work / "m.jsonl", jobs(1))
    out = tmp_path / "out"
    assert cli.main(["batch", str(manifest), "-o", str(out), "--workers", "0", "-q"]) == 2
    assert "workers must be 1 or more" in capsys.readouterr().err
    assert not out.exists()
    for bad in (dict(executor="dask"), dict(ray_address="auto")):
        with pytest.raises(UsageError):
            run_batch(manifest, out, **bad)
        assert not out.exists()

    def broken(*args, **kwargs):
        raise CompositorError("a worker process failed to start: it exited with code 1.")

    monkeypatch.setattr(batch_module, "_executor", broken)
    nested = tmp_path / "new" / "deeper" / "out"
    with pytest.raises(CompositorError, match="failed to start"):
        run_batch(manifest, nested)
    assert not (tmp_path / "new").exists()  # every folder the run made is gone
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CompositorError, match="failed to start"):
        run_batch(manifest, empty)
    assert empty.is_dir() and not (empty / "run.json").exists()
    monkeypatch.undo()
    assert cli.main(["batch", str(manifest), "-o", str(out), "-q"]) == 0  # the same command, fixed: no --resume
    assert run_batch(manifest, empty).ok == 1
    # an earlier run's folder is never taken back
    monkeypatch.setattr(batch_module, "_executor", broken)
    with pytest.raises(CompositorError):
        run_batch(manifest, out, resume=True)
    assert (out / "run.json").is_file() and (out / "job-0.json").is_file()


@pytest.mark.parametrize("job, name", [({"id": "run"}, "run.json"), ({"output": "run.png"}, "run.json"),
                                       ({"id": "RUN"}, "RUN.json"), ({"output": "sub/../run.jpg"}, "run.json")])
def test_exception_sidecar_would_overwrite_the_run_record(work, tmp_path, job, name):
    manifest = write_jsonl(work / "m.jsonl", [jobs(1)[0], {**jobs(2)[1], **job}])
    with pytest.raises(UsageError) as err:
        read_manifest(manifest)
    message = str(err.value)
    assert message.startswith(f"{manifest}:2: ") and name in message and "run's own" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    # job_tasks refuses it too (a Job made without the manifest reader)
    import dataclasses

    job = dataclasses.replace(read_manifest(write_jsonl(work / "ok.jsonl", jobs(1)))[0], output="run.png")
    with pytest.raises(UsageError, match="run's own run.json"):
        job_tasks([job], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_exception_manifest_not_utf8(work, tmp_path, capsys):
    good = json.dumps(jobs(1)[0])
    cases = {"m.jsonl": (good + "\n" + good.replace("job-0", "job-\xff"), 2),
             "m.csv": ("id,background,sticker\na,bg.png,stickers/red.png\n\nb\xff,bg.png,stickers/red.png\n", 4)}
    for name, (text, line) in cases.items():
        manifest = work / name
        manifest.write_bytes(text.encode("latin-1"))
        with pytest.raises(UsageError) as err:
            read_manifest(manifest)
        assert str(err.value).startswith(f"{manifest}:{line}: ") and "not UTF-8 text" in str(err.value)
    png = work / "photo.jsonl"
    shutil.copy(work / "bg.png", png)
    assert cli.main(["batch", str(png), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and f"{png}:1: the manifest is not UTF-8 text" in err
    assert not (tmp_path / "out").exists()
    # a UTF-8 byte-order mark is fine, in JSON Lines as in CSV
    bom = work / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + (good + "\r\n").encode("utf-8"))
    assert [j.id for j in read_manifest(bom)] == ["job-0"]
    bom_csv = work / "bom.csv"
    bom_csv.write_bytes(b"\xef\xbb\xbf" + "id,background,sticker\r\nä,bg.png,stickers/red.png\r\n".encode("utf-8"))
    with pytest.raises(UsageError, match="job id 'ä' is not allowed"):  # decoded as UTF-8, not refused as bytes
        read_manifest(bom_csv)


@pytest.mark.parametrize("text, line, message", [
    ("id,background,sticker\na,bg.png,stickers/red.png,extra\n", 2, "3 columns"),
    ("id,background,sticker\na,bg.png,stickers/red.png\nb,bg.png,stickers/red.png,\n", 3, "3 columns"),
    ("id,id,background,sticker\na,b,bg.png,stickers/red.png\n", 1, "column(s) id more than once"),
    ("id,sticker,background\na,stickers/red.png\n", 2, "no background"),
    ("id,background,sticker,source\na,bg.png\n", 2, "no sticker or source"),
])
def test_exception_csv_rows_that_do_not_fit_the_header(work, text, line, message):
    manifest = work / "m.csv"
    manifest.write_text(text)
    with pytest.raises(UsageError) as err:
        read_manifest(manifest)
    assert str(err.value).startswith(f"{manifest}:{line}: ") and message in str(err.value)


def test_csv_short_rows_may_leave_out_optional_columns(work):
    manifest = work / "m.csv"
    manifest.write_text("id,background,sticker,x,y,backend,output\n"
                        "a,bg.png,stickers/red.png\n"
                        "b,bg.png,stickers/blue.png,10,20,none\n")
    a, b = read_manifest(manifest, default_backend="poisson")
    assert (a.backend, a.output, a.objects[0].x) == ("poisson", "a.png", None)
    assert (b.backend, b.objects[0].x, b.objects[0].y) == ("none", 10.0, 20.0)


def test_path_settings_resolve_against_the_manifest_folder(work, tmp_path, monkeypatch):
    import cv2

    shutil.copy(Path(cv2.data.haarcascades) / "haarcascade_frontalcatface_extended.xml", work / "cat.xml")
    (work / "hub").mkdir()
    lines = [
        {**jobs(1)[0], "id": "styled", "backend": "magenta", "settings": {"style": "stickers/red.png",
                                                                          "handle": "hub"}},
        {**jobs(1)[0], "id": "named", "backend": "magenta", "settings": {"style": "none",
                                                                         "handle": "https://tfhub.dev/x/1"}},
        {**jobs(1)[0], "id": "cascade", "objects": [{"source": "coffee.png", "cutter": "cascade",
                                                     "cut": {"cascade": "cat.xml"}}]},
        {**jobs(1)[0], "id": "builtin", "objects": [{"source": "coffee.png", "cutter": "cascade",
                                                     "cut": {"cascade": "catface"}}]},
    ]
    manifest = write_jsonl(work / "m.jsonl", lines)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # relative settings resolve against the manifest, not the cwd
    styled, named, cascade, builtin = read_manifest(manifest)
    assert styled.settings == {"style": str(work / "stickers" / "red.png"), "handle": str(work / "hub")}
    assert named.settings == {"style": "none", "handle": "https://tfhub.dev/x/1"}
    assert cascade.objects[0].cut == {"cascade": str(work / "cat.xml")}
    assert builtin.objects[0].cut == {"cascade": "catface"}
    csv_manifest = work / "m.csv"
    csv_manifest.write_text("id,background,sticker,backend,settings\na,bg.png,stickers/red.png,magenta,"
                            "style=stickers/blue.png;strength=0.5\n")
    assert read_manifest(csv_manifest)[0].settings == {"style": str(work / "stickers" / "blue.png"),
                                                       "strength": "0.5"}


def test_resumed_rate_counts_only_composites_made_now(work, tmp_path):
    from compositor.runs.folder import Summary

    manifest = write_jsonl(work / "m.jsonl", jobs(2) + [
        {"id": f"broken-{i}", "background": "missing.png", "backend": "none",
         "objects": [{"sticker": "stickers/red.png"}]} for i in range(6)])
    out = tmp_path / "out"
    first = run_batch(manifest, out)
    assert (first.ok, first.failed) == (2, 6)
    assert first.per_minute == pytest.approx(2 / first.seconds * 60)  # failed jobs made no composite
    again = run_batch(manifest, out, resume=True)  # only the failed jobs run again, and fail again
    assert (again.ok, again.failed, again.skipped) == (2, 6, 2)
    assert "composites/min" not in again.line()
    assert again.per_minute == 0.0 and again.per_minute_running == 0.0 and again.made == 0
    s = Summary(outdir=out, total=10, ok=6, failed=4, skipped=3, seconds=30.0, start_seconds=10.0)
    assert (s.made, s.ran) == (3, 7)
    assert s.per_minute == pytest.approx(6.0) and s.per_minute_running == pytest.approx(9.0)
    assert "6.0 composites/min" in s.line()


@pytest.mark.parametrize("where", ["folder", "cwd"])
def test_a_refused_run_leaves_no_lock_file(work, tmp_path, capsys, monkeypatch, where):
    """A folder that holds other files is refused (exit 2) and left as it was: no
    ``.compositor.lock`` in it afterwards, also for ``-o .``."""
    manifest = write_jsonl(work / "m.jsonl", jobs(1))
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"not mine")
    target = str(other)
    if where == "cwd":
        monkeypatch.chdir(other)
        target = "."
    assert cli.main(["batch", str(manifest), "-o", target, "-q"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["holiday.jpg"]


@pytest.mark.parametrize("field, job", [
    ("background", {"background": "b\0g.png"}),
    ("objects[1].sticker", {"objects": [{"sticker": "stickers/r\0ed.png"}]}),
    ("output", {"output": "o\0ut.png"}),
])
def test_exception_manifest_text_no_file_name_can_hold(work, tmp_path, capsys, field, job):
    """A NUL character in a manifest's path is refused with its line and field (it used to
    be `internal error: ValueError: embedded null byte`)."""
    manifest = write_jsonl(work / "m.jsonl", [{**jobs(1)[0], **job}])
    assert cli.main(["batch", str(manifest), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"compositor: error: {manifest}:1: {field} ") and "NUL" in err, err
    assert not (tmp_path / "out").exists()


def test_a_jobs_os_error_is_one_sentence():
    """An OSError no code wrapped fails its job with one sentence naming the file."""
    import errno

    from compositor.runs.executors import describe_error

    outcome = describe_error(OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300))
    assert outcome.error == "x" * 300 + ": file name too long." and not outcome.detail


def test_a_full_disk_while_recording_results_is_one_sentence(work, tmp_path, monkeypatch):
    """A results line the disk takes only part of stops the run with one sentence naming
    results.jsonl (a short write used to pass unnoticed, and the next one failed with a bare
    OSError); --resume then completes the run."""
    import errno

    import compositor.batch as batch_module

    manifest = write_jsonl(work / "m.jsonl", jobs(3))
    out = tmp_path / "out"
    real_write = os.write
    calls = []

    def short_write(fd, data):
        if calls and fd == calls[0]:  # the rest of the torn line: the disk is full now
            raise OSError(errno.ENOSPC, "No space left on device")
        if bytes(data[:14]) == b'{"id": "job-1"':
            calls.append(fd)
            return real_write(fd, data[: len(data) // 2])
        return real_write(fd, data)

    monkeypatch.setattr(batch_module.os, "write", short_write)
    with pytest.raises(CompositorError, match=r"results\.jsonl: could not record job job-1's result "
                                              r"\(No space left on device\)"):
        run_batch(manifest, out)
    monkeypatch.undo()
    summary = run_batch(manifest, out, resume=True)
    assert summary.ok == 3
    assert [r["id"] for r in results(out)] == ["job-0", "job-1", "job-2"]


# ----------------------------------------------------------------------------- object-id masks


def test_masks_give_each_object_its_own_value(work, tmp_path):
    """A job's "mask" output, or --masks for every job, is an object-id PNG of the composite's
    size: 0 background, k where the k-th object is visible, the later object on top; its sha256
    is in the sidecar, and resume remakes a job whose mask is gone."""
    listed = jobs(3)
    listed[0]["mask"] = "masks/first.png"
    listed[1]["objects"][1].update(x=70, y=70)  # the blue square on top of the red one
    manifest = write_jsonl(work / "m.jsonl", listed)
    out = tmp_path / "out"
    assert cli.main(["batch", str(manifest), "-o", str(out), "--masks", "-q"]) == 0
    paths = [out / "masks" / "first.png", out / "job-1_mask.png", out / "job-2_mask.png"]
    for i, path in enumerate(paths):
        ids = np.asarray(Image.open(path))
        image = np.asarray(Image.open(out / f"job-{i}.png"))
        assert ids.dtype == np.uint8 and ids.shape == image.shape[:2]
        assert sorted(np.unique(ids)) == [0, 1, 2]
        sidecar = json.loads((out / f"job-{i}.json").read_text())
        assert sidecar["mask"]["path"] == path.relative_to(out).as_posix()
        assert sidecar["mask"]["sha256"] == sha256_file(path)
        for k, obj in enumerate(sidecar["objects"], 1):  # each object's value lies inside its visible box
            ys, xs = np.nonzero(ids == k)
            x, y, w, h = obj["box"]
            assert x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h
    ids = np.asarray(Image.open(paths[1]))
    assert ids[70, 70] == 2  # where blue covers red, the pixel is blue's
    red = ids == 1
    assert red.sum() > 200 and (np.asarray(Image.open(out / "job-1.png"))[red][:, 0] > 150).mean() > 0.9
    paths[2].unlink()
    summary = run_batch(manifest, out, resume=True, masks=True)
    assert (summary.skipped, summary.redone, summary.ok) == (2, 1, 3) and paths[2].is_file()


@pytest.mark.parametrize("mask, message", [("m.jpg", "must be a .png"), ("../m.png", "escapes the output folder"),
                                           ("job-0.png", "same path is given for two outputs")])
def test_exception_mask_outputs(work, tmp_path, mask, message):
    manifest = write_jsonl(work / "m.jsonl", [{**jobs(1)[0], "mask": mask}])
    with pytest.raises(UsageError, match=message):
        run_batch(manifest, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_csv_mask_column(work):
    manifest = work / "m.csv"
    manifest.write_text("id,background,sticker,x,y,output,mask\n"
                        "a,bg.png,stickers/red.png,50,50,a.png,ids/a.png\n"
                        "b,bg.png,stickers/red.png,50,50,b.png,\n")
    a, b = read_manifest(manifest)
    assert (a.mask, b.mask) == ("ids/a.png", None)
    assert "mask" in a.spec() and "mask" not in b.spec()  # a job without a mask hashes as it did before
