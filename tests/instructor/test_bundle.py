"""What a grading worker receives (``grading/bundle.py``), on its own: the learner's side of the
package and the kernel factory, never the grader's stand-ins or the reference engine; the
assignment's non-notebook files, the gradebook and the course secret; and a key that changes with
any of them (a worker's cache is keyed on it)."""

import pytest
from corpus import tiny

from autograder.instructor import judge
from autograder.instructor.grading import bundle
from autograder.instructor.release import LEARNER_PACKAGES
from autograder.learner.engines import SOLUTIONS

SETTINGS = {"sandbox": "bwrap", "limits": {"memory_mb": 512}}


def test_the_kernels_get_the_learner_side_and_the_factory_only():
    shipped = bundle.package_files()
    folders = {name.split("/")[1] for name in shipped if name.count("/") >= 2}
    assert folders == {package.split(".")[-1] for package in LEARNER_PACKAGES} | {"instructor"}
    instructor = sorted(name for name in shipped if name.startswith("autograder/instructor/"))
    factory = sorted(f"autograder/{name}" for name in bundle.KERNEL_FACTORY if name.startswith("instructor/"))
    assert instructor == factory, "of the instructor's side, only the kernel factory reaches the kernels"
    reference = (SOLUTIONS / "tinygrad_course" / "engine.py").read_bytes()
    assert all(data != reference for data in shipped.values()) and all(n.endswith(".py") for n in shipped)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", tiny.tool_env()["PATH"])  # a new gradebook runs alembic, as grade_class arranges
        yield tiny.build_course(tmp_path_factory.mktemp("tiny") / "course")


def test_the_bundle_holds_what_grading_needs_and_no_notebook_source(course):
    built = bundle.build(course, tiny.ASSIGNMENT, f"sqlite:///{course}/gradebook.db", "tiny-course", SETTINGS)
    assert set(built["source"]) == {"tinygrad_course/__init__.py", "tinygrad_course/engine.py"}
    assert built["secret"] == judge.course_secret(course) and built["gradebook"].startswith(b"SQLite format 3")
    assert set(built["layout"]) == set(tiny.NOTEBOOKS)
    for name, info in built["layout"].items():
        assert set(info["locked"]) == {g for g, p in tiny.POINTS[name].items() if p}, "the released test cells"
        assert "BEGIN HIDDEN TESTS" not in "".join(info["locked"].values())


def test_building_without_a_released_assignment_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="build the assignment first"):
        bundle.build(tmp_path, "nothing", f"sqlite:///{tmp_path}/gradebook.db", "c", SETTINGS)
