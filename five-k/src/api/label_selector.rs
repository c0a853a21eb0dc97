//! `label=` of `GET /v2/apps`: which apps to list by their labels.
//!
//! Marathon's grammar (`LabelSelector.scala`), several selectors joined by
//! commas, all of which must hold:
//! - `tier`: the label exists;
//! - `tier==web`, `tier!=web`: it exists and has (or has not) that value;
//! - `env in (prod, qa)`, `env notin (dev)`: it exists and its value is
//!   (or is not) one of those.
//!
//! Labels and values are made of `A-Z a-z 0-9 - _ .`; any other character
//! is written with a backslash before it (`\!\!`). A selector that does not
//! parse is Marathon's 422 "Can not parse label selector …".

use std::collections::BTreeMap;

use axum::http::StatusCode;

use super::error::ApiError;

/// Every selector of one `label=`.
#[derive(Debug, PartialEq)]
pub struct LabelSelector(Vec<Selector>);

#[derive(Debug, PartialEq)]
struct Selector {
    key: String,
    test: Test,
}

#[derive(Debug, PartialEq)]
enum Test {
    Exists,
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        Parser { rest: text }.selectors().map_err(|reason| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Can not parse label selector {text}. Reason: {reason}"),
            )
        })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|selector| {
            // Every kind of selector, `!=` and `notin` too, wants the label.
            labels
                .get(&selector.key)
                .is_some_and(|value| match &selector.test {
                    Test::Exists => true,
                    Test::Equals(wanted) => value == wanted,
                    Test::NotEquals(wanted) => value != wanted,
                    Test::In(set) => set.contains(value),
                    Test::NotIn(set) => !set.contains(value),
                })
        })
    }
}

/// A recursive-descent reader of the grammar above.
struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn selectors(&mut self) -> Result<LabelSelector, String> {
        let mut selectors = Vec::new();
        self.skip_spaces();
        if self.rest.is_empty() {
            return Ok(LabelSelector(selectors));
        }
        loop {
            selectors.push(self.selector()?);
            self.skip_spaces();
            if self.rest.is_empty() {
                return Ok(LabelSelector(selectors));
            }
            if !self.eat(",") {
                return Err(format!("',' expected but '{}' found", self.next_char()));
            }
        }
    }

    fn selector(&mut self) -> Result<Selector, String> {
        let key = self.term()?;
        self.skip_spaces();
        let test = if self.eat("==") {
            Test::Equals(self.term()?)
        } else if self.eat("!=") {
            Test::NotEquals(self.term()?)
        } else if self.eat("notin") {
            Test::NotIn(self.set()?)
        } else if self.eat("in") {
            Test::In(self.set()?)
        } else {
            Test::Exists
        };
        Ok(Selector { key, test })
    }

    /// `( term {, term} )`, possibly empty.
    fn set(&mut self) -> Result<Vec<String>, String> {
        self.skip_spaces();
        if !self.eat("(") {
            return Err(format!("'(' expected but '{}' found", self.next_char()));
        }
        let mut terms = Vec::new();
        self.skip_spaces();
        if self.eat(")") {
            return Ok(terms);
        }
        loop {
            terms.push(self.term()?);
            self.skip_spaces();
            if self.eat(")") {
                return Ok(terms);
            }
            if !self.eat(",") {
                return Err(format!("')' expected but '{}' found", self.next_char()));
            }
        }
    }

    /// A label or a value, backslash escapes resolved.
    fn term(&mut self) -> Result<String, String> {
        self.skip_spaces();
        let mut term = String::new();
        let mut chars = self.rest.char_indices();
        let mut end = self.rest.len();
        while let Some((index, c)) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some((_, escaped)) => term.push(escaped),
                    None => return Err("a character expected after '\\'".into()),
                }
            } else if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                term.push(c);
            } else {
                end = index;
                break;
            }
        }
        if term.is_empty() {
            return Err(format!("a label expected but '{}' found", self.next_char()));
        }
        self.rest = &self.rest[end..];
        Ok(term)
    }

    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn next_char(&self) -> String {
        self.rest
            .chars()
            .next()
            .map_or("end of input".into(), String::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn selects(selector: &str, app: &[(&str, &str)]) -> bool {
        LabelSelector::parse(selector)
            .unwrap()
            .matches(&labels(app))
    }

    #[test]
    fn each_kind_of_selector_as_marathon_reads_it() {
        let web = [("tier", "web"), ("env", "prod")];
        assert!(selects("tier", &web));
        assert!(!selects("owner", &web));
        assert!(selects("tier==web", &web));
        assert!(selects(" tier == web ", &web));
        assert!(!selects("tier==db", &web));
        assert!(selects("tier!=db", &web));
        // A missing label fails `!=` and `notin` too (LabelSelector.matches).
        assert!(!selects("owner!=me", &web));
        assert!(!selects("owner notin (me)", &web));
        assert!(selects("env in (qa, prod)", &web));
        assert!(!selects("env notin (qa,prod)", &web));
        assert!(selects("env notin (qa)", &web));
        assert!(selects("tier==web, env in (prod), tier", &web));
        assert!(!selects("tier==web, env==qa", &web));
        assert!(selects("", &web));
    }

    #[test]
    fn other_characters_are_escaped_with_a_backslash() {
        let odd = [("!!!", "a b"), ("x", "&&&")];
        assert!(selects(r"\!\!\!==a\ b", &odd));
        assert!(selects(r"x in (\-\-\-, \&\&\&)", &odd));
    }

    #[test]
    fn a_selector_that_does_not_parse_is_a_422() {
        for bad in [
            "tier==",
            "env in prod",
            "env in (qa",
            "a b",
            "==x",
            "x,",
            r"x\",
        ] {
            let error = LabelSelector::parse(bad).unwrap_err();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
            let message = error.body["message"].as_str().unwrap();
            assert!(
                message.starts_with(&format!("Can not parse label selector {bad}. Reason: ")),
                "{message}"
            );
        }
    }
}
