# nbgrader course configuration: run nbgrader's own commands from this folder, e.g.
#   python -m autograder.instructor.release          (builds source/autodiff and release/autodiff)
#   nbgrader release_assignment autodiff  (learners: nbgrader fetch_assignment, nbgrader submit)
#   nbgrader collect autodiff
#   python -m autograder.instructor.grade autodiff   (or nbgrader autograde autodiff)
#   nbgrader generate_feedback autodiff
#   nbgrader release_feedback autodiff    (learners: nbgrader fetch_feedback)
#   nbgrader export
c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

# The course id names the course in the exchange. The assignment itself is recorded in the
# gradebook by `nbgrader generate_assignment` (run by `python -m autograder.instructor.release`).
c.CourseDirectory.course_id = "tinygrad-course"
# The exchange folder shared with learners (nbgrader's default: /usr/local/share/nbgrader/exchange).
# c.Exchange.root = "/srv/nbgrader/exchange"

# Learners write the engine's open units in tinygrad_course/engine.py: autograde must grade
# their file, not overwrite it with the release's stubs. Every other file (printing.py,
# __init__.py) is restored from the source, so it cannot be tampered with.
c.Autograde.exclude_overwriting = {"autodiff": ["tinygrad_course/engine.py"]}

c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError('Write your answer here, then run the check below.')"
}
# A cell that loops forever costs its own points, not the whole notebook's.
c.ExecutePreprocessor.timeout = 60
c.ExecutePreprocessor.interrupt_on_timeout = True

# Stock `nbgrader autograde` (and the formgrader's autograde button) start every kernel in the
# bubblewrap sandbox (no network, no view of the course root, the gradebook or other learners;
# writable: the notebook's own autograded/<student>/<assignment>/ folder and /tmp), then take
# every test cell's score from the judge (autograder/instructor/judge.py, as `python -m autograder.instructor.grade`
# does), not from what the kernel's own checks said. Without a working bubblewrap they refuse
# to run learner code; to run it unconfined, with your rights, anyway (loudly reported):
# c.SandboxedExecute.allow_unsandboxed_learner_code = True
from autograder.instructor.grading import stock  # noqa: E402

for app in (c.NbGraderApp.AutogradeApp, c.NbGraderAPI):  # `nbgrader autograde`, the formgrader
    app.Autograde.autograde_preprocessors = stock.autograde_preprocessors()

# The gradebook: sqlite in this folder by default. For a shared gradebook (cluster grading) use
# PostgreSQL, spelled for the installed driver: postgresql+psycopg2://user@host:port/dbname
# c.CourseDirectory.db_url = "postgresql+psycopg2://grader@127.0.0.1:5432/gradebook"
