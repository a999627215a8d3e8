"""The learner's kernel manager (``autograder.learner.kernel_limit``): past its limit, starting a kernel
first shuts down the one quiet longest, so a session with every notebook open stays in its memory."""

import asyncio
import json

from autograder.learner.engines import REPO
from autograder.learner.kernel_limit import BoundedKernelManager


def test_a_kernel_past_the_limit_replaces_the_one_quiet_longest(tmp_path):
    async def scenario():
        manager = BoundedKernelManager(max_kernels=2, root_dir=str(tmp_path))
        first = await manager.start_kernel(kernel_name="python3")
        second = await manager.start_kernel(kernel_name="python3")
        # the second has been quiet longest (as if the learner went back to the first notebook)
        manager.get_kernel(second).last_activity = manager.get_kernel(first).last_activity.replace(year=2000)
        again = await manager.start_kernel(kernel_id=first, kernel_name="python3")  # reconnecting is not starting
        third = await manager.start_kernel(kernel_name="python3")
        running = set(manager.list_kernel_ids())
        await manager.shutdown_all()
        return first, second, third, again, running

    first, second, third, again, running = asyncio.run(scenario())
    assert again == first
    assert running == {first, third}, (second, running)


def test_the_learners_jupyter_settings_use_it():
    settings = json.loads((REPO / "jupyter-config" / "jupyter_server_config.json").read_text())
    assert settings["ServerApp"]["kernel_manager_class"] == "autograder.learner.kernel_limit.BoundedKernelManager"
    assert settings["BoundedKernelManager"]["max_kernels"] > 0
