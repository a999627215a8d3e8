"""Grade one submission: the function every worker runs (locally or on Dask).

``grade_submission(bundle, job)`` builds a scratch course root (the course's
``nbgrader_config.py``, the assignment's source files, a scratch sqlite gradebook seeded with
the assignment), puts the learner's files in ``submitted/<student>/<assignment>/`` and runs
nbgrader's own ``Autograde`` converter there, once per notebook, so a notebook that cannot be
graded costs that notebook only. Kernels are forked from the submission's zygote inside the
sandbox. Those kernels' verdicts are advisory: once every kernel is gone, the judge
(``autograder.instructor.judge``) scores each exercise from the submitted files, its learner code in
sandboxed workers without torch; nbgrader's ``GenerateFeedback`` renders feedback, and
everything comes back as plain data (grades, comments, files) for the single writer.
Nothing here touches the main gradebook.
"""

import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
from pathlib import Path

import jsonschema
import nbformat
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import Execute
from nbgrader.utils import capture_log
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.instructor import judge, sandbox
from autograder.instructor.grading import book, kernels, report
from autograder.instructor.grading.zygote import Zygote, ZygoteError
from autograder.learner import checks

_LOCK = threading.Lock()  # nbgrader's converters chdir: one submission at a time per process


def grade_submission(bundle, job):
    """Grade ``job`` (one learner's files); returns a result dict, never raises."""
    started = time.monotonic()
    with _LOCK:
        # a job's own folder, when given, is in a run folder the grading process owns: it removes
        # what a worker that died mid-grade leaves behind (this process's finally never runs then)
        if job.get("scratch"):
            os.makedirs(job["scratch"], exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="ag-", dir=job.get("scratch") or bundle["settings"].get("scratch")))
        try:
            result = _grade(bundle, scratch, job)
        except Exception:  # noqa: BLE001 - a grader bug must cost this submission only, and say so
            result = _failed_result(bundle, job, f"grader error (not the learner's fault; rerun to retry):\n"
                                                 f"{traceback.format_exc()}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def _failed_result(bundle, job, message):
    return {"student": job["student"], "digest": job["digest"], "timestamp": job.get("timestamp"),
            "complete": False, "error": message, "notes": job.get("notes", []), "incidents": [],
            "sandbox": None, "notebooks": {}, "files": {"autograded": {}, "feedback": None}}


# ---------------------------------------------------------------- staging the submission


def _nbgrader(cell):
    """A cell's nbgrader metadata, or {} when it has none or it is not a dict."""
    meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
    return meta if isinstance(meta, dict) else {}


def _grade_ids(notebook):
    return {grade_id for cell in notebook.cells if isinstance(grade_id := _nbgrader(cell).get("grade_id"), str)}


_VALIDATOR = MetadataValidator()  # nbgrader's own check of a cell's nbgrader metadata


def metadata_problem(cell):
    """Why nbgrader could not read ``cell``'s nbgrader metadata, in a few words; None when it can
    (or the cell has none)."""
    meta = cell.get("metadata")
    if not isinstance(meta, dict):
        return f"its metadata is {_shown(meta)}, not an object"
    if "nbgrader" not in meta:
        return None
    if not isinstance(meta["nbgrader"], dict):
        return f"it is {_shown(meta['nbgrader'])}, not an object"
    try:
        jsonschema.validate(meta["nbgrader"], _VALIDATOR.schema)  # the clearest words come first
        _VALIDATOR.validate_cell(cell)
    except Exception as error:  # noqa: BLE001 - nbgrader's checks raise many kinds on odd shapes
        words = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        return words.splitlines()[0][:160] if words.strip() else type(error).__name__
    return None


def _shown(value):
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def tidy_grade_ids(submitted, info):
    """Make a learner's notebook one nbgrader can grade, cell ids as released; sentences for the report.

    nbgrader fails a whole notebook on unreadable nbgrader metadata, a duplicated grade id or a
    graded cell it does not know (schema or validation errors), so: metadata nbgrader's own
    validator refuses (null, a list, a grade id that is not a string, points that are not a number,
    flags that are not booleans, ...) is dropped (a plain cell; a test cell is then put back as
    released); a grade id the assignment does not have is dropped; of a duplicated grade id only
    the last cell keeps it, as nbgrader itself would grade the last."""
    known = set(info["cell_ids"]) | set(info["grade_ids"])
    said, last = [], {}
    for number, cell in enumerate(submitted.cells):
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
            said.append(f"cell {number + 1} had metadata that is not an object; it was graded as a plain cell")
            continue
        if "nbgrader" not in cell.metadata:
            continue
        problem = metadata_problem(cell)
        grade_id = cell.metadata["nbgrader"].get("grade_id") if problem is None else None
        if problem is not None:
            del cell.metadata["nbgrader"]
            said.append(f"cell {number + 1} had nbgrader metadata nbgrader cannot read ({problem}); it was "
                        "graded as a plain cell")
        elif grade_id not in known:
            del cell.metadata["nbgrader"]
            said.append(f"cell {number + 1} claims grade id {str(grade_id)[:60]!r}, which the "
                        "assignment does not have; it was graded as a plain cell")
        else:
            last[grade_id] = number
    for number, cell in enumerate(submitted.cells):
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id is not None and last[grade_id] != number:
            del cell.metadata["nbgrader"]
            said.append(f"grade id {grade_id} was on more than one cell; the last one was graded")
    return said


def _read_notebook(data):
    """``(notebook, None)`` or ``(None, a sentence saying what is wrong with the file)``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"is not a text file (UTF-8 decoding failed at byte {error.start})"
    if not text.strip():
        return None, "is empty"
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
    except RecursionError:
        return None, "is not a notebook one can read: its JSON is nested too deeply"
    shape = _shape_problem(json.loads(text))
    if shape:
        return None, f"is JSON but not a Jupyter notebook: {shape}"
    try:
        return nbformat.reads(text, as_version=4), None
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds
        return None, f"is JSON but not a Jupyter notebook ({type(error).__name__}: {str(error)[:200]})"


def _shape_problem(data):
    """What makes parsed JSON not a notebook, where nbformat would only raise a puzzling error."""
    if not isinstance(data, dict):
        return f"it is {_shown(data)}, not an object"
    if not isinstance(data.get("metadata", {}), dict):
        return f"its metadata is {_shown(data['metadata'])}, not an object"
    if not isinstance(data.get("cells", []), list):
        return f"its cells are {_shown(data['cells'])}, not a list"
    for number, cell in enumerate(data.get("cells", [])):
        if not isinstance(cell, dict):
            return f"cell {number + 1} is {_shown(cell)}, not an object"
        if not isinstance(cell.get("metadata", {}), dict):
            return f"cell {number + 1}'s metadata is {_shown(cell['metadata'])}, not an object"
    return None


def resolve_notebooks(files, layout, source_files=()):
    """Map each expected notebook to a submitted file: its own name, or a renamed copy.

    Returns ``(chosen, problems, notes)``: chosen maps notebook -> file name, problems maps
    notebook -> why it cannot be graded, notes are sentences for the report.
    """
    chosen, problems, notes, parsed = {}, {}, [], {}
    for name in sorted(files):
        if name.endswith(".ipynb") and "/" not in name:
            parsed[name] = _read_notebook(files[name])
    unknown = {n for n in parsed if n[:-len(".ipynb")] not in layout}
    for notebook, info in layout.items():
        filename = f"{notebook}.ipynb"
        if filename in parsed:
            chosen[notebook] = filename
            continue
        expected = set(info["cell_ids"]) | set(info["grade_ids"])
        scored = sorted(((len(_grade_ids(parsed[n][0]) & expected), n) for n in unknown if parsed[n][0]),
                        reverse=True)
        if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            chosen[notebook] = scored[0][1]
            unknown.discard(scored[0][1])
            notes.append(f"{scored[0][1]} was graded as {filename} (it was renamed)")
        else:
            problems[notebook] = f"{filename} is missing from the submission"
    for notebook, filename in chosen.items():
        if parsed[filename][1]:
            problems[notebook] = f"{filename} {parsed[filename][1]}"
    extra = [f"{filename} is not part of the assignment; it was not graded" for filename in sorted(unknown)]
    extra += [f"{name} is not part of the assignment: kept with the submission, but not given to the "
              "notebooks' kernels" for name in sorted(files)
              if not name.endswith(".ipynb") and name not in source_files]
    notes += extra[:10] + ([f"... and {len(extra) - 10} more files that are not part of the assignment"]
                           if len(extra) > 10 else [])
    return {k: v for k, v in chosen.items() if k not in problems}, problems, notes


# ---------------------------------------------------------------- running nbgrader


def _config(root, assignment, student, settings):
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.merge(Config({
        "CourseDirectory": {"root": str(root), "db_url": f"sqlite:///{root}/gradebook.db",
                            "assignment_id": assignment, "student_id": student},
        "Autograde": {"create_student": True},
        "BaseConverter": {"force": True},
        "SafeExecute": {k: settings[k] for k in ("notebook_timeout", "interrupt_grace", "cell_output_limit")},
        # how long a cell's flood of output may take to drain once the cell is done (nbgrader: 4 s);
        # what is still arriving then is let go (kernels.LateOutputExecute), the notebook still graded
        "Execute": {"iopub_timeout": 30},
    }))
    if settings.get("cell_timeout"):
        config.Execute.timeout = settings["cell_timeout"]
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    chain = config.Autograde.get("autograde_preprocessors", default)
    config.Autograde.autograde_preprocessors = [kernels.SafeExecute if p in (Execute, "Execute") else p
                                                for p in chain]
    return config


ERROR_LINE = re.compile(r"^\s*((?:\w+\.)*\w*(?:Error|Exception|Exit)): ?(.*)$")


def _failure_reason(outcome):
    """The exception nbgrader hit, in one line (its own wrapper exception skipped)."""
    text = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
    found = [m for m in map(ERROR_LINE.match, text.splitlines()) if m and "NbGraderException" not in m[1]]
    if not found:
        return "nbgrader could not grade this notebook"
    name, message = found[-1][1].rsplit(".", 1)[-1], found[-1][2].strip()
    return f"{name}: {message}"[:400] if message else name


def restore_deleted_tests(submitted, release_text):
    """Put back test cells the learner deleted, where the release had them; their grade ids.

    (nbgrader's own ``OverwriteCells.add_missing_cells`` fails when the cell before a deleted
    test is not itself graded, as here, where tests follow markdown.)
    """
    if not release_text:
        return []
    released = nbformat.reads(release_text, as_version=4)
    present = _grade_ids(submitted)
    restored, anchor = [], None  # anchor: the last released cell the submission still has
    for cell in released.cells:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if grade_id in present:
            anchor = grade_id
        elif meta.get("grade") and meta.get("locked"):
            index = 0
            for number, mine in enumerate(submitted.cells):
                if anchor and _nbgrader(mine).get("grade_id") == anchor:
                    index = number + 1
            submitted.cells.insert(index, nbformat.from_dict(cell))
            present.add(grade_id)
            anchor = grade_id
            restored.append(grade_id)
    return restored


def edits(submitted, tests):
    """Sentences about test cells the learner changed or deleted (nbgrader restores them)."""
    seen = {}
    for cell in submitted.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in tests:
            seen[grade_id] = cell.get("source") if isinstance(cell.get("source"), str) else ""
    found = []
    for grade_id, source in tests.items():
        if grade_id not in seen:
            found.append(f"test cell {grade_id} had been deleted; the original was put back and graded")
        elif seen[grade_id].strip() != source.strip():
            found.append(f"test cell {grade_id} had been edited; the original was restored before grading")
    return found


def _sync_run_dir(autograded, run_dir, allowed):
    """The kernel's working folder: the assignment's files as nbgrader prepared them, no notebooks.

    The kernel does not run in nbgrader's output folder: that holds the sanitized notebook,
    hidden tests included. Only files the assignment ships are copied, so a stray
    ``numpy.py`` in a submission cannot shadow a module the checks use.
    """
    for name in allowed:
        source, target = Path(autograded) / name, Path(run_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        if source.is_file():
            shutil.copyfile(source, target)


def _grade(bundle, scratch, job):
    timings, clock = {}, time.monotonic()
    settings, assignment, student = bundle["settings"], bundle["assignment"], job["student"]
    layout = bundle["layout"]
    root, run_dir, ipc_dir = scratch / "course", scratch / "run", scratch / "ipc"
    for folder in (run_dir, ipc_dir, scratch / "logs"):
        folder.mkdir(parents=True)
    for name, data in bundle["source"].items():
        (root / "source" / assignment / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "source" / assignment / name).write_bytes(data)
    (root / "nbgrader_config.py").write_text(bundle["config"])
    (root / "gradebook.db").write_bytes(bundle["gradebook"])

    chosen, problems, notes = resolve_notebooks(job["files"], layout, bundle["source"])
    submitted = root / "submitted" / student / assignment
    submitted.mkdir(parents=True)
    for name, data in job["files"].items():
        if name.endswith(".ipynb") and "/" not in name:
            continue
        (submitted / name).parent.mkdir(parents=True, exist_ok=True)
        (submitted / name).write_bytes(data)
    learner_notebooks = {}
    for notebook, filename in chosen.items():
        learner = nbformat.reads(job["files"][filename].decode(), as_version=4)
        tidied = tidy_grade_ids(learner, layout[notebook])
        learner_notebooks[notebook] = tidied + edits(learner, layout[notebook]["locked"])
        if restore_deleted_tests(learner, layout[notebook].get("release")) or tidied:
            nbformat.write(learner, submitted / f"{notebook}.ipynb")
        else:  # untouched bytes, exactly what stock nbgrader would read
            (submitted / f"{notebook}.ipynb").write_bytes(job["files"][filename])
    if job.get("timestamp"):
        (submitted / "timestamp.txt").write_text(job["timestamp"])
    autograded = root / "autograded" / student / assignment
    allowed = sorted(bundle["source"])

    mode, sandbox_words = sandbox.resolve(settings["sandbox"])
    # inside bubblewrap /tmp is the sandbox's own; without it the code goes to the scratch folder
    home = "/tmp/grader" if mode == "bwrap" else str(scratch / "grader")
    zygote_args = dict(mode=mode, cwd=str(run_dir), writable=[str(run_dir), str(ipc_dir)],
                       files=bundle["package"], home=home,
                       limits=settings["limits"], log=str(scratch / "logs" / "kernels.log"))
    outcomes = {name: {"status": "failed", "message": problem, "grades": {}, "comments": {}, "notes": []}
                for name, problem in problems.items()}
    config = _config(root, assignment, student, settings)
    timings["setup"] = time.monotonic() - clock
    scratch_db = f"sqlite:///{root}/gradebook.db"
    context = zygote = None
    try:
        for notebook in sorted(chosen):
            if zygote is None or not zygote.alive():
                if zygote is not None:
                    zygote.close()
                clock = time.monotonic()
                zygote = Zygote(**zygote_args)
                timings["zygote"] = timings.get("zygote", 0.0) + time.monotonic() - clock
                context = kernels.GradingContext(zygote, str(run_dir), str(ipc_dir))
                context.before_kernel = lambda path: _sync_run_dir(path, run_dir, allowed)
                context.kernel_seed = judge.hidden_seed(bundle["secret"], judge.work_digest(job["files"]), "kernels")
            kernels.ACTIVE = context
            clock = time.monotonic()
            outcomes[notebook] = _autograde_notebook(config, root, notebook, autograded,
                                                     learner_notebooks[notebook])
            timings[notebook] = time.monotonic() - clock
    except ZygoteError as error:
        raise RuntimeError(f"the grading sandbox could not start: {error}") from error
    finally:
        kernels.ACTIVE = None
        if zygote is not None:
            zygote.close()  # the kernels' sandbox and everything it started are gone before the judge runs

    graded = [n for n, o in outcomes.items() if o["status"] == "graded"]
    if graded:
        clock = time.monotonic()
        judged = _judge(bundle, job, scratch, autograded, submitted, graded, allowed)
        apply_judgement(scratch_db, assignment, student, bundle["course_id"], judged, outcomes)
        timings["judge"] = time.monotonic() - clock
    scores = book.read_scores(scratch_db, assignment, student, bundle["course_id"]) if graded else {}
    for notebook in graded:
        outcomes[notebook].update(scores[notebook])

    incidents = context.incidents if context else []
    for notebook, outcome in outcomes.items():
        outcome["max_score"] = layout[notebook]["max_score"]
        outcome["score"] = sum((g["auto_score"] or 0.0) for g in outcome["grades"].values())
        said = [f"{i['cell']}: {i['reason']}" for i in incidents if i["notebook"] == notebook]
        if said:
            outcome["message"] = "; ".join(said)
    if graded:
        clock = time.monotonic()
        feedback = _feedback(config, root, student, assignment) if settings.get("feedback") else None
        timings["feedback"] = time.monotonic() - clock
    else:
        feedback = {} if settings.get("feedback") else None
    files = {"autograded": _tree(autograded), "feedback": feedback}
    report_files = report.files(report.build(student, assignment, outcomes, notes + job.get("notes", []),
                                             sandbox_words))
    files["autograded"].update(report_files)
    if files["feedback"] is not None:
        files["feedback"].update(report_files)
    errors = [o["message"] for o in outcomes.values() if o["status"] == "error"]
    return {"student": student, "digest": job["digest"], "timestamp": job.get("timestamp"),
            "timings": {k: round(v, 2) for k, v in timings.items()},
            "complete": not errors, "error": "; ".join(errors) or None,
            "notes": notes + job.get("notes", []), "incidents": incidents, "sandbox": sandbox_words,
            "notebooks": outcomes, "files": files}


def _judge(bundle, job, scratch, autograded, submitted, graded, allowed):
    """The judge's verdict on every exercise of the graded notebooks (``autograder.instructor.judge``), from a
    fresh copy of the files nbgrader prepared (nothing a kernel wrote) and the submitted notebooks."""
    engine_folder = scratch / "judged"
    engine_folder.mkdir()
    for name in allowed:
        source = Path(autograded) / name
        if source.is_file() and not source.is_symlink():
            (engine_folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, engine_folder / name)
    exercises = sorted({g for n in graded for g in bundle["layout"][n]["grade_ids"]} & set(checks.ALL_EXERCISES))
    notebooks = {n: judge.load_notebook(Path(submitted) / f"{n}.ipynb") for n in graded}
    limits = bundle["settings"]["limits"]
    mode = bundle["settings"]["sandbox"]
    return judge.judge(exercises, engine_folder, notebooks, secret=bundle["secret"],
                       digest=judge.work_digest(job["files"]),
                       sandbox=mode, memory_mb=limits["memory_mb"],
                       cpu_seconds=min(limits["cpu_seconds"], 300), scratch=str(scratch),
                       timeout=bundle["settings"].get("check_timeout", judge.REQUEST_TIMEOUT))


def apply_judgement(db_url, assignment, student, course_id, judged, outcomes):
    """Each judged test cell scores its points if the judge passed it, else 0, whatever the kernel said;
    the report says where the two differ, and why an exercise failed. ``judged``: ``{exercise: judge.Verdict}``;
    each notebook's outcome keeps them as plain data under ``"verdicts"``."""
    with Gradebook(db_url, course_id) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        for notebook in submission.notebooks:
            if notebook.name not in outcomes or outcomes[notebook.name]["status"] != "graded":
                continue
            notes = outcomes[notebook.name]["notes"]
            for grade in notebook.grades:
                verdict = judged.get(grade.name)
                if verdict is None:
                    continue
                # the verdict as plain data: autograder.instructor.grading.verdicts reads its fields
                outcomes[notebook.name].setdefault("verdicts", {})[grade.name] = verdict.as_dict()
                score = float(grade.max_score) if verdict.passed else 0.0
                kernel = grade.auto_score or 0.0
                if score != kernel:
                    notes.append(f"{grade.name}: the notebook's own check gave {kernel:g}, the grader gives "
                                 f"{score:g} (the grader's re-check in a sandbox decides)")
                if not verdict.passed:
                    notes.append(f"{grade.name} failed: " + "\n  ".join(verdict.message.splitlines()[:12]))
                grade.auto_score = score
        gradebook.db.commit()


def _autograde_notebook(config, root, notebook, autograded, notes):
    coursedir = CourseDirectory(config=config)
    coursedir.notebook_id = notebook
    logger = logging.getLogger(f"autograder.submission.{os.getpid()}")
    logger.setLevel(logging.WARNING)
    outcome = capture_log(Autograde(coursedir=coursedir, config=config, log=logger))
    if outcome["success"] and (autograded / f"{notebook}.ipynb").is_file():
        return {"status": "graded", "message": None, "grades": {}, "comments": {}, "notes": notes}
    return {"status": "failed", "message": f"{notebook}.ipynb could not be graded: {_failure_reason(outcome)}",
            "grades": {}, "comments": {}, "notes": notes}


def _feedback(config, root, student, assignment):
    feedback_config = Config(config)
    feedback_config.HTMLExporter.template_name = "feedback"
    coursedir = CourseDirectory(config=feedback_config)
    coursedir.notebook_id = "*"
    logger = logging.getLogger(f"autograder.feedback.{os.getpid()}")
    logger.setLevel(logging.ERROR)
    capture_log(GenerateFeedback(coursedir=coursedir, config=feedback_config, log=logger))
    return {name: data for name, data in _tree(root / "feedback" / student / assignment).items()
            if name.endswith(".html")}


def _tree(folder):
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}
