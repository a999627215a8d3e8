"""The worker process: learner code on one side of a pipe, the judge on the other.

    python -S -s -B -P -c "<boot>"    (started by ``autograder.instructor.judge``, inside the sandbox)

A line naming an ``exercise`` sets a session up (the engine in the working folder, and/or the
notebook cells that define an answer); every other line is one driver request for the current
session. Each gets exactly one line back on the original stdout. One process serves a
submission's exercises in a fixed order (the engine is imported once); the judge starts a new
one for the next exercise when an exercise kills it. Learner code sees neither pipe: stdin, stdout
and stderr are /dev/null while it runs, so its prints go nowhere and cannot break the framing.
"""

import os
import sys
import types

from autograder.worker import codec, drivers


def _private_pipes():
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8", newline="\n")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", newline="\n")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdin, sys.stdout, sys.stderr = (open(os.devnull, mode) for mode in ("r", "w", "w"))
    return requests, replies


def _engine_core():
    import importlib
    package = importlib.import_module("tinygrad_course")
    inner = getattr(package, "engine", None)
    return inner if isinstance(inner, type(sys)) else package


def open_session(setup):
    """``(session, problem)``: problem is a raised-style dict when the learner's code cannot be set up."""
    exercise, answer = setup["exercise"], setup.get("answer")
    try:
        engine = _engine_core() if setup.get("engine") and answer is None else None
    except Exception as error:  # noqa: BLE001 - an engine that does not import is the learner's to fix
        problem = drivers.describe_error(error)
        problem["words"] = (f"your tinygrad_course does not import: {problem['type']}: {problem['message']}"
                            f"{problem['place']}")
        return None, problem
    function = None
    if answer is not None:
        function, words = drivers.answer_from_cells(answer["cells"], answer["grade_id"], answer["function"])
        if function is None:
            return None, {"type": "NoAnswer", "message": words, "words": words, "place": "", "not_written": False}
        if setup.get("engine"):
            try:
                engine = _engine_core()
            except Exception as error:  # noqa: BLE001
                words = f"this exercise uses your engine, but `import tinygrad_course` fails: {error!r}"
                return None, {"type": type(error).__name__, "message": words, "words": words, "place": "",
                              "not_written": False}
    return drivers.Session(exercise, engine=engine, answer=function, standins=_standins(setup.get("standins"))), None


def _standins(source):
    """The grader's stand-ins, sent over the pipe (they are not on this sandbox's disk), as a module."""
    if not source:
        return None
    module = types.ModuleType("_grader_standins")
    exec(compile(source, "<grader stand-ins>", "exec"), vars(module))
    return module


def _send(replies, message, nonce):
    try:
        line = codec.encode({**message, "nonce": nonce})
    except (codec.CodecError, ValueError, RecursionError) as error:
        line = codec.encode({"raised": {"type": "UnreadableResult", "place": "", "not_written": False,
                                        "message": f"what your code returned is not plain data the checks "
                                                   f"can read ({error})"}, "nonce": nonce})
    replies.write(line + "\n")
    replies.flush()


def main():
    # taken now, before any learner code is imported: replacing Session.run or a Session.drive_* (or
    # drivers.DRIVERS) later changes nothing here
    run, table = drivers.Session.run, dict(drivers.DRIVERS)
    requests, replies = _private_pipes()
    session, problem = None, {"type": "NoSession", "message": "no exercise set up", "place": "",
                              "not_written": False}
    for line in requests:
        message = codec.decode(line)
        nonce = message.pop("nonce")  # echoed, so a reply written by anyone else is told apart
        if "exercise" in message:  # the next exercise: a new session in the same process
            session, problem = open_session(message)
            _send(replies, {"problem": problem}, nonce)
        elif problem is not None:
            _send(replies, {"raised": problem}, nonce)
        else:
            _send(replies, run(session, message["driver"], message["args"], table), nonce)


if __name__ == "__main__":
    main()
