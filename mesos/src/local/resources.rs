//! Resources: Mesos' text syntax, and the arithmetic an allocator needs.
//!
//! An agent announces what it has as `cpus:2;mem:2048;disk:4096;ports:[31000-32000]`
//! (the agent's `--resources` flag). Each entry is a *scalar* (a number,
//! kept to three decimals as Mesos does), a list of *ranges* (`ports`) or a
//! *set*. A name may carry the role it is reserved for, `cpus(prod):1`; no
//! role means `*`, unreserved.
//!
//! The master does three things with resources, and so do we:
//!
//! * **subtract**: what an agent can still offer is its total minus what
//!   tasks use and what is already offered to someone;
//! * **contains**: a task may only use resources its offers contain, and a
//!   declined offer is filtered only while the refused resources contain
//!   what would be offered again;
//! * **print** them the way Mesos does in its messages, e.g.
//!   `cpus(allocated: *):2; ports(allocated: *):[31000-32000]`, so that an
//!   error a framework sees here reads like the one a real master sends.
//!
//! Persistent volumes, revocable and shared resources are not simulated.

use std::{collections::BTreeSet, fmt};

use crate::v1::{self, value};

/// The value of one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A quantity, e.g. 1.5 cpus or 2048 (MB of) mem.
    Scalar(f64),
    /// Inclusive ranges, sorted and coalesced, e.g. ports 31000-32000.
    Ranges(Vec<(u64, u64)>),
    /// Named items, e.g. a set of GPU ids.
    Set(BTreeSet<String>),
}

/// One named resource, reserved for `role` (`*` when unreserved).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub name: String,
    pub role: String,
    pub value: Value,
}

/// A bag of resources: at most one entry per (name, role), in the order
/// they were first added (which is the order Mesos prints them in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources(Vec<Resource>);

/// A `--resources` value that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resources {input:?}: {reason}")]
pub struct ResourceParseError {
    pub input: String,
    pub reason: String,
}

/// The unreserved role.
pub const UNRESERVED: &str = "*";

/// Mesos keeps scalars as fixed-point numbers with three decimals, so that
/// 0.1 + 0.2 is exactly 0.3 and a task can use exactly what was offered.
fn round_scalar(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

impl Resources {
    /// Parses Mesos' text syntax: `name[(role)]:value` entries separated by
    /// `;`, where a value is a number (`2`, `0.5`), ranges
    /// (`[31000-32000, 33000-33010]`) or a set (`{a,b}`).
    pub fn parse(input: &str) -> Result<Resources, ResourceParseError> {
        let error = |reason: String| ResourceParseError {
            input: input.to_string(),
            reason,
        };
        let mut resources = Resources::default();
        for entry in input.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, text) = entry.split_once(':').ok_or_else(|| {
                error(format!(
                    "expected `name:value` (e.g. cpus:2) but found {entry:?}"
                ))
            })?;
            let (name, role) = parse_key(key.trim()).map_err(error)?;
            let value = parse_value(&name, text.trim()).map_err(error)?;
            resources.add_one(Resource { name, role, value });
        }
        if resources.is_empty() {
            return Err(error(
                "no resources given (expected e.g. cpus:2;mem:2048)".into(),
            ));
        }
        Ok(resources)
    }

    /// Reads resources a framework sent (in a TaskInfo or ExecutorInfo),
    /// checking them the way `Resources::validate` does in Mesos.
    pub fn from_proto(resources: &[v1::Resource]) -> Result<Resources, String> {
        let mut result = Resources::default();
        for resource in resources {
            if resource.name.is_empty() {
                return Err("Empty resource name".into());
            }
            let value = match value::Type::try_from(resource.r#type) {
                Ok(value::Type::Scalar) => {
                    let scalar = resource.scalar.as_ref().ok_or_else(|| {
                        format!("Invalid scalar resource {}: no scalar value", resource.name)
                    })?;
                    if !scalar.value.is_finite() || scalar.value < 0.0 {
                        return Err(format!(
                            "Invalid scalar resource {}: value {} is negative or not finite",
                            resource.name, scalar.value
                        ));
                    }
                    Value::Scalar(round_scalar(scalar.value))
                }
                Ok(value::Type::Ranges) => {
                    let ranges = resource.ranges.as_ref().ok_or_else(|| {
                        format!("Invalid ranges resource {}: no ranges", resource.name)
                    })?;
                    let mut list = Vec::new();
                    for range in &ranges.range {
                        if range.begin > range.end {
                            return Err(format!(
                                "Invalid ranges resource {}: range {}-{} ends before it begins",
                                resource.name, range.begin, range.end
                            ));
                        }
                        list.push((range.begin, range.end));
                    }
                    Value::Ranges(coalesce(list))
                }
                Ok(value::Type::Set) => {
                    let set = resource
                        .set
                        .as_ref()
                        .ok_or_else(|| format!("Invalid set resource {}: no set", resource.name))?;
                    Value::Set(set.item.iter().cloned().collect())
                }
                _ => {
                    return Err(format!(
                        "Unsupported type of resource {}: only SCALAR, RANGES and SET are",
                        resource.name
                    ));
                }
            };
            // Post-refinement format: the last reservation is the role the
            // resource belongs to; otherwise the pre-refinement `role`.
            let role = resource
                .reservations
                .last()
                .and_then(|r| r.role.clone())
                .or_else(|| resource.role.clone())
                .unwrap_or_else(|| UNRESERVED.to_string());
            result.add_one(Resource {
                name: resource.name.clone(),
                role,
                value,
            });
        }
        Ok(result)
    }

    /// The protobuf form, as put in an offer. `allocation_role` fills in
    /// `allocation_info` (for MULTI_ROLE frameworks); `refined` leaves the
    /// deprecated `role` field unset (for RESERVATION_REFINEMENT ones).
    pub fn to_proto(&self, allocation_role: Option<&str>, refined: bool) -> Vec<v1::Resource> {
        self.0
            .iter()
            .map(|resource| {
                let mut proto = v1::Resource {
                    name: resource.name.clone(),
                    allocation_info: allocation_role.map(|role| v1::resource::AllocationInfo {
                        role: Some(role.to_string()),
                    }),
                    ..Default::default()
                };
                if !refined {
                    proto.role = Some(resource.role.clone());
                } else if resource.role != UNRESERVED {
                    proto.reservations.push(v1::resource::ReservationInfo {
                        r#type: Some(v1::resource::reservation_info::Type::Static as i32),
                        role: Some(resource.role.clone()),
                        ..Default::default()
                    });
                }
                match &resource.value {
                    Value::Scalar(v) => {
                        proto.r#type = value::Type::Scalar as i32;
                        proto.scalar = Some(value::Scalar { value: *v });
                    }
                    Value::Ranges(ranges) => {
                        proto.r#type = value::Type::Ranges as i32;
                        proto.ranges = Some(value::Ranges {
                            range: ranges
                                .iter()
                                .map(|&(begin, end)| value::Range { begin, end })
                                .collect(),
                        });
                    }
                    Value::Set(items) => {
                        proto.r#type = value::Type::Set as i32;
                        proto.set = Some(value::Set {
                            item: items.iter().cloned().collect(),
                        });
                    }
                }
                proto
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.0.iter()
    }

    /// The quantity of an unreserved scalar, if present.
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.0.iter().find_map(|r| match &r.value {
            Value::Scalar(v) if r.name == name => Some(*v),
            _ => None,
        })
    }

    /// Adds `other` to these resources.
    pub fn add(&mut self, other: &Resources) {
        for resource in &other.0 {
            self.add_one(resource.clone());
        }
    }

    fn add_one(&mut self, resource: Resource) {
        if resource.is_empty() {
            return;
        }
        match self.find_mut(&resource.name, &resource.role) {
            Some(existing) => match (&mut existing.value, resource.value) {
                (Value::Scalar(a), Value::Scalar(b)) => *a = round_scalar(*a + b),
                (Value::Ranges(a), Value::Ranges(b)) => {
                    a.extend(b);
                    *a = coalesce(std::mem::take(a));
                }
                (Value::Set(a), Value::Set(b)) => a.extend(b),
                // Mismatched types under one name: keep the first, as the
                // agent would have refused such a `--resources` anyway.
                _ => {}
            },
            None => self.0.push(resource),
        }
    }

    /// Subtracts `other`; what would become negative becomes nothing.
    pub fn subtract(&mut self, other: &Resources) {
        for resource in &other.0 {
            if let Some(existing) = self.find_mut(&resource.name, &resource.role) {
                match (&mut existing.value, &resource.value) {
                    (Value::Scalar(a), Value::Scalar(b)) => *a = round_scalar((*a - b).max(0.0)),
                    (Value::Ranges(a), Value::Ranges(b)) => *a = subtract_ranges(a, b),
                    (Value::Set(a), Value::Set(b)) => a.retain(|item| !b.contains(item)),
                    _ => {}
                }
            }
        }
        self.0.retain(|r| !r.is_empty());
    }

    /// `self - other`, as a new value.
    pub fn minus(&self, other: &Resources) -> Resources {
        let mut result = self.clone();
        result.subtract(other);
        result
    }

    /// Whether every resource in `other` is also (at least) in `self`.
    pub fn contains(&self, other: &Resources) -> bool {
        other.0.iter().all(|wanted| {
            let Some(have) = self.find(&wanted.name, &wanted.role) else {
                return wanted.is_empty();
            };
            match (&have.value, &wanted.value) {
                (Value::Scalar(a), Value::Scalar(b)) => round_scalar(*a - *b) >= 0.0,
                (Value::Ranges(a), Value::Ranges(b)) => b.iter().all(|&(begin, end)| {
                    a.iter()
                        .any(|&(have_begin, have_end)| have_begin <= begin && end <= have_end)
                }),
                (Value::Set(a), Value::Set(b)) => b.is_subset(a),
                _ => false,
            }
        })
    }

    fn find(&self, name: &str, role: &str) -> Option<&Resource> {
        self.0.iter().find(|r| r.name == name && r.role == role)
    }

    fn find_mut(&mut self, name: &str, role: &str) -> Option<&mut Resource> {
        self.0.iter_mut().find(|r| r.name == name && r.role == role)
    }

    /// Prints the resources as the master does once they are allocated to
    /// `role`: `cpus(allocated: *):1; mem(allocated: *):128`.
    pub fn allocated_to(&self, role: &str) -> String {
        self.0
            .iter()
            .map(|r| {
                let reservation = if r.role == UNRESERVED {
                    String::new()
                } else {
                    format!("(reservations: [(STATIC,{})])", r.role)
                };
                format!("{}(allocated: {role}){reservation}:{}", r.name, r.value)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The JSON Mesos' `/state` endpoints show for resources: scalars as
    /// numbers (cpus, gpus, mem and disk always present), ranges and sets
    /// as their text, e.g. `{"cpus": 2.0, "ports": "[31000-32000]"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        for name in ["cpus", "disk", "gpus", "mem"] {
            object.insert(name.into(), serde_json::json!(0.0));
        }
        let mut totals = Resources::default();
        for resource in &self.0 {
            // The JSON model sums over roles, like Mesos' `model(Resources)`.
            totals.add_one(Resource {
                role: UNRESERVED.into(),
                ..resource.clone()
            });
        }
        for resource in &totals.0 {
            let value = match &resource.value {
                Value::Scalar(v) => serde_json::json!(v),
                other => serde_json::json!(other.to_string()),
            };
            object.insert(resource.name.clone(), value);
        }
        serde_json::Value::Object(object)
    }
}

impl Resource {
    fn is_empty(&self) -> bool {
        match &self.value {
            Value::Scalar(v) => *v <= 0.0,
            Value::Ranges(r) => r.is_empty(),
            Value::Set(s) => s.is_empty(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar(v) => write!(f, "{}", format_scalar(*v)),
            Value::Ranges(ranges) => {
                let parts: Vec<String> = ranges.iter().map(|(b, e)| format!("{b}-{e}")).collect();
                write!(f, "[{}]", parts.join(", "))
            }
            Value::Set(items) => {
                let parts: Vec<&str> = items.iter().map(String::as_str).collect();
                write!(f, "{{{}}}", parts.join(", "))
            }
        }
    }
}

impl fmt::Display for Resources {
    /// `cpus:2; mem:2048; ports:[31000-32000]` (reserved: `cpus(prod):1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| {
                if r.role == UNRESERVED {
                    format!("{}:{}", r.name, r.value)
                } else {
                    format!("{}({}):{}", r.name, r.role, r.value)
                }
            })
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// A double as C++ streams print it by default (up to six significant
/// digits): 2048, 0.5, 0.333.
fn format_scalar(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let digits = 6 - (value.abs().log10().floor() as i32 + 1);
    let formatted = format!("{:.*}", digits.clamp(0, 6) as usize, value);
    formatted
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

fn parse_key(key: &str) -> Result<(String, String), String> {
    let (name, role) = match key.split_once('(') {
        Some((name, rest)) => {
            let role = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("missing ')' after the role in {key:?}"))?;
            if role.is_empty() {
                return Err(format!("empty role in {key:?}"));
            }
            (name.trim(), role.trim())
        }
        None => (key, UNRESERVED),
    };
    if name.is_empty() {
        return Err(format!("a resource has no name in {key:?}"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err(format!("{name:?} is not a valid resource name"));
    }
    Ok((name.to_string(), role.to_string()))
}

fn parse_value(name: &str, text: &str) -> Result<Value, String> {
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("ranges of {name:?} must end with ']': {text:?}"))?;
        let mut ranges = Vec::new();
        for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (begin, end) = part.split_once('-').unwrap_or((part, part));
            let number = |s: &str| {
                s.trim().parse::<u64>().map_err(|_| {
                    format!(
                        "{part:?} in {name:?} is not a range like 31000-32000 \
                         (ranges are written [31000-32000, 33000-33100])"
                    )
                })
            };
            let (begin, end) = (number(begin)?, number(end)?);
            if begin > end {
                return Err(format!(
                    "range {begin}-{end} of {name:?} ends before it begins"
                ));
            }
            ranges.push((begin, end));
        }
        if ranges.is_empty() {
            return Err(format!("{name:?} has an empty range list {text:?}"));
        }
        return Ok(Value::Ranges(coalesce(ranges)));
    }
    if let Some(inner) = text.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or_else(|| format!("the set of {name:?} must end with '}}': {text:?}"))?;
        let items: BTreeSet<String> = inner
            .split(',')
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .collect();
        if items.is_empty() {
            return Err(format!("{name:?} has an empty set {text:?}"));
        }
        return Ok(Value::Set(items));
    }
    let value: f64 = text.parse().map_err(|_| {
        format!(
            "the value of {name:?} is {text:?}, which is neither a number (e.g. 2 or 0.5), \
             ranges (e.g. [31000-32000]) nor a set (e.g. {{a,b}})"
        )
    })?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "{name:?} must be a non-negative number, not {text:?}"
        ));
    }
    Ok(Value::Scalar(round_scalar(value)))
}

/// Sorts ranges and merges those that overlap or touch.
fn coalesce(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (begin, end) in ranges {
        match merged.last_mut() {
            Some(last) if begin <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((begin, end)),
        }
    }
    merged
}

fn subtract_ranges(have: &[(u64, u64)], remove: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut result = have.to_vec();
    for &(rb, re) in remove {
        result = result
            .into_iter()
            .flat_map(|(b, e)| {
                let mut pieces = Vec::new();
                if re < b || rb > e {
                    pieces.push((b, e));
                } else {
                    if rb > b {
                        pieces.push((b, rb - 1));
                    }
                    if re < e {
                        pieces.push((re + 1, e));
                    }
                }
                pieces
            })
            .collect();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Resources {
        Resources::parse(text).unwrap()
    }

    #[test]
    fn parses_the_agent_flag_syntax() {
        let resources = parse("cpus:2;mem:2048;disk:4096;ports:[31000-32000]");
        assert_eq!(resources.scalar("cpus"), Some(2.0));
        assert_eq!(resources.scalar("mem"), Some(2048.0));
        assert_eq!(
            resources.to_string(),
            "cpus:2; mem:2048; disk:4096; ports:[31000-32000]"
        );
        let reserved = parse("cpus(prod):1.5; gpus:{a, b}; ports:[1-2,3-5, 10-10]");
        assert_eq!(
            reserved.to_string(),
            "cpus(prod):1.5; gpus:{a, b}; ports:[1-5, 10-10]"
        );
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        for (input, needle) in [
            ("cpus", "expected `name:value`"),
            ("cpus:abc", "neither a number"),
            ("cpus:-1", "non-negative"),
            ("ports:[32000-31000]", "ends before it begins"),
            ("ports:[31000-]", "is not a range"),
            ("ports:[1-2", "must end with ']'"),
            (":2", "has no name"),
            ("cpus(:2", "missing ')'"),
            ("", "no resources given"),
        ] {
            let error = Resources::parse(input).unwrap_err();
            assert!(error.to_string().contains(needle), "{input:?}: {error}");
        }
    }

    #[test]
    fn arithmetic_with_scalars_ranges_and_sets() {
        let total = parse("cpus:2;mem:2048;ports:[31000-32000];gpus:{a,b}");
        let task = parse("cpus:0.1;mem:128;ports:[31000-31000, 31500-31500];gpus:{a}");
        let mut left = total.minus(&task);
        assert_eq!(
            left.to_string(),
            "cpus:1.9; mem:1920; ports:[31001-31499, 31501-32000]; gpus:{b}"
        );
        assert!(total.contains(&task));
        assert!(!left.contains(&task));
        left.add(&task);
        assert_eq!(left, total.minus(&Resources::default()));
        assert!(left.contains(&total) && total.contains(&left));
        // 0.1 + 0.2 must be exactly 0.3, or a task could never use all of an offer.
        let mut sum = parse("cpus:0.1");
        sum.add(&parse("cpus:0.2"));
        assert!(sum.contains(&parse("cpus:0.3")) && parse("cpus:0.3").contains(&sum));
        // All of it gone: nothing left at all.
        assert!(parse("cpus:1").minus(&parse("cpus:1")).is_empty());
        // Reserved resources are not unreserved ones.
        assert!(!parse("cpus:4").contains(&parse("cpus(prod):1")));
    }

    #[test]
    fn prints_like_the_master() {
        let offered = parse("cpus:2;mem:2048;ports:[31000-32000]");
        assert_eq!(
            offered.allocated_to("*"),
            "cpus(allocated: *):2; mem(allocated: *):2048; ports(allocated: *):[31000-32000]"
        );
        assert_eq!(format_scalar(0.5), "0.5");
        assert_eq!(format_scalar(0.333), "0.333");
        assert_eq!(format_scalar(1234.5), "1234.5");
    }

    #[test]
    fn proto_round_trip_and_validation() {
        let resources = parse("cpus:1;ports:[5-6]");
        for refined in [false, true] {
            let proto = resources.to_proto(Some("*"), refined);
            assert_eq!(Resources::from_proto(&proto).unwrap(), resources);
        }
        let mut bad = resources.to_proto(None, false);
        bad[0].scalar = Some(value::Scalar { value: -1.0 });
        assert!(Resources::from_proto(&bad).is_err());
    }

    #[test]
    fn json_model_like_the_state_endpoint() {
        let json = parse("cpus:2;mem:2048;ports:[31000-32000]").to_json();
        assert_eq!(json["cpus"], 2.0);
        assert_eq!(json["gpus"], 0.0);
        assert_eq!(json["disk"], 0.0);
        assert_eq!(json["ports"], "[31000-32000]");
    }
}
