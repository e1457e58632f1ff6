//! The systems that step the core, in the order the schedule runs them:
//! take inputs, advance jobs, repair plans, dispatch, retry waiting
//! vehicles, prune the table.

use std::collections::{BTreeMap, BTreeSet};

use bevy_ecs::prelude::*;
use bevy_ecs::system::SystemParam;
use borderlane_model::{LaneMap, Ms, NEVER, NodeIx, NodeKind, Side, TimedPlan, VehicleId};
use pathfinding::prelude::{Matrix, kuhn_munkres_min};
use std::sync::Arc as Shared;

use crate::io::{
    Action, ActionKind, Channel, Command, CommandStep, CrossingInput, CrossingOutput, Event, Input,
    JobRequest, OperatorCommand, Output, VehicleReport,
};
use crate::kinematics::Load;
use crate::planner::{Exit, Goal, PlanError, Planned, Request, Start};
use crate::world::*;

type VehicleItem<'a> = (&'a Vehicle, &'a mut Status, &'a mut Motion, &'a mut Task);

/// Takes every queued input in arrival order.
#[allow(clippy::too_many_arguments)]
pub fn ingest_inputs(
    now: Res<Now>,
    map: Res<MapRes>,
    settings: Res<Settings>,
    mut inbox: ResMut<Inbox>,
    mut out: ResMut<Outbox>,
    mut registry: ResMut<Registry>,
    mut pending: ResMut<Pending>,
    mut lane: ResMut<Lane>,
    mut stats: ResMut<Stats>,
    mut planning: ResMut<Planning>,
    mut vehicles: Query<VehicleItem>,
    mut jobs: Query<&mut Job>,
    mut commands: Commands,
) {
    let now = now.0;
    let map = &*map.0;
    while let Some(input) = inbox.0.pop_front() {
        let result = match input {
            Input::State(report) => on_report(
                now,
                map,
                settings.0.territory,
                &registry,
                &mut pending,
                &mut out,
                &mut vehicles,
                report,
                settings.0.late_tolerance_ms,
            ),
            Input::Job(req) => on_job(
                now,
                map,
                settings.0.territory,
                &mut registry,
                &mut out,
                &mut commands,
                req,
            ),
            Input::Crossing(c) => on_crossing(
                now,
                map,
                &mut registry,
                &mut pending,
                &mut planning,
                &mut stats,
                &mut out,
                &mut vehicles,
                &mut commands,
                settings.0.retry_ms,
                c,
            ),
            Input::Operator(cmd) => on_operator(
                now,
                map,
                &registry,
                &mut lane,
                &mut pending,
                &mut planning,
                &mut out,
                &mut vehicles,
                &mut jobs,
                &mut commands,
                cmd,
            ),
        };
        if let Err(reason) = result {
            stats.rejected_inputs += 1;
            out.0
                .push_back(Output::Event(Event::InputRejected { reason }));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn on_report(
    now: Ms,
    map: &LaneMap,
    territory: Option<Side>,
    registry: &Registry,
    pending: &mut Pending,
    out: &mut Outbox,
    vehicles: &mut Query<VehicleItem>,
    r: VehicleReport,
    tolerance: Ms,
) -> Result<(), String> {
    let Some(&entity) = registry.vehicles.get(&r.vehicle) else {
        return Err(format!("state from unknown vehicle {:?}", r.vehicle));
    };
    let Some(node) = map.node_by_id(&r.last_node) else {
        return Err(format!(
            "vehicle {}: unknown last node {:?}",
            r.vehicle, r.last_node
        ));
    };
    if !r.battery_pct.is_finite() || !(0.0..=100.0).contains(&r.battery_pct) {
        return Err(format!(
            "vehicle {}: battery {} out of range",
            r.vehicle, r.battery_pct
        ));
    }
    let Ok((vehicle, mut status, motion, mut task)) = vehicles.get_mut(entity) else {
        return Err(format!("vehicle {:?} is not in the world", r.vehicle));
    };
    if matches!(task.crossing, Crossing::Leaving { .. }) {
        if r.broken {
            task.stranded = true;
        } else if territory.is_some_and(|me| map.side_of(node) != me) {
            task.stranded = false;
        }
    }
    let was_broken = status.broken;
    let was_lost = status.link_lost;
    status.node = node;
    status.battery_pct = r.battery_pct;
    status.loaded = r.loaded;
    status.broken = r.broken;
    status.link_lost = r.link_lost;
    status.driving = r.driving;
    status.last_report = now;
    status.following = r.plan_id;
    let current = motion.active.as_ref().map(|a| a.id);
    if r.plan_id.is_some() && r.plan_id == current {
        status.finished.extend(r.finished_actions.iter().copied());
    }
    let id = vehicle.id;
    if r.broken && !was_broken {
        pending
            .repair
            .insert(id, format!("{} broke down", r.vehicle));
        out.0.push_back(Output::Event(Event::VehicleBroken {
            vehicle: r.vehicle.clone(),
            node: r.last_node.clone(),
        }));
    } else if !r.broken && was_broken {
        pending
            .repair
            .insert(id, format!("{} was repaired", r.vehicle));
        out.0.push_back(Output::Event(Event::VehicleRepaired {
            vehicle: r.vehicle.clone(),
        }));
        // Its place is about to be free: vehicles waiting for it retry now.
        pending.freed = true;
    } else if r.link_lost != was_lost {
        let why = if r.link_lost {
            "lost its link"
        } else {
            "is back"
        };
        pending.repair.insert(id, format!("{} {why}", r.vehicle));
        // A vehicle back in touch may have been in others' way.
        pending.freed |= !r.link_lost;
    } else if let (Some(active), Some(step)) = (motion.active.as_ref(), r.last_step)
        && r.plan_id == Some(active.id)
        && let Some(s) = active.plan.steps.get(step)
    {
        // Late means still at a node after the plan had it leave, beyond
        // the tolerance; a vehicle that reports itself driving has left.
        // At rest a vehicle cannot be late.
        let late = if s.depart == NEVER {
            0
        } else {
            now.saturating_sub(s.depart)
        };
        if s.node != node {
            pending
                .repair
                .insert(id, format!("{} is off its plan", r.vehicle));
        } else if late > tolerance && !r.driving {
            pending
                .repair
                .insert(id, format!("{} runs {} ms late", r.vehicle, late));
        }
    }
    Ok(())
}

fn on_job(
    now: Ms,
    map: &LaneMap,
    territory: Option<Side>,
    registry: &mut Registry,
    out: &mut Outbox,
    commands: &mut Commands,
    req: JobRequest,
) -> Result<(), String> {
    let Some(pickup) = map.node_by_id(&req.pickup) else {
        return Err(format!(
            "job {}: unknown pickup node {:?}",
            req.id, req.pickup
        ));
    };
    if let Some(me) = territory
        && map.node(pickup).side != Some(me)
    {
        return Err(format!(
            "job {}: pickup {:?} is not on this side ({me:?})",
            req.id, req.pickup
        ));
    }
    if map.node(pickup).kind != NodeKind::YardSlot {
        return Err(format!(
            "job {}: pickup {:?} is not a yard slot",
            req.id, req.pickup
        ));
    }
    if registry.job_ids.contains_key(&req.id) {
        return Err(format!("job {}: duplicate job id", req.id));
    }
    if req.customs_ms > 24 * 3_600_000 {
        return Err(format!(
            "job {}: customs_ms {} is more than a day",
            req.id, req.customs_ms
        ));
    }
    let key = registry.next_job;
    registry.next_job += 1;
    registry.job_ids.insert(req.id.clone(), key);
    let job = Job {
        key,
        id: req.id.clone(),
        container: req.container,
        pickup,
        from: map.side_of(pickup),
        channel: req.channel,
        customs_ms: req.customs_ms,
        priority: req.priority,
        deadline: req.deadline,
        created: now,
        vehicle: None,
        drop: None,
        stops: Vec::new(),
        done: 0,
        not_before: 0,
    };
    let e = commands.spawn(job).id();
    registry.jobs.insert(key, e);
    out.0
        .push_back(Output::Event(Event::JobQueued { job: req.id }));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn on_operator(
    now: Ms,
    map: &LaneMap,
    registry: &Registry,
    lane: &mut Lane,
    pending: &mut Pending,
    planning: &mut Planning,
    out: &mut Outbox,
    vehicles: &mut Query<VehicleItem>,
    jobs: &mut Query<&mut Job>,
    commands: &mut Commands,
    cmd: OperatorCommand,
) -> Result<(), String> {
    match cmd {
        OperatorCommand::BlockPlace { node } => {
            let n = map
                .node_by_id(&node)
                .ok_or_else(|| format!("block: unknown node {node:?}"))?;
            if lane.blocked.contains_key(&n) {
                return Ok(());
            }
            let pin = pin_plan(
                block_id(n),
                Start::AtNode {
                    node: n,
                    time: now,
                    stopped: true,
                },
                map,
            );
            for v in planning.table.conflicts(map, &pin) {
                if v.0 < u32::MAX / 2 {
                    pending.repair.insert(v, format!("{node} blocked"));
                }
            }
            // The conflicting vehicles are released before the block goes
            // in, so the table never holds a conflict.
            for v in pending.repair.keys() {
                planning.table.release(*v);
            }
            planning.table.reserve(map, &pin);
            lane.blocked.insert(n, block_id(n));
            out.0.push_back(Output::Event(Event::PlaceBlocked { node }));
        }
        OperatorCommand::UnblockPlace { node } => {
            let n = map
                .node_by_id(&node)
                .ok_or_else(|| format!("unblock: unknown node {node:?}"))?;
            if let Some(id) = lane.blocked.remove(&n) {
                planning.table.release(id);
                pending.freed = true;
                out.0
                    .push_back(Output::Event(Event::PlaceUnblocked { node }));
            }
        }
        OperatorCommand::PauseLane => {
            if !lane.paused {
                lane.paused = true;
                let mut all: Vec<_> = vehicles.iter_mut().collect();
                all.sort_by_key(|(v, ..)| v.id);
                for (v, status, mut motion, _) in all {
                    let start = start_of(&motion, &status, now);
                    let pin = pin_plan(v.id, start, map);
                    planning.table.release(v.id);
                    planning.table.reserve(map, &pin);
                    motion.pinned = Some(pin);
                    // The plan is void while the lane stands; resume repairs it.
                    motion.active = None;
                    out.0.push_back(Output::Command(Command::Pause {
                        vehicle: v.serial.clone(),
                    }));
                }
                out.0.push_back(Output::Event(Event::LanePaused));
            }
        }
        OperatorCommand::ResumeLane => {
            if lane.paused {
                lane.paused = false;
                let mut all: Vec<_> = vehicles.iter_mut().collect();
                all.sort_by_key(|(v, ..)| v.id);
                for (v, ..) in all {
                    pending.repair.insert(v.id, "lane resumed".into());
                    out.0.push_back(Output::Command(Command::Resume {
                        vehicle: v.serial.clone(),
                    }));
                }
                out.0.push_back(Output::Event(Event::LaneResumed));
            }
        }
        OperatorCommand::CancelJob { job } => {
            let key = *registry
                .job_ids
                .get(&job)
                .ok_or_else(|| format!("cancel: unknown job {job:?}"))?;
            let entity = *registry
                .jobs
                .get(&key)
                .ok_or_else(|| format!("cancel: job {job:?} is finished"))?;
            let j = jobs
                .get_mut(entity)
                .map_err(|_| format!("cancel: job {job:?} is finished"))?;
            if j.done > 0 {
                return Err(format!(
                    "cancel: job {job:?} already has its container on a vehicle"
                ));
            }
            if let Some(v) = j.vehicle
                && let Some(&ve) = registry.by_id.get(&v)
                && let Ok((_, _, _, mut task)) = vehicles.get_mut(ve)
            {
                task.job = None;
                pending.repair.insert(v, format!("job {job} cancelled"));
            }
            commands.entity(entity).despawn();
            out.0.push_back(Output::Event(Event::JobCancelled { job }));
        }
        OperatorCommand::PauseVehicle { vehicle } => {
            let (v, status, mut motion, _) = vehicle_mut(registry, vehicles, &vehicle, "pause")?;
            if !status.held {
                let start = start_of(&motion, &status, now);
                let pin = pin_plan(v.id, start, map);
                planning.table.release(v.id);
                planning.table.reserve(map, &pin);
                motion.pinned = Some(pin);
                motion.active = None;
                status.into_inner().held = true;
                out.0.push_back(Output::Command(Command::Pause {
                    vehicle: vehicle.clone(),
                }));
                out.0
                    .push_back(Output::Event(Event::VehiclePaused { vehicle }));
            }
        }
        OperatorCommand::ResumeVehicle { vehicle } => {
            let (v, mut status, ..) = vehicle_mut(registry, vehicles, &vehicle, "resume")?;
            if status.held {
                status.held = false;
                pending.repair.insert(v.id, format!("{vehicle} resumed"));
                out.0.push_back(Output::Command(Command::Resume {
                    vehicle: vehicle.clone(),
                }));
                out.0
                    .push_back(Output::Event(Event::VehicleResumed { vehicle }));
            }
        }
        OperatorCommand::Reprioritise { job, priority } => {
            let entity = registry
                .job_ids
                .get(&job)
                .and_then(|k| registry.jobs.get(k))
                .ok_or_else(|| format!("reprioritise: unknown or finished job {job:?}"))?;
            let mut j = jobs
                .get_mut(*entity)
                .map_err(|_| format!("reprioritise: job {job:?} is finished"))?;
            j.priority = priority;
            out.0
                .push_back(Output::Event(Event::JobReprioritised { job, priority }));
        }
        OperatorCommand::SendToCharger { vehicle } => {
            let (v, status, motion, mut task) =
                vehicle_mut(registry, vehicles, &vehicle, "send to charger")?;
            if !is_idle(&status, &motion, &task, now) {
                return Err(format!(
                    "send to charger: vehicle {vehicle:?} is not idle (it has work, is moving, or cannot move)"
                ));
            }
            task.charging = true;
            pending
                .repair
                .insert(v.id, format!("{vehicle} sent to charge"));
            out.0.push_back(Output::Event(Event::VehicleSent {
                vehicle,
                to: "charger".into(),
            }));
        }
        OperatorCommand::SendToParking { vehicle } => {
            let (v, status, motion, mut task) =
                vehicle_mut(registry, vehicles, &vehicle, "send to parking")?;
            let resting = task.job.is_none() && !status.immobile() && motion.at_rest(now);
            if !resting {
                return Err(format!(
                    "send to parking: vehicle {vehicle:?} is not at rest without a job"
                ));
            }
            task.charging = false;
            task.to_parking = true;
            pending
                .repair
                .insert(v.id, format!("{vehicle} sent to park"));
            out.0.push_back(Output::Event(Event::VehicleSent {
                vehicle,
                to: "parking".into(),
            }));
        }
    }
    Ok(())
}

/// A vehicle's components, borrowed for a change.
type VehicleMut<'q> = (&'q Vehicle, Mut<'q, Status>, Mut<'q, Motion>, Mut<'q, Task>);

/// The vehicle an operator's command names.
fn vehicle_mut<'q>(
    registry: &Registry,
    vehicles: &'q mut Query<VehicleItem>,
    vehicle: &str,
    what: &str,
) -> Result<VehicleMut<'q>, String> {
    let entity = registry
        .vehicles
        .get(vehicle)
        .ok_or_else(|| format!("{what}: unknown vehicle {vehicle:?}"))?;
    vehicles
        .get_mut(*entity)
        .map_err(|_| format!("{what}: vehicle {vehicle:?} is not in the world"))
}

/// Applies a step of the handoff protocol. An entry request is kept for
/// `step_crossings`, which plans it.
#[allow(clippy::too_many_arguments)]
fn on_crossing(
    now: Ms,
    map: &LaneMap,
    registry: &mut Registry,
    pending: &mut Pending,
    planning: &mut Planning,
    stats: &mut Stats,
    out: &mut Outbox,
    vehicles: &mut Query<VehicleItem>,
    commands: &mut Commands,
    retry_ms: Ms,
    c: CrossingInput,
) -> Result<(), String> {
    let serial = match &c {
        CrossingInput::Entry { .. } => {
            pending.entries.push(c);
            return Ok(());
        }
        CrossingInput::Granted { vehicle, .. }
        | CrossingInput::Kept { vehicle, .. }
        | CrossingInput::Transferred { vehicle }
        | CrossingInput::Cancelled { vehicle }
        | CrossingInput::Adopted { vehicle } => vehicle.clone(),
    };
    let Some(&e) = registry.vehicles.get(&serial) else {
        return Err(format!("crossing of unknown vehicle {serial:?}"));
    };
    let Ok((veh, _, mut motion, mut task)) = vehicles.get_mut(e) else {
        return Err(format!("vehicle {serial:?} is not in the world"));
    };
    let wrong = |what: &str, state: Crossing| {
        Err(format!(
            "vehicle {serial}: {what} while its crossing is {state:?}"
        ))
    };
    match c {
        CrossingInput::Entry { .. } => unreachable!("kept above"),
        CrossingInput::Granted { at_ms, .. } => {
            if !task.crossing.waiting() {
                return wrong("a grant", task.crossing);
            }
            task.crossing = Crossing::Granted {
                at: at_ms,
                commit_at: NEVER,
            };
            pending
                .repair
                .insert(veh.id, format!("{serial} may cross at {at_ms} ms"));
        }
        CrossingInput::Kept { .. } => {
            match task.crossing {
                // Already asking again.
                Crossing::Ask { .. } => return Ok(()),
                Crossing::Asked => {}
                Crossing::Granted { .. } => {
                    pending
                        .repair
                        .insert(veh.id, format!("{serial} may not cross"));
                }
                state => return wrong("a roll-back", state),
            }
            task.crossing = Crossing::Ask {
                at: now + retry_ms,
                earliest: now,
            };
        }
        CrossingInput::Transferred { .. } => {
            let Crossing::Leaving { at, .. } = task.crossing else {
                return wrong("a transfer", task.crossing);
            };
            task.crossing = Crossing::Leaving {
                at,
                transferred: true,
            };
            // The job and its container are the other side's now.
            if let Some(key) = task.job.take()
                && let Some(je) = registry.jobs.remove(&key)
            {
                commands.entity(je).despawn();
            }
            stats.handed_over += 1;
        }
        CrossingInput::Cancelled { .. } => {
            if !matches!(task.crossing, Crossing::Incoming { .. }) {
                return wrong("a cancel", task.crossing);
            }
            planning.table.release(veh.id);
            if let Some(key) = task.job.take()
                && let Some(je) = registry.jobs.remove(&key)
            {
                registry.job_ids.retain(|_, k| *k != key);
                commands.entity(je).despawn();
            }
            registry.vehicles.remove(&serial);
            registry.by_id.remove(&veh.id);
            commands.entity(e).despawn();
        }
        CrossingInput::Adopted { .. } => {
            if !matches!(task.crossing, Crossing::Incoming { .. }) {
                return wrong("an adoption", task.crossing);
            }
            task.crossing = Crossing::None;
            stats.adopted += 1;
            if let Some(a) = motion.active.as_mut() {
                let last = a.plan.steps[a.plan.steps.len() - 1];
                out.0.push_back(Output::Command(Command::Drive {
                    vehicle: serial.clone(),
                    plan_id: a.id,
                    steps: command_steps(map, &a.plan, &a.actions),
                }));
                out.0.push_back(Output::Event(Event::PlanCommitted {
                    vehicle: serial,
                    plan_id: a.id,
                    steps: a.plan.steps.len(),
                    rest: map.node(last.node).id.clone(),
                    ends_ms: last.arrive,
                }));
            }
            motion.retry_at = None;
        }
    }
    Ok(())
}

/// Applies finished actions to jobs: picks, customs stops, drops.
pub fn advance_jobs(
    map: Res<MapRes>,
    mut registry: ResMut<Registry>,
    mut out: ResMut<Outbox>,
    mut stats: ResMut<Stats>,
    mut vehicles: Query<VehicleItem>,
    mut jobs: Query<&mut Job>,
    mut commands: Commands,
) {
    let map = &*map.0;
    let mut all: Vec<_> = vehicles.iter_mut().collect();
    all.sort_by_key(|(v, ..)| v.id);
    for (v, status, motion, mut task) in all {
        let Some(active) = motion.active.as_ref() else {
            continue;
        };
        if task.charging && status.battery_pct >= 100.0 {
            task.charging = false;
        }
        let Some(key) = task.job else { continue };
        let Some(&je) = registry.jobs.get(&key) else {
            continue;
        };
        let Ok(mut job) = jobs.get_mut(je) else {
            continue;
        };
        for (step, action, stop) in &active.actions {
            let Some(stop) = *stop else { continue };
            if stop != job.done || !status.finished.contains(&action.id) {
                continue;
            }
            job.done += 1;
            let node = active.plan.steps[*step].node;
            match &action.kind {
                ActionKind::Pick { container } => {
                    out.0.push_back(Output::Event(Event::ContainerPicked {
                        job: job.id.clone(),
                        vehicle: v.serial.clone(),
                        container: container.clone(),
                        side: map.side_of(node),
                    }))
                }
                ActionKind::Drop { container } => {
                    out.0.push_back(Output::Event(Event::JobDelivered {
                        job: job.id.clone(),
                        vehicle: v.serial.clone(),
                        container: container.clone(),
                        side: map.side_of(node),
                    }));
                    stats.delivered += 1;
                    task.job = None;
                    registry.jobs.remove(&key);
                    commands.entity(je).despawn();
                    break;
                }
                _ => {}
            }
        }
    }
}

/// Extends the plans of vehicles that were cut at the plan horizon and
/// are due: before they reach the stop the plan ends at, once its end
/// comes within the horizon; or once the stop is done. A vehicle is never
/// replanned while it works at that stop, so the work is done once, and
/// the stop counts once in its job's progress.
///
/// Before the stop the vehicle is on its way there, on a plan that ends at
/// rest at a place: the extension is only tried, and if no plan is found
/// the vehicle keeps the plan it has and its reservations, and drives on
/// to the stop (it is tried again a while later, or once the stop is
/// done). Once the stop is done the vehicle stands there at the end of its
/// plan, and its plan is repaired like any other.
pub fn extend_plans(
    mut p: PlanParams,
    mut pending: ResMut<Pending>,
    mut vehicles: Query<VehicleItem>,
    jobs: Query<&Job>,
) {
    if p.lane.paused {
        return;
    }
    let now = p.now.0;
    let retry = p.settings.0.retry_ms;
    let mut all: Vec<_> = vehicles.iter_mut().collect();
    all.sort_by_key(|(v, ..)| v.id);
    for (v, status, mut motion, mut task) in all {
        let Some(cut) = motion.active.as_ref().and_then(|a| a.cut) else {
            continue;
        };
        if status.immobile() || task.crossing != Crossing::None {
            continue;
        }
        let job = task
            .job
            .and_then(|k| p.registry.jobs.get(&k))
            .and_then(|e| jobs.get(*e).ok());
        let done = job.is_none_or(|j| j.done > cut.stop);
        let due = cut.extend_at <= now && now < cut.arrive;
        if !done && !due {
            continue;
        }
        // Its work on this side before a crossing is done: it asks for its
        // time at the border, resting where it is meanwhile.
        if done
            && p.borders.exit.is_some()
            && let Some(j) = job
            && j.drop.is_none()
            && last_place_stop(&p.map.0, j).is_none()
        {
            task.crossing = Crossing::Ask {
                at: now,
                earliest: now,
            };
            continue;
        }
        if done {
            pending
                .repair
                .entry(v.id)
                .or_insert_with(|| format!("{} reaches its plan horizon", v.serial));
            continue;
        }
        let mut ctx = p.ctx();
        if !try_plan(&mut ctx, v, &status, &mut motion, &mut task, &jobs)
            && let Some(a) = motion.active.as_mut()
            && let Some(c) = a.cut.as_mut()
        {
            // Again a while later while it is still on its way, or else
            // once the stop is done.
            let again = now.saturating_add(retry);
            c.extend_at = if again < c.arrive { again } else { NEVER };
        }
    }
}

/// Plans a vehicle from where it is (see `plan_vehicle`), but only to
/// carry out its job or reach rest: if that fails, or leads only to the
/// way aside, the vehicle keeps the plan or pin it had, with its
/// reservations, and nothing is sent to it. For a vehicle that may be on
/// its way somewhere: it must not be pinned where it is without being
/// told to stop, nor sent aside from a plan it can still follow.
fn try_plan(
    ctx: &mut PlanCtx,
    veh: &Vehicle,
    status: &Status,
    motion: &mut Motion,
    task: &mut Task,
    jobs: &Query<&Job>,
) -> bool {
    let (motion_before, task_before) = (motion.clone(), task.clone());
    let sent = ctx.out.0.len();
    let planned = plan_vehicle(ctx, veh, status, motion, task, jobs);
    if planned && !task.aside {
        return true;
    }
    if planned {
        // The way aside was planned: it is taken back.
        ctx.stats.plans -= 1;
        ctx.stats.plan_failures += 1;
    }
    ctx.out.0.truncate(sent);
    ctx.planning.table.release(veh.id);
    *motion = motion_before;
    *task = task_before;
    let held = motion
        .pinned
        .as_ref()
        .or(motion.active.as_ref().map(|a| &a.plan));
    if let Some(plan) = held {
        ctx.planning.table.reserve(ctx.map, plan);
    }
    false
}

/// Repairs the plans of flagged vehicles, and of every vehicle whose plan
/// would conflict with where those vehicles must stay.
pub fn repair_plans(
    mut p: PlanParams,
    mut pending: ResMut<Pending>,
    mut vehicles: Query<VehicleItem>,
    jobs: Query<&Job>,
) {
    if pending.repair.is_empty() {
        return;
    }
    let seeds = std::mem::take(&mut pending.repair);
    let cause = seeds.values().next().cloned().unwrap_or_default();
    let mut ctx = p.ctx();
    ctx.stats.repairs += 1;
    let repaired = repair(
        &mut ctx,
        seeds.keys().copied().collect(),
        &mut vehicles,
        &jobs,
    );
    if !repaired.is_empty() {
        let names = repaired
            .iter()
            .filter_map(|v| vehicle_serial(&ctx, &vehicles, *v))
            .collect();
        ctx.out.0.push_back(Output::Event(Event::Repaired {
            cause,
            vehicles: names,
        }));
    }
}

fn vehicle_serial(ctx: &PlanCtx, vehicles: &Query<VehicleItem>, v: VehicleId) -> Option<String> {
    let e = ctx.registry.by_id.get(&v)?;
    vehicles.get(*e).ok().map(|(veh, ..)| veh.serial.clone())
}

/// Everything planning a vehicle needs.
pub struct PlanCtx<'a> {
    pub now: Ms,
    pub map: &'a LaneMap,
    pub settings: &'a crate::config::CoreConfig,
    pub lane: &'a Lane,
    pub planning: &'a mut Planning,
    pub registry: &'a mut Registry,
    pub out: &'a mut Outbox,
    pub stats: &'a mut Stats,
    pub borders: Borders,
}

/// The resources the planning systems share, as one system parameter.
#[derive(SystemParam)]
pub struct PlanParams<'w> {
    now: Res<'w, Now>,
    map: Res<'w, MapRes>,
    settings: Res<'w, Settings>,
    lane: Res<'w, Lane>,
    planning: ResMut<'w, Planning>,
    registry: ResMut<'w, Registry>,
    out: ResMut<'w, Outbox>,
    stats: ResMut<'w, Stats>,
    borders: Res<'w, Borders>,
}

impl PlanParams<'_> {
    fn ctx(&mut self) -> PlanCtx<'_> {
        PlanCtx {
            now: self.now.0,
            map: &self.map.0,
            settings: &self.settings.0,
            lane: &self.lane,
            planning: &mut self.planning,
            registry: &mut self.registry,
            out: &mut self.out,
            stats: &mut self.stats,
            borders: *self.borders,
        }
    }
}

/// Repairs the plans of `seeds`, and of every vehicle whose plan would
/// conflict with where a seed must stay.
///
/// Each vehicle to repair is first held where it is for a short while (a
/// *short pin*), so that the others plan around its present position but
/// not around a future it does not have yet. Then they are planned one by
/// one, leaders first. A vehicle that finds no plan is pinned where it is
/// for good; every vehicle whose new plan conflicts with that pin goes back
/// into the queue. The number of attempts is bounded; whoever is left stays
/// pinned and retries later. The table never holds a conflict between
/// steps, with one exception: past twice the bound a vehicle pinned for
/// good no longer sends the others back, so that vehicles that already
/// overlap (two reported at one node) cannot keep a repair going for ever,
/// and the table keeps the overlap they reported.
pub fn repair(
    ctx: &mut PlanCtx,
    seeds: BTreeSet<VehicleId>,
    vehicles: &mut Query<VehicleItem>,
    jobs: &Query<&Job>,
) -> BTreeSet<VehicleId> {
    let short = ctx.settings.rules.headway_ms * 2;
    let fixed_set: BTreeSet<VehicleId> = vehicles
        .iter()
        .filter(|(_, _, m, t)| fixed(t, m, ctx.now))
        .map(|(v, ..)| v.id)
        .collect();
    // Vehicles on the bridge keep their plans when another vehicle is
    // held where it stands for a moment: that one is replanned around
    // them, rather than stopping them on the bridge. (A vehicle pinned for
    // good still stops them.)
    let on_bridge: BTreeSet<VehicleId> = vehicles
        .iter()
        .filter(|(_, s, m, _)| !s.broken && on_the_bridge(ctx.map, m, ctx.now))
        .map(|(v, ..)| v.id)
        .collect();
    let mut set: BTreeSet<VehicleId> = BTreeSet::new();
    let mut frontier: Vec<VehicleId> = seeds.into_iter().collect();
    let mut starts: BTreeMap<VehicleId, Start> = BTreeMap::new();
    let mut was_moving: BTreeSet<VehicleId> = BTreeSet::new();
    while let Some(v) = frontier.pop() {
        if !set.insert(v) {
            continue;
        }
        let Some(&e) = ctx.registry.by_id.get(&v) else {
            continue;
        };
        let Ok((_, status, mut motion, task)) = vehicles.get_mut(e) else {
            continue;
        };
        // A vehicle this core does not command (handed over, or not yet
        // adopted) keeps its plan; only a breakdown pins it.
        if fixed(&task, &motion, ctx.now) && !status.broken {
            set.remove(&v);
            continue;
        }
        // A broken vehicle stands where it reported from.
        let start = if status.broken {
            Start::AtNode {
                node: status.node,
                time: ctx.now,
                stopped: true,
            }
        } else {
            settle(ctx, start_of(&motion, &status, ctx.now))
        };
        starts.insert(v, start);
        ctx.planning.table.release(v);
        // A vehicle that cannot move (broken, its link lost, the lane
        // paused) is pinned for good at once; the others for a short while.
        let immobile = status.immobile() || ctx.lane.paused;
        let pin = if immobile {
            pin_plan(v, start, ctx.map)
        } else {
            short_pin(v, start, ctx.now + short, ctx.map)
        };
        // Whoever conflicts with where this vehicle is now must be repaired
        // too; they are released before the pin goes in.
        for other in ctx.planning.table.conflicts(ctx.map, &pin) {
            let keeps = fixed_set.contains(&other) || !immobile && on_bridge.contains(&other);
            if ctx.registry.by_id.contains_key(&other) && !keeps {
                ctx.planning.table.release(other);
                if !set.contains(&other) {
                    frontier.push(other);
                }
            }
        }
        ctx.planning.table.reserve(ctx.map, &pin);
        motion.pinned = Some(pin_plan(v, start, ctx.map));
        if motion.active.take().is_some() {
            was_moving.insert(v);
        }
    }
    // Vehicles stopped on one arc leave it in the order they entered, a
    // headway apart: a follower's earliest arrival is pushed behind its
    // leader's, so that neither has to wait for the other forever.
    let mut on_arcs: BTreeMap<borderlane_model::ArcIx, Vec<(Ms, VehicleId)>> = BTreeMap::new();
    for (&v, start) in &starts {
        if let Start::OnArc { arc, enter, .. } = *start {
            on_arcs.entry(arc).or_default().push((enter, v));
        }
    }
    for (_, mut queue) in on_arcs.into_iter().filter(|(_, q)| q.len() > 1) {
        queue.sort();
        let mut previous: Option<Ms> = None;
        for (_, v) in queue {
            let Some(Start::OnArc {
                arc,
                enter,
                earliest,
            }) = starts.get(&v).copied()
            else {
                continue;
            };
            let earliest = match previous {
                Some(p) => earliest.max(p + ctx.settings.rules.headway_ms),
                None => earliest,
            };
            previous = Some(earliest);
            let start = Start::OnArc {
                arc,
                enter,
                earliest,
            };
            starts.insert(v, start);
            let status_broken = ctx
                .registry
                .by_id
                .get(&v)
                .and_then(|e| vehicles.get(*e).ok())
                .is_some_and(|(_, s, ..)| s.immobile() || ctx.lane.paused);
            ctx.planning.table.release(v);
            let pin = if status_broken {
                pin_plan(v, start, ctx.map)
            } else {
                short_pin(v, start, ctx.now + short, ctx.map)
            };
            ctx.planning.table.reserve(ctx.map, &pin);
        }
    }
    // Leaders first: the least static time left to rest, ties by id.
    let mut order: Vec<(Ms, VehicleId)> = set
        .iter()
        .map(|v| {
            (
                starts.get(v).map(|s| time_left(ctx, *s)).unwrap_or(NEVER),
                *v,
            )
        })
        .collect();
    order.sort();
    let mut queue: std::collections::VecDeque<VehicleId> =
        order.into_iter().map(|(_, v)| v).collect();
    let mut planned = BTreeSet::new();
    // The vehicles planned in this repair, in the order they were planned.
    let mut planned_order: Vec<VehicleId> = Vec::new();
    let mut promoted: BTreeSet<VehicleId> = BTreeSet::new();
    let mut stuck: BTreeSet<VehicleId> = BTreeSet::new();
    let mut attempts = 0usize;
    let mut budget = 4 * set.len() + 8;
    while let Some(v) = queue.pop_front() {
        attempts += 1;
        let Some(&e) = ctx.registry.by_id.get(&v) else {
            continue;
        };
        let Ok((veh, status, mut motion, mut task)) = vehicles.get_mut(e) else {
            continue;
        };
        if attempts <= budget && plan_vehicle(ctx, veh, &status, &mut motion, &mut task, jobs) {
            planned.insert(v);
            planned_order.push(v);
            stuck.remove(&v);
            continue;
        }
        // A vehicle that finds no plan around the ones planned before it
        // in this repair gets one chance to go first: otherwise two
        // vehicles that each need the other out of the way (one waiting at
        // a yard slot, the other coming for it) would be planned in the
        // same losing order at every retry, for ever.
        let mobile = !status.immobile() && !ctx.lane.paused;
        planned_order.retain(|p| planned.contains(p));
        if mobile && attempts <= budget && !planned_order.is_empty() && promoted.insert(v) {
            // Replanning the ones moved back is not held against the budget;
            // each vehicle is promoted at most once, so this ends.
            budget += planned_order.len();
            for &p in planned_order.iter().rev() {
                planned.remove(&p);
                let start = starts[&p];
                ctx.planning.table.release(p);
                ctx.planning
                    .table
                    .reserve(ctx.map, &short_pin(p, start, ctx.now + short, ctx.map));
                if let Some(&pe) = ctx.registry.by_id.get(&p)
                    && let Ok((_, _, mut pmotion, _)) = vehicles.get_mut(pe)
                {
                    if pmotion.active.take().is_some() {
                        was_moving.insert(p);
                    }
                    pmotion.pinned = Some(pin_plan(p, start, ctx.map));
                }
                queue.push_front(p);
            }
            planned_order.clear();
            ctx.planning.table.release(v);
            queue.push_front(v);
            continue;
        }
        // No plan: pinned here for good. Planned vehicles that would run
        // into it are repaired again.
        let start = starts[&v];
        ctx.planning.table.release(v);
        let pin = pin_plan(v, start, ctx.map);
        // Past twice the budget no one is put back: two vehicles held where
        // they overlap already (two broken vehicles reported at one node)
        // would otherwise put each other back for ever.
        let others = if attempts <= 2 * budget {
            ctx.planning.table.conflicts(ctx.map, &pin)
        } else {
            BTreeSet::new()
        };
        for other in others {
            let Some(&oe) = ctx.registry.by_id.get(&other) else {
                continue;
            };
            if fixed_set.contains(&other) {
                continue;
            }
            ctx.planning.table.release(other);
            if let Ok((_, ostatus, mut omotion, _)) = vehicles.get_mut(oe) {
                // Its new plan has not been carried out yet: it starts again
                // from where it was when the repair began.
                let ostart = starts
                    .get(&other)
                    .copied()
                    .unwrap_or_else(|| settle(ctx, start_of(&omotion, &ostatus, ctx.now)));
                starts.insert(other, ostart);
                if omotion.active.take().is_some() {
                    was_moving.insert(other);
                }
                set.insert(other);
                planned.remove(&other);
                omotion.pinned = Some(pin_plan(other, ostart, ctx.map));
                let opin = short_pin(other, ostart, ctx.now + short, ctx.map);
                ctx.planning.table.reserve(ctx.map, &opin);
                queue.push_back(other);
            }
        }
        ctx.planning.table.reserve(ctx.map, &pin);
        if let Ok((_, _, mut motion, _)) = vehicles.get_mut(e) {
            motion.pinned = Some(pin);
            motion.active = None;
        }
        stuck.insert(v);
    }
    for v in stuck {
        let Some(&e) = ctx.registry.by_id.get(&v) else {
            continue;
        };
        if let Ok((veh, _, mut motion, task)) = vehicles.get_mut(e) {
            motion.retry_at = Some(ctx.now + ctx.settings.retry_ms);
            if let Some(pin) = &motion.pinned
                && was_moving.contains(&v)
                && task.crossing.commanded()
            {
                let node = pin.steps[0].node;
                // The vehicle is told to stop where it is pinned, so what it
                // does matches the reservation table.
                let id = ctx.registry.next_plan;
                ctx.registry.next_plan += 1;
                let steps = command_steps(ctx.map, pin, &[]);
                ctx.out.0.push_back(Output::Command(Command::Drive {
                    vehicle: veh.serial.clone(),
                    plan_id: id,
                    steps,
                }));
                ctx.out.0.push_back(Output::Event(Event::VehicleHeld {
                    vehicle: veh.serial.clone(),
                    node: ctx.map.node(node).id.clone(),
                }));
            }
        }
    }
    planned
}

/// Whether a vehicle's plan is not this core's to change: it is handed
/// over, or not yet adopted, or adopted but not yet across the border.
fn fixed(task: &Task, motion: &Motion, now: Ms) -> bool {
    !task.crossing.commanded()
        || motion
            .active
            .as_ref()
            .and_then(|a| a.plan.steps.first())
            .is_some_and(|s| s.arrive > now && s.arc.is_none())
}

/// Whether a vehicle's committed plan has it on the bridge now: at a node
/// where no one may wait, or on an arc into or out of one.
fn on_the_bridge(map: &LaneMap, motion: &Motion, now: Ms) -> bool {
    let Some(plan) = motion.active.as_ref().map(|a| &a.plan) else {
        return false;
    };
    match position_in(plan, now) {
        Some(Start::AtNode { node, .. }) => !map.node(node).kind.may_wait(),
        Some(Start::OnArc { arc, .. }) => {
            let a = map.arc(arc);
            !map.node(a.to).kind.may_wait() || !map.node(a.from).kind.may_wait()
        }
        None => false,
    }
}

/// Holds a vehicle where a start puts it until `until`: long enough for
/// others to see it, not so long that they plan around a future it does not
/// have.
fn short_pin(vehicle: VehicleId, start: Start, until: Ms, map: &LaneMap) -> TimedPlan {
    let mut pin = pin_plan(vehicle, start, map);
    let step = &mut pin.steps[0];
    match start {
        Start::AtNode { time, .. } => step.depart = until.max(time),
        Start::OnArc { earliest, .. } => {
            // On an arc it will reach the end, and stay there a moment.
            step.arrive = earliest;
            step.depart = until.max(earliest);
        }
    }
    pin
}

/// A start on an arc whose end time is unknown (a vehicle pinned there)
/// gets the time to drive the arc from a stop.
fn settle(ctx: &PlanCtx, start: Start) -> Start {
    match start {
        Start::OnArc {
            arc,
            enter,
            earliest,
        } if earliest == NEVER => {
            let d = ctx
                .planning
                .planner
                .times()
                .get(Load::Loaded, arc, true, true);
            Start::OnArc {
                arc,
                enter,
                earliest: ctx.now + d,
            }
        }
        s => s,
    }
}

fn time_left(ctx: &PlanCtx, start: Start) -> Ms {
    let node = match start {
        Start::AtNode { node, .. } => node,
        Start::OnArc { arc, .. } => ctx.map.arc(arc).to,
    };
    // Nearness to the far end of the lane stands in for "ahead".
    ctx.map
        .node_ixs()
        .filter(|n| ctx.map.node(*n).kind == NodeKind::Parking)
        .map(|p| ctx.planning.planner.static_time(node, p))
        .min()
        .unwrap_or(NEVER)
}

/// Plans one vehicle from where it is: its job's remaining stops, or a
/// charger, or rest. Commits the plan and returns true, or leaves the
/// vehicle pinned and returns false.
pub fn plan_vehicle(
    ctx: &mut PlanCtx,
    veh: &Vehicle,
    status: &Status,
    motion: &mut Motion,
    task: &mut Task,
    jobs: &Query<&Job>,
) -> bool {
    if ctx.lane.paused || status.immobile() || !task.crossing.commanded() {
        return false;
    }
    let start = settle(ctx, start_of(motion, status, ctx.now));
    // A crossing granted by the far side: the plan leaves this side's
    // territory at the border node, at the granted time.
    let exit = match (task.crossing, ctx.borders.exit) {
        (Crossing::Granted { at, .. }, Some(border)) => Some(Exit {
            node: border,
            not_before: at,
            not_after: at,
        }),
        _ => None,
    };
    let here = match start {
        Start::AtNode { node, .. } => node,
        Start::OnArc { arc, .. } => ctx.map.arc(arc).to,
    };
    // A core of one territory keeps its vehicles there, even one that
    // stands short of the border after it was handed over.
    let side = ctx.borders.side.unwrap_or_else(|| ctx.map.side_of(here));
    // A vehicle waiting for the far side's answer rests meanwhile.
    let job = task
        .job
        .filter(|_| !task.crossing.waiting())
        .and_then(|k| ctx.registry.jobs.get(&k))
        .and_then(|e| jobs.get(*e).ok());
    // On the near side of a crossing it has not asked for yet, the vehicle
    // does its job's work on this side first (see `step_crossings`): up to
    // the last of its stops at a place, where it rests until it asks.
    let mut local = None;
    let job = match job {
        Some(j) if exit.is_none() && ctx.borders.exit.is_some() && j.drop.is_none() => {
            local = last_place_stop(ctx.map, j);
            job.filter(|_| local.is_some())
        }
        j => j,
    };
    let mut goals = Vec::new();
    let mut kinds = Vec::new();
    let mut loads = Vec::new();
    let rest_side;
    let mut charge = false;
    if let Some(job) = job {
        let stops = job.stops.iter().enumerate().skip(job.done);
        for (i, stop) in stops.take_while(|(i, _)| local.is_none_or(|l| *i <= l)) {
            goals.push(Goal {
                nodes: stop.nodes.clone(),
                dwell: stop.dwell,
            });
            kinds.push((stop.kind.clone(), Some(i)));
            loads.push(if i == 0 { Load::Empty } else { Load::Loaded });
        }
        // After the drop the vehicle drives to rest empty; to the border it
        // drives loaded.
        loads.push(if exit.is_some() || local.is_some() {
            Load::Loaded
        } else {
            Load::Empty
        });
        rest_side = job.from.other();
    } else {
        loads.push(if status.loaded {
            Load::Loaded
        } else {
            Load::Empty
        });
        // On its way out of the territory it charges on the other side.
        charge =
            exit.is_none() && (task.charging || status.battery_pct < ctx.settings.battery_low_pct);
        rest_side = side;
    }
    let rest = if let Some(e) = exit {
        vec![e.node]
    } else if let Some(l) = local.zip(job).map(|(l, j)| j.stops[l].nodes.clone()) {
        l
    } else if charge {
        task.charging = true;
        places(ctx.map, rest_side, &[NodeKind::Charger])
    } else {
        let mut r = places(ctx.map, rest_side, &[NodeKind::Parking]);
        // Where the vehicle stands is a fine place to rest if it is a place
        // other than a yard slot, which the cranes need free.
        let kind = ctx.map.node(here).kind;
        if kind.is_place() && kind != NodeKind::YardSlot && job.is_none() && !task.to_parking {
            r.insert(0, here);
        }
        r
    };
    // Yard slots are the last resort for a rest: the drop slot after a job,
    // or the slot the vehicle stands on.
    let fallback = match job.and_then(|j| j.drop) {
        _ if exit.is_some() || local.is_some() => None,
        Some(d) => Some(d),
        None if ctx.map.node(here).kind == NodeKind::YardSlot && !charge => Some(here),
        None => None,
    };
    let mut req = Request {
        vehicle: veh.id,
        start,
        goals,
        rest,
        loads,
        exit,
    };
    ctx.planning.table.release(veh.id);
    let mut result = match exit {
        Some(e) => plan_exit(ctx, &req, e),
        None => ctx.planning.planner.plan(&ctx.planning.table, &req),
    };
    if let (Err(_), Some(e)) = (&result, exit) {
        // The granted time cannot be kept: it goes back, and the vehicle
        // asks again for the earliest time it can keep, resting meanwhile.
        let mut later = req.clone();
        later.exit = Some(Exit {
            not_after: NEVER,
            ..e
        });
        let earliest = ctx
            .planning
            .planner
            .plan(&ctx.planning.table, &later)
            .ok()
            .and_then(|p| p.plan.steps.last().map(|s| s.arrive));
        ctx.out
            .0
            .push_back(Output::Crossing(CrossingOutput::Withdraw {
                vehicle: veh.serial.clone(),
                reason: format!("cannot pass the border node at {} ms", e.not_before),
            }));
        task.crossing = match earliest {
            Some(t) => Crossing::Ask {
                at: ctx.now,
                earliest: t,
            },
            None => Crossing::Ask {
                at: ctx.now + ctx.settings.retry_ms,
                earliest: ctx.now,
            },
        };
        return plan_vehicle(ctx, veh, status, motion, task, jobs);
    }
    // An idle vehicle on a yard slot whose side has no parking place free
    // parks on the other side rather than keep the slot from the cranes.
    // (A core for one side's territory cannot send it across.)
    if result.is_err()
        && job.is_none()
        && !charge
        && fallback == Some(here)
        && ctx.borders.side.is_none()
    {
        let own = std::mem::replace(
            &mut req.rest,
            places(ctx.map, side.other(), &[NodeKind::Parking]),
        );
        result = ctx.planning.planner.plan(&ctx.planning.table, &req);
        if result.is_err() {
            req.rest = own;
        }
    }
    if result.is_err()
        && let Some(f) = fallback
    {
        req.rest.push(f);
        result = ctx.planning.planner.plan(&ctx.planning.table, &req);
    }
    // A job that cannot be planned now (its way is blocked for as long as
    // anyone knows) must not leave the vehicle standing in others' way: it
    // waits at a parking place on this side and tries again from there.
    // Only from a node: a vehicle held somewhere along an arc stays pinned
    // there (sending it aside from an arc led to vehicles meeting head-on
    // on a single-lane stretch in the 400-seed sweep).
    let mut aside = false;
    let at_node = matches!(start, Start::AtNode { .. });
    if result.is_err() && !req.goals.is_empty() && at_node {
        let aside_req = Request {
            vehicle: veh.id,
            start,
            goals: Vec::new(),
            rest: places(ctx.map, side, &[NodeKind::Parking]),
            loads: vec![if status.loaded {
                Load::Loaded
            } else {
                Load::Empty
            }],
            exit: None,
        };
        if let Ok(planned) = ctx.planning.planner.plan(&ctx.planning.table, &aside_req) {
            result = Ok(planned);
            req = aside_req;
            kinds.clear();
            charge = false;
            aside = true;
        }
    }
    match result {
        Ok(mut planned) => {
            ctx.stats.plans += 1;
            let id = ctx.registry.next_plan;
            ctx.registry.next_plan += 1;
            // A job planned whole would reserve the lane past the horizon:
            // the plan ends at rest at the first stop beyond it instead.
            // (Not on the way aside, which has no stops, nor on the way to
            // the border, which the far side's grant covers whole.)
            let mut cut = if req.exit.is_none() && !aside {
                cut_at_horizon(ctx, &kinds, &mut planned)
            } else {
                None
            };
            // Work on this side before a crossing ends at its last stop at
            // a place; the vehicle asks for its time at the border once
            // that stop is done (see `extend_plans`).
            if let (None, Some(l), false) = (cut, local, aside)
                && let Some(&k) = planned.goal_steps.last()
            {
                cut = Some(Cut {
                    stop: l,
                    arrive: planned.plan.steps[k].arrive,
                    extend_at: NEVER,
                });
            }
            let mut actions = Vec::new();
            for (g, &step) in planned.goal_steps.iter().enumerate() {
                let (kind, stop) = kinds[g].clone();
                let aid = ctx.registry.next_action;
                ctx.registry.next_action += 1;
                actions.push((
                    step,
                    Action {
                        id: aid,
                        kind,
                        duration_ms: req.goals[g].dwell,
                    },
                    stop,
                ));
            }
            if charge {
                let aid = ctx.registry.next_action;
                ctx.registry.next_action += 1;
                let last = planned.plan.steps.len() - 1;
                actions.push((
                    last,
                    Action {
                        id: aid,
                        kind: ActionKind::Charge,
                        duration_ms: 0,
                    },
                    None,
                ));
            }
            ctx.planning.table.reserve(ctx.map, &planned.plan);
            let steps = command_steps(ctx.map, &planned.plan, &actions);
            let last = planned.plan.steps[planned.plan.steps.len() - 1];
            ctx.out.0.push_back(Output::Command(Command::Drive {
                vehicle: veh.serial.clone(),
                plan_id: id,
                steps,
            }));
            ctx.out.0.push_back(Output::Event(Event::PlanCommitted {
                vehicle: veh.serial.clone(),
                plan_id: id,
                steps: planned.plan.steps.len(),
                rest: ctx.map.node(last.node).id.clone(),
                ends_ms: last.arrive,
            }));
            motion.active = Some(ActivePlan {
                id,
                plan: planned.plan,
                actions,
                cut,
            });
            if let (Some(e), Crossing::Granted { at, .. }) = (exit, task.crossing) {
                task.crossing = Crossing::Granted {
                    at,
                    commit_at: motion
                        .active
                        .as_ref()
                        .map_or(ctx.now, |a| commit_time(ctx, &a.plan, e.node)),
                };
            }
            task.to_parking = false;
            task.aside = aside;
            motion.pinned = None;
            motion.retry_at = aside.then_some(ctx.now + ctx.settings.retry_ms);
            true
        }
        Err(_) => {
            ctx.stats.plan_failures += 1;
            let pin = pin_plan(veh.id, start, ctx.map);
            ctx.planning.table.reserve(ctx.map, &pin);
            if motion.pinned.is_none() {
                motion.active = None;
            }
            motion.pinned = Some(pin);
            false
        }
    }
}

/// The last of a job's stops not yet done that is made at a place (the
/// vehicle may rest there), if any.
fn last_place_stop(map: &LaneMap, job: &Job) -> Option<usize> {
    (job.done..job.stops.len()).rev().find(|&i| {
        job.stops[i]
            .nodes
            .iter()
            .all(|&n| map.node(n).kind.is_place())
    })
}

/// Cuts a planned job at the plan horizon: at the first of its stops at a
/// place that the plan reaches, or leaves, later than `plan_horizon_ms`
/// from now. The plan keeps its steps up to that stop and rests there, so
/// it still ends at a place the vehicle may wait in indefinitely; the goals
/// after it are dropped from `planned`, to be planned when it is extended.
/// The plan is left whole if no stop lies beyond the horizon, or if the
/// stop is not free for good after the vehicle reaches it.
fn cut_at_horizon(
    ctx: &PlanCtx,
    kinds: &[(ActionKind, Option<usize>)],
    planned: &mut Planned,
) -> Option<Cut> {
    let horizon = ctx.settings.plan_horizon_ms;
    if horizon == 0 {
        return None;
    }
    let limit = ctx.now.saturating_add(horizon);
    let steps = &planned.plan.steps;
    let g = planned.goal_steps.iter().position(|&k| {
        let s = steps[k];
        ctx.map.node(s.node).kind.is_place() && (s.arrive > limit || s.depart > limit)
    })?;
    let stop = kinds.get(g).and_then(|(_, stop)| *stop)?;
    let k = planned.goal_steps[g];
    if k + 1 == steps.len() {
        // The plan already ends there.
        return None;
    }
    let at = steps[k];
    let mut cut = TimedPlan {
        vehicle: planned.plan.vehicle,
        steps: steps[..=k].to_vec(),
    };
    if let Some(last) = cut.steps.last_mut() {
        last.depart = NEVER;
    }
    if !ctx.planning.table.conflicts(ctx.map, &cut).is_empty() {
        return None;
    }
    // Extended before it gets there if the stop's end comes within the
    // horizon by then; otherwise once the stop is done.
    let due = at.depart.saturating_sub(horizon);
    let extend_at = if due < at.arrive {
        due.max(ctx.now + 1)
    } else {
        NEVER
    };
    planned.plan = cut;
    planned.goal_steps.truncate(g + 1);
    Some(Cut {
        stop,
        arrive: at.arrive,
        extend_at,
    })
}

/// Plans a vehicle to pass the border node at exactly the granted time.
/// A vehicle at rest that would be early waits where it stands rather
/// than at the stop line, so that it drives onto the bridge without a
/// stop: its start is put off by the time it has to spare.
fn plan_exit(ctx: &mut PlanCtx, req: &Request, e: Exit) -> Result<Planned, PlanError> {
    let planner = &mut ctx.planning.planner;
    let table = &ctx.planning.table;
    if let Start::AtNode {
        node,
        time,
        stopped: true,
    } = req.start
    {
        let mut soonest = req.clone();
        soonest.exit = Some(Exit {
            not_before: time,
            not_after: NEVER,
            ..e
        });
        if let Ok(p) = planner.plan(table, &soonest)
            && let Some(arrive) = p.plan.steps.last().map(|s| s.arrive)
            && arrive < e.not_before
        {
            let mut later = req.clone();
            later.start = Start::AtNode {
                node,
                time: time + (e.not_before - arrive),
                stopped: true,
            };
            if let Ok(mut p) = planner.plan(table, &later) {
                // It stands where it is until then.
                if let Some(first) = p.plan.steps.first_mut() {
                    first.enter = time;
                    first.arrive = time;
                }
                return Ok(p);
            }
        }
    }
    planner.plan(table, req)
}

/// When to hand over a vehicle whose plan leaves at the border node
/// `border`: `commit_lead_ms` before it leaves the last node before the
/// border where it may wait (the stop line), so that it is committed to
/// the bridge only as it drives onto it.
fn commit_time(ctx: &PlanCtx, plan: &TimedPlan, border: NodeIx) -> Ms {
    let steps = &plan.steps;
    let end = steps.iter().rposition(|s| s.node == border).unwrap_or(0);
    steps[..end]
        .iter()
        .rev()
        .find(|s| ctx.map.node(s.node).kind.may_wait())
        .map_or(ctx.now, |s| {
            s.depart
                .saturating_sub(ctx.settings.commit_lead_ms)
                .max(ctx.now)
        })
}

fn places(map: &LaneMap, side: Side, kinds: &[NodeKind]) -> Vec<NodeIx> {
    map.node_ixs()
        .filter(|&n| kinds.contains(&map.node(n).kind) && map.node(n).side == Some(side))
        .collect()
}

fn command_steps(
    map: &LaneMap,
    plan: &TimedPlan,
    actions: &[(usize, Action, Option<usize>)],
) -> Vec<CommandStep> {
    plan.steps
        .iter()
        .enumerate()
        .map(|(i, s)| CommandStep {
            node: map.node(s.node).id.clone(),
            edge: s.arc.map(|a| map.arc_edge(a).id.clone()),
            enter_ms: s.enter,
            arrive_ms: s.arrive,
            depart_ms: (s.depart != NEVER).then_some(s.depart),
            stops: s.stops,
            action: actions
                .iter()
                .find(|(st, ..)| *st == i)
                .map(|(_, a, _)| a.clone()),
        })
        .collect()
}

/// Sends idle vehicles low on charge to a charger, and assigns queued jobs
/// to idle vehicles with the Kuhn–Munkres algorithm on planned cost.
pub fn dispatch_jobs(
    mut p: PlanParams,
    mut vehicles: Query<VehicleItem>,
    mut jobs: Query<&mut Job>,
) {
    if p.lane.paused {
        return;
    }
    let now = p.now.0;
    let map = Shared::clone(&p.map.0);
    let map = &*map;
    let cfg = Shared::clone(&p.settings.0);

    // Idle vehicles, by id.
    let mut idle: Vec<(VehicleId, NodeIx, f64)> = vehicles
        .iter()
        .filter(|(_, s, m, t)| is_idle(s, m, t, now))
        .map(|(v, s, m, _)| (v.id, rest_node(m).unwrap_or(s.node), s.battery_pct))
        .collect();
    idle.sort_by_key(|(v, ..)| *v);

    // Vehicles low on charge go to a charger first.
    let low: Vec<VehicleId> = idle
        .iter()
        .filter(|(_, _, b)| *b < cfg.battery_low_pct)
        .map(|(v, ..)| *v)
        .collect();
    idle.retain(|(_, _, b)| *b >= cfg.battery_low_pct);
    for v in low {
        let Some(&e) = p.registry.by_id.get(&v) else {
            continue;
        };
        let mut ctx = p.ctx();
        let Ok((veh, status, mut motion, mut task)) = vehicles.get_mut(e) else {
            continue;
        };
        task.charging = true;
        let mut lens = jobs.transmute_lens::<&Job>();
        let jq = lens.query();
        if !plan_vehicle(&mut ctx, veh, &status, &mut motion, &mut task, &jq) {
            // It stays where it rests and tries again later.
            motion.retry_at = Some(now + cfg.retry_ms);
        }
    }

    // Queued jobs, most urgent first.
    let mut queued: Vec<(u8, Ms, u64, Entity)> = jobs
        .iter()
        .filter(|j| j.vehicle.is_none() && j.not_before <= now)
        .map(|j| {
            (
                j.priority,
                j.deadline.unwrap_or(NEVER),
                j.key,
                p.registry.jobs.get(&j.key).copied(),
            )
        })
        .filter_map(|(p, d, k, e)| e.map(|e| (p, d, k, e)))
        .collect();
    if queued.is_empty() || idle.is_empty() {
        return;
    }
    queued.sort_by_key(|&(p, d, k, _)| (std::cmp::Reverse(p), d, k));
    queued.truncate(cfg.dispatch_window.max(1));

    // Cost of vehicle i taking job j: static time to the pickup, less a bonus
    // for priority and for a near deadline. Unreachable pairs cost a lot.
    const UNREACHABLE: i64 = 1 << 40;
    let cost = |vi: usize, jj: usize| -> i64 {
        let (_, node, _) = idle[vi];
        let (priority, d, _, e) = queued[jj];
        let pickup = jobs.get(e).map(|j| j.pickup).unwrap_or(node);
        // A vehicle resting on the pickup slot itself takes that job: no
        // other vehicle could reach the slot while it stands there.
        if node == pickup {
            return -UNREACHABLE / 4;
        }
        let t = p.planning.planner.static_time(node, pickup);
        if t == NEVER {
            return UNREACHABLE;
        }
        let urgency = if d == NEVER {
            0
        } else {
            (3_600_000 - (d.saturating_sub(now)).min(3_600_000) as i64).max(0)
        };
        t as i64 - priority as i64 * 600_000 - urgency
    };
    let (rows, cols) = (idle.len().min(queued.len()), idle.len().max(queued.len()));
    let vehicles_are_rows = idle.len() <= queued.len();
    let weights = Matrix::from_fn(rows, cols, |(r, c)| {
        if vehicles_are_rows {
            cost(r, c)
        } else {
            cost(c, r)
        }
    });
    let (_, assignment) = kuhn_munkres_min(&weights);
    let mut pairs: Vec<(usize, usize)> = assignment
        .iter()
        .enumerate()
        .map(|(r, &c)| if vehicles_are_rows { (r, c) } else { (c, r) })
        .filter(|&(vi, jj)| cost(vi, jj) < UNREACHABLE / 2)
        .collect();
    pairs.sort();

    // Drop slots already promised to a job, and slots with a vehicle resting
    // on them, are not handed out again.
    let mut taken: BTreeSet<NodeIx> = jobs.iter().filter_map(|j| j.drop).collect();
    taken.extend(rest_nodes(&vehicles));
    for (vi, jj) in pairs {
        let (v, _, _) = idle[vi];
        let (_, _, _, je) = queued[jj];
        let Some(&ve) = p.registry.by_id.get(&v) else {
            continue;
        };
        let Ok(mut job) = jobs.get_mut(je) else {
            continue;
        };
        let to_side = job.from.other();
        let pickup = job.pickup;
        // A core for one side's territory leaves the drop slot to the far
        // side, which chooses it when it grants the crossing.
        let crossing = p.borders.exit;
        let drop = map
            .node_ixs()
            .filter(|&n| {
                map.node(n).kind == NodeKind::YardSlot
                    && map.node(n).side == Some(to_side)
                    && !taken.contains(&n)
            })
            .min_by_key(|&n| (p.planning.planner.static_time(pickup, n), n));
        let Some(drop) = crossing.or(drop) else {
            // Every slot on the far side is promised or occupied: wait.
            job.not_before = now + cfg.retry_ms;
            continue;
        };
        let mut stops = vec![JobStop {
            kind: ActionKind::Pick {
                container: job.container.clone(),
            },
            nodes: vec![pickup],
            dwell: cfg.pick_ms,
        }];
        let from = job.from;
        match job.channel {
            Channel::Green | Channel::Yellow => {}
            Channel::RedScan => stops.push(JobStop {
                kind: ActionKind::Scan,
                nodes: places_of(map, from, NodeKind::ScanLane),
                dwell: job.customs_ms,
            }),
            Channel::RedInspection => stops.push(JobStop {
                kind: ActionKind::Inspect,
                nodes: places_of(map, from, NodeKind::InspectionBay),
                dwell: job.customs_ms,
            }),
        }
        if crossing.is_none() {
            stops.push(JobStop {
                kind: ActionKind::Drop {
                    container: job.container.clone(),
                },
                nodes: vec![drop],
                dwell: cfg.drop_ms,
            });
        }
        if stops.iter().any(|s| s.nodes.is_empty()) {
            continue;
        }
        job.stops = stops;
        job.vehicle = Some(v);
        job.drop = crossing.is_none().then_some(drop);
        let job_id = job.id.clone();
        let key = job.key;
        let Ok((veh, status, mut motion, mut task)) = vehicles.get_mut(ve) else {
            continue;
        };
        task.job = Some(key);
        if crossing.is_some() {
            // It rests where it is until the far side grants a time at the
            // border; `step_crossings` asks.
            task.crossing = Crossing::Ask {
                at: now,
                earliest: now,
            };
            p.out.0.push_back(Output::Event(Event::JobAssigned {
                job: job_id,
                vehicle: veh.serial.clone(),
                drop: map.node(drop).id.clone(),
            }));
            continue;
        }
        let mut ctx = p.ctx();
        let mut lens = jobs.transmute_lens::<&Job>();
        let jq = lens.query();
        if plan_vehicle(&mut ctx, veh, &status, &mut motion, &mut task, &jq) {
            taken.insert(drop);
            p.out.0.push_back(Output::Event(Event::JobAssigned {
                job: job_id,
                vehicle: veh.serial.clone(),
                drop: map.node(drop).id.clone(),
            }));
        } else {
            // No conflict-free plan now: the job goes back to the queue for a
            // while, and the vehicle rests where it was.
            task.job = None;
            if let Ok(mut job) = jobs.get_mut(je) {
                job.vehicle = None;
                job.drop = None;
                job.stops.clear();
                job.not_before = now + cfg.retry_ms;
            }
        }
    }
}

fn places_of(map: &LaneMap, side: Side, kind: NodeKind) -> Vec<NodeIx> {
    map.node_ixs()
        .filter(|&n| map.node(n).kind == kind && map.node(n).side == Some(side))
        .collect()
}

/// Moves idle vehicles off yard slots to free parking places, so the cranes'
/// slots stay free for pick-ups and drops. A vehicle on a slot that a queued
/// job picks from stays: it will take that job.
pub fn clear_yard_slots(mut p: PlanParams, mut vehicles: Query<VehicleItem>, jobs: Query<&Job>) {
    if p.lane.paused {
        return;
    }
    let now = p.now.0;
    let map = Shared::clone(&p.map.0);
    let map = &*map;
    let wanted: BTreeSet<NodeIx> = jobs
        .iter()
        .filter(|j| j.vehicle.is_none())
        .map(|j| j.pickup)
        .collect();
    let mut rests = rest_nodes(&vehicles);
    let mut movers: Vec<(VehicleId, Side)> = vehicles
        .iter()
        .filter(|(_, s, m, t)| is_idle(s, m, t, now) && t.clear_after <= now)
        .filter_map(|(v, _, m, _)| {
            let n = rest_node(m)?;
            let node = map.node(n);
            (node.kind == NodeKind::YardSlot && !wanted.contains(&n))
                .then(|| (v.id, map.side_of(n)))
        })
        .collect();
    movers.sort();
    for (v, side) in movers {
        let free = [side, side.other()]
            .into_iter()
            .flat_map(|s| places(map, s, &[NodeKind::Parking]))
            .any(|p| !rests.contains(&p));
        if !free {
            continue;
        }
        let Some(&e) = p.registry.by_id.get(&v) else {
            continue;
        };
        let Ok((veh, status, mut motion, mut task)) = vehicles.get_mut(e) else {
            continue;
        };
        let mut ctx = p.ctx();
        let here = rest_node(&motion);
        if plan_vehicle(&mut ctx, veh, &status, &mut motion, &mut task, &jobs)
            && let Some(n) = rest_node(&motion)
        {
            rests.insert(n);
        }
        if rest_node(&motion) == here {
            // It could not move now; it tries again later, not every tick.
            task.clear_after = now + p.settings.0.retry_ms;
        }
    }
}

/// Whether a vehicle is free for work: no job, not charging, not broken, its
/// link up, and standing at rest.
fn is_idle(s: &Status, m: &Motion, t: &Task, now: Ms) -> bool {
    t.job.is_none()
        && !t.charging
        && !s.immobile()
        && t.crossing == Crossing::None
        && m.at_rest(now)
}

/// The nodes where vehicles rest or will rest at the end of their plans.
fn rest_nodes(vehicles: &Query<VehicleItem>) -> BTreeSet<NodeIx> {
    vehicles
        .iter()
        .filter_map(|(_, _, m, _)| rest_node(m))
        .collect()
}

/// The node where the vehicle is pinned, or where its plan ends.
fn rest_node(m: &Motion) -> Option<NodeIx> {
    m.pinned
        .as_ref()
        .or(m.active.as_ref().map(|a| &a.plan))
        .and_then(|p| p.steps.last())
        .map(|s| s.node)
}

/// Retries the vehicles that wait (see `waits_for_retry`: pinned ones, and
/// those that went aside because their job could not be planned), all of
/// them together, when one of them is due or something was freed.
pub fn retry_waiting(
    mut p: PlanParams,
    mut pending: ResMut<Pending>,
    mut vehicles: Query<VehicleItem>,
    jobs: Query<&Job>,
) {
    if p.lane.paused {
        return;
    }
    let now = p.now.0;
    let freed = std::mem::take(&mut pending.freed);
    let waiting =
        |(_, s, m, t): &(&Vehicle, &Status, &Motion, &Task)| waits_for_retry(s, m, t, now);
    let due = freed
        || vehicles
            .iter()
            .filter(waiting)
            .any(|(_, _, m, _)| m.retry_at.is_some_and(|t| t <= now));
    if !due {
        return;
    }
    // Everyone waiting is retried together: vehicles pinned where they
    // stand block one another, and only a joint repair can untangle them.
    let due: BTreeSet<VehicleId> = vehicles
        .iter()
        .filter(waiting)
        .map(|(v, ..)| v.id)
        .collect();
    let mut ctx = p.ctx();
    repair(&mut ctx, due, &mut vehicles, &jobs);
}

/// Forgets reservations that can no longer constrain anything.
pub fn prune_table(now: Res<Now>, mut planning: ResMut<Planning>, mut pruned: Local<Ms>) {
    // Pruning walks the whole table; once a simulated minute is plenty.
    if now.0 < *pruned + 60_000 {
        return;
    }
    *pruned = now.0;
    let t = now.0.saturating_sub(planning.table.headway() * 2);
    planning.table.prune(t);
}

/// Moves crossings on, for a core that plans one side's territory: decides
/// entry requests from the other side, asks for a time at the border for
/// vehicles whose job crosses, hands vehicles over when they are about to
/// drive onto the bridge, and forgets those handed over once past the
/// border.
pub fn step_crossings(
    mut p: PlanParams,
    mut pending: ResMut<Pending>,
    mut vehicles: Query<VehicleItem>,
    jobs: Query<&Job>,
    mut commands: Commands,
) {
    let now = p.now.0;
    let entries = std::mem::take(&mut pending.entries);
    // The places taken, needed only to decide entries.
    let mut rests = BTreeSet::new();
    if !entries.is_empty() {
        rests = rest_nodes(&vehicles);
        rests.extend(jobs.iter().filter_map(|j| j.drop));
    }
    for entry in entries {
        // A new request for a vehicle still incoming here supersedes the
        // old one: the near side has one handoff per vehicle at a time, so
        // it gave the old one up (its withdrawal may still be on its way).
        if let CrossingInput::Entry { vehicle, .. } = &entry
            && let Some(&e) = p.registry.vehicles.get(vehicle)
            && let Ok((veh, _, _, mut task)) = vehicles.get_mut(e)
            && matches!(task.crossing, Crossing::Incoming { .. })
        {
            p.planning.table.release(veh.id);
            if let Some(key) = task.job.take()
                && let Some(je) = p.registry.jobs.remove(&key)
            {
                p.registry.job_ids.retain(|_, k| *k != key);
                commands.entity(je).despawn();
            }
            rests.clear();
            p.registry.by_id.remove(&veh.id);
            p.registry.vehicles.remove(vehicle);
            commands.entity(e).despawn();
            rests.extend(rest_nodes(&vehicles));
            rests.extend(jobs.iter().filter_map(|j| j.drop));
        }
        let mut ctx = p.ctx();
        let out = match decide_entry(&mut ctx, &mut rests, &mut commands, entry) {
            Ok(out) | Err(out) => out,
        };
        ctx.out.0.push_back(Output::Crossing(out));
    }
    let Some(exit) = p.borders.exit else {
        return;
    };
    rebalance(&p, &mut vehicles, &jobs);
    let headway = p.settings.0.rules.headway_ms;
    let mut all: Vec<_> = vehicles.iter_mut().collect();
    all.sort_by_key(|(v, ..)| v.id);
    let horizon = p.settings.0.plan_horizon_ms;
    for (veh, status, mut motion, mut task) in all {
        match task.crossing {
            Crossing::Ask { at, earliest } if at <= now => {
                // Without a job it crosses empty, to even out the fleet.
                let job = task
                    .job
                    .and_then(|k| p.registry.jobs.get(&k))
                    .and_then(|e| jobs.get(*e).ok());
                // The earliest it could pass the border as the lane is
                // planned now, or, if nothing reaches it now, the least
                // time to drive there ignoring everyone else.
                let mut ctx = p.ctx();
                let t = border_estimate(&mut ctx, veh.id, &status, &motion, job, exit, earliest)
                    .unwrap_or_else(|| {
                        let planner = &p.planning.planner;
                        let here = rest_node(&motion).unwrap_or(status.node);
                        now.saturating_add(planner.static_time(here, exit))
                    });
                // A crossing beyond the plan horizon is not asked for yet:
                // the vehicle first does its job's work on this side, up to
                // its last stop at a place, and asks once that is done (see
                // `extend_plans`). The crossing is then planned whole, from
                // that place to the border, and granted at once.
                if horizon > 0
                    && t > now.saturating_add(horizon)
                    && job.is_some_and(|j| last_place_stop(&p.map.0, j).is_some())
                {
                    // The vehicle may be on its way to rest: if its work here
                    // cannot be planned now, it keeps the plan it has, and
                    // asks for the crossing whole.
                    task.crossing = Crossing::None;
                    let mut ctx = p.ctx();
                    if try_plan(&mut ctx, veh, &status, &mut motion, &mut task, &jobs) {
                        continue;
                    }
                    task.crossing = Crossing::Ask { at, earliest };
                }
                let request = CrossingOutput::Request {
                    vehicle: veh.serial.clone(),
                    job: job.map_or(String::new(), |j| j.id.clone()),
                    container: job.map_or(String::new(), |j| j.container.clone()),
                    channel: job.map_or(Channel::Green, |j| j.channel),
                    // Time for the answer to come back before the vehicle
                    // must leave.
                    earliest_border_ms: t
                        .max(earliest)
                        .saturating_add(p.settings.0.crossing_slack_ms),
                };
                p.out.0.push_back(Output::Crossing(request));
                task.crossing = Crossing::Asked;
            }
            Crossing::Granted { commit_at, .. }
                if commit_at <= now
                    && (status.immobile()
                        || status.following != motion.active.as_ref().map(|a| a.id)) =>
            {
                // The vehicle has not taken the plan that would carry it
                // across (its link was lost before the order reached it),
                // or cannot go on now (broken, out of touch, held): it
                // stays with this side, and the slot goes back.
                p.out
                    .0
                    .push_back(Output::Crossing(CrossingOutput::Withdraw {
                        vehicle: veh.serial.clone(),
                        reason: format!("{} cannot go on to the border", veh.serial),
                    }));
                task.crossing = Crossing::Ask {
                    at: now + p.settings.0.retry_ms,
                    earliest: now,
                };
                pending
                    .repair
                    .insert(veh.id, format!("{} cannot go on to the border", veh.serial));
            }
            Crossing::Granted { at, commit_at } if commit_at <= now => {
                p.out.0.push_back(Output::Crossing(CrossingOutput::Commit {
                    vehicle: veh.serial.clone(),
                    border_ms: at,
                }));
                task.crossing = Crossing::Leaving {
                    at,
                    transferred: false,
                };
            }
            Crossing::Leaving {
                at,
                transferred: true,
            } if at.saturating_add(headway) <= now && !task.stranded => {
                // Past the border and the other side's: forgotten here.
                // (One that broke down before the border keeps its place
                // here until it is seen past the border.)
                p.planning.table.release(veh.id);
                if let Some(&e) = p.registry.vehicles.get(&veh.serial) {
                    commands.entity(e).despawn();
                }
                p.registry.vehicles.remove(&veh.serial);
                p.registry.by_id.remove(&veh.id);
            }
            _ => {}
        }
    }
}

/// Sends an idle vehicle across, empty, when this side holds more than
/// half of the fleet and has no job waiting for a vehicle: the sides see
/// only their own queues, so each keeps no more than its share of an idle
/// fleet, and vehicles that followed the containers one way come back.
/// One empty crossing is asked for at a time.
fn rebalance(p: &PlanParams, vehicles: &mut Query<VehicleItem>, jobs: &Query<&Job>) {
    let now = p.now.0;
    let fleet = p.settings.0.fleet.len();
    if p.lane.paused || jobs.iter().any(|j| j.vehicle.is_none()) {
        return;
    }
    // Vehicles on their way out (granted, handed over, or asking to cross
    // empty) are counted on the other side already, or will be.
    let here = vehicles
        .iter()
        .filter(|(_, _, _, t)| match t.crossing {
            Crossing::Granted { .. } | Crossing::Leaving { .. } => false,
            Crossing::Ask { .. } | Crossing::Asked => t.job.is_some(),
            Crossing::None | Crossing::Incoming { .. } => true,
        })
        .count();
    let asking = vehicles
        .iter()
        .any(|(_, _, _, t)| t.job.is_none() && t.crossing.waiting());
    if 2 * here <= fleet + 1 || asking {
        return;
    }
    let low = p.settings.0.battery_low_pct;
    let mut idle: Vec<_> = vehicles
        .iter_mut()
        .filter(|(_, s, m, t)| is_idle(s, m, t, now) && s.battery_pct >= low)
        .collect();
    idle.sort_by_key(|(v, ..)| v.id);
    if let Some((_, _, _, task)) = idle.first_mut() {
        task.crossing = Crossing::Ask {
            at: now,
            earliest: now,
        };
    }
}

/// The earliest time a vehicle could pass the border node `exit` through
/// its job's remaining stops, no earlier than `earliest`, as the lane is
/// planned now; `None` if no plan reaches it.
fn border_estimate(
    ctx: &mut PlanCtx,
    vehicle: VehicleId,
    status: &Status,
    motion: &Motion,
    job: Option<&Job>,
    exit: NodeIx,
    earliest: Ms,
) -> Option<Ms> {
    let start = settle(ctx, start_of(motion, status, ctx.now));
    let mut goals = Vec::new();
    let mut loads = Vec::new();
    for (i, stop) in job
        .iter()
        .flat_map(|j| j.stops.iter().enumerate().skip(j.done))
    {
        goals.push(Goal {
            nodes: stop.nodes.clone(),
            dwell: stop.dwell,
        });
        loads.push(if i == 0 { Load::Empty } else { Load::Loaded });
    }
    loads.push(if job.is_some() || status.loaded {
        Load::Loaded
    } else {
        Load::Empty
    });
    let req = Request {
        vehicle,
        start,
        goals,
        rest: vec![exit],
        loads,
        exit: Some(Exit {
            node: exit,
            not_before: earliest.max(ctx.now),
            not_after: NEVER,
        }),
    };
    // The vehicle's own reservations are lifted for the search and put
    // back as they were.
    ctx.planning.table.release(vehicle);
    let found = ctx
        .planning
        .planner
        .plan(&ctx.planning.table, &req)
        .ok()
        .and_then(|p| p.plan.steps.last().map(|s| s.arrive));
    let own = motion
        .pinned
        .as_ref()
        .or(motion.active.as_ref().map(|a| &a.plan));
    if let Some(plan) = own {
        ctx.planning.table.reserve(ctx.map, plan);
    }
    found
}

/// The far side's decision on an entry request: the lane from the border
/// node to a free yard slot on this side and on to rest, reserved for the
/// earliest time at the border that has one; or a refusal naming why.
fn decide_entry(
    ctx: &mut PlanCtx,
    rests: &mut BTreeSet<NodeIx>,
    commands: &mut Commands,
    entry: CrossingInput,
) -> Result<CrossingOutput, CrossingOutput> {
    let CrossingInput::Entry {
        vehicle,
        job,
        container,
        channel,
        earliest_border_ms,
    } = entry
    else {
        unreachable!("only entries are kept for later");
    };
    let refuse = |reason: String| CrossingOutput::Refuse {
        vehicle: vehicle.clone(),
        reason,
    };
    let (Some(me), Some(border)) = (ctx.borders.side, ctx.borders.entry) else {
        return Err(refuse("this core does not take crossings".into()));
    };
    let Some(&id) = ctx.registry.fleet.get(&vehicle) else {
        return Err(refuse(format!("unknown vehicle {vehicle:?}")));
    };
    if ctx.registry.vehicles.contains_key(&vehicle) {
        return Err(refuse(format!("vehicle {vehicle:?} is already here")));
    }
    // An entry with no job is a vehicle crossing empty, to even out the
    // fleet: it goes to rest.
    let empty = job.is_empty();
    if !empty && ctx.registry.job_ids.contains_key(&job) {
        return Err(refuse(format!("job {job:?} is already here")));
    }
    let map = ctx.map;
    let planner = &ctx.planning.planner;
    let drop = map
        .node_ixs()
        .filter(|&n| {
            map.node(n).kind == NodeKind::YardSlot
                && map.node(n).side == Some(me)
                && !rests.contains(&n)
        })
        .min_by_key(|&n| (planner.static_time(border, n), n));
    let drop = match drop {
        Some(d) => Some(d).filter(|_| !empty),
        None if empty => None,
        None => return Err(refuse("no free yard slot".into())),
    };
    // The receiving customs takes the sending side's checks: a container
    // scanned or inspected there has its documents checked here while it
    // drives on.
    let receiving_channel = match channel {
        Channel::Green => Channel::Green,
        _ => Channel::Yellow,
    };
    let mut rest = places(map, me, &[NodeKind::Parking]);
    rest.retain(|n| !rests.contains(n));
    let step = (ctx.settings.rules.headway_ms / 2).max(1);
    let latest = earliest_border_ms.saturating_add(ctx.settings.grant_horizon_ms);
    let mut t = earliest_border_ms.max(ctx.now);
    let planned = loop {
        if t > latest {
            return Err(refuse(format!(
                "no slot within {} s of the time asked",
                ctx.settings.grant_horizon_ms / 1000
            )));
        }
        let req = Request {
            vehicle: id,
            start: Start::AtNode {
                node: border,
                time: t,
                stopped: false,
            },
            goals: drop
                .map(|d| Goal {
                    nodes: vec![d],
                    dwell: ctx.settings.drop_ms,
                })
                .into_iter()
                .collect(),
            rest: rest.clone(),
            loads: if drop.is_some() {
                vec![Load::Loaded, Load::Empty]
            } else {
                vec![Load::Empty]
            },
            exit: None,
        };
        if let Ok(planned) = ctx.planning.planner.plan(&ctx.planning.table, &req) {
            break planned;
        }
        // The drop slot is the last resort for a rest, as in `plan_vehicle`.
        if let Some(d) = drop {
            let fallback = Request {
                rest: vec![d],
                ..req
            };
            if let Ok(planned) = ctx.planning.planner.plan(&ctx.planning.table, &fallback) {
                break planned;
            }
        }
        t += step;
    };
    ctx.stats.plans += 1;
    let plan_id = ctx.registry.next_plan;
    ctx.registry.next_plan += 1;
    ctx.planning.table.reserve(map, &planned.plan);
    if let Some(last) = planned.plan.steps.last() {
        rests.insert(last.node);
    }
    let mut actions = Vec::new();
    let mut job_key = None;
    if let Some(drop) = drop {
        rests.insert(drop);
        let aid = ctx.registry.next_action;
        ctx.registry.next_action += 1;
        actions.push((
            planned.goal_steps[0],
            Action {
                id: aid,
                kind: ActionKind::Drop {
                    container: container.clone(),
                },
                duration_ms: ctx.settings.drop_ms,
            },
            Some(1),
        ));
        job_key = Some(adopt_job(
            ctx,
            commands,
            me,
            border,
            drop,
            job,
            container,
            receiving_channel,
            id,
        ));
    }
    let e = commands
        .spawn((
            Vehicle {
                id,
                serial: vehicle.clone(),
            },
            Status {
                node: border,
                battery_pct: 100.0,
                loaded: drop.is_some(),
                broken: false,
                link_lost: false,
                held: false,
                driving: true,
                last_report: ctx.now,
                finished: Default::default(),
                following: None,
            },
            Motion {
                active: Some(ActivePlan {
                    id: plan_id,
                    plan: planned.plan,
                    actions,
                    cut: None,
                }),
                pinned: None,
                retry_at: None,
            },
            Task {
                job: job_key,
                crossing: Crossing::Incoming { at: t },
                ..Task::default()
            },
        ))
        .id();
    ctx.registry.vehicles.insert(vehicle.clone(), e);
    ctx.registry.by_id.insert(id, e);
    Ok(CrossingOutput::Grant {
        vehicle,
        at_ms: t,
        receiving_channel,
    })
}

/// The far side's job for a container entering on a vehicle: picked on
/// the other side, dropped at `drop` here. Returns its key.
#[allow(clippy::too_many_arguments)]
fn adopt_job(
    ctx: &mut PlanCtx,
    commands: &mut Commands,
    me: Side,
    border: NodeIx,
    drop: NodeIx,
    job: String,
    container: String,
    channel: Channel,
    vehicle: VehicleId,
) -> u64 {
    let key = ctx.registry.next_job;
    ctx.registry.next_job += 1;
    let job_entity = commands
        .spawn(Job {
            key,
            id: job.clone(),
            container: container.clone(),
            pickup: border,
            from: me.other(),
            channel,
            customs_ms: 0,
            priority: 0,
            deadline: None,
            created: ctx.now,
            vehicle: Some(vehicle),
            drop: Some(drop),
            stops: vec![
                JobStop {
                    kind: ActionKind::Pick {
                        container: container.clone(),
                    },
                    nodes: vec![border],
                    dwell: 0,
                },
                JobStop {
                    kind: ActionKind::Drop { container },
                    nodes: vec![drop],
                    dwell: ctx.settings.drop_ms,
                },
            ],
            // Picked on the other side.
            done: 1,
            not_before: 0,
        })
        .id();
    ctx.registry.jobs.insert(key, job_entity);
    ctx.registry.job_ids.insert(job, key);
    key
}
