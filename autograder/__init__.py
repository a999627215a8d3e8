"""tinygrad-course's grader, in four folders by audience. Imports go one way: learner -> checking
-> worker, and instructor -> any of them; never the other way (tests/instructor/test_layout.py holds it).

- ``learner/``: what the course's notebooks import -- ``checks.check`` (the test cells), the widgets,
  the graph drawing, ``diagnose``, and the kernel-side guards and torch stand-ins. Published as is.
- ``checking/``: the checks shared by a notebook and the judge -- each exercise's cases, the
  comparison with torch, the slip families and their words, notebook 08's data. Published.
- ``worker/``: the torch-free code that runs next to learner code -- the exercise registry (the
  one table every other list of exercises derives from), the drivers, the wire codec, the worker's
  loop. Published (the notebook runs the same drivers in the kernel).
- ``instructor/``: what only instructors run -- the release builder, the judge and its stand-ins,
  the sandbox builder, class grading (``grading/``), the insight page. Never published.
"""
