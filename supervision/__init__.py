"""Supervisors with OTP semantics, the directory of logical addresses, and crash recovery."""

from supervision.base import ContainedFailure, SupervisedActor, handles
from supervision.context import ActorContext
from supervision.directory import Directory
from supervision.messages import (
    ChildExited,
    ChildFailed,
    ChildGaveUp,
    ChildInfo,
    ChildSpec,
    Describe,
    Restart,
    StartChild,
    StopChild,
    Strategy,
    WhichChildren,
)
from supervision.supervisor import Supervisor

__all__ = [
    "ActorContext",
    "ChildExited",
    "ChildFailed",
    "ChildGaveUp",
    "ChildInfo",
    "ChildSpec",
    "ContainedFailure",
    "Describe",
    "Directory",
    "Restart",
    "StartChild",
    "StopChild",
    "Strategy",
    "SupervisedActor",
    "Supervisor",
    "WhichChildren",
    "handles",
]
