//! Offer helpers for schedulers: does a task fit, which ports does it get,
//! how many tasks can one offer take, and the `TaskInfo` to launch them.
//!
//! # What an offer is
//!
//! Mesos schedules in two levels. The master's allocator decides *how
//! much* each framework gets, sharing the cluster fairly between roles. It
//! hands that out agent by agent as **offers**: "on agent X you may use
//! these resources". The framework's scheduler decides *what* to run there.
//! It answers an offer by accepting it with operations (usually LAUNCH) or
//! by declining it.
//!
//! While a framework holds an offer, nobody else can use those resources.
//! So answer every offer promptly, and decline what you cannot use,
//! preferably with a long `refuse_seconds` (see [`calls::decline`]).
//! Whatever an accepted offer's operations leave unused goes back to the
//! allocator as well. An offer can also be *rescinded*: the master takes it
//! back (its agent was lost, or it timed out). Accepting it afterwards fails,
//! and the tasks come back as TASK_LOST/TASK_DROPPED, so keep task state
//! driven by status updates rather than by what you meant to launch.
//!
//! # Which role: `allocation_info`
//!
//! A framework may act in several roles (MULTI_ROLE). Each offer is made to
//! one of them, and every offered resource says so in its
//! `allocation_info`. The master only launches a task whose resources are
//! contained in what it offered, and offered resources carry their
//! `allocation_info`. A task's resources must therefore be allocated to
//! the offer's role. (For older schedulers the master fills in a missing
//! `allocation_info` from the offer. A task whose resources name a
//! different role is rejected.) The safest way is to take the task's
//! resources *out of the offer*, as [`Resources::find`], [`OfferPacker`] and
//! [`pack`] do: they then carry the offer's `allocation_info` and
//! reservations. For resources built by hand, [`allocated_for`] stamps the
//! offer's role on them.
//!
//! # Why ports come from offers
//!
//! Many tasks share an agent, possibly from other frameworks. A task cannot
//! simply bind port 8080, since something else may already have it. Agents
//! therefore hand out ports as a resource, `[31000-32000]` by default, and
//! two tasks are never given the same port. A task asks for specific port
//! numbers in its resources ([`pick_ports`] chooses them from the offer)
//! and must be *told* which ones it got, on its command line or in its
//! environment. Mesos does not rewrite the task's configuration for it.
//! Unless the agent runs a port isolator, nothing stops a task from using
//! other ports either: it is a contract, kept by the framework.
//!
//! # Packing
//!
//! [`pack`] fills one offer greedily with tasks in the order given, a
//! first-fit heuristic. It is not an optimal bin packing, and need not be:
//! offers keep coming, and what does not fit now will get another chance in
//! a few seconds.
//!
//! [`calls::decline`]: crate::calls::decline

use crate::resources::{Resources, ports_list};
use crate::v1::{
    AgentId, CommandInfo, ContainerInfo, ExecutorId, ExecutorInfo, Image, Offer, TaskId, TaskInfo,
    container_info::{self, DockerInfo, MesosInfo, docker_info},
    executor_info, image,
};

/// An offer's resources, with the offer's `allocation_info` copied onto
/// any resource that lacks it, so that every piece taken from them says
/// which role it is used in.
pub fn offer_resources(offer: &Offer) -> Resources {
    offer
        .resources
        .iter()
        .cloned()
        .map(|mut resource| {
            if resource.allocation_info.is_none() {
                resource.allocation_info = offer.allocation_info.clone();
            }
            resource
        })
        .collect()
}

/// The role an offer was made to, if the master said.
pub fn offer_role(offer: &Offer) -> Option<&str> {
    offer
        .allocation_info
        .as_ref()
        .or_else(|| {
            offer
                .resources
                .iter()
                .find_map(|r| r.allocation_info.as_ref())
        })
        .and_then(|allocation| allocation.role.as_deref())
}

/// `resources`, allocated to the role `offer` was made to: what the
/// resources of a task launched from this offer must say. Unchanged if the
/// offer names no role.
pub fn allocated_for(offer: &Offer, resources: Resources) -> Resources {
    match offer_role(offer) {
        Some(role) => resources.allocated_to(role),
        None => resources,
    }
}

/// Whether a task needing `task_resources` fits into `offer`. Plain
/// amounts (`cpus:0.5;mem:128`) may come from any of the offer's pools; see
/// [`Resources::find`].
pub fn fits(task_resources: &Resources, offer: &Offer) -> bool {
    offer_resources(offer).find(task_resources).is_some()
}

/// `count` distinct ports from the `ports` in `resources`, lowest first, or
/// `None` if there are not that many.
///
/// Only non-revocable ports are picked: a task must not lose the port it
/// listens on when the agent reclaims revocable resources. To use the
/// ports, turn them into a resource with [`ports_list`] (or let
/// [`OfferPacker`] do it) and tell the task which ones it got.
pub fn pick_ports(resources: &Resources, count: usize) -> Option<Vec<u64>> {
    let usable = resources.filter(|r| r.revocable.is_none());
    let mut picked = Vec::new();
    for (begin, end) in usable.ports() {
        if picked.len() == count {
            break;
        }
        // `take` stops early, so a wide range is not walked to its end.
        picked.extend((begin..=end).take(count - picked.len()));
    }
    (picked.len() == count).then_some(picked)
}

/// `count` distinct ports from the `ports` in `resources`, from a random
/// one on (the next ones, wrapping around), or `None` if there are not
/// that many. Marathon picks a task's ports at random (`PortsMatcher`):
/// a port that a process outside Mesos holds on an agent then fails one
/// launch there, where lowest-first would pick it, and fail, every time.
pub fn pick_random_ports(resources: &Resources, count: usize) -> Option<Vec<u64>> {
    let usable = resources.filter(|r| r.revocable.is_none()).ports();
    let total: u64 = usable.iter().map(|(begin, end)| end - begin + 1).sum();
    if count as u64 > total {
        return None;
    }
    let mut index = if total == 0 {
        0
    } else {
        fastrand::u64(0..total)
    };
    let mut picked = Vec::with_capacity(count);
    while picked.len() < count {
        picked.push(nth_port(&usable, index));
        index = (index + 1) % total;
    }
    Some(picked)
}

/// The `n`th port of `ranges`, counting from the first range's begin.
fn nth_port(ranges: &[(u64, u64)], mut n: u64) -> u64 {
    for (begin, end) in ranges {
        let len = end - begin + 1;
        if n < len {
            return begin + n;
        }
        n -= len;
    }
    unreachable!("n is below the ranges' total")
}

/// What one task needs: fixed resources, plus some number of ports that
/// the packer chooses from the offer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskRequirements {
    /// Amounts like `cpus:0.5;mem:128`, or specific ports like
    /// `ports:[8080-8080]` if the task insists on them.
    pub resources: Resources,
    /// How many ports to pick, whichever the offer has.
    pub ports: usize,
    /// Pick them at random ([`pick_random_ports`]) rather than lowest
    /// first ([`pick_ports`]).
    pub random_ports: bool,
}

impl TaskRequirements {
    pub fn new(resources: Resources) -> TaskRequirements {
        TaskRequirements {
            resources,
            ports: 0,
            random_ports: false,
        }
    }

    /// Asks for `count` more ports, chosen by the packer, lowest first.
    pub fn with_ports(mut self, count: usize) -> TaskRequirements {
        self.ports = count;
        self
    }

    /// Asks for `count` more ports, chosen by the packer at random, as
    /// Marathon chooses them (see [`pick_random_ports`]).
    pub fn with_random_ports(mut self, count: usize) -> TaskRequirements {
        self.ports = count;
        self.random_ports = true;
        self
    }
}

/// Why a task fits none of the offers made: what a scheduler says when it
/// declines them all while tasks are missing (and nothing else would tell
/// an operator why nothing starts).
#[derive(Debug, Clone, PartialEq)]
pub enum Shortfall {
    /// No offer holds as much of a scalar resource (`cpus`, `mem`, `disk`…)
    /// as the task needs: `largest` is the most any offer had.
    Resource {
        name: String,
        needed: f64,
        largest: f64,
    },
    /// Every amount is offered somewhere, but no single offer holds them
    /// all (or not in the roles, reservations or ports the task needs).
    NoSingleOffer,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shortfall::Resource {
                name,
                needed,
                largest,
            } => {
                let unit = match name.as_str() {
                    "mem" => " MB".to_string(),
                    "disk" => " MB of disk".to_string(),
                    other => format!(" {other}"),
                };
                write!(
                    f,
                    "a task needs {needed}{unit}; the largest offer had {largest}{unit}"
                )
            }
            Shortfall::NoSingleOffer => {
                f.write_str("no single offer holds everything a task needs")
            }
        }
    }
}

/// Why a task needing `needs` fits none of `offers`: the first scalar
/// resource it needs more of than any offer has, or
/// [`Shortfall::NoSingleOffer`]. `None` if one of them holds the task.
pub fn shortfall(needs: &TaskRequirements, offers: &[Offer]) -> Option<Shortfall> {
    if offers
        .iter()
        .any(|offer| OfferPacker::new(offer).take(needs).is_some())
    {
        return None;
    }
    let offered: Vec<Resources> = offers.iter().map(offer_resources).collect();
    let scalars = needs.resources.iter().filter(|r| r.scalar.is_some());
    for name in scalars.map(|resource| resource.name.as_str()) {
        let needed = needs.resources.scalar(name);
        let largest = (offered.iter())
            .map(|resources| resources.scalar(name))
            .fold(0.0, f64::max);
        if largest < needed {
            let name = name.to_string();
            return Some(Shortfall::Resource {
                name,
                needed,
                largest,
            });
        }
    }
    Some(Shortfall::NoSingleOffer)
}

/// The part of an offer given to one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// The resources for `TaskInfo.resources`, taken from the offer, with
    /// its `allocation_info` and reservations. The picked ports are included.
    pub resources: Resources,
    /// The ports picked for the task, in order, to pass on to it (e.g.
    /// `--port {ports[0]}`).
    pub ports: Vec<u64>,
}

impl Allocation {
    /// Splits `part` off this allocation, for a task that brings its own
    /// executor: take the task's and the executor's needs together from
    /// the packer (both must fit, or neither launches), then split the
    /// executor's share off for `ExecutorInfo.resources`. `None` if the
    /// allocation does not hold `part`.
    pub fn split_off(&mut self, part: &Resources) -> Option<Resources> {
        let taken = self.resources.find(part)?;
        self.resources = self.resources.checked_sub(&taken)?;
        Some(taken)
    }
}

/// Hands out an offer's resources to tasks one at a time, so that no two
/// tasks get the same resources, in particular not the same port.
///
/// ```
/// use mesos::offers::{OfferPacker, TaskRequirements};
/// use mesos::resources::Resources;
///
/// let offer = Resources::parse("cpus:1;mem:256;ports:[31000-31009]")?;
/// let mut packer = OfferPacker::from_resources(offer);
/// let web = TaskRequirements::new(Resources::parse("cpus:0.5;mem:128")?).with_ports(1);
///
/// let first = packer.take(&web).expect("fits");
/// let second = packer.take(&web).expect("fits");
/// assert_eq!((first.ports, second.ports), (vec![31000], vec![31001]));
/// assert!(packer.take(&web).is_none(), "no cpus left");
/// assert_eq!(packer.remaining().to_string(), "ports:[31002-31009]");
/// # Ok::<(), mesos::resources::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OfferPacker {
    remaining: Resources,
}

impl OfferPacker {
    /// Packs the resources of `offer` (see [`offer_resources`]).
    pub fn new(offer: &Offer) -> OfferPacker {
        OfferPacker::from_resources(offer_resources(offer))
    }

    /// Packs any resources, e.g. several offers from one agent added up.
    pub fn from_resources(resources: Resources) -> OfferPacker {
        OfferPacker {
            remaining: resources,
        }
    }

    /// Takes what `task` needs, or returns `None` and changes nothing if it
    /// does not fit. A task that does not fit can be skipped and a smaller
    /// one tried next.
    pub fn take(&mut self, task: &TaskRequirements) -> Option<Allocation> {
        let mut taken = self.remaining.find(&task.resources)?;
        let mut left = self.remaining.checked_sub(&taken)?;

        // Ports are picked from what is left, so they differ from any that
        // the task asked for by number, and from other tasks' ports.
        let ports = if task.random_ports {
            pick_random_ports(&left, task.ports)?
        } else {
            pick_ports(&left, task.ports)?
        };
        if !ports.is_empty() {
            let port_resources = left.find(&Resources::from(ports_list(&ports)))?;
            left = left.checked_sub(&port_resources)?;
            taken += port_resources;
        }

        // A shared persistent volume may be used by several tasks at once,
        // so using it does not use it up.
        left += taken.filter(|r| r.shared.is_some());

        self.remaining = left;
        Some(Allocation {
            resources: taken,
            ports,
        })
    }

    /// What has not been handed out yet.
    pub fn remaining(&self) -> &Resources {
        &self.remaining
    }

    pub fn into_remaining(self) -> Resources {
        self.remaining
    }
}

/// Fits tasks into one offer, in order, while they fit: the allocations of
/// the first `n` tasks (`n` may be 0), and what is left of the offer.
/// `allocations[i]` belongs to `tasks[i]`. Packing stops at the first task
/// that does not fit, so tasks queued earlier are not overtaken by smaller
/// ones behind them. Use [`OfferPacker`] to skip instead.
pub fn pack(offer: &Offer, tasks: &[TaskRequirements]) -> (Vec<Allocation>, Resources) {
    let mut packer = OfferPacker::new(offer);
    let allocations = tasks.iter().map_while(|task| packer.take(task)).collect();
    (allocations, packer.into_remaining())
}

/// A `TaskInfo` running `command` with `resources` on the agent
/// `agent_id` (the offer's). Set `container` on the result to run it in an
/// image, e.g. from [`docker_container`].
///
/// The task ID must be unique among the framework's tasks: the master
/// refuses a duplicate, and status updates are matched to tasks by it.
pub fn task_info(
    name: impl Into<String>,
    task_id: impl Into<String>,
    agent_id: &AgentId,
    resources: Resources,
    command: CommandInfo,
) -> TaskInfo {
    TaskInfo {
        name: name.into(),
        task_id: TaskId {
            value: task_id.into(),
        },
        agent_id: agent_id.clone(),
        resources: resources.into_vec(),
        command: Some(command),
        ..Default::default()
    }
}

/// An `ExecutorInfo` for a task that runs on the framework's own executor
/// (set it as the task's `executor`, and leave the task's `command`
/// unset): the agent starts `command` in the executor's sandbox, and the
/// executor subscribes to the agent's executor API to be given the task.
///
/// Mesos warns about an executor with less than 0.01 cpus or 32 MB of
/// memory (`MIN_CPUS`, `MIN_MEM` in `src/master/constants.hpp`) and says
/// it will refuse them in a future release: give it at least that. Every
/// task sent to one executor ID on an agent must carry the same
/// `ExecutorInfo`, or the master refuses the task.
pub fn executor_info(
    executor_id: impl Into<String>,
    name: impl Into<String>,
    resources: Resources,
    command: CommandInfo,
) -> ExecutorInfo {
    ExecutorInfo {
        r#type: Some(executor_info::Type::Custom as i32),
        executor_id: ExecutorId {
            value: executor_id.into(),
        },
        name: Some(name.into()),
        resources: resources.into_vec(),
        command: Some(command),
        ..Default::default()
    }
}

/// A command run by `/bin/sh -c`, in the task's sandbox (or in its image,
/// if it has a container).
pub fn command_info_shell(command: impl Into<String>) -> CommandInfo {
    CommandInfo {
        shell: Some(true),
        value: Some(command.into()),
        ..Default::default()
    }
}

/// A container for the Mesos containerizer (type MESOS) with a Docker
/// image, e.g. `"library/alpine:3.20"`. This is how current Mesos runs
/// Docker images: the agent pulls and unpacks the image itself, with no
/// Docker daemon involved (it needs `--image_providers=docker` and the
/// `filesystem/linux,docker/runtime` isolators). With a
/// [`command_info_shell`] the command runs in the image through `/bin/sh`.
/// A `CommandInfo` with `shell: Some(false)` and no `value` runs the image's
/// own entrypoint instead.
pub fn docker_container(image: impl Into<String>) -> ContainerInfo {
    ContainerInfo {
        r#type: container_info::Type::Mesos as i32,
        mesos: Some(MesosInfo {
            image: Some(Image {
                r#type: image::Type::Docker as i32,
                docker: Some(image::Docker {
                    name: image.into(),
                    config: None,
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

/// A container for the Docker containerizer (type DOCKER): the agent runs
/// the image through the Docker daemon on the host, with host networking.
/// It needs `--containerizers=docker,mesos` on the agent. Prefer
/// [`docker_container`] unless you need the daemon's features.
pub fn docker_containerizer(image: impl Into<String>) -> ContainerInfo {
    ContainerInfo {
        r#type: container_info::Type::Docker as i32,
        docker: Some(DockerInfo {
            image: image.into(),
            network: Some(docker_info::Network::Host as i32),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{cpus, mem, ports};
    use crate::v1::{
        FrameworkId, OfferId, Resource,
        resource::{AllocationInfo, RevocableInfo},
    };

    fn offer(resources: &str, role: &str) -> Offer {
        let resources = Resources::parse(resources).expect("valid test resources");
        Offer {
            id: OfferId {
                value: "offer-1".to_string(),
            },
            framework_id: FrameworkId {
                value: "framework-1".to_string(),
            },
            agent_id: AgentId {
                value: "agent-1".to_string(),
            },
            hostname: "agent-1.example.com".to_string(),
            resources: resources.allocated_to(role).into_vec(),
            allocation_info: Some(AllocationInfo {
                role: Some(role.to_string()),
            }),
            ..Default::default()
        }
    }

    fn needs(text: &str) -> TaskRequirements {
        TaskRequirements::new(Resources::parse(text).expect("valid test resources"))
    }

    fn all_allocated_to(resources: &Resources, role: &str) -> bool {
        resources
            .iter()
            .all(|r| r.allocation_info.as_ref().and_then(|a| a.role.as_deref()) == Some(role))
    }

    #[test]
    fn a_shortfall_names_the_resource_no_offer_has_enough_of_with_the_largest_amount() {
        let offers = [offer("cpus:4;mem:1920", "*"), offer("cpus:1;mem:1024", "*")];
        let short = shortfall(&needs("cpus:0.5;mem:4096"), &offers).unwrap();
        assert_eq!(
            short.to_string(),
            "a task needs 4096 MB; the largest offer had 1920 MB"
        );
        let short = shortfall(&needs("cpus:8;mem:128"), &offers).unwrap();
        assert_eq!(
            short.to_string(),
            "a task needs 8 cpus; the largest offer had 4 cpus"
        );
        // Each amount is there, but not in one offer.
        let split = [offer("cpus:4;mem:64", "*"), offer("cpus:0.1;mem:1024", "*")];
        assert_eq!(
            shortfall(&needs("cpus:1;mem:512"), &split),
            Some(Shortfall::NoSingleOffer)
        );
        assert_eq!(
            shortfall(&needs("cpus:1;mem:512"), &offers),
            None,
            "it fits"
        );
        let short = shortfall(&needs("cpus:1"), &[]).unwrap();
        assert_eq!(
            short.to_string(),
            "a task needs 1 cpus; the largest offer had 0 cpus"
        );
    }

    #[test]
    fn an_executor_share_splits_off_what_the_packer_took_for_task_and_executor() {
        let mut packer = OfferPacker::from_resources(Resources::parse("cpus:1;mem:300").unwrap());
        let task = Resources::parse("cpus:0.5;mem:128").unwrap();
        let executor = Resources::parse("cpus:0.1;mem:32").unwrap();
        let mut taken = packer
            .take(&TaskRequirements::new(task.clone() + executor.clone()))
            .unwrap();
        let split = taken.split_off(&executor).unwrap();
        assert_eq!(split.to_string(), executor.to_string());
        assert_eq!(taken.resources.to_string(), task.to_string());
        // The offer had room for one pair only: the next task and its
        // executor do not fit together, so neither is taken.
        assert!(
            packer
                .take(&TaskRequirements::new(task + executor.clone()))
                .is_none()
        );
        assert!(
            taken
                .split_off(&Resources::parse("cpus:1").unwrap())
                .is_none()
        );
        assert_eq!(
            taken.resources.cpus(),
            0.5,
            "a failed split changes nothing"
        );
    }

    #[test]
    fn fits_and_does_not_fit() {
        let offer = offer("cpus:1;mem:512;ports:[31000-31002]", "web");
        let task = |text: &str| Resources::parse(text).unwrap();

        assert!(fits(&task("cpus:1;mem:512"), &offer));
        assert!(fits(&task("cpus:0.5;mem:128;ports:[31001-31001]"), &offer));
        assert!(fits(&Resources::new(), &offer));
        // cpus short, mem short, a port that is not offered, no gpus at all.
        assert!(!fits(&task("cpus:1.001;mem:128"), &offer));
        assert!(!fits(&task("cpus:0.5;mem:513"), &offer));
        assert!(!fits(&task("cpus:0.5;ports:[8080-8080]"), &offer));
        assert!(!fits(&task("cpus:0.5;ports:[31002-31003]"), &offer));
        assert!(!fits(&task("gpus:1"), &offer));
    }

    #[test]
    fn fits_at_mesos_precision() {
        // 0.1 + 0.2 cpus offered in two pools, 0.3 asked for.
        let mut offer = offer("cpus:0.1;mem:10", "web");
        offer.resources.push(Resource {
            allocation_info: None,
            ..cpus(0.2)
        });
        assert!(fits(&Resources::parse("cpus:0.3").unwrap(), &offer));
        assert!(!fits(&Resources::parse("cpus:0.301").unwrap(), &offer));
    }

    #[test]
    fn random_ports_are_distinct_inside_the_ranges_and_vary() {
        let resources = Resources::parse("ports:[31000-31002,32000-32001]").unwrap();
        let mut firsts = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let picked = pick_random_ports(&resources, 3).unwrap();
            let distinct: std::collections::BTreeSet<u64> = picked.iter().copied().collect();
            assert_eq!(distinct.len(), 3, "{picked:?}");
            assert!(
                picked
                    .iter()
                    .all(|p| (31000..=31002).contains(p) || (32000..=32001).contains(p)),
                "{picked:?}"
            );
            firsts.insert(picked[0]);
        }
        assert_eq!(firsts.len(), 5, "every port is picked first some time");
        assert_eq!(pick_random_ports(&resources, 5).map(|p| p.len()), Some(5));
        assert_eq!(pick_random_ports(&resources, 6), None);
        assert_eq!(
            pick_random_ports(&Resources::parse("cpus:1").unwrap(), 0),
            Some(vec![])
        );
        assert_eq!(
            pick_random_ports(&Resources::parse("cpus:1").unwrap(), 1),
            None
        );
    }

    #[test]
    fn pick_ports_are_distinct_and_inside_the_ranges() {
        let resources = Resources::parse("ports:[31000-31001,31005-31006,32000-32000]").unwrap();
        let picked = pick_ports(&resources, 5).unwrap();
        assert_eq!(picked, vec![31000, 31001, 31005, 31006, 32000]);

        let picked = pick_ports(&resources, 3).unwrap();
        assert_eq!(picked, vec![31000, 31001, 31005]);
        assert!(
            picked
                .iter()
                .all(|&p| resources.ports().iter().any(|&(b, e)| b <= p && p <= e))
        );

        assert_eq!(pick_ports(&resources, 0), Some(vec![]));
        assert_eq!(pick_ports(&resources, 6), None);
        assert_eq!(pick_ports(&Resources::parse("cpus:1").unwrap(), 1), None);
        assert_eq!(pick_ports(&Resources::new(), 0), Some(vec![]));

        // A huge range is not walked to its end.
        let wide = Resources::from(ports(&[(0, u64::MAX)]));
        assert_eq!(pick_ports(&wide, 2), Some(vec![0, 1]));
    }

    #[test]
    fn pick_ports_skips_revocable_ports() {
        let resources = Resources::from(vec![
            Resource {
                revocable: Some(RevocableInfo {}),
                ..ports(&[(1, 10)])
            },
            ports(&[(20, 21)]),
        ]);
        assert_eq!(pick_ports(&resources, 2), Some(vec![20, 21]));
        assert_eq!(pick_ports(&resources, 3), None);
    }

    #[test]
    fn packs_the_tasks_that_fit_in_order() {
        let offer = offer("cpus:2.5;mem:1024;ports:[31000-31002,31010-31020]", "web");
        let web = needs("cpus:1;mem:256").with_ports(2);
        let tasks = [web.clone(), web.clone(), web];

        let (allocations, remaining) = pack(&offer, &tasks);

        // Three tasks of 1 cpu into 2.5 cpus: two fit.
        assert_eq!(allocations.len(), 2);
        assert_eq!(allocations[0].ports, vec![31000, 31001]);
        assert_eq!(allocations[1].ports, vec![31002, 31010]);
        for allocation in &allocations {
            assert_eq!(allocation.resources.cpus(), 1.0);
            assert_eq!(allocation.resources.mem(), 256.0);
            // The picked ports are the ports in the resources.
            let picked = Resources::from(ports_list(&allocation.ports));
            assert_eq!(allocation.resources.ports(), picked.ports());
            // Every resource carries the offer's role.
            assert!(
                all_allocated_to(&allocation.resources, "web"),
                "{}",
                allocation.resources
            );
        }
        assert_eq!(
            remaining.to_string(),
            "cpus(allocated: web):0.5;mem(allocated: web):512;ports(allocated: web):[31011-31020]"
        );

        // Nothing was lost or handed out twice.
        let handed_out: Resources = allocations.iter().map(|a| a.resources.clone()).sum();
        assert_eq!(handed_out + remaining, offer_resources(&offer));
    }

    #[test]
    fn packing_stops_at_the_first_task_that_does_not_fit() {
        let offer = offer("cpus:2;mem:1024", "*");
        let tasks = [needs("cpus:1"), needs("cpus:4"), needs("cpus:0.5")];
        let (allocations, remaining) = pack(&offer, &tasks);
        assert_eq!(allocations.len(), 1);
        assert_eq!(remaining.cpus(), 1.0);
    }

    #[test]
    fn a_task_that_does_not_fit_changes_nothing() {
        let mut packer = OfferPacker::new(&offer("cpus:2;mem:128;ports:[1-3]", "web"));
        let before = packer.remaining().clone();

        // Enough cpus and mem but not enough ports: nothing may be taken.
        assert!(packer.take(&needs("cpus:1;mem:64").with_ports(4)).is_none());
        assert!(packer.take(&needs("cpus:3")).is_none());
        assert_eq!(packer.remaining(), &before);

        // The packer goes on with tasks that do fit (skipping, unlike pack).
        let allocation = packer.take(&needs("cpus:1;mem:64").with_ports(3)).unwrap();
        assert_eq!(allocation.ports, vec![1, 2, 3]);
        assert_eq!(
            packer.remaining().to_string(),
            "cpus(allocated: web):1;mem(allocated: web):64"
        );
    }

    #[test]
    fn picked_ports_avoid_ports_asked_for_by_number() {
        let mut packer = OfferPacker::new(&offer("cpus:1;ports:[8080-8082]", "web"));
        let first = packer
            .take(&needs("ports:[8080-8080]").with_ports(1))
            .unwrap();
        assert_eq!(first.ports, vec![8081]);
        assert_eq!(first.resources.ports(), vec![(8080, 8081)]);
        let second = packer.take(&needs("cpus:0.1").with_ports(1)).unwrap();
        assert_eq!(second.ports, vec![8082]);
        assert!(packer.take(&needs("ports:[8080-8080]")).is_none());
    }

    #[test]
    fn allocation_info_comes_from_the_offer() {
        // The role only on the offer, not on its resources.
        let mut offer = offer("cpus:1;mem:128", "web");
        for resource in &mut offer.resources {
            resource.allocation_info = None;
        }
        assert_eq!(offer_role(&offer), Some("web"));
        assert!(all_allocated_to(&offer_resources(&offer), "web"));

        let (allocations, _) = pack(&offer, &[needs("cpus:0.5;mem:64")]);
        assert!(all_allocated_to(&allocations[0].resources, "web"));

        // Resources built by hand get the offer's role.
        let by_hand = allocated_for(&offer, Resources::from([cpus(0.5), mem(64.0)]));
        assert_eq!(
            by_hand.to_string(),
            "cpus(allocated: web):0.5;mem(allocated: web):64"
        );
        assert!(offer_resources(&offer).contains(&by_hand));
        // Without the role they would not be contained in the offer.
        assert!(!offer_resources(&offer).contains(&Resources::from([cpus(0.5), mem(64.0)])));

        // An offer that names no role leaves them alone.
        let no_role = Offer::default();
        assert_eq!(offer_role(&no_role), None);
        assert_eq!(
            allocated_for(&no_role, Resources::from(cpus(1.0))).to_string(),
            "cpus:1"
        );
    }

    #[test]
    fn multi_role_offers_keep_their_roles_apart() {
        let web = offer("cpus:1", "web");
        let batch = offer("cpus:1", "batch");
        let (allocations, _) = pack(&batch, &[needs("cpus:1")]);
        assert!(all_allocated_to(&allocations[0].resources, "batch"));
        // Resources allocated to `batch` are not in the offer to `web`.
        assert!(!offer_resources(&web).contains(&allocations[0].resources));
    }

    #[test]
    fn builds_a_task_info() {
        let offer = offer("cpus:1;mem:128;ports:[31000-31000]", "web");
        let (allocations, _) = pack(&offer, &[needs("cpus:0.5;mem:64").with_ports(1)]);
        let allocation = &allocations[0];
        let command = command_info_shell(format!("python3 -m http.server {}", allocation.ports[0]));
        let mut task = task_info(
            "web-1",
            "web-1-uuid",
            &offer.agent_id,
            allocation.resources.clone(),
            command,
        );
        task.container = Some(docker_container("library/python:3.12-alpine"));

        assert_eq!(task.name, "web-1");
        assert_eq!(task.task_id.value, "web-1-uuid");
        assert_eq!(task.agent_id, offer.agent_id);
        let command = task.command.as_ref().unwrap();
        assert_eq!(command.shell, Some(true));
        assert_eq!(
            command.value.as_deref(),
            Some("python3 -m http.server 31000")
        );
        assert_eq!(
            Resources::from(task.resources.clone()).to_string(),
            "cpus(allocated: web):0.5;mem(allocated: web):64;ports(allocated: web):[31000-31000]"
        );
        assert!(offer_resources(&offer).contains(&Resources::from(task.resources)));
    }

    #[test]
    fn container_helpers() {
        let mesos = docker_container("library/alpine:3.20");
        assert_eq!(mesos.r#type(), container_info::Type::Mesos);
        let image = mesos.mesos.unwrap().image.unwrap();
        assert_eq!(image.r#type(), image::Type::Docker);
        assert_eq!(image.docker.unwrap().name, "library/alpine:3.20");

        let docker = docker_containerizer("nginx:1.27");
        assert_eq!(docker.r#type(), container_info::Type::Docker);
        let info = docker.docker.unwrap();
        assert_eq!(info.image, "nginx:1.27");
        assert_eq!(info.network(), docker_info::Network::Host);
    }

    /// Random offers and tasks: packing never hands out more than offered,
    /// nor anything twice, and every picked port was offered.
    #[test]
    fn packing_conserves_resources() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut below = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for round in 0..500 {
            let first_port = 31000 + below(50);
            let offer = offer(
                &format!(
                    "cpus:{};mem:{};ports:[{}-{},{}-{}]",
                    below(5000) as f64 / 1000.0 + 0.001,
                    below(4096) + 1,
                    first_port,
                    first_port + below(4),
                    first_port + 10,
                    first_port + 10 + below(4),
                ),
                ["web", "batch"][below(2) as usize],
            );
            let tasks: Vec<TaskRequirements> = (0..below(6))
                .map(|_| {
                    needs(&format!(
                        "cpus:{};mem:{}",
                        below(2000) as f64 / 1000.0 + 0.001,
                        below(1024) + 1
                    ))
                    .with_ports(below(3) as usize)
                })
                .collect();
            let (allocations, remaining) = pack(&offer, &tasks);
            let context = format!("round {round}: {:?} {tasks:?}", offer.resources);

            let handed_out: Resources = allocations.iter().map(|a| a.resources.clone()).sum();
            assert_eq!(
                handed_out + &remaining,
                offer_resources(&offer),
                "{context}"
            );

            let mut all_ports: Vec<u64> =
                allocations.iter().flat_map(|a| a.ports.clone()).collect();
            let count = all_ports.len();
            all_ports.sort_unstable();
            all_ports.dedup();
            assert_eq!(
                all_ports.len(),
                count,
                "{context}: a port was handed out twice"
            );
            let offered = offer_resources(&offer).ports();
            assert!(
                all_ports
                    .iter()
                    .all(|&p| offered.iter().any(|&(b, e)| b <= p && p <= e)),
                "{context}"
            );

            // Packing stops exactly where the next task does not fit.
            if let Some(next) = tasks.get(allocations.len()) {
                assert!(
                    OfferPacker::from_resources(remaining).take(next).is_none(),
                    "{context}"
                );
            }
        }
    }
}
