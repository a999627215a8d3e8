"""The course an instructor grades: its root folder (where nbgrader_config.py is), its id, and its
gradebook's address, read from the course's own nbgrader configuration."""

from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"


class CourseRootError(ValueError):
    """The course root cannot be found: no ``nbgrader_config.py`` where it should be."""


def find_course_root(course_root=None):
    """``course_root``, else the current folder: the course root nbgrader itself would use."""
    if course_root is None:
        here = Path.cwd()
        if not (here / CONFIG_FILE).is_file():
            raise CourseRootError(
                f"{here} is not an nbgrader course root (it has no {CONFIG_FILE}): run this where you run "
                f"nbgrader's commands (in this repository: cd autograder), or pass --course-root DIR")
        return here.resolve()
    root = Path(course_root).resolve()
    if not (root / CONFIG_FILE).is_file():
        raise CourseRootError(f"--course-root {course_root}: {root} has no {CONFIG_FILE}, so it is not an "
                              f"nbgrader course root")
    return root


def database_url(url):
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2; use psycopg2 when only it is installed."""
    if url and url.startswith("postgresql://"):
        import importlib.util
        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def course_settings(course_root):
    """``(course_id, default db_url)`` from the course's own nbgrader_config.py."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    config.CourseDirectory.root = str(Path(course_root).resolve())
    coursedir = CourseDirectory(config=config)
    return coursedir.course_id, coursedir.db_url
