"""The grading side of tinygrad-course: torch-oracle checks, the learner release, bulk grading.

This folder is also the nbgrader course root: run nbgrader's own commands from here.
"""
