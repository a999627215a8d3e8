# nbgrader course configuration: run nbgrader's own commands from this folder, e.g.
#   python -m autograder.release          (builds source/autodiff and release/autodiff)
#   nbgrader autograde autodiff
#   nbgrader generate_feedback autodiff
#   nbgrader export
c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "tinygrad-course"
c.CourseDirectory.db_assignments = [dict(name="autodiff")]

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

# The gradebook: sqlite in this folder by default. For a shared gradebook (cluster grading) use
# PostgreSQL, spelled for the installed driver: postgresql+psycopg2://user@host:port/dbname
# c.CourseDirectory.db_url = "postgresql+psycopg2://grader@127.0.0.1:5432/gradebook"
