"""What only the instructor runs; never published, never given to a learner or a grading kernel.

- ``release``  -- builds the nbgrader source and release from solutions/ and publishes the learner
                  repository (``python -m autograder.instructor.release``).
- ``judge``    -- scores a submission: learner code in sandboxed torch-free workers, torch here.
- ``standins`` -- the grader's torch-free versions of every engine unit: an answer key, which
                  reaches the judge's answers worker only as text over its pipe.
- ``sandbox``  -- the one bubblewrap builder, for the judge's workers and the grading kernels.
- ``grade``    -- grades a whole class (``python -m autograder.instructor.grade``), with ``grading/``.
- ``insight``  -- the class's slips, per exercise, as a page.
- ``settings`` -- the course root, its grading settings and its gradebook's address.
Publishing leaves this folder out and refuses to publish anything that imports from it; Binder
deletes it.
"""
