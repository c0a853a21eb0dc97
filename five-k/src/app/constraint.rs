//! Placement constraints: `["hostname", "UNIQUE"]`, `["rack", "GROUP_BY", "3"]`.
//!
//! A constraint limits which agents an app's tasks may run on, by an
//! agent's host name or attributes. Here they are read and checked with
//! Marathon's rules and messages (`complyWithAppConstraintRules` in
//! `api/v2/validation/SchedulingValidation.scala`), so that a mistake is
//! refused when the app is posted rather than found when nothing launches.

use serde::{Deserialize, Serialize};

/// A constraint as sent: two or three strings. Kept as sent (Marathon
/// shows them back unchanged); [`Constraint::check`] says what is wrong.
#[derive(Clone, Debug)]
pub struct Constraint {
    pub parts: Vec<String>,
    /// LIKE and UNLIKE's regex, compiled once: placement matches it
    /// against every offer, for every task waiting.
    pattern: Option<regex::Regex>,
}

impl Constraint {
    pub fn from_parts(parts: Vec<String>) -> Constraint {
        let operator = parts.get(1).map(|op| op.to_uppercase());
        let pattern = match (operator.as_deref(), parts.get(2)) {
            (Some("LIKE" | "UNLIKE"), Some(pattern)) => full_match(pattern).ok(),
            _ => None,
        };
        Constraint { parts, pattern }
    }

    /// LIKE and UNLIKE's regex, if valid (`check` refuses it otherwise).
    pub fn pattern(&self) -> Option<&regex::Regex> {
        self.pattern.as_ref()
    }

    pub fn field(&self) -> &str {
        self.parts.first().map_or("", String::as_str)
    }

    /// The operator in upper case: Marathon accepts `unique` too.
    pub fn operator(&self) -> String {
        self.parts
            .get(1)
            .map(|op| op.to_uppercase())
            .unwrap_or_default()
    }

    pub fn value(&self) -> Option<&str> {
        self.parts.get(2).map(String::as_str)
    }

    /// What is wrong with this constraint, in Marathon's words.
    pub fn check(&self) -> Result<(), String> {
        if self.parts.len() < 2 || self.parts.len() > 3 {
            return Err("Each constraint must have either 2 or 3 fields".into());
        }
        if self.field().is_empty() {
            return Err("illegal constraint specification".into());
        }
        let value = self.value();
        match self.operator().as_str() {
            "UNIQUE" if value.is_some() => Err("UNIQUE does not accept a value".into()),
            "UNIQUE" | "CLUSTER" => Ok(()),
            "GROUP_BY" if value.is_some_and(|v| v.parse::<i32>().is_err()) => {
                Err("GROUP BY must define an integer value or else no value at all".into())
            }
            "GROUP_BY" => Ok(()),
            "MAX_PER" if value.is_none_or(|v| v.parse::<i32>().is_err()) => {
                Err("MAX_PER requires an integer value".into())
            }
            "MAX_PER" => Ok(()),
            "LIKE" | "UNLIKE" => match value {
                None => Err("LIKE and UNLIKE require a non-empty, regular expression value".into()),
                // Anchored, as Java's `String.matches` applies it.
                Some(_) if self.pattern.is_some() => Ok(()),
                Some(_) => Err("is not a valid regular expression".into()),
            },
            "IS" if !value.unwrap_or("").bytes().all(is_mesos_text_byte) => {
                Err("IS only supports Mesos text and float values \
                 (see http://mesos.apache.org/documentation/latest/attributes-resources/)"
                    .into())
            }
            "IS" => Ok(()),
            _ => Err(format!(
                "operator must be one of the following {}",
                "UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
            )),
        }
    }
}

/// LIKE's regex as Java's `String.matches` applies it: a full match,
/// covering the whole value, not just a part of it.
fn full_match(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

/// Constraints are equal when sent the same (the regex follows).
impl PartialEq for Constraint {
    fn eq(&self, other: &Constraint) -> bool {
        self.parts == other.parts
    }
}

impl Eq for Constraint {}

/// `^[a-zA-Z0-9_/.-]*$`, Marathon's `MesosLiteralOrFloatValue`.
fn is_mesos_text_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'.' | b'-')
}

impl Serialize for Constraint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.parts.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Constraint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Constraint::from_parts(Vec::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(parts: &[&str]) -> Result<(), String> {
        Constraint::from_parts(parts.iter().map(|p| p.to_string()).collect()).check()
    }

    #[test]
    fn marathons_operators_are_accepted_in_any_case() {
        for good in [
            &["hostname", "UNIQUE"][..],
            &["hostname", "unique"],
            &["rack", "CLUSTER", "a"],
            &["rack", "CLUSTER"],
            &["rack", "GROUP_BY"],
            &["rack", "GROUP_BY", "3"],
            &["hostname", "LIKE", "web[0-9]+"],
            &["hostname", "UNLIKE", "db.*"],
            &["hostname", "MAX_PER", "2"],
            &["@zone", "IS", "eu-1.b"],
        ] {
            assert_eq!(check(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn each_mistake_gets_marathons_message() {
        let cases: [(&[&str], &str); 9] = [
            (
                &["hostname"],
                "Each constraint must have either 2 or 3 fields",
            ),
            (
                &["a", "UNIQUE", "x", "y"],
                "Each constraint must have either 2 or 3 fields",
            ),
            (&["", "UNIQUE"], "illegal constraint specification"),
            (
                &["hostname", "UNIQUE", "x"],
                "UNIQUE does not accept a value",
            ),
            (
                &["rack", "GROUP_BY", "many"],
                "GROUP BY must define an integer value",
            ),
            (&["rack", "MAX_PER"], "MAX_PER requires an integer value"),
            (&["rack", "LIKE"], "LIKE and UNLIKE require"),
            (
                &["rack", "LIKE", "(unclosed"],
                "is not a valid regular expression",
            ),
            (
                &["rack", "NEAR", "x"],
                "operator must be one of the following UNIQUE, CLUSTER",
            ),
        ];
        for (parts, message) in cases {
            let error = check(parts).unwrap_err();
            assert!(error.starts_with(message), "{parts:?}: {error}");
        }
        assert!(
            check(&["rack", "IS", "a b"])
                .unwrap_err()
                .starts_with("IS only supports")
        );
    }
}
