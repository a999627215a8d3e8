"""Grading a whole class with nbgrader: the pieces behind ``python -m autograder.instructor.grade``.
Learner code runs only in the sandbox ``autograder.instructor.sandbox`` builds.

- ``collect``   -- read submissions (nbgrader's ``submitted/`` layout, or an LMS zip through
                   ``nbgrader zip_collect``) into plain data that can travel to any worker.
- ``bundle``    -- what every worker needs to grade: config, the assignment's source files,
                   a scratch gradebook seeded with the assignment, the grading code.
- ``submission`` -- grade one submission in its own scratch course root with nbgrader's own
                   ``Autograde`` converter, one notebook at a time (the function Dask runs).
- ``kernels``   -- nbgrader's ``Execute`` hardened: kernels come from the warm factory, a dead
                   kernel or a runaway cell costs its own cells only, huge output is capped.
- ``zygote``    -- the warm kernel factory: imports torch and ipykernel once per submission,
                   then forks one fresh kernel per notebook, inside the sandbox.
- ``book``      -- the single writer: merges results into nbgrader's gradebook (sqlite or
                   PostgreSQL through ``db_url``), writes ``autograded/`` and ``feedback/``, the CSV.
"""
