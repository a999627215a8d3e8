"""The checks, shared by a learner's notebook and the instructor's judge: for each exercise, the
cases it draws, the torch answer it computes, and the comparison with what the learner's code
returned (``engine_checks``, ``graph_checks``, ``answer_checks``), run by a ``trial.Trial``; the
slip families and their words (``slips``); notebook 08's flowers (``datasets``). The check of an
exercise is the function named after it. Imports only ``worker``; published."""
