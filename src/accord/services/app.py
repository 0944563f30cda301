"""The application's ports, shared by every use case: database, settings, scheduler index, Nova.

Built once per process by the app factory (or a test); nothing here keeps request state. The
scheduler index hears of every committed change to a host from the database itself
(`Database.on_commit`), so use cases need not tell it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from accord.config import Settings
from accord.domain.arq import NOVA_STATUS, ARQState
from accord.nova import BindEvent, NovaNotifier
from accord.store.bind_operations import complete_bind_operation, mdev_preparer
from accord.store.binding import HandlePreparer, HostChooser
from accord.store.db import Database
from accord.store.firmware import complete_flash
from accord.store.models import AcceleratorRequest
from accord.store.operations import Completion
from accord.store.programming import complete_program, program_preparer
from accord.store.providers import choose_deployables
from accord.store.scheduler_cache import SchedulerCache


@dataclass
class Services:
    settings: Settings
    db: Database
    nova: NovaNotifier | None = None
    preparers: list[HandlePreparer] = field(default_factory=lambda: [program_preparer, mdev_preparer])
    chooser: HostChooser | None = choose_deployables
    scheduler: SchedulerCache = field(default_factory=lambda: SchedulerCache(0))
    # What happens when an operation of each kind ends (bind completion, firmware, ...).
    completions: dict[str, Completion] = field(
        default_factory=lambda: {
            "create_mdev": complete_bind_operation,
            "program": complete_program,
            "firmware": complete_flash,
        }
    )

    def notify_resolved(self, arqs: Sequence[AcceleratorRequest]) -> None:
        if self.nova is None:
            return
        events = [
            BindEvent(a.instance_uuid, a.uuid, NOVA_STATUS[ARQState(a.state)])
            for a in arqs
            if a.instance_uuid and ARQState(a.state) in NOVA_STATUS
        ]
        self.nova.send_in_background(events)
