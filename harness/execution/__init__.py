"""Execution: how a session's cases reach the device and the store.

* :mod:`~harness.execution.groups`: the selected cases that share one pipeline call;
* :mod:`~harness.execution.batches`: the per-process output cache, batching and the
  out-of-memory back-off;
* :mod:`~harness.execution.executor`: one process's plan, and each case measured, copied from
  an identical case, or copied from the store;
* :mod:`~harness.execution.reuse`: measurement keys, ``--leak-reuse`` and ``--leak-resume``;
* :mod:`~harness.execution.shards`: ``--leak-shard K/N`` and ``leakage merge``;
* :mod:`~harness.execution.runner`: the session's side: keys, what may be copied, the resumed run;
* :mod:`~harness.execution.scheduler`: the pytest-xdist scheduler that keeps a group on one worker.

Nothing heavy is imported here: torch only when a batch runs.
"""
