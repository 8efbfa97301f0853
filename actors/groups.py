"""The supervisor of all order groups: one child supervisor per group, started on demand.

A group's supervisor restarts the group's actors one for one (each rehydrates from its snapshot). If
it gives up (restart intensity exceeded), the group is not restarted again but handed to the
escalation actor, which puts it in the safe state.
"""

from __future__ import annotations

from typing import Any

from actors.group import GroupActor, group_address, group_supervisor_address
from actors.messages import EscalateGroup, GroupSettled, StartGroup
from supervision.base import handles
from supervision.messages import ChildGaveUp, ChildSpec, Restart, StartChild, StopChild, Strategy
from supervision.supervisor import Supervisor


class GroupsSupervisor(Supervisor):
    def started(self) -> None:
        super().started()
        if self.restarted:
            # Our predecessor's failure took every group's actors down with it (a supervisor's
            # children do not outlive it): bring back every open group, rehydrated and reconciled.
            self._restart_open_groups()

    def _restart_open_groups(self) -> None:
        from actors.escalation import owned_by_escalation
        from actors.persist import wait_for_writer
        from domain.plan import GroupRecord
        from storage import keys

        wait_for_writer(self.ctx)
        for group_id in self.ctx.store.open_groups():
            found = self.ctx.store.snapshot(keys.group_key(group_id))
            if found is None:
                continue  # the risk actor's recovery escalates a group without a readable snapshot
            record = GroupRecord.from_record(found[1])
            if not owned_by_escalation(self.ctx.store, record):
                self.on_start_group(StartGroup(record.spec, recovering=True))

    @handles(StartGroup)
    def on_start_group(self, message: StartGroup) -> None:
        spec = message.spec
        execution = self.ctx.settings.execution
        group = ChildSpec(
            group_address(spec.group_id),
            GroupActor,
            args=(spec,),
            kwargs={"recovering": message.recovering, "created_at": self.ctx.clock.now()},
            restart=Restart.TRANSIENT,
        )
        self.ctx.directory.reserve(group.address)
        self.on_start_child(
            StartChild(
                ChildSpec(
                    group_supervisor_address(spec.group_id),
                    Supervisor,
                    kwargs={
                        "strategy": Strategy.ONE_FOR_ONE,
                        "max_restarts": execution.group_max_restarts,
                        "max_seconds": execution.group_max_seconds,
                        "children": (group,),
                    },
                    restart=Restart.TEMPORARY,
                    escalate_to=self.actor_address,
                )
            )
        )

    @handles(GroupSettled)
    def on_group_settled(self, message: GroupSettled) -> None:
        self.on_stop_child(StopChild(group_supervisor_address(message.group_id)))

    @handles(ChildGaveUp)
    def on_child_gave_up(self, message: ChildGaveUp) -> None:
        group_id = message.address.split("/", 1)[1]
        self.log.error("group_escalated", group_id=group_id, reason=message.reason)
        self.tell("escalation", EscalateGroup(group_id, message.reason))

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["groups"] = len(self._children)
        return info
