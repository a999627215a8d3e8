"""Where learner code runs: torch-free drivers that exercise one unit and report plain data.

Nothing in this package imports torch, the checks or the reference engine; it needs only the
standard library and numpy. The class grader runs it as ``python -m autograder.worker.serve``
inside a sandbox that holds no torch at all (``autograder.instructor.judge``); a learner's own visible
``check(...)`` calls the same drivers in the kernel. Either way the learner's code receives
inputs chosen by the checks and returns numbers, arrays, shapes and error texts, encoded by
``codec``; the comparison with torch happens on the other side.

- ``codec``    -- the one wire format: JSON with typed arrays, decoded strictly.
- ``drivers``  -- one driver per kind of exercise: build the inputs, call the learner's code,
                  describe what came back.
- ``exercises`` -- the registry of graded exercises.
- ``serve``    -- the worker process: one request per line on stdin, one reply per line.
"""
