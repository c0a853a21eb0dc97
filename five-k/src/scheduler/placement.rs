//! Placement constraints, enforced: may this offer take a task of an app,
//! given where the app's tasks already run?
//!
//! `app/constraint.rs` checks that a constraint is well formed; this
//! applies it, as Marathon does (`mesosphere/mesos/Constraints.scala`,
//! v1.7): a constraint compares the offer's value of a field (the agent's
//! host name, its fault domain's region or zone, or one of its
//! attributes) with the values of the agents the app's tasks run on. An
//! agent that lacks the field satisfies only UNLIKE.
//!
//! Each task remembers the values of the agent it was launched on
//! ([`AgentInfo`]), so that its placement is known without asking the
//! master, also after a failover of 5K.

use std::collections::BTreeMap;

use mesos::v1::{Attribute, Offer, value};
use serde::{Deserialize, Serialize};

use crate::app::Constraint;

/// What constraints read of an agent besides its host name (Marathon's
/// `AgentInfo`): its fault domain and its attributes, each attribute's
/// value as text in Marathon's format ([`attribute_value`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl AgentInfo {
    /// The agent an offer comes from.
    pub fn of_offer(offer: &Offer) -> AgentInfo {
        let fault_domain = offer.domain.as_ref().and_then(|d| d.fault_domain.as_ref());
        AgentInfo {
            region: fault_domain.map(|f| f.region.name.clone()),
            zone: fault_domain.map(|f| f.zone.name.clone()),
            attributes: offer
                .attributes
                .iter()
                .map(|a| (a.name.clone(), attribute_value(a)))
                .collect(),
        }
    }
}

/// Where something is or would be placed: an agent's host name and the
/// rest of what constraints read of it (Marathon's `Placed`).
#[derive(Clone, Copy, Debug)]
pub struct Placed<'a> {
    pub hostname: &'a str,
    pub agent: &'a AgentInfo,
}

impl<'a> Placed<'a> {
    /// The value of a constraint's field here, if the agent has it
    /// (`Constraints.readerForField`).
    pub fn value(&self, field: &str) -> Option<&'a str> {
        match field {
            "hostname" | "@hostname" => Some(self.hostname),
            "@region" => self.agent.region.as_deref(),
            "@zone" => self.agent.zone.as_deref(),
            attribute => self.agent.attributes.get(attribute).map(String::as_str),
        }
    }
}

/// Whether a task placed at `offer` meets `constraint`, given the
/// placements of the app's other tasks (`Constraints.meetsConstraint`).
pub fn meets(constraint: &Constraint, placed: &[Placed], offer: Placed) -> bool {
    let field = constraint.field();
    let wanted = constraint.value().unwrap_or("");
    let operator = constraint.operator();
    let Some(value) = offer.value(field) else {
        // An agent without the field can only be "unlike" something.
        return operator == "UNLIKE";
    };
    let values = || placed.iter().map(|p| p.value(field));
    match operator.as_str() {
        "LIKE" => !wanted.is_empty() && full_match(wanted, value),
        "UNLIKE" => !wanted.is_empty() && !full_match(wanted, value),
        "UNIQUE" => values().all(|v| v != Some(value)),
        // Without a value: wherever the first task went, the others follow.
        "CLUSTER" if wanted.is_empty() => values().next().is_none_or(|v| v == Some(value)),
        "CLUSTER" => value == wanted,
        "GROUP_BY" => group_by(wanted, value, values()),
        "MAX_PER" => {
            let max = wanted.parse::<usize>().unwrap_or(0);
            values().filter(|v| *v == Some(value)).count() < max
        }
        "IS" => value == is_value(wanted),
        // Refused when the app was posted (`constraint.rs`).
        _ => false,
    }
}

/// GROUP_BY: spread the tasks evenly over the values, and over at least
/// `minimum` of them. A new value is always welcome; a known one only if
/// enough values are in use and it holds the fewest tasks.
fn group_by<'a>(minimum: &str, value: &str, values: impl Iterator<Item = Option<&'a str>>) -> bool {
    let minimum = match minimum {
        "inf" => usize::MAX,
        n => n.parse::<usize>().unwrap_or(0),
    };
    // Tasks whose agent lacks the field form a group of their own, as in
    // Marathon's `groupBy`.
    let mut groups: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    for v in values {
        *groups.entry(v).or_default() += 1;
    }
    let smallest = groups.values().copied().min().unwrap_or(0);
    match groups.get(&Some(value)) {
        None => true,
        Some(count) => groups.len() >= minimum && *count == smallest,
    }
}

/// A full match of `pattern`, as Java's `String.matches`: the regex must
/// cover the whole value, not just a part of it. (Valid: `constraint.rs`
/// refused the app otherwise.)
fn full_match(pattern: &str, value: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(value))
}

/// IS compares a scalar by its formatted value, so "1.0" is "1".
fn is_value(wanted: &str) -> String {
    let is_scalar = !wanted.is_empty()
        && wanted
            .split_once('.')
            .map_or(is_digits(wanted), |(int, frac)| {
                is_digits(int) && is_digits(frac)
            });
    match wanted.parse::<f64>() {
        Ok(number) if is_scalar => format_scalar(number),
        _ => wanted.to_string(),
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// An attribute's value as constraints see it (`getValueString`):
/// scalars as `0.###`, ranges as `[1-2,5-9]`, sets as `{a,b}`.
pub fn attribute_value(attribute: &Attribute) -> String {
    match attribute.r#type() {
        value::Type::Scalar => format_scalar(attribute.scalar.as_ref().map_or(0.0, |s| s.value)),
        value::Type::Ranges => {
            let mut ranges: Vec<_> = attribute
                .ranges
                .iter()
                .flat_map(|r| &r.range)
                .map(|r| (r.begin, r.end))
                .collect();
            ranges.sort_by_key(|(begin, _)| *begin);
            let ranges: Vec<String> = ranges.iter().map(|(b, e)| format!("{b}-{e}")).collect();
            format!("[{}]", ranges.join(","))
        }
        value::Type::Set => {
            let mut items = attribute.set.as_ref().map_or(vec![], |s| s.item.clone());
            items.sort();
            format!("{{{}}}", items.join(","))
        }
        value::Type::Text => attribute
            .text
            .as_ref()
            .map_or(String::new(), |t| t.value.clone()),
    }
}

/// Java's `new DecimalFormat("0.###")`: at most three decimals, no
/// trailing zeros (`1.0` is `1`, `1.0005` is `1`, `1.00051` is `1.001`).
pub fn format_scalar(number: f64) -> String {
    let text = format!("{number:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0" } else { text }.to_string()
}

#[cfg(test)]
mod tests;
