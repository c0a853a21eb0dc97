//! Agent attributes in Mesos' `--attributes` syntax: `rack:a;cores:4`.
//!
//! An agent describes itself to frameworks with attributes (the rack it
//! sits in, its OS version), sent with every offer of its resources;
//! schedulers place tasks by them (Marathon's constraints). Parsed as
//! Mesos parses them (`src/common/attributes.cpp`, `values.cpp`): a value
//! in `[..]` is RANGES, a number is SCALAR, anything else TEXT; sets
//! (`{a,b}`) are refused, as an agent refuses to start with them.

use crate::v1::{
    Attribute,
    value::{self, Range, Ranges, Scalar, Text},
};

/// Parses `name:value` pairs separated by `;` (or new lines).
pub fn parse(text: &str) -> Result<Vec<Attribute>, String> {
    text.split([';', '\n'])
        .filter(|token| !token.is_empty())
        .map(|token| match token.split_once(':') {
            Some((name, value)) if !name.is_empty() && !value.is_empty() => parse_one(name, value),
            _ => Err(format!("Invalid attribute key:value pair '{token}'")),
        })
        .collect()
}

/// One attribute, typed by the look of its value.
pub fn parse_one(name: &str, value: &str) -> Result<Attribute, String> {
    // Mesos removes all spaces first.
    let value: String = value.chars().filter(|c| *c != ' ').collect();
    let mut attribute = Attribute {
        name: name.to_string(),
        ..Default::default()
    };
    if value.starts_with('[') && value.ends_with(']') {
        attribute.set_type(value::Type::Ranges);
        attribute.ranges = Some(parse_ranges(&value[1..value.len() - 1])?);
    } else if value.contains(['[', ']', '{', '}']) {
        return Err(format!("Bad type for attribute {name} text {value}"));
    } else if let Ok(number) = value.parse::<f64>().map_err(drop).and_then(finite) {
        attribute.set_type(value::Type::Scalar);
        attribute.scalar = Some(Scalar { value: number });
    } else {
        attribute.set_type(value::Type::Text);
        attribute.text = Some(Text { value });
    }
    Ok(attribute)
}

/// `inf` and `nan` parse as numbers in Rust, and are text to Mesos.
fn finite(number: f64) -> Result<f64, ()> {
    if number.is_finite() {
        Ok(number)
    } else {
        Err(())
    }
}

fn parse_ranges(text: &str) -> Result<Ranges, String> {
    let mut range = Vec::new();
    for part in text.split(',') {
        let bounds = part
            .split_once('-')
            .and_then(|(b, e)| Some((b.parse::<u64>().ok()?, e.parse::<u64>().ok()?)));
        let Some((begin, end)) = bounds else {
            return Err(format!("Expecting non-negative integers in '{part}'"));
        };
        range.push(Range { begin, end });
    }
    Ok(Ranges { range })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_gets_the_type_mesos_gives_it() {
        let parsed = parse("rack:r1;cores:4.5;ports:[1-2,5-9]").unwrap();
        let types: Vec<_> = parsed
            .iter()
            .map(|a| (a.name.as_str(), a.r#type()))
            .collect();
        assert_eq!(
            types,
            [
                ("rack", value::Type::Text),
                ("cores", value::Type::Scalar),
                ("ports", value::Type::Ranges)
            ]
        );
        assert_eq!(parsed[1].scalar.as_ref().unwrap().value, 4.5);
        assert_eq!(parsed[2].ranges.as_ref().unwrap().range.len(), 2);
    }

    #[test]
    fn sets_and_broken_pairs_are_refused() {
        assert!(parse("gpus:{0,1}").is_err());
        assert!(parse("rack").is_err());
        assert!(parse(":a").is_err());
        assert!(parse("ports:[a-b]").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
