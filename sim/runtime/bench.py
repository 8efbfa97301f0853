"""Per-message cost of the simulated runtime: `python -m sim.runtime.bench [--messages N]`.

Two actors play ping-pong with frozen-dataclass messages, first with tells, then with blocking
asks (each ask parks the asker until the answer). Prints messages delivered per wall second.
`--threads` runs the same tell ping-pong on ThreadRuntime for comparison.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import pykka

from runtime.actors import ActorRuntime, ThreadRuntime
from sim.runtime import SimRuntime


@dataclass(frozen=True)
class Ping:
    n: int


@dataclass(frozen=True)
class Pong:
    n: int


class Ponger(pykka.Actor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return Pong(message.n)
        return super().on_receive(message)


@dataclass(frozen=True)
class Serve:
    pinger: pykka.ActorRef[Any]


class TellPinger(pykka.Actor):
    """Tells Ping(n) to the ponger, which tells Pong(n) back, `rounds` times."""

    def __init__(self, rounds: int, done: pykka.Future[int]) -> None:
        super().__init__()
        self._rounds = rounds
        self._done = done
        self._ponger: pykka.ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> None:
        if isinstance(message, Serve):
            self._ponger = message.pinger
            self._ponger.tell(Serve(self.actor_ref))
        elif message.n + 1 >= self._rounds:
            self._done.set(message.n + 1)
        else:
            assert self._ponger is not None
            self._ponger.tell(Ping(message.n + 1))


class TellPonger(pykka.Actor):
    def __init__(self) -> None:
        super().__init__()
        self._pinger: pykka.ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> None:
        if isinstance(message, Serve):
            self._pinger = message.pinger
            self._pinger.tell(Pong(-1))
        else:
            assert self._pinger is not None
            self._pinger.tell(Pong(message.n))


class AskPinger(pykka.Actor):
    def __init__(self, ponger: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self._ponger = ponger

    def play(self, rounds: int) -> int:
        return sum(self._ponger.ask(Ping(n), block=True).n for n in range(rounds))


def tell_ping_pong(runtime: ActorRuntime, rounds: int, done: pykka.Future[int]) -> float:
    ponger = runtime.spawn(TellPonger)
    pinger = runtime.spawn(TellPinger, rounds, done)
    started = time.perf_counter()
    pinger.tell(Serve(ponger))
    runtime.wait(done, timeout=600.0)
    elapsed = time.perf_counter() - started
    pinger.stop()
    ponger.stop()
    return elapsed


def ask_ping_pong(runtime: SimRuntime, rounds: int) -> float:
    ponger = runtime.spawn(Ponger)
    pinger = runtime.spawn(AskPinger, ponger)
    started = time.perf_counter()
    runtime.wait(pinger.proxy().play(rounds), timeout=600.0)
    elapsed = time.perf_counter() - started
    runtime.shutdown()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="messages per benchmark")
    parser.add_argument("--threads", action="store_true", help="also run tell ping-pong threaded")
    args = parser.parse_args()
    rounds = args.messages // 2  # two deliveries per round

    sim = SimRuntime(seed=1)
    elapsed = tell_ping_pong(sim, rounds, sim.future())
    sim.shutdown()
    print(f"sim tell ping-pong: {2 * rounds / elapsed:,.0f} messages/s ({elapsed:.2f} s)")

    sim = SimRuntime(seed=1)
    elapsed = ask_ping_pong(sim, rounds)
    print(f"sim blocking asks:  {rounds / elapsed:,.0f} round trips/s ({elapsed:.2f} s)")
    print(f"trace events: {sim.trace.events:,}, scheduler steps: {sim.steps:,}")

    if args.threads:
        threaded = ThreadRuntime()
        elapsed = tell_ping_pong(threaded, rounds, pykka.ThreadingFuture())
        print(f"threaded tell ping-pong: {2 * rounds / elapsed:,.0f} messages/s ({elapsed:.2f} s)")


if __name__ == "__main__":
    main()
