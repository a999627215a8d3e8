"""What the course's notebooks import, published to learners as is: ``checks.check`` (every test
cell), ``widgets`` and ``graph`` (the live demonstrations), ``diagnose`` (which unit of your engine is
wrong), and what guards a check inside a learner's kernel (``guards``, ``torch_standins``,
``engines`` to load an engine from a folder). It may import ``checking`` and ``worker``, nothing of
``instructor``."""
