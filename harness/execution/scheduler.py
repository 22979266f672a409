"""The xdist scheduler that keeps each group on one worker, with node ids unchanged.

pytest-xdist's ``loadgroup`` would need a mark on every item and appends ``@group`` to node ids
(which changes the ids the store and ``--lf`` know); instead this is xdist's ``loadscope``
scheduling with a group as the scope (``LoadScopeScheduling._split_scope`` maps a node id to its
scope; ``schedule`` fills ``self.collection`` before asking for any). The controller does not
collect: it expands the session's cases and finds each node id's case by its parameter id and
test name, then plans the groups exactly as the workers did from the same selected node ids.
"""

from __future__ import annotations

import re

from xdist.scheduler import LoadScopeScheduling

from harness.cases import EXPERIMENTS
from harness.execution.groups import Entry

__all__ = ["GroupScheduling"]

_NODEID = re.compile(r"::test_(?P<experiment>\w+)\[(?P<id>[^\[\]]+)\]$")


class GroupScheduling(LoadScopeScheduling):
    """``loadscope`` with the leakage groups as scopes; other tests are each their own scope."""

    def __init__(self, config, log=None, *, leak):
        super().__init__(config, log)
        self.leak = leak
        self._scopes: dict[str, str] | None = None

    def remove_node(self, node):
        """A worker finished or died. ``loadscope`` would queue its crashed case again and hand
        work to a replacement worker that has not collected yet; like ``load``, the crashed case
        is reported, not rerun, and the rest of its group goes to the next worker."""
        workload = self.assigned_work.pop(node)
        pending = [(scope, nodeid) for scope, unit in workload.items() for nodeid, done in unit.items() if not done]
        if not pending:
            return None
        crashitem = pending[0][1]
        for scope, unit in workload.items():
            remaining = {nodeid: False for nodeid, done in unit.items() if not done and nodeid != crashitem}
            if remaining:
                self.workqueue[scope] = remaining
        for other in self.assigned_work:
            self._reschedule(other)
        return crashitem

    def _reschedule(self, node) -> None:
        if node not in self.registered_collections:
            return  # a replacement worker: it gets work once it has collected (schedule() again)
        super()._reschedule(node)

    def _split_scope(self, nodeid: str) -> str:
        if self._scopes is None:
            self._scopes = self._plan(self.collection or [])
        return self._scopes.get(nodeid, nodeid)

    def _plan(self, nodeids: list[str]) -> dict[str, str]:
        cases = {(c.experiment, c.case_id): c for e in EXPERIMENTS for c in self.leak.cases(e)}
        entries = []
        for nodeid in nodeids:
            match = _NODEID.search(nodeid)
            case = cases.get((match["experiment"], match["id"])) if match else None
            if case is not None and self.leak.pipeline.skip_reason(case):
                case = None  # skipped at collection: computes nothing
            entries.append(Entry(nodeid, case))
        groups = self.leak.runner.execution.plan_only(entries)
        return {nodeid: group.name for group in groups for nodeid in group.nodeids}
