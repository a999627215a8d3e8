"""A Jupyter kernel manager that keeps a learner's session inside a memory budget.

Every open notebook has its own kernel, and each kernel of this course holds 190-290 MB, most of
it the heap ``import torch`` builds (``benchmarks/memory_results.md``): twelve at once need about
2.9 GB, over Binder's usual 2 GB, where the container's out-of-memory killer would end a kernel of
its own choosing, or the whole session. So before it starts a kernel beyond ``max_kernels``, this
manager shuts down the one that has been quiet longest (an idle one first) and says so in the
server's log. That notebook keeps its file and its outputs; only its variables go, and running its
cells again brings them back. Idle kernels are also shut down after 20 minutes
(``cull_idle_timeout`` in jupyter-config/).

jupyter-config/jupyter_server_config.json makes it the server's kernel manager for a learner's
install and on Binder; ``--BoundedKernelManager.max_kernels=0`` lifts the limit.
"""

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Integer


class BoundedKernelManager(AsyncMappingKernelManager):
    max_kernels = Integer(0, config=True, help="Kernels that may run at once; starting one more first shuts "
                                               "down the one quiet longest (idle ones first). 0: no limit.")

    async def start_kernel(self, *, kernel_id=None, path=None, **kwargs):
        if self.max_kernels and (kernel_id is None or kernel_id not in self):  # a new kernel, not a reconnection
            while len(self) >= self.max_kernels:
                quietest = min(self.list_kernel_ids(), key=self._shutdown_order)
                self.log.warning("%d kernels are running, the most this session allows (max_kernels): shutting "
                                 "down kernel %s, the one quiet longest, to start another", len(self), quietest)
                await self.shutdown_kernel(quietest)
        return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)

    def _shutdown_order(self, kernel_id):
        kernel = self.get_kernel(kernel_id)
        return getattr(kernel, "execution_state", "idle") != "idle", kernel.last_activity
