"""tinygrad-course's Python side: the checks learners' notebooks call, and the instructor's tools.

Learners' notebooks import ``checks`` (and ``diagnose``, ``graph``, ``widgets``); the checks drive
the learner's code through the torch-free ``worker`` package. Instructors run ``release``,
``grade`` (with ``classgrading``), ``judge`` and ``insight``; ``instructor/`` holds what must never
reach a learner (the grader's stand-ins), and is never published. The nbgrader course root is the data
folder ``classroom/`` beside this package.
"""
