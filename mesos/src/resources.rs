//! Resource arithmetic: adding up, taking away and comparing what agents
//! have, what offers hold and what tasks need. The Rust counterpart of
//! Mesos' `Resources` class.
//!
//! # What a resource is
//!
//! Mesos describes everything an agent can give to tasks as a list of
//! [`Resource`] messages, each a *name* and a typed *value*:
//!
//! ```text
//! cpus:4;mem:15360;disk:102400;ports:[31000-32000];gpus:1
//! ```
//!
//! There are three value types because resources are used in three ways:
//!
//! * **scalar**: an amount that can be split at will: `cpus:1.5`,
//!   `mem:4096` and `disk` (both in MB), `gpus`. Two tasks can each take
//!   half of it.
//! * **ranges**: numbered things where *which one* you get matters:
//!   `ports`. A task does not need "two ports" but ports 31004 and 31005,
//!   because it must listen on exactly those and clients must find it there.
//!   An agent has thousands of them, so they travel as ranges
//!   (`[31000-32000]`), not one by one.
//! * **set**: named items that cannot be split: `{gpu0,gpu1}`, `{sda,sdb}`.
//!
//! The arithmetic follows the type. Scalars add up. Ranges and sets are
//! joined, and taking from them cuts pieces out: `[31000-32000]` without
//! port 31005 is `[31000-31004,31006-32000]`.
//!
//! # Scalars are fixed-point
//!
//! Scalars are `double`s on the wire, and in floating point 0.1 + 0.2 is
//! not 0.3. A framework that adds up an offer's slices that way might decide
//! a 0.3-cpu task does not fit, or the master and the framework might
//! disagree about it. Mesos therefore computes with every scalar rounded to
//! three decimal places, as a whole number of thousandths
//! (`src/common/values.cpp`). This module does the same, so master, agent
//! and framework always agree on whether something fits.
//!
//! # The same name is not the same pool
//!
//! Besides its value, a `Resource` says whose it is and how it may be used:
//!
//! * its *reservation* (`role`, `reservation`, `reservations`): set aside
//!   for one role, statically by the agent's operator (`cpus(web):2`) or
//!   dynamically at run time;
//! * its `allocation_info`: the role it is currently *offered to*. A
//!   framework can act in several roles (the MULTI_ROLE capability) and
//!   gets separate offers for each;
//! * `disk`: a persistent volume or a dedicated disk rather than a piece of
//!   the agent's root disk;
//! * `revocable`: the agent may take it back at any time (oversubscribed
//!   capacity, fine for best-effort work only);
//! * `shared`: a persistent volume that several tasks may use at once.
//!
//! Two resources merge only if all of that is equal. One cpu reserved for
//! `web` plus one unreserved cpu is not "two cpus" of anything: it is two
//! pools, and a [`Resources`] keeps them apart. [`Resources::scalar`] adds
//! up every pool ("how many cpus in total"), while [`Resources::contains`]
//! and subtraction respect the pools.
//!
//! A task asks for amounts ("1 cpu, 128 MB"), not for pools.
//! [`Resources::find`] looks for those amounts in an offer and returns
//! *the offer's own* pieces, with their reservations and `allocation_info`.
//! Those pieces are what a `TaskInfo` must carry: the master only launches a
//! task whose resources were offered, to that role.
//!
//! # Text form
//!
//! [`Resources::parse`] reads the syntax of `mesos-agent --resources` and
//! `mesos-local --resources`, and `Display` writes it: `name:value` pairs
//! separated by `;`. A value is a number (scalar), `[a-b,c-d]` (ranges) or
//! `{a,b}` (set). A `(role)` after the name reserves the resource for that
//! role statically:
//!
//! ```
//! use mesos::resources::Resources;
//!
//! let agent = Resources::parse("cpus:2;mem:2048;ports:[31000-32000]")?;
//! let task = Resources::parse("cpus:0.5;mem:128;ports:[31000-31005]")?;
//! assert!(agent.contains(&task));
//! assert_eq!(
//!     (agent - &task).to_string(),
//!     "cpus:1.5;mem:1920;ports:[31006-32000]"
//! );
//! # Ok::<(), mesos::resources::ParseError>(())
//! ```
//!
//! For what the syntax cannot express, `Display` adds Mesos' annotations:
//! `(allocated: web)`, `{REV}`, `<SHARED>`, `[MOUNT:/mnt/a,volume-id]`, and
//! dynamic reservations as `(reservations: [(DYNAMIC,web,alice)])`. They
//! are for logs; `parse` rejects them. [`Resources::mesos_format`] writes
//! exactly what a Mesos master would, for messages that must match its
//! own.
//!
//! # Simplifications
//!
//! Mesos' `Resources` is a few thousand lines long. This one keeps what a
//! scheduler needs and leaves out the rest:
//!
//! * Invalid resources given to [`Resources::from`] are dropped with a
//!   warning (Mesos drops them silently). [`validate`] checks one.
//! * Within one resource, overlapping ranges and repeated set items are
//!   merged, not rejected. `parse` does reject repeated set items, as Mesos
//!   does.
//! * Persistent volumes and MOUNT, BLOCK and identified RAW disks are
//!   indivisible: they are added, found and subtracted whole, and two equal
//!   ones are never merged. Mesos counts how often a shared volume is in use;
//!   here the volume is simply listed that many times.
//! * Reservations are compared field by field, not converted between the
//!   older format (`role`, `reservation`) and the newer one
//!   (`reservations`). A *reserved* requirement written in one format does
//!   not match an offer in the other; plain requirements match both.
//!   [`upgrade_format`] and [`downgrade_format`] convert explicitly.
//! * Reservations are equal only if all their fields are, labels included.
//!   A disk's `volume` is ignored when comparing disks, as in Mesos: it says
//!   where a task mounts the disk, not which disk it is.
//! * No TEXT values (Mesos does not allow them in resources either), and no
//!   JSON form of `--resources`.

use std::{
    fmt,
    iter::Sum,
    ops::{Add, AddAssign, Sub, SubAssign},
    str::FromStr,
};

use crate::v1::{
    Resource,
    resource::{AllocationInfo, DiskInfo, ReservationInfo, disk_info, reservation_info},
    value::{self, Type as ValueType},
};

// ---------------------------------------------------------------------------
// Constructors for single resources.
// ---------------------------------------------------------------------------

/// A scalar resource, unreserved, e.g. `scalar("cpus", 0.5)`.
pub fn scalar(name: impl Into<String>, value: f64) -> Resource {
    Resource {
        name: name.into(),
        r#type: ValueType::Scalar as i32,
        scalar: Some(value::Scalar { value }),
        ..Default::default()
    }
}

/// A ranges resource, unreserved, e.g. `ranges("ports", &[(31000, 31005)])`.
/// Ranges are inclusive at both ends: `(8080, 8080)` is one port.
pub fn ranges(name: impl Into<String>, ranges: &[(u64, u64)]) -> Resource {
    let range = ranges
        .iter()
        .map(|&(begin, end)| value::Range { begin, end })
        .collect();
    Resource {
        name: name.into(),
        r#type: ValueType::Ranges as i32,
        ranges: Some(value::Ranges { range }),
        ..Default::default()
    }
}

/// A set resource, unreserved, e.g. `set("gpu_ids", ["gpu0", "gpu1"])`.
pub fn set<I, S>(name: impl Into<String>, items: I) -> Resource
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Resource {
        name: name.into(),
        r#type: ValueType::Set as i32,
        set: Some(value::Set {
            item: items.into_iter().map(Into::into).collect(),
        }),
        ..Default::default()
    }
}

/// `cpus`: CPU shares; `0.5` is half a core's time.
pub fn cpus(value: f64) -> Resource {
    scalar("cpus", value)
}

/// `mem`: memory in MB.
pub fn mem(megabytes: f64) -> Resource {
    scalar("mem", megabytes)
}

/// `disk`: space on the agent's disk in MB (in the task's sandbox).
pub fn disk(megabytes: f64) -> Resource {
    scalar("disk", megabytes)
}

/// `gpus`: whole GPUs. A scalar on the wire, but Mesos refuses fractions:
/// a GPU cannot be time-shared the way a CPU can, hence the integer here.
pub fn gpus(count: u32) -> Resource {
    scalar("gpus", f64::from(count))
}

/// `ports` given as ranges, e.g. `ports(&[(31000, 31005)])`.
pub fn ports(port_ranges: &[(u64, u64)]) -> Resource {
    ranges("ports", port_ranges)
}

/// `ports` given one by one, e.g. the ports that [`pick_ports`] chose.
/// Neighbours are merged into ranges when the resource joins a
/// [`Resources`].
///
/// [`pick_ports`]: crate::offers::pick_ports
pub fn ports_list(port_numbers: &[u64]) -> Resource {
    let singles: Vec<(u64, u64)> = port_numbers.iter().map(|&port| (port, port)).collect();
    ports(&singles)
}

// ---------------------------------------------------------------------------
// Fixed-point scalars.
// ---------------------------------------------------------------------------

/// Scalars beyond this many units are refused: in thousandths they must
/// still fit an `i64` with room to add some up.
const MAX_SCALAR: f64 = 1e15;

/// A scalar as Mesos computes with it (`convertToFixed`): a whole number of
/// thousandths, rounded to the nearest, halves away from zero. `as`
/// saturates, so even a NaN or a huge value cannot overflow here.
fn to_fixed(value: f64) -> i64 {
    (value * 1000.0).round() as i64
}

/// Back to a double (`convertToFloating`). The integer part and the
/// thousandths are converted separately so that the only division is of a
/// number below 1000: 300 thousandths come out as exactly the double
/// written `0.3`, which is what Mesos sends and prints.
fn to_floating(fixed: i64) -> f64 {
    (fixed / 1000) as f64 + (fixed % 1000) as f64 / 1000.0
}

/// Writes thousandths as a decimal without trailing zeros: `0.3`, `128`,
/// `1.235`. Formatting the integer, rather than the double, can never show
/// a rounding artefact like `1.2349999999999999`.
fn write_fixed(f: &mut fmt::Formatter<'_>, fixed: i64) -> fmt::Result {
    let sign = if fixed < 0 { "-" } else { "" };
    let (whole, thousandths) = (fixed.unsigned_abs() / 1000, fixed.unsigned_abs() % 1000);
    if thousandths == 0 {
        write!(f, "{sign}{whole}")
    } else {
        let decimals = format!("{thousandths:03}");
        write!(f, "{sign}{whole}.{}", decimals.trim_end_matches('0'))
    }
}

/// Why a scalar value is not acceptable, if it is not.
fn check_scalar(value: f64) -> Result<(), &'static str> {
    if !value.is_finite() {
        Err("not a finite number")
    } else if value < 0.0 {
        Err("negative: a resource amount cannot be below zero")
    } else if value != 0.0 && to_fixed(value) == 0 {
        // Mesos refuses these too: the agent would advertise, and the
        // master account for, something that rounds to nothing.
        Err("below 0.0005, which is 0 at Mesos' precision of three decimals")
    } else if value > MAX_SCALAR {
        Err("larger than 10^15, too large for Mesos' fixed-point arithmetic")
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Ranges and sets.
// ---------------------------------------------------------------------------

/// Sorts ranges and merges those that overlap or touch: `[1-3]` and
/// `[4-6]` are the same ports as `[1-6]`. A normalised form makes equality
/// and containment simple comparisons, and keeps offers short.
fn coalesce(mut list: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    list.retain(|&(begin, end)| begin <= end);
    list.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(list.len());
    for (begin, end) in list {
        match merged.last_mut() {
            // `saturating_add`: a range ending at u64::MAX touches nothing
            // after it, and must not overflow.
            Some(last) if begin <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((begin, end)),
        }
    }
    merged
}

/// What is left of `range` after cutting `cut` out of it: nothing, the
/// range itself, or one or two pieces on either side of the cut.
fn cut_out(range: (u64, u64), cut: (u64, u64)) -> impl Iterator<Item = (u64, u64)> {
    let (begin, end) = range;
    let (cut_begin, cut_end) = cut;
    if cut_end < begin || cut_begin > end {
        return [Some(range), None].into_iter().flatten();
    }
    // The subtractions cannot underflow or overflow: `cut_begin > begin`
    // means `cut_begin >= 1`, and `cut_end < end` means `cut_end < MAX`.
    let left = (cut_begin > begin).then(|| (begin, cut_begin - 1));
    let right = (cut_end < end).then(|| (cut_end + 1, end));
    [left, right].into_iter().flatten()
}

/// The numbers in `from` that are not in `take`.
fn subtract_ranges(from: &[(u64, u64)], take: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut left = from.to_vec();
    for &cut in take {
        left = left
            .into_iter()
            .flat_map(|range| cut_out(range, cut))
            .collect();
    }
    coalesce(left)
}

/// Items in first-seen order without repeats: a set offers each item once.
fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

// ---------------------------------------------------------------------------
// Quantities: the value of a resource, in a form to compute with.
// ---------------------------------------------------------------------------

/// The value of one resource, normalised: scalars in thousandths, ranges
/// sorted and merged, set items unique.
#[derive(Debug, Clone, PartialEq)]
enum Quantity {
    Scalar(i64),
    Ranges(Vec<(u64, u64)>),
    Set(Vec<String>),
}

impl Quantity {
    /// Reads the value field that the resource's type names; a missing
    /// field reads as nothing. [`validate`] turns away TEXT and unknown
    /// types before resources get here.
    fn of(resource: &Resource) -> Quantity {
        match ValueType::try_from(resource.r#type) {
            Ok(ValueType::Ranges) => Quantity::Ranges(coalesce(
                resource
                    .ranges
                    .iter()
                    .flat_map(|ranges| &ranges.range)
                    .map(|range| (range.begin, range.end))
                    .collect(),
            )),
            Ok(ValueType::Set) => Quantity::Set(dedup(
                resource.set.iter().flat_map(|set| set.item.iter().cloned()),
            )),
            _ => Quantity::Scalar(resource.scalar.map_or(0, |s| to_fixed(s.value))),
        }
    }

    /// Writes the quantity back as the resource's value.
    fn store_in(self, resource: &mut Resource) {
        resource.scalar = None;
        resource.ranges = None;
        resource.set = None;
        match self {
            Quantity::Scalar(fixed) => {
                resource.r#type = ValueType::Scalar as i32;
                resource.scalar = Some(value::Scalar {
                    value: to_floating(fixed),
                });
            }
            Quantity::Ranges(list) => {
                resource.r#type = ValueType::Ranges as i32;
                let range = list
                    .into_iter()
                    .map(|(begin, end)| value::Range { begin, end })
                    .collect();
                resource.ranges = Some(value::Ranges { range });
            }
            Quantity::Set(item) => {
                resource.r#type = ValueType::Set as i32;
                resource.set = Some(value::Set { item });
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Quantity::Scalar(fixed) => *fixed <= 0,
            Quantity::Ranges(list) => list.is_empty(),
            Quantity::Set(items) => items.is_empty(),
        }
    }

    /// Both together. Only called for resources of the same pool, hence of
    /// the same type; on a mismatch `self` is returned unchanged.
    fn plus(&self, other: &Quantity) -> Quantity {
        match (self, other) {
            (Quantity::Scalar(a), Quantity::Scalar(b)) => Quantity::Scalar(a.saturating_add(*b)),
            (Quantity::Ranges(a), Quantity::Ranges(b)) => {
                Quantity::Ranges(coalesce(a.iter().chain(b).copied().collect()))
            }
            (Quantity::Set(a), Quantity::Set(b)) => {
                Quantity::Set(dedup(a.iter().chain(b).cloned()))
            }
            _ => self.clone(),
        }
    }

    /// What is left of `self` without `other`. Like Mesos' `-`, this never
    /// goes below nothing: taking 2 cpus from 1 leaves none, not -1.
    fn minus(&self, other: &Quantity) -> Quantity {
        match (self, other) {
            (Quantity::Scalar(a), Quantity::Scalar(b)) => {
                Quantity::Scalar(a.saturating_sub(*b).max(0))
            }
            (Quantity::Ranges(a), Quantity::Ranges(b)) => Quantity::Ranges(subtract_ranges(a, b)),
            (Quantity::Set(a), Quantity::Set(b)) => {
                Quantity::Set(a.iter().filter(|item| !b.contains(item)).cloned().collect())
            }
            _ => self.clone(),
        }
    }

    /// The part of `self` that `other` has too: a − (a − b). For scalars
    /// that is the smaller amount, for ranges and sets the intersection.
    fn common(&self, other: &Quantity) -> Quantity {
        self.minus(&self.minus(other))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantity::Scalar(fixed) => write_fixed(f, *fixed),
            Quantity::Ranges(list) => {
                let list: Vec<String> = list
                    .iter()
                    .map(|(begin, end)| format!("{begin}-{end}"))
                    .collect();
                write!(f, "[{}]", list.join(","))
            }
            Quantity::Set(items) => write!(f, "{{{}}}", items.join(",")),
        }
    }
}

// ---------------------------------------------------------------------------
// Pools: which resources may be combined.
// ---------------------------------------------------------------------------

/// Same name, type and nature: the same disk, both revocable or not, both
/// shared or not, from the same resource provider. Whose they are is not
/// compared here; see [`same_owner`].
fn same_kind(a: &Resource, b: &Resource) -> bool {
    a.name == b.name
        && a.r#type == b.r#type
        && same_disk(a.disk.as_deref(), b.disk.as_deref())
        && a.revocable.is_some() == b.revocable.is_some()
        && a.shared.is_some() == b.shared.is_some()
        && a.provider_id == b.provider_id
}

/// Reserved for the same role(s) in the same way, and offered to the same
/// role. `role()` reads an unset role as `"*"`, i.e. unreserved.
fn same_owner(a: &Resource, b: &Resource) -> bool {
    a.role() == b.role()
        && a.reservation == b.reservation
        && a.reservations == b.reservations
        && a.allocation_info == b.allocation_info
}

/// Whether two resources belong to one pool, so that they can be added up
/// or taken from each other.
fn same_pool(a: &Resource, b: &Resource) -> bool {
    same_kind(a, b) && same_owner(a, b)
}

/// The same disk: same source and same persistent volume ID. The `volume`
/// field says where a task mounts the disk, not which disk it is, so it
/// is ignored (as Mesos does).
fn same_disk(a: Option<&DiskInfo>, b: Option<&DiskInfo>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let volume_id = |disk: &DiskInfo| disk.persistence.as_ref().map(|p| p.id.clone());
            a.source == b.source && volume_id(a) == volume_id(b)
        }
        _ => false,
    }
}

/// Resources that are used whole or not at all: a persistent volume holds
/// one task's data, and a MOUNT or BLOCK disk (or a RAW disk with an ID)
/// is a physical device given to one task. Taking "half" of one would
/// hand the same data or device to two tasks.
fn is_indivisible(resource: &Resource) -> bool {
    use disk_info::source::Type as SourceType;

    let Some(disk) = &resource.disk else {
        return false;
    };
    let whole_device = disk.source.as_ref().is_some_and(|source| {
        matches!(source.r#type(), SourceType::Mount | SourceType::Block)
            || (source.r#type() == SourceType::Raw && source.id.is_some())
    });
    disk.persistence.is_some() || whole_device
}

/// Whether a resource is reserved for some role, in either format.
fn is_reserved(resource: &Resource) -> bool {
    !resource.reservations.is_empty() || resource.role() != "*"
}

/// A requirement that names an amount and nothing about its owner. Such a
/// requirement can be met from any pool of the same kind in an offer.
fn is_plain(resource: &Resource) -> bool {
    resource.allocation_info.is_none()
        && resource.reservation.is_none()
        && resource.reservations.is_empty()
        && resource.role() == "*"
}

/// Whether `wanted` may be taken from the offered pool `offered`. A plain
/// requirement ("1 cpu") does not care whose the cpu is: everything in an
/// offer may be used by the framework, in the role it was offered to. A
/// requirement that names a reservation or allocation gets exactly that.
fn can_supply(offered: &Resource, wanted: &Resource) -> bool {
    if is_plain(wanted) {
        same_kind(offered, wanted)
    } else {
        same_pool(offered, wanted)
    }
}

// ---------------------------------------------------------------------------
// Validation.
// ---------------------------------------------------------------------------

/// A resource that Mesos would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource `{name}`: {reason}")]
pub struct InvalidResource {
    pub name: String,
    pub reason: String,
}

/// Checks one resource the way Mesos' `Resources::validate` does, for the
/// parts this module relies on: a name, a known type with its value set
/// (and no other), a scalar Mesos can represent, ranges that do not end
/// before they begin.
pub fn validate(resource: &Resource) -> Result<(), InvalidResource> {
    let invalid = |reason: &str| InvalidResource {
        name: resource.name.clone(),
        reason: reason.to_string(),
    };
    if resource.name.trim().is_empty() {
        return Err(invalid("the name is empty"));
    }
    let value_fields = [
        resource.scalar.is_some(),
        resource.ranges.is_some(),
        resource.set.is_some(),
    ];
    let expected = match ValueType::try_from(resource.r#type) {
        Ok(ValueType::Scalar) => [true, false, false],
        Ok(ValueType::Ranges) => [false, true, false],
        Ok(ValueType::Set) => [false, false, true],
        Ok(ValueType::Text) => return Err(invalid("TEXT values are not allowed in resources")),
        Err(_) => return Err(invalid(&format!("unknown value type {}", resource.r#type))),
    };
    if value_fields != expected {
        return Err(invalid(
            "the value does not match the type: set exactly the field for the type \
             (scalar, ranges or set)",
        ));
    }
    if let Some(s) = &resource.scalar {
        check_scalar(s.value).map_err(|reason| invalid(&format!("{}: {reason}", s.value)))?;
    }
    let mut all_ranges = resource.ranges.iter().flat_map(|ranges| &ranges.range);
    if let Some(bad) = all_ranges.find(|range| range.begin > range.end) {
        return Err(invalid(&format!(
            "range {}-{} ends before it begins",
            bad.begin, bad.end
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reservation formats.
// ---------------------------------------------------------------------------

/// Converts a resource to the *post-reservation-refinement* format, as a
/// Mesos master does with every resource it receives (`upgradeResource`):
/// a reservation in the older fields (`role`, plus `reservation` for a
/// dynamic one) becomes the one entry of `reservations`, and the older
/// fields are cleared. A resource already in this format only loses stale
/// older fields; an unreserved one ends up with no `role` at all.
///
/// After this, a reservation written in either format compares equal to
/// the same reservation written in the other (see the module docs).
///
/// ```
/// use mesos::resources::{Resources, cpus, upgrade_format};
///
/// let legacy = mesos::v1::Resource { role: Some("web".into()), ..cpus(1.0) };
/// assert_eq!(Resources::from(upgrade_format(legacy)), Resources::parse("cpus(web):1")?);
/// # Ok::<(), mesos::resources::ParseError>(())
/// ```
pub fn upgrade_format(mut resource: Resource) -> Resource {
    let role = resource.role.take();
    let reservation = resource.reservation.take();
    if !resource.reservations.is_empty() {
        return resource;
    }
    // A `reservation` without a role is invalid; like an unset role, it
    // leaves the resource unreserved.
    if let Some(role) = role.filter(|role| role != "*") {
        resource.reservations.push(match reservation {
            None => ReservationInfo {
                r#type: Some(reservation_info::Type::Static as i32),
                role: Some(role),
                ..Default::default()
            },
            Some(dynamic) => ReservationInfo {
                r#type: Some(reservation_info::Type::Dynamic as i32),
                role: Some(role),
                principal: dynamic.principal,
                labels: dynamic.labels,
            },
        });
    }
    resource
}

/// Converts a resource to the *pre-reservation-refinement* format, which a
/// Mesos master sends to frameworks without the RESERVATION_REFINEMENT
/// capability (`downgradeResource`): `role` is always set (`*` when
/// unreserved), a dynamic reservation's principal and labels go into
/// `reservation`, and `reservations` is cleared.
///
/// A refined reservation (more than one entry in `reservations`) cannot
/// be written that way, and is an error.
pub fn downgrade_format(resource: Resource) -> Result<Resource, InvalidResource> {
    let mut resource = upgrade_format(resource);
    if resource.reservations.len() > 1 {
        return Err(InvalidResource {
            name: resource.name,
            reason: "a refined reservation (several `reservations`) has no \
                     pre-reservation-refinement format"
                .to_string(),
        });
    }
    match resource.reservations.pop() {
        None => resource.role = Some("*".to_string()),
        Some(level) => {
            if level.r#type() == reservation_info::Type::Dynamic {
                resource.reservation = Some(ReservationInfo {
                    principal: level.principal,
                    labels: level.labels,
                    ..Default::default()
                });
            }
            resource.role = Some(level.role.unwrap_or_else(|| "*".to_string()));
        }
    }
    Ok(resource)
}

// ---------------------------------------------------------------------------
// Resources.
// ---------------------------------------------------------------------------

/// A collection of resources kept in normal form: one entry per pool (see
/// the [module docs](self)), nothing empty, nothing invalid. Entries keep
/// the order in which their pools first appeared.
///
/// Build one from an offer's or a task's `Vec<Resource>` with
/// [`Resources::from`], from text with [`Resources::parse`], or from the
/// constructors ([`cpus`], [`mem`], [`ports`], …):
///
/// ```
/// use mesos::resources::{Resources, cpus, mem};
///
/// let task = Resources::from([cpus(0.5), mem(128.0)]);
/// assert_eq!(task.to_string(), "cpus:0.5;mem:128");
/// ```
///
/// `+` and `-` work like Mesos': `-` takes away what is there and never
/// goes below nothing. To find out whether something can be taken, use
/// [`contains`](Resources::contains) or
/// [`checked_sub`](Resources::checked_sub).
#[derive(Debug, Clone, Default)]
pub struct Resources {
    resources: Vec<Resource>,
}

impl Resources {
    /// No resources.
    pub fn new() -> Resources {
        Resources::default()
    }

    /// Parses the `--resources` syntax: `cpus:2;mem:2048;ports:[31000-32000]`.
    ///
    /// `name:value` pairs are separated by `;`. A value is a number
    /// (scalar), `[a-b,c-d]` (ranges, inclusive) or `{a,b}` (set). `name(role)`
    /// reserves statically for `role` (`(*)` means unreserved). Spaces
    /// around the pieces are ignored, as are empty pieces (`cpus:1;`). A
    /// name given twice is added up, as Mesos does; given with two types,
    /// it is an error. The empty string and `{}` (Mesos' way of printing
    /// nothing) are no resources.
    pub fn parse(text: &str) -> Result<Resources, ParseError> {
        let text = text.trim();
        let mut parsed = Resources::new();
        if text == "{}" {
            return Ok(parsed);
        }
        // Each name's type, to refuse e.g. `ports:10;ports:[1-2]`.
        let mut types: Vec<(String, ValueType)> = Vec::new();
        for token in text.split(';').map(str::trim).filter(|t| !t.is_empty()) {
            let resource = parse_resource(token)?;
            let value_type = resource.r#type();
            match types.iter().find(|(name, _)| *name == resource.name) {
                Some(&(_, first)) if first != value_type => {
                    return Err(ParseError::ConflictingTypes {
                        name: resource.name,
                        first: type_name(first),
                        second: type_name(value_type),
                    });
                }
                Some(_) => {}
                None => types.push((resource.name.clone(), value_type)),
            }
            parsed.add_resource(resource);
        }
        Ok(parsed)
    }

    /// Adds one resource to its pool, or as a new pool. Empty resources
    /// are skipped, and so are invalid ones, with a warning: Mesos ignores
    /// them the same way, so adding them would only make our accounting
    /// disagree with the master's.
    pub fn add_resource(&mut self, resource: Resource) {
        if let Err(error) = validate(&resource) {
            tracing::warn!(%error, "ignoring invalid resource");
            return;
        }
        let quantity = Quantity::of(&resource);
        if quantity.is_empty() {
            return;
        }
        let mut resource = resource;
        quantity.clone().store_in(&mut resource);

        if !is_indivisible(&resource) {
            let pool = self
                .resources
                .iter_mut()
                .find(|pool| !is_indivisible(pool) && same_pool(pool, &resource));
            if let Some(pool) = pool {
                Quantity::of(pool).plus(&quantity).store_in(pool);
                return;
            }
        }
        self.resources.push(resource);
    }

    /// Takes one (valid) resource away from its pool, removing the pool
    /// once it is empty. Whatever is not there is ignored.
    fn subtract_resource(&mut self, resource: &Resource) {
        let taken = Quantity::of(resource);
        let position = self.resources.iter().position(|pool| {
            same_pool(pool, resource) && (!is_indivisible(pool) || Quantity::of(pool) == taken)
        });
        let Some(position) = position else {
            return;
        };
        let pool = &mut self.resources[position];
        let left = Quantity::of(pool).minus(&taken);
        if left.is_empty() || is_indivisible(pool) {
            self.resources.remove(position);
        } else {
            left.store_in(pool);
        }
    }

    /// Whether there is nothing.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// How many pools there are (not how much is in them).
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// The pools, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Resource> {
        self.resources.iter()
    }

    /// The protobuf list, e.g. for `TaskInfo.resources`.
    pub fn into_vec(self) -> Vec<Resource> {
        self.resources
    }

    /// The total of a scalar resource over all its pools (reserved or not,
    /// offered to any role), rounded to Mesos' three decimals; 0 if absent.
    pub fn scalar(&self, name: &str) -> f64 {
        let total = self
            .named(name)
            .filter_map(|resource| match Quantity::of(resource) {
                Quantity::Scalar(fixed) => Some(fixed),
                _ => None,
            })
            .fold(0i64, i64::saturating_add);
        to_floating(total)
    }

    /// All ranges of a ranges resource over all its pools, sorted and merged.
    pub fn ranges(&self, name: &str) -> Vec<(u64, u64)> {
        let all = self
            .named(name)
            .flat_map(|resource| match Quantity::of(resource) {
                Quantity::Ranges(list) => list,
                _ => Vec::new(),
            })
            .collect();
        coalesce(all)
    }

    /// All items of a set resource over all its pools.
    pub fn set(&self, name: &str) -> Vec<String> {
        dedup(
            self.named(name)
                .flat_map(|resource| match Quantity::of(resource) {
                    Quantity::Set(items) => items,
                    _ => Vec::new(),
                }),
        )
    }

    /// Total `cpus`.
    pub fn cpus(&self) -> f64 {
        self.scalar("cpus")
    }

    /// Total `mem`, in MB.
    pub fn mem(&self) -> f64 {
        self.scalar("mem")
    }

    /// Total `disk`, in MB.
    pub fn disk(&self) -> f64 {
        self.scalar("disk")
    }

    /// Total `gpus`.
    pub fn gpus(&self) -> f64 {
        self.scalar("gpus")
    }

    /// All `ports`, as sorted, merged ranges.
    pub fn ports(&self) -> Vec<(u64, u64)> {
        self.ranges("ports")
    }

    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.iter().filter(move |r| r.name == name)
    }

    /// Whether all of `other` is here, pool by pool: every scalar at least
    /// as large, every range and set item present. Unreserved cpus do not
    /// contain cpus reserved for a role, nor the other way round. (To ask
    /// whether a task's *amounts* are available anywhere in an offer, use
    /// [`find`](Resources::find).)
    pub fn contains(&self, other: &Resources) -> bool {
        // Taking away from `other` what we have leaves nothing exactly when
        // we have all of it.
        (other.clone() - self).is_empty()
    }

    /// `self - other` if all of `other` is here, `None` if something of it
    /// is missing, rather than quietly taking away only what there is.
    pub fn checked_sub(&self, other: &Resources) -> Option<Resources> {
        self.contains(other).then(|| self.clone() - other)
    }

    /// The resources that would cover `wanted`, taken from `self`'s pools,
    /// or `None` if there is not enough.
    ///
    /// This is how a task's needs are met from an offer. A plain
    /// requirement (no reservation, no allocation) is an amount of a kind
    /// of resource, and may come from any pool of that kind: reserved ones
    /// first, since they are set aside for this role anyway and declining
    /// the unreserved rest lets the allocator offer it to others. One
    /// requirement may be met from several pools (0.5 reserved cpus plus 0.5
    /// unreserved). A requirement naming a reservation or an allocation
    /// must find exactly that pool. Revocable resources are only used for
    /// requirements that are revocable themselves.
    ///
    /// The result carries the pools' metadata (reservations,
    /// `allocation_info`), so it can go straight into a `TaskInfo`, and
    /// `self.checked_sub(&found)` always succeeds.
    pub fn find(&self, wanted: &Resources) -> Option<Resources> {
        // Requirements for specific pools first: a plain one taken earlier
        // could use up a reservation that a specific one needs.
        let (specific, plain): (Vec<&Resource>, Vec<&Resource>) =
            wanted.resources.iter().partition(|want| !is_plain(want));
        let mut available = self.clone();
        let mut found = Resources::new();
        for want in specific.into_iter().chain(plain) {
            let pieces = available.find_one(want)?;
            available -= &pieces;
            found += pieces;
        }
        // What is found usually goes into a task and lives as long as it:
        // no spare capacity (a scheduler holds thousands of these).
        found.resources.shrink_to_fit();
        Some(found)
    }

    fn find_one(&self, want: &Resource) -> Option<Resources> {
        if is_indivisible(want) {
            let whole = self
                .resources
                .iter()
                .find(|pool| same_pool(pool, want) && Quantity::of(pool) == Quantity::of(want))?;
            return Some(Resources::from(whole.clone()));
        }

        let mut candidates: Vec<&Resource> = self
            .resources
            .iter()
            .filter(|pool| !is_indivisible(pool) && can_supply(pool, want))
            .collect();
        // A stable sort: reserved pools first, otherwise in offer order.
        candidates.sort_by_key(|pool| !is_reserved(pool));

        let mut missing = Quantity::of(want);
        let mut found = Resources::new();
        for pool in candidates {
            if missing.is_empty() {
                break;
            }
            let share = missing.common(&Quantity::of(pool));
            if share.is_empty() {
                continue;
            }
            missing = missing.minus(&share);
            // A copy of the pool's metadata with the share as its value.
            let mut piece = pool.clone();
            share.store_in(&mut piece);
            found.add_resource(piece);
        }
        missing.is_empty().then_some(found)
    }

    /// The same resources, allocated to `role`: Mesos' `allocate`. Every
    /// resource a framework uses must say which of its roles it is used in
    /// (see the [`offers`](crate::offers) module for why).
    pub fn allocated_to(self, role: &str) -> Resources {
        // Collecting again merges pools that differed only in allocation.
        self.resources
            .into_iter()
            .map(|mut resource| {
                resource.allocation_info = Some(AllocationInfo {
                    role: Some(role.to_string()),
                });
                resource
            })
            .collect()
    }

    /// The same resources, allocated to no role: Mesos' `unallocate`, the
    /// undoing of [`allocated_to`](Resources::allocated_to). This is how a
    /// master accounts for what a task uses on its agent, whichever role
    /// the resources were offered to.
    pub fn unallocated(self) -> Resources {
        // Collecting again merges pools that differed only in allocation.
        self.resources
            .into_iter()
            .map(|mut resource| {
                resource.allocation_info = None;
                resource
            })
            .collect()
    }

    /// Writes the resources in the notation of a Mesos master's logs and
    /// messages (its `operator<<`), for text that must read exactly like
    /// a real master's, e.g. in a TASK_ERROR message:
    ///
    /// ```
    /// use mesos::resources::Resources;
    ///
    /// let offer = Resources::parse("cpus(web):2;ports:[1-2,4-5]")?.allocated_to("web");
    /// assert_eq!(
    ///     offer.mesos_format().to_string(),
    ///     "cpus(allocated: web)(reservations: [(STATIC,web)]):2; \
    ///      ports(allocated: web):[1-2, 4-5]"
    /// );
    /// # Ok::<(), mesos::resources::ParseError>(())
    /// ```
    ///
    /// Unlike `Display`, which writes the `--resources` syntax where it can,
    /// this follows Mesos to the letter: pools separated by `; `, the
    /// allocation before the reservations, every reservation spelled out,
    /// `, ` between ranges and set items, and scalars as C++ prints a
    /// `double` (six significant digits, `1e+06` from a million on). It
    /// does not parse back.
    pub fn mesos_format(&self) -> MesosFormat<'_> {
        MesosFormat(self)
    }

    /// The pools for which `keep` is true.
    pub fn filter(&self, mut keep: impl FnMut(&Resource) -> bool) -> Resources {
        Resources {
            resources: self.resources.iter().filter(|r| keep(r)).cloned().collect(),
        }
    }
}

// ---------------------------------------------------------------------------
// Conversions.
// ---------------------------------------------------------------------------

impl From<Vec<Resource>> for Resources {
    /// Normalises a protobuf list: merges pools, drops empty and invalid
    /// resources (see [`Resources::add_resource`]).
    fn from(list: Vec<Resource>) -> Resources {
        list.into_iter().collect()
    }
}

impl<const N: usize> From<[Resource; N]> for Resources {
    fn from(list: [Resource; N]) -> Resources {
        list.into_iter().collect()
    }
}

impl From<Resource> for Resources {
    fn from(resource: Resource) -> Resources {
        [resource].into_iter().collect()
    }
}

impl From<Resources> for Vec<Resource> {
    fn from(resources: Resources) -> Vec<Resource> {
        resources.resources
    }
}

impl FromIterator<Resource> for Resources {
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Resources {
        let mut resources = Resources::new();
        resources.extend(iter);
        resources
    }
}

impl Extend<Resource> for Resources {
    fn extend<I: IntoIterator<Item = Resource>>(&mut self, iter: I) {
        for resource in iter {
            self.add_resource(resource);
        }
    }
}

impl IntoIterator for Resources {
    type Item = Resource;
    type IntoIter = std::vec::IntoIter<Resource>;

    fn into_iter(self) -> Self::IntoIter {
        self.resources.into_iter()
    }
}

impl<'a> IntoIterator for &'a Resources {
    type Item = &'a Resource;
    type IntoIter = std::slice::Iter<'a, Resource>;

    fn into_iter(self) -> Self::IntoIter {
        self.resources.iter()
    }
}

impl FromStr for Resources {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Resources, ParseError> {
        Resources::parse(text)
    }
}

// ---------------------------------------------------------------------------
// Arithmetic.
// ---------------------------------------------------------------------------

impl AddAssign<&Resources> for Resources {
    fn add_assign(&mut self, other: &Resources) {
        self.extend(other.resources.iter().cloned());
    }
}

impl AddAssign for Resources {
    fn add_assign(&mut self, other: Resources) {
        self.extend(other.resources);
    }
}

impl Add<&Resources> for Resources {
    type Output = Resources;

    fn add(mut self, other: &Resources) -> Resources {
        self += other;
        self
    }
}

impl Add for Resources {
    type Output = Resources;

    fn add(mut self, other: Resources) -> Resources {
        self += other;
        self
    }
}

impl SubAssign<&Resources> for Resources {
    fn sub_assign(&mut self, other: &Resources) {
        for resource in &other.resources {
            self.subtract_resource(resource);
        }
    }
}

impl SubAssign for Resources {
    fn sub_assign(&mut self, other: Resources) {
        *self -= &other;
    }
}

impl Sub<&Resources> for Resources {
    type Output = Resources;

    fn sub(mut self, other: &Resources) -> Resources {
        self -= other;
        self
    }
}

impl Sub for Resources {
    type Output = Resources;

    fn sub(mut self, other: Resources) -> Resources {
        self -= &other;
        self
    }
}

impl Sum for Resources {
    fn sum<I: Iterator<Item = Resources>>(iter: I) -> Resources {
        iter.fold(Resources::new(), Add::add)
    }
}

impl PartialEq for Resources {
    /// The same resources in the same pools, in any order, compared at
    /// Mesos' precision (as Mesos' `Resources::operator==` does).
    fn eq(&self, other: &Resources) -> bool {
        self.contains(other) && other.contains(self)
    }
}

// ---------------------------------------------------------------------------
// Text form.
// ---------------------------------------------------------------------------

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.resources.is_empty() {
            return f.write_str("{}");
        }
        for (i, resource) in self.resources.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write_resource(f, resource)?;
        }
        Ok(())
    }
}

/// `name(annotations):value`, see the module docs.
fn write_resource(f: &mut fmt::Formatter<'_>, resource: &Resource) -> fmt::Result {
    f.write_str(&resource.name)?;

    let stack = reservation_stack(resource);
    match stack.as_slice() {
        [] => {}
        // A static reservation in the `--resources` syntax: parses back.
        [(reservation_info::Type::Static, role, _)] => write!(f, "({role})")?,
        _ => {
            let levels: Vec<String> = stack
                .iter()
                .map(|(kind, role, principal)| match principal {
                    Some(principal) => format!("({},{role},{principal})", kind.as_str_name()),
                    None => format!("({},{role})", kind.as_str_name()),
                })
                .collect();
            write!(f, "(reservations: [{}])", levels.join(","))?;
        }
    }
    if let Some(allocation) = &resource.allocation_info {
        write!(f, "(allocated: {})", allocation.role())?;
    }
    if let Some(disk) = &resource.disk {
        write!(f, "[{}]", describe_disk(disk))?;
    }
    if resource.revocable.is_some() {
        f.write_str("{REV}")?;
    }
    if resource.shared.is_some() {
        f.write_str("<SHARED>")?;
    }
    write!(f, ":{}", Quantity::of(resource))
}

/// The reservations of a resource, innermost last, whichever format it
/// uses: (type, role, principal).
fn reservation_stack(resource: &Resource) -> Vec<(reservation_info::Type, &str, Option<&str>)> {
    if !resource.reservations.is_empty() {
        return resource
            .reservations
            .iter()
            .map(|r: &ReservationInfo| (r.r#type(), r.role(), r.principal.as_deref()))
            .collect();
    }
    if resource.role() == "*" {
        return Vec::new();
    }
    // The older format: `role` names the role, and a `reservation` is
    // present only for a dynamic reservation.
    let kind = if resource.reservation.is_some() {
        reservation_info::Type::Dynamic
    } else {
        reservation_info::Type::Static
    };
    let principal = resource
        .reservation
        .as_ref()
        .and_then(|r| r.principal.as_deref());
    vec![(kind, resource.role(), principal)]
}

/// Mesos' short form of a disk: its source, then its persistent volume ID.
fn describe_disk(disk: &DiskInfo) -> String {
    use disk_info::source::Type as SourceType;

    let mut parts = Vec::new();
    if let Some(source) = &disk.source {
        let root = match source.r#type() {
            SourceType::Mount => source.mount.as_ref().and_then(|m| m.root.as_deref()),
            SourceType::Path => source.path.as_ref().and_then(|p| p.root.as_deref()),
            _ => None,
        };
        let kind = source.r#type().as_str_name();
        parts.push(match root {
            Some(root) => format!("{kind}:{root}"),
            None => kind.to_string(),
        });
    }
    if let Some(persistence) = &disk.persistence {
        parts.push(persistence.id.clone());
    }
    parts.join(",")
}

/// [`Resources`] in a Mesos master's own notation; see
/// [`Resources::mesos_format`].
#[derive(Debug, Clone, Copy)]
pub struct MesosFormat<'a>(&'a Resources);

impl fmt::Display for MesosFormat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("{}");
        }
        for (i, resource) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&resource.name)?;
            if let Some(allocation) = &resource.allocation_info {
                write!(f, "(allocated: {})", allocation.role())?;
            }
            let stack = reservation_stack(resource);
            if !stack.is_empty() {
                let levels: Vec<String> = stack
                    .iter()
                    .map(|(kind, role, principal)| match principal {
                        Some(principal) => format!("({},{role},{principal})", kind.as_str_name()),
                        None => format!("({},{role})", kind.as_str_name()),
                    })
                    .collect();
                write!(f, "(reservations: [{}])", levels.join(","))?;
            }
            if let Some(disk) = &resource.disk {
                write!(f, "[{}]", describe_disk(disk))?;
            }
            if resource.revocable.is_some() {
                f.write_str("{REV}")?;
            }
            if resource.shared.is_some() {
                f.write_str("<SHARED>")?;
            }
            match Quantity::of(resource) {
                Quantity::Scalar(fixed) => write!(f, ":{}", format_double(to_floating(fixed)))?,
                Quantity::Ranges(list) => {
                    let list: Vec<String> = list
                        .iter()
                        .map(|(begin, end)| format!("{begin}-{end}"))
                        .collect();
                    write!(f, ":[{}]", list.join(", "))?;
                }
                Quantity::Set(items) => write!(f, ":{{{}}}", items.join(", "))?,
            }
        }
        Ok(())
    }
}

/// A `double` as a C++ stream writes it by default (`%g`: six significant
/// digits, no trailing zeros, an exponent below 1e-4 and from 1e6 on):
/// `2048`, `0.333`, `1e+06`.
fn format_double(value: f64) -> String {
    fn trim(digits: &str) -> &str {
        if digits.contains('.') {
            digits.trim_end_matches('0').trim_end_matches('.')
        } else {
            digits
        }
    }
    if value == 0.0 {
        return "0".to_string();
    }
    // Rounding to six significant digits decides the exponent (999999.5
    // becomes 1e+06), so round first and read the exponent from that.
    let scientific = format!("{value:.5e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("the exponent is an integer");
    if (-4..6).contains(&exponent) {
        let decimals = usize::try_from(5 - exponent).expect("at most 9 decimals");
        trim(&format!("{value:.decimals$}")).to_string()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.unsigned_abs())
    }
}

fn type_name(value_type: ValueType) -> &'static str {
    match value_type {
        ValueType::Scalar => "a scalar",
        ValueType::Ranges => "ranges",
        ValueType::Set => "a set",
        ValueType::Text => "text",
    }
}

/// Why a `--resources` text could not be parsed. Every message quotes the
/// piece that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A piece without a value: `mem` or `mem:`.
    #[error("resource `{token}` has no value: expected `name:value`, e.g. `mem:128`")]
    MissingValue { token: String },
    /// A piece with more than one `:`.
    #[error("resource `{token}` has more than one `:`: expected `name:value`")]
    ExtraColon { token: String },
    /// An empty name, or one with characters that belong to the syntax.
    #[error("resource `{token}`: {reason}")]
    BadName { token: String, reason: String },
    /// A malformed `(role)`.
    #[error("resource `{token}`: {reason}")]
    BadRole { token: String, reason: String },
    /// A scalar that is not a number Mesos accepts.
    #[error("resource `{token}`: {reason}")]
    BadScalar { token: String, reason: String },
    /// Ranges that are not `[begin-end,…]` with `begin <= end`.
    #[error("resource `{token}`: {reason}")]
    BadRanges { token: String, reason: String },
    /// A set that is not `{item,…}` with distinct items.
    #[error("resource `{token}`: {reason}")]
    BadSet { token: String, reason: String },
    /// One name given with two value types.
    #[error("resource `{name}` is given both as {first} and as {second}; a name has one type")]
    ConflictingTypes {
        name: String,
        first: &'static str,
        second: &'static str,
    },
}

/// Characters that separate the pieces of the syntax and so cannot be in
/// a name.
const SYNTAX_CHARACTERS: &[char] = &['(', ')', '[', ']', '{', '}', ',', ';', ':'];

/// One `name(role):value` piece.
fn parse_resource(token: &str) -> Result<Resource, ParseError> {
    let Some((key, value)) = token.split_once(':') else {
        return Err(ParseError::MissingValue {
            token: token.to_string(),
        });
    };
    if value.contains(':') {
        return Err(ParseError::ExtraColon {
            token: token.to_string(),
        });
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(ParseError::MissingValue {
            token: token.to_string(),
        });
    }
    let (name, role) = parse_key(token, key.trim())?;

    let mut resource = if let Some(inner) = value.strip_prefix('[') {
        ranges(name, &parse_ranges(token, inner)?)
    } else if let Some(inner) = value.strip_prefix('{') {
        set(name, parse_set(token, inner)?)
    } else {
        scalar(name, parse_scalar(token, value)?)
    };
    if let Some(role) = role.filter(|role| *role != "*") {
        // What Mesos makes of `cpus(web):2` on an agent's command line.
        resource.reservations = vec![ReservationInfo {
            r#type: Some(reservation_info::Type::Static as i32),
            role: Some(role.to_string()),
            ..Default::default()
        }];
    }
    Ok(resource)
}

/// `name` or `name(role)`.
fn parse_key<'a>(token: &str, key: &'a str) -> Result<(&'a str, Option<&'a str>), ParseError> {
    let bad_role = |reason: &str| ParseError::BadRole {
        token: token.to_string(),
        reason: reason.to_string(),
    };
    let (name, role) = match key.split_once('(') {
        None => (key, None),
        Some((name, rest)) => {
            let Some(role) = rest.strip_suffix(')') else {
                return Err(bad_role(
                    "expected `name(role)`, with the `)` right before `:`",
                ));
            };
            let role = role.trim();
            if role.is_empty() {
                return Err(bad_role("the role in `()` is empty"));
            }
            if role.contains(|c: char| SYNTAX_CHARACTERS.contains(&c) || c.is_whitespace()) {
                return Err(bad_role(&format!("`{role}` is not a valid role name")));
            }
            (name.trim(), Some(role))
        }
    };
    if name.is_empty() {
        return Err(ParseError::BadName {
            token: token.to_string(),
            reason: "the name is empty".to_string(),
        });
    }
    if let Some(c) = name
        .chars()
        .find(|c| SYNTAX_CHARACTERS.contains(c) || c.is_whitespace())
    {
        return Err(ParseError::BadName {
            token: token.to_string(),
            reason: format!("the name `{name}` may not contain `{c}`"),
        });
    }
    Ok((name, role))
}

fn parse_scalar(token: &str, value: &str) -> Result<f64, ParseError> {
    let bad = |reason: String| ParseError::BadScalar {
        token: token.to_string(),
        reason,
    };
    let number: f64 = value
        .parse()
        .map_err(|_| bad(format!("`{value}` is not a number")))?;
    check_scalar(number).map_err(|reason| bad(format!("`{value}` is {reason}")))?;
    Ok(number)
}

/// The inside of `[a-b,c-d]`, after the `[`.
fn parse_ranges(token: &str, inner: &str) -> Result<Vec<(u64, u64)>, ParseError> {
    let bad = |reason: String| ParseError::BadRanges {
        token: token.to_string(),
        reason,
    };
    let Some(inner) = inner.strip_suffix(']') else {
        return Err(bad("ranges must end with `]`".to_string()));
    };
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    let number = |text: &str| {
        let text = text.trim();
        text.parse::<u64>()
            .map_err(|_| bad(format!("`{text}` is not a non-negative integer")))
    };
    let mut list = Vec::new();
    for piece in inner.split(',').map(str::trim) {
        if piece.is_empty() {
            return Err(bad("empty range between commas".to_string()));
        }
        let Some((begin, end)) = piece.split_once('-') else {
            return Err(bad(format!("`{piece}` is not a range `begin-end`")));
        };
        let (begin, end) = (number(begin)?, number(end)?);
        if begin > end {
            return Err(bad(format!("range `{piece}` ends before it begins")));
        }
        list.push((begin, end));
    }
    // Overlaps are fine: Mesos merges them too.
    Ok(coalesce(list))
}

/// The inside of `{a,b}`, after the `{`.
fn parse_set(token: &str, inner: &str) -> Result<Vec<String>, ParseError> {
    let bad = |reason: String| ParseError::BadSet {
        token: token.to_string(),
        reason,
    };
    let Some(inner) = inner.strip_suffix('}') else {
        return Err(bad("a set must end with `}`".to_string()));
    };
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut items: Vec<String> = Vec::new();
    for item in inner.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(bad("empty item between commas".to_string()));
        }
        if item.contains(SYNTAX_CHARACTERS) {
            return Err(bad(format!(
                "item `{item}` contains a bracket or separator"
            )));
        }
        if items.iter().any(|known| known == item) {
            return Err(bad(format!(
                "`{item}` appears twice; set items must be distinct"
            )));
        }
        items.push(item.to_string());
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{
        resource::{RevocableInfo, SharedInfo, disk_info::Persistence},
        value::Range,
    };

    fn parse(text: &str) -> Resources {
        Resources::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    fn allocated(resource: Resource, role: &str) -> Resource {
        Resource {
            allocation_info: Some(AllocationInfo {
                role: Some(role.to_string()),
            }),
            ..resource
        }
    }

    fn reserved(resource: Resource, role: &str) -> Resource {
        Resource {
            reservations: vec![ReservationInfo {
                r#type: Some(reservation_info::Type::Static as i32),
                role: Some(role.to_string()),
                ..Default::default()
            }],
            ..resource
        }
    }

    fn volume(id: &str, megabytes: f64) -> Resource {
        Resource {
            disk: Some(Box::new(DiskInfo {
                persistence: Some(Persistence {
                    id: id.to_string(),
                    principal: None,
                }),
                ..Default::default()
            })),
            ..reserved(disk(megabytes), "db")
        }
    }

    // --- scalars --------------------------------------------------------

    #[test]
    fn scalars_use_mesos_fixed_point_precision() {
        // The reason for fixed point: in f64 these differ.
        assert_ne!(0.1 + 0.2, 0.3);

        let sum = Resources::from(cpus(0.1)) + Resources::from(cpus(0.2));
        assert_eq!(sum.cpus(), 0.3);
        assert_eq!(sum.to_string(), "cpus:0.3");
        assert!(sum.contains(&Resources::from(cpus(0.3))));
        assert_eq!(sum, Resources::from(cpus(0.3)));

        // Ten slices of 0.1 are one whole cpu, not 0.9999999999999999.
        let ten: Resources = (0..10).map(|_| cpus(0.1)).collect();
        assert_eq!(ten.cpus(), 1.0);

        // Taking away 0.9 and then 0.1 leaves nothing at all.
        let left =
            Resources::from(cpus(1.0)) - Resources::from(cpus(0.9)) - Resources::from(cpus(0.1));
        assert!(left.is_empty(), "{left}");
    }

    #[test]
    fn scalars_are_rounded_to_three_decimals() {
        assert_eq!(Resources::from(cpus(1.0004)).cpus(), 1.0);
        // 1.0625 is exact in binary, so this is a true half: away from zero.
        assert_eq!(Resources::from(cpus(1.0625)).cpus(), 1.063);
        assert_eq!(Resources::from(mem(0.0005)).mem(), 0.001);
        // 1.0004 and 1.0 are the same amount at Mesos' precision.
        assert_eq!(Resources::from(cpus(1.0004)), Resources::from(cpus(1.0)));
        assert!(Resources::from(cpus(1.0)).contains(&Resources::from(cpus(1.0004))));
        assert!(!Resources::from(cpus(1.0)).contains(&Resources::from(cpus(1.0006))));
    }

    #[test]
    fn fixed_point_conversion_matches_mesos() {
        for (value, fixed) in [
            (0.3, 300),
            (1.0625, 1063),
            (2.5, 2500),
            (0.0004, 0),
            (0.0005, 1),
        ] {
            assert_eq!(to_fixed(value), fixed, "{value}");
        }
        assert_eq!(to_floating(300), 0.3);
        assert_eq!(to_floating(1300), 1.3);
        assert_eq!(to_floating(-1500), -1.5);
        // Nothing panics on hostile input.
        assert_eq!(to_fixed(f64::NAN), 0);
        assert_eq!(to_fixed(f64::INFINITY), i64::MAX);
    }

    #[test]
    fn scalar_subtraction_never_goes_negative() {
        let left = Resources::from(cpus(1.0)) - Resources::from(cpus(2.0));
        assert!(left.is_empty());
        assert_eq!(
            Resources::from(cpus(1.0)).checked_sub(&Resources::from(cpus(2.0))),
            None
        );
        assert_eq!(
            Resources::from(cpus(2.0)).checked_sub(&Resources::from(cpus(0.5))),
            Some(Resources::from(cpus(1.5)))
        );
    }

    // --- ranges ---------------------------------------------------------

    #[test]
    fn ranges_merge_overlapping_and_adjacent() {
        assert_eq!(coalesce(vec![(1, 5), (3, 8)]), vec![(1, 8)]);
        assert_eq!(coalesce(vec![(1, 3), (4, 6)]), vec![(1, 6)]);
        assert_eq!(coalesce(vec![(1, 3), (5, 6)]), vec![(1, 3), (5, 6)]);
        assert_eq!(
            coalesce(vec![(10, 20), (1, 2), (3, 4)]),
            vec![(1, 4), (10, 20)]
        );
        assert_eq!(coalesce(vec![(1, 10), (2, 3)]), vec![(1, 10)]);
        assert_eq!(coalesce(vec![(5, 5), (5, 5)]), vec![(5, 5)]);
        assert_eq!(coalesce(vec![]), vec![]);
        // No overflow at the top of the number line.
        assert_eq!(
            coalesce(vec![(u64::MAX - 1, u64::MAX), (0, 0), (u64::MAX, u64::MAX)]),
            vec![(0, 0), (u64::MAX - 1, u64::MAX)]
        );

        let joined =
            Resources::from(ports(&[(31000, 31005)])) + Resources::from(ports(&[(31006, 31010)]));
        assert_eq!(joined.to_string(), "ports:[31000-31010]");
        assert_eq!(
            Resources::from(ports_list(&[3, 1, 2, 7])).ports(),
            vec![(1, 3), (7, 7)]
        );
    }

    #[test]
    fn ranges_subtract_edge_cases() {
        let check = |from: &[(u64, u64)], take: &[(u64, u64)], left: &[(u64, u64)]| {
            assert_eq!(subtract_ranges(from, take), left, "{from:?} - {take:?}");
        };
        // from the middle: splits in two
        check(&[(1, 10)], &[(4, 6)], &[(1, 3), (7, 10)]);
        // at either end
        check(&[(1, 10)], &[(1, 1)], &[(2, 10)]);
        check(&[(1, 10)], &[(10, 10)], &[(1, 9)]);
        // everything, and more than everything
        check(&[(1, 10)], &[(1, 10)], &[]);
        check(&[(1, 10)], &[(0, 20)], &[]);
        // overlapping one end
        check(&[(5, 10)], &[(1, 6)], &[(7, 10)]);
        check(&[(5, 10)], &[(9, 20)], &[(5, 8)]);
        // nothing in common
        check(&[(5, 10)], &[(1, 4), (11, 20)], &[(5, 10)]);
        // across several ranges
        check(&[(1, 3), (5, 7), (9, 11)], &[(2, 10)], &[(1, 1), (11, 11)]);
        // the extremes of u64
        check(
            &[(0, u64::MAX)],
            &[(0, 0), (u64::MAX, u64::MAX)],
            &[(1, u64::MAX - 1)],
        );
    }

    #[test]
    fn ranges_contain_only_what_is_inside() {
        let offer = Resources::from(ports(&[(1, 3), (5, 7)]));
        assert!(offer.contains(&Resources::from(ports(&[(1, 2), (6, 7)]))));
        assert!(offer.contains(&Resources::from(ports(&[(5, 5)]))));
        // 4 is missing, although 3 and 5 are there.
        assert!(!offer.contains(&Resources::from(ports(&[(3, 5)]))));
        assert!(!offer.contains(&Resources::from(ports(&[(8, 8)]))));

        assert_eq!(
            offer
                .clone()
                .checked_sub(&Resources::from(ports(&[(3, 5)]))),
            None
        );
        // `-` takes away what is there and ignores the rest.
        assert_eq!(
            (offer - &Resources::from(ports(&[(3, 5)]))).ports(),
            vec![(1, 2), (6, 7)]
        );
    }

    // --- sets -----------------------------------------------------------

    #[test]
    fn set_union_difference_and_subset() {
        let a = Resources::from(set("gpu_ids", ["gpu0", "gpu1"]));
        let b = Resources::from(set("gpu_ids", ["gpu1", "gpu2"]));
        let both = a.clone() + &b;
        assert_eq!(both.set("gpu_ids"), ["gpu0", "gpu1", "gpu2"]);
        assert_eq!(both.to_string(), "gpu_ids:{gpu0,gpu1,gpu2}");

        assert!(both.contains(&a) && both.contains(&b));
        assert!(!a.contains(&b));
        assert!(a.contains(&Resources::from(set("gpu_ids", ["gpu1"]))));

        assert_eq!((both.clone() - &a).set("gpu_ids"), ["gpu2"]);
        assert_eq!(a.checked_sub(&b), None);
        assert!((a.clone() - &a).is_empty());
        // Repeated items count once.
        assert_eq!(Resources::from(set("s", ["x", "x"])).set("s"), ["x"]);
    }

    // --- pools ----------------------------------------------------------

    #[test]
    fn different_owners_are_different_pools() {
        let resources = Resources::from(vec![
            cpus(1.0),
            reserved(cpus(2.0), "web"),
            allocated(cpus(4.0), "web"),
            allocated(cpus(8.0), "batch"),
            Resource {
                revocable: Some(RevocableInfo {}),
                ..cpus(16.0)
            },
            cpus(0.5),
        ]);
        // Only the two plain cpus merged.
        assert_eq!(resources.len(), 5);
        assert_eq!(resources.cpus(), 31.5);
        assert_eq!(
            resources.to_string(),
            "cpus:1.5;cpus(web):2;cpus(allocated: web):4;cpus(allocated: batch):8;cpus{REV}:16"
        );

        // Subtraction hits the right pool only.
        let left = resources.clone() - Resources::from(allocated(cpus(4.0), "web"));
        assert_eq!(left.cpus(), 27.5);
        assert_eq!(left.len(), 4);

        // 31.5 cpus in total, but only 1.5 unreserved, unallocated ones.
        assert!(!resources.contains(&Resources::from(cpus(2.0))));
        assert!(resources.contains(&Resources::from(reserved(cpus(2.0), "web"))));
        assert!(!resources.contains(&Resources::from(reserved(cpus(2.0), "db"))));
    }

    #[test]
    fn legacy_role_field_is_an_owner_too() {
        let unset = cpus(1.0);
        let star = Resource {
            role: Some("*".to_string()),
            ..cpus(1.0)
        };
        let web = Resource {
            role: Some("web".to_string()),
            ..cpus(1.0)
        };
        // An unset role means "*".
        assert_eq!(Resources::from(vec![unset, star.clone()]).len(), 1);
        assert_eq!(Resources::from(vec![star, web.clone()]).len(), 2);
        assert_eq!(Resources::from(web).to_string(), "cpus(web):1");
    }

    #[test]
    fn allocated_to_sets_allocation_info_and_merges() {
        let resources = Resources::from(vec![cpus(1.0), allocated(cpus(1.0), "web")]);
        assert_eq!(resources.len(), 2);
        let resources = resources.allocated_to("web");
        assert_eq!(resources.len(), 1);
        assert_eq!(resources.to_string(), "cpus(allocated: web):2");
        assert!(
            resources
                .iter()
                .all(|r| r.allocation_info.as_ref().unwrap().role() == "web")
        );
    }

    #[test]
    fn persistent_volumes_are_indivisible() {
        let volumes = Resources::from(vec![volume("a", 100.0), volume("b", 100.0)]);
        assert_eq!(volumes.len(), 2);
        assert_eq!(volumes.to_string(), "disk(db)[a]:100;disk(db)[b]:100");

        // Neither part of a volume nor a volume of another size.
        assert!(!volumes.contains(&Resources::from(volume("a", 50.0))));
        assert!(volumes.contains(&Resources::from(volume("a", 100.0))));
        assert_eq!(
            volumes.clone() - Resources::from(volume("a", 50.0)),
            volumes
        );
        assert_eq!(
            (volumes - Resources::from(volume("a", 100.0))).to_string(),
            "disk(db)[b]:100"
        );
    }

    #[test]
    fn shared_volumes_count_by_repetition() {
        let shared = Resource {
            shared: Some(SharedInfo {}),
            ..volume("s", 10.0)
        };
        let twice = Resources::from(vec![shared.clone(), shared.clone()]);
        assert_eq!(twice.len(), 2);
        assert_eq!(
            twice.to_string(),
            "disk(db)[s]<SHARED>:10;disk(db)[s]<SHARED>:10"
        );
        let once = Resources::from(shared);
        assert!(twice.contains(&once));
        assert!(!once.contains(&twice));
        assert_eq!(twice - &once, once);
    }

    // --- validation -----------------------------------------------------

    #[test]
    fn invalid_and_empty_resources_are_dropped() {
        let text_value = Resource {
            r#type: ValueType::Text as i32,
            ..scalar("x", 1.0)
        };
        let mismatched = Resource {
            r#type: ValueType::Ranges as i32,
            ..cpus(1.0)
        };
        let inputs = vec![
            cpus(-1.0),
            cpus(f64::NAN),
            mem(f64::INFINITY),
            cpus(0.0001),
            cpus(0.0),
            ports(&[(5, 1)]),
            ports(&[]),
            set("s", Vec::<String>::new()),
            scalar("", 1.0),
            text_value,
            mismatched,
            Resource {
                r#type: 42,
                ..cpus(1.0)
            },
            mem(64.0),
        ];
        assert_eq!(Resources::from(inputs).to_string(), "mem:64");

        assert!(validate(&cpus(0.0)).is_ok(), "zero is valid, just empty");
        let error = validate(&ports(&[(5, 1)])).unwrap_err();
        assert!(error.to_string().contains("5-1"), "{error}");
        let error = validate(&cpus(-2.0)).unwrap_err();
        assert!(error.to_string().contains("negative"), "{error}");
    }

    #[test]
    fn overlapping_ranges_in_one_resource_are_merged() {
        let resource = Resource {
            ranges: Some(value::Ranges {
                range: vec![Range { begin: 5, end: 9 }, Range { begin: 1, end: 6 }],
            }),
            ..ports(&[])
        };
        assert_eq!(Resources::from(resource).ports(), vec![(1, 9)]);
    }

    // --- parse and display ----------------------------------------------

    #[test]
    fn parses_mesos_local_resources() {
        let resources = parse("cpus:2;mem:2048;disk:4096;ports:[31000-32000]");
        assert_eq!(resources.cpus(), 2.0);
        assert_eq!(resources.mem(), 2048.0);
        assert_eq!(resources.disk(), 4096.0);
        assert_eq!(resources.ports(), vec![(31000, 32000)]);
        assert_eq!(resources.gpus(), 0.0);
        assert_eq!(resources.len(), 4);
    }

    #[test]
    fn parses_sets_roles_spaces_and_repeats() {
        let resources = parse(
            " cpus(web) : 1 ; cpus:0.5; cpus(*):0.5; gpu_ids:{gpu0, gpu1}; ports:[1-5, 3-10, 20-20]; ",
        );
        assert_eq!(resources.cpus(), 2.0);
        assert_eq!(
            resources.to_string(),
            "cpus(web):1;cpus:1;gpu_ids:{gpu0,gpu1};ports:[1-10,20-20]"
        );
        let web = resources.iter().next().unwrap();
        assert_eq!(web.reservations.len(), 1);
        assert_eq!(web.reservations[0].r#type(), reservation_info::Type::Static);
        assert_eq!(web.reservations[0].role(), "web");

        assert!(parse("").is_empty());
        assert!(parse("{}").is_empty());
        assert!(parse("ports:[];s:{}").is_empty());
        assert_eq!(parse("cpus:1;cpus:2").cpus(), 3.0);
        assert_eq!("mem:1e3".parse::<Resources>().unwrap().mem(), 1000.0);
    }

    #[test]
    fn parse_errors_are_typed_and_name_the_bad_piece() {
        use ParseError::*;
        let check = |text: &str, is_expected_kind: fn(&ParseError) -> bool, message: &str| {
            let error = match Resources::parse(text) {
                Ok(parsed) => panic!("{text:?} parsed as {parsed}"),
                Err(error) => error,
            };
            assert!(
                is_expected_kind(&error),
                "{text:?}: unexpected kind {error:?}"
            );
            let shown = error.to_string();
            assert!(
                shown.contains(message),
                "{text:?}: {shown:?} lacks {message:?}"
            );
        };
        check(
            "cpus:abc",
            |e| matches!(e, BadScalar { .. }),
            "`abc` is not a number",
        );
        check("cpus:-1", |e| matches!(e, BadScalar { .. }), "negative");
        check("cpus:NaN", |e| matches!(e, BadScalar { .. }), "finite");
        check("cpus:inf", |e| matches!(e, BadScalar { .. }), "finite");
        check(
            "cpus:0.0001",
            |e| matches!(e, BadScalar { .. }),
            "three decimals",
        );
        check("cpus:1e300", |e| matches!(e, BadScalar { .. }), "too large");
        check(
            "ports:[5-1]",
            |e| matches!(e, BadRanges { .. }),
            "`5-1` ends before it begins",
        );
        check("ports:[1-2", |e| matches!(e, BadRanges { .. }), "`]`");
        check(
            "ports:[a-2]",
            |e| matches!(e, BadRanges { .. }),
            "`a` is not a non-negative integer",
        );
        check(
            "ports:[-1-2]",
            |e| matches!(e, BadRanges { .. }),
            "`` is not",
        );
        check(
            "ports:[1-2,]",
            |e| matches!(e, BadRanges { .. }),
            "empty range",
        );
        check(
            "ports:[8080]",
            |e| matches!(e, BadRanges { .. }),
            "`8080` is not a range",
        );
        check(
            "ports:[1-99999999999999999999]",
            |e| matches!(e, BadRanges { .. }),
            "99999999999999999999",
        );
        check(
            "s:{a,a}",
            |e| matches!(e, BadSet { .. }),
            "`a` appears twice",
        );
        check("s:{a,}", |e| matches!(e, BadSet { .. }), "empty item");
        check("s:{a", |e| matches!(e, BadSet { .. }), "`}`");
        check(
            "mem",
            |e| matches!(e, MissingValue { .. }),
            "`mem` has no value",
        );
        check(
            "mem:",
            |e| matches!(e, MissingValue { .. }),
            "`mem:` has no value",
        );
        check("mem: ", |e| matches!(e, MissingValue { .. }), "no value");
        check(":1", |e| matches!(e, BadName { .. }), "the name is empty");
        check(" :1", |e| matches!(e, BadName { .. }), "the name is empty");
        check(
            "(web):1",
            |e| matches!(e, BadName { .. }),
            "the name is empty",
        );
        check(
            "c]pus:1",
            |e| matches!(e, BadName { .. }),
            "may not contain `]`",
        );
        check(
            "my cpus:1",
            |e| matches!(e, BadName { .. }),
            "may not contain ` `",
        );
        check("cpus:1:2", |e| matches!(e, ExtraColon { .. }), "`cpus:1:2`");
        check(
            "cpus(web:1",
            |e| matches!(e, BadRole { .. }),
            "`name(role)`",
        );
        check("cpus():1", |e| matches!(e, BadRole { .. }), "empty");
        check(
            "cpus(a(b)):1",
            |e| matches!(e, BadRole { .. }),
            "not a valid role",
        );
        check(
            "cpus(allocated: web):1",
            |e| matches!(e, ExtraColon { .. }),
            "more than one",
        );
        check(
            "ports:[1-2];ports:3",
            |e| matches!(e, ConflictingTypes { .. }),
            "both as ranges and as a scalar",
        );

        // The bad piece is quoted, not the whole text.
        let error = Resources::parse("cpus:1;mem:lots;disk:10").unwrap_err();
        assert_eq!(
            error.to_string(),
            "resource `mem:lots`: `lots` is not a number"
        );
    }

    #[test]
    fn display_uses_the_resources_syntax() {
        let task = Resources::from([cpus(0.5), mem(128.0), ports(&[(31000, 31005)])]);
        assert_eq!(task.to_string(), "cpus:0.5;mem:128;ports:[31000-31005]");
        assert_eq!(Resources::new().to_string(), "{}");
        assert_eq!(Resources::from(cpus(1.23456)).to_string(), "cpus:1.235");

        let dynamic = Resource {
            reservations: vec![ReservationInfo {
                r#type: Some(reservation_info::Type::Dynamic as i32),
                role: Some("web".to_string()),
                principal: Some("alice".to_string()),
                labels: None,
            }],
            ..allocated(cpus(1.0), "web")
        };
        assert_eq!(
            Resources::from(dynamic).to_string(),
            "cpus(reservations: [(DYNAMIC,web,alice)])(allocated: web):1"
        );
        let legacy_dynamic = Resource {
            role: Some("web".to_string()),
            reservation: Some(ReservationInfo {
                principal: Some("bob".to_string()),
                ..Default::default()
            }),
            ..mem(10.0)
        };
        assert_eq!(
            Resources::from(legacy_dynamic).to_string(),
            "mem(reservations: [(DYNAMIC,web,bob)]):10"
        );
        let mount = Resource {
            disk: Some(Box::new(DiskInfo {
                source: Some(disk_info::Source {
                    r#type: disk_info::source::Type::Mount as i32,
                    mount: Some(disk_info::source::Mount {
                        root: Some("/mnt/a".to_string()),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..disk(1000.0)
        };
        assert_eq!(
            Resources::from(mount).to_string(),
            "disk[MOUNT:/mnt/a]:1000"
        );
    }

    #[test]
    fn display_and_parse_round_trip() {
        for text in [
            "cpus:0.5;mem:128;ports:[31000-31005]",
            "cpus:2;mem:2048;disk:4096;ports:[31000-32000]",
            "cpus(web):1.5;cpus:0.001;gpus:2;ports:[1-1,3-3,5-9];gpu_ids:{a,b,c}",
            "{}",
        ] {
            assert_eq!(parse(text).to_string(), text);
            assert_eq!(parse(&parse(text).to_string()), parse(text));
        }
    }

    #[test]
    fn mesos_format_reads_like_the_master() {
        let offer = parse("cpus:2;mem:2048;disk:4096;ports:[31000-32000]").allocated_to("*");
        assert_eq!(
            offer.mesos_format().to_string(),
            "cpus(allocated: *):2; mem(allocated: *):2048; disk(allocated: *):4096; \
             ports(allocated: *):[31000-32000]"
        );
        let reserved = parse("cpus(web):0.333;s:{a,b};ports:[1-2,4-4]");
        assert_eq!(
            reserved.mesos_format().to_string(),
            "cpus(reservations: [(STATIC,web)]):0.333; s:{a, b}; ports:[1-2, 4-4]"
        );
        assert_eq!(Resources::new().mesos_format().to_string(), "{}");
        for (value, shown) in [
            (0.001, "0.001"),
            (0.5, "0.5"),
            (1234.5, "1234.5"),
            (123456.789, "123457"),
            (999999.4, "999999"),
            (999999.5, "1e+06"),
            (2048000.0, "2.048e+06"),
            (1e15, "1e+15"),
        ] {
            assert_eq!(format_double(value), shown, "{value}");
        }
    }

    #[test]
    fn unallocated_undoes_allocated_to() {
        let agent = parse("cpus(web):1;cpus:1;mem:128");
        let offered = agent.clone().allocated_to("web");
        assert_ne!(offered, agent);
        assert!(offered.iter().all(|r| r.allocation_info.is_some()));
        assert_eq!(offered.unallocated(), agent);
    }

    #[test]
    fn reservation_formats_convert_both_ways() {
        let legacy_static = Resource {
            role: Some("web".to_string()),
            ..cpus(1.0)
        };
        let legacy_dynamic = Resource {
            role: Some("web".to_string()),
            reservation: Some(ReservationInfo {
                principal: Some("alice".to_string()),
                ..Default::default()
            }),
            ..mem(64.0)
        };
        let unreserved = Resource {
            role: Some("*".to_string()),
            ..disk(10.0)
        };

        let upgraded = upgrade_format(legacy_static.clone());
        assert_eq!(upgraded, reserved(cpus(1.0), "web"));
        assert_eq!(upgrade_format(upgraded.clone()), upgraded, "idempotent");
        let dynamic = upgrade_format(legacy_dynamic.clone());
        assert_eq!(
            (dynamic.role.as_deref(), dynamic.reservation.as_ref()),
            (None, None)
        );
        assert_eq!(
            dynamic.reservations,
            vec![ReservationInfo {
                r#type: Some(reservation_info::Type::Dynamic as i32),
                role: Some("web".to_string()),
                principal: Some("alice".to_string()),
                labels: None,
            }]
        );
        assert_eq!(upgrade_format(unreserved.clone()), disk(10.0));

        for resource in [legacy_static, legacy_dynamic, unreserved] {
            let round_trip = downgrade_format(upgrade_format(resource.clone())).unwrap();
            assert_eq!(round_trip, resource);
        }
        assert_eq!(
            downgrade_format(cpus(1.0)).unwrap().role.as_deref(),
            Some("*")
        );

        // A reservation in one format is the same pool as in the other once
        // converted.
        let offer = parse("cpus(web):2");
        let legacy = Resources::from(downgrade_format(reserved(cpus(1.0), "web")).unwrap());
        assert!(!offer.contains(&legacy));
        assert!(offer.contains(&legacy.into_iter().map(upgrade_format).collect()));

        let refined = Resource {
            reservations: vec![
                reserved(cpus(1.0), "web").reservations[0].clone(),
                reserved(cpus(1.0), "web/api").reservations[0].clone(),
            ],
            ..cpus(1.0)
        };
        let error = downgrade_format(refined).unwrap_err();
        assert!(error.reason.contains("refined"), "{error}");
    }

    // --- find -----------------------------------------------------------

    #[test]
    fn find_takes_plain_amounts_from_offered_pools() {
        let offer = Resources::from(vec![
            allocated(cpus(1.0), "web"),
            allocated(reserved(cpus(0.5), "web"), "web"),
            allocated(mem(1024.0), "web"),
            allocated(ports(&[(31000, 31010)]), "web"),
            allocated(
                Resource {
                    revocable: Some(RevocableInfo {}),
                    ..cpus(8.0)
                },
                "web",
            ),
        ]);
        let wanted = parse("cpus:1;mem:128;ports:[31002-31003]");
        let found = offer.find(&wanted).expect("fits");

        // The reserved half cpu is used first, then half an unreserved one;
        // the revocable cpus are not touched.
        assert_eq!(
            found.to_string(),
            "cpus(web)(allocated: web):0.5;cpus(allocated: web):0.5;\
             mem(allocated: web):128;ports(allocated: web):[31002-31003]"
        );
        assert!(found.iter().all(|r| r.allocation_info.is_some()));
        assert!(offer.contains(&found));
        let left = offer
            .checked_sub(&found)
            .expect("found comes from the offer");
        assert_eq!(left.cpus(), 8.5);
        assert_eq!(left.ports(), vec![(31000, 31001), (31004, 31010)]);

        // Not enough non-revocable cpus, a port that is not offered.
        assert_eq!(offer.find(&parse("cpus:2")), None);
        assert_eq!(offer.find(&parse("ports:[8080-8080]")), None);
        assert_eq!(offer.find(&parse("gpus:1")), None);
        // Nothing is always there.
        assert_eq!(offer.find(&Resources::new()), Some(Resources::new()));
    }

    #[test]
    fn find_matches_named_pools_exactly() {
        let offer = Resources::from(vec![cpus(1.0), reserved(cpus(1.0), "web")]);
        let found = offer
            .find(&Resources::from(reserved(cpus(1.0), "web")))
            .unwrap();
        assert_eq!(found.to_string(), "cpus(web):1");
        assert_eq!(
            offer.find(&Resources::from(reserved(cpus(1.5), "web"))),
            None
        );
        assert_eq!(
            offer.find(&Resources::from(reserved(cpus(1.0), "db"))),
            None
        );
        // Persistent volumes are found whole, by identity.
        let offer = Resources::from(vec![volume("a", 100.0), disk(500.0)]);
        assert_eq!(
            offer
                .find(&Resources::from(volume("a", 100.0)))
                .unwrap()
                .to_string(),
            "disk(db)[a]:100"
        );
        assert_eq!(offer.find(&Resources::from(volume("a", 50.0))), None);
        // A plain disk requirement uses the root disk, never the volume.
        assert_eq!(
            offer.find(&parse("disk:500")).unwrap().to_string(),
            "disk:500"
        );
        assert_eq!(offer.find(&parse("disk:501")), None);
    }

    // --- properties -----------------------------------------------------

    /// A tiny deterministic generator (xorshift), so that failures repeat.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn resources(&mut self) -> Resources {
            let mut resources = Resources::new();
            for _ in 0..self.below(6) {
                let owner = ["", "web", "db"][self.below(3) as usize];
                let resource = match self.below(4) {
                    0 => cpus(self.below(4000) as f64 / 1000.0),
                    1 => mem(self.below(100) as f64 * 0.1),
                    2 => {
                        let list: Vec<(u64, u64)> = (0..self.below(4))
                            .map(|_| {
                                let begin = self.below(40);
                                (begin, begin + self.below(5))
                            })
                            .collect();
                        ports(&list)
                    }
                    _ => {
                        let items: Vec<String> = (0..self.below(4))
                            .map(|_| format!("i{}", self.below(6)))
                            .collect();
                        set("s", items)
                    }
                };
                resources.add_resource(if owner.is_empty() {
                    resource
                } else {
                    reserved(resource, owner)
                });
            }
            resources
        }
    }

    #[test]
    fn arithmetic_properties_hold_for_random_resources() {
        let mut rng = Rng(0x5eed_1234_abcd_9876);
        for round in 0..2000 {
            let a = rng.resources();
            let b = rng.resources();
            let context = format!("round {round}: a = {a}, b = {b}");

            // Text form round-trips.
            assert_eq!(parse(&a.to_string()), a, "{context}");
            // A sum contains its parts, and is the same either way round.
            let sum = a.clone() + &b;
            assert!(sum.contains(&a) && sum.contains(&b), "{context}");
            assert_eq!(sum, b.clone() + &a, "{context}");
            // Taking away leaves at most what was there, and what is left
            // can be taken away again, giving back the rest.
            let part = a.clone() - &b;
            assert!(a.contains(&part), "{context}");
            let rest = a.checked_sub(&part).unwrap_or_else(|| panic!("{context}"));
            assert_eq!(rest.clone() + &part, a, "{context}");
            // That rest is what `a` and `b` have in common, so `b` has it.
            assert!(b.contains(&rest), "{context}");
            // Everything contains nothing; a contains itself.
            assert!(a.contains(&Resources::new()) && a.contains(&a), "{context}");
            // checked_sub succeeds exactly when contained, and then undoes +.
            match a.checked_sub(&b) {
                Some(difference) => {
                    assert!(a.contains(&b), "{context}");
                    assert_eq!(difference + &b, a, "{context}");
                }
                None => assert!(!a.contains(&b), "{context}"),
            }
            assert_eq!(
                sum.checked_sub(&b).map(|d| d + &b),
                Some(sum.clone()),
                "{context}"
            );
            // What a sum contains can be found in it, as much as asked for,
            // in pieces the sum contains.
            let found = sum
                .find(&a)
                .unwrap_or_else(|| panic!("{context}: find failed"));
            assert!(sum.contains(&found), "{context}");
            assert_eq!(found.cpus(), a.cpus(), "{context}");
            assert_eq!(found.mem(), a.mem(), "{context}");
            assert_eq!(found.ports(), a.ports(), "{context}");
            assert_eq!(found.set("s").len(), a.set("s").len(), "{context}");
        }
    }
}
