"""tinygrad-course's Python side: the checks learners' notebooks call, and the instructor's tools.

Learners' notebooks import ``checks`` (and ``diagnose``, ``graph``, ``widgets``); the checks drive
the learner's code through the torch-free ``worker`` package. Instructors run ``release``,
``grade`` (with ``classgrading``), ``judge`` and ``insight``. The nbgrader course root is the data
folder ``classroom/`` beside this package.
"""
