"""The instructor's side of ``autograder``: never published, never given to a learner or a grading kernel.

It holds what would hand a learner an answer if they had it: ``standins``, the grader's torch-free
versions of every engine unit, which reach the judge's answers worker only as text over its pipe
(``autograder.judge``). ``python -m autograder.release --publish`` leaves this folder out and refuses
to publish anything that imports from it; Binder deletes it. (Issue 16 moves the judge, the release
builder, the class grader and ``grade`` here too.)
"""
