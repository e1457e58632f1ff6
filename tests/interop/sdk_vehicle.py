"""A VDA 5050 vehicle from the independent `vda5050-sdk` package, for
interoperability tests of Borderlane's master control.

It connects to an MQTT broker as one vehicle, accepts the orders Borderlane
sends through the SDK's own order acceptance, drives along each order's
released base at a fixed speed (scaled like the orchestrator's clock),
reports its position, actions and loads in state messages, and runs until
it receives SIGTERM or SIGINT.

Usage:
    python sdk_vehicle.py --broker mqtt://127.0.0.1:1883 --manufacturer borderlane \
        --serial SDK-1 --node VN_PARK_01 --x 12.5 --y -40.0 --map-id bac_luan_ii \
        --origin-ms 1700000000000 --speed 20
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import time
from datetime import datetime, timezone

from vda5050 import VehicleClient, VehicleConfig
from vda5050.client.agv.executor import OrderExecutor
from vda5050.model.common import Action
from vda5050.model.enums import ActionStatus
from vda5050.model.order import Node, Order
from vda5050.model.state import BatteryState, Load


class ScaledClock:
    """The orchestrator's clock: from `origin_ms` on, `speed` times real time."""

    def __init__(self, origin_ms: int, speed: float) -> None:
        self.origin = origin_ms / 1000.0
        self.speed = speed

    def seconds(self) -> float:
        return self.origin + (time.time() - self.origin) * self.speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.seconds(), tz=timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class DrivingExecutor(OrderExecutor):
    """Drives to each node at `speed_mps` and carries loads for pick/drop."""

    def __init__(self, client: VehicleClient, clock: ScaledClock, speed_mps: float, map_id: str):
        super().__init__(client.publisher, clock=clock, enforce_arrival=False)
        self.client = client
        self.clock = clock
        self.speed_mps = speed_mps
        self.map_id = map_id

    async def visit_node(self, node: Node) -> None:
        position = self.client.publisher.agv_position
        target = node.node_position
        if target is not None and position is not None:
            distance = math.hypot(target.x - position.x, target.y - position.y)
            await self.clock.sleep(distance / self.speed_mps)
            self.client.update_position(x=target.x, y=target.y, theta=0.0, map_id=self.map_id)

    async def run_action(self, action: Action, *, node=None, edge=None) -> None:
        publisher = self.client.publisher
        publisher.report_action(action.action_id, ActionStatus.RUNNING, action_type=action.action_type)
        parameters = {p.key: p.value for p in (action.action_parameters or [])}
        duration = float(parameters.get("duration", 0) or 0)
        if duration:
            await self.clock.sleep(duration)
        if action.action_type == "pick":
            publisher.set_loads([Load(load_id=str(parameters.get("loadId", "container")))])
        elif action.action_type == "drop":
            publisher.set_loads([])
        publisher.report_action(action.action_id, ActionStatus.FINISHED, action_type=action.action_type)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--manufacturer", required=True)
    parser.add_argument("--serial", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--y", type=float, required=True)
    parser.add_argument("--map-id", required=True)
    parser.add_argument("--origin-ms", type=int, required=True)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--drive-mps", type=float, default=5.0)
    parser.add_argument("--version", default="2.1.0")
    args = parser.parse_args()

    clock = ScaledClock(args.origin_ms, args.speed)
    config = VehicleConfig(
        broker_url=args.broker,
        manufacturer=args.manufacturer,
        serial_number=args.serial,
        protocol_version=args.version,
        state_interval=5.0,
    )
    client = VehicleClient(config, clock=clock)
    previous: list[asyncio.Task] = []

    async def run_after(order: Order, before: asyncio.Task | None) -> None:
        # An order update continues from the last node of the base before
        # it: let the earlier base finish first, so no node is skipped.
        if before is not None:
            await before
        executor = DrivingExecutor(client, clock, args.drive_mps, args.map_id)
        await executor.run(order)

    def report_failure(task: asyncio.Task) -> None:
        # A task that fails would otherwise leave the vehicle standing
        # without a word; say why, for the test's log.
        if not task.cancelled() and task.exception() is not None:
            print(f"sdk vehicle {args.serial}: order failed: {task.exception()!r}", flush=True)

    def on_order(order: Order) -> None:
        before = previous[-1] if previous else None
        task = asyncio.get_running_loop().create_task(run_after(order, before))
        task.add_done_callback(report_failure)
        print(
            f"sdk vehicle {args.serial}: order {order.order_id} update {order.order_update_id}",
            flush=True,
        )
        previous[:] = [task]

    client.on_order(on_order)
    await client.connect()
    client.update_position(x=args.x, y=args.y, theta=0.0, map_id=args.map_id)
    client.publisher.set_battery(BatteryState(battery_charge=95.0, charging=False))
    client.mark_node_traversed(args.node, 0)
    await client.publish_state()
    print(f"sdk vehicle {args.serial} online at {args.node}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await client.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
