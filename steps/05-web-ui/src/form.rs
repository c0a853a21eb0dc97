//! The form's fields, read from a POSTed body: the one piece of the page
//! that takes input from anyone who can reach it. Kept apart from the
//! server so that the fuzz targets (`fuzz/`) can include it as it is.

/// What a POST of the page's form carries.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Form {
    /// The token against forged forms, if the form has one.
    pub csrf: Option<String>,
    /// The number of tasks, as typed (checked by [`parse_count`]).
    pub instances: String,
}

impl Form {
    /// Reads an `application/x-www-form-urlencoded` body. Other fields
    /// are ignored; of a field given twice, the last counts.
    pub fn read(body: &[u8]) -> Form {
        let mut form = Form::default();
        for (key, value) in form_urlencoded::parse(body) {
            match &*key {
                "csrf" => form.csrf = Some(value.into_owned()),
                "instances" => form.instances = value.into_owned(),
                _ => {}
            }
        }
        form
    }
}

/// The form's number of tasks: a whole number from 0 to `max`.
pub fn parse_count(raw: &str, max: usize) -> Result<usize, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Enter how many tasks to run.".into());
    }
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{raw:?} is not a whole number."));
    }
    if raw.starts_with('-') {
        return Err("The number of tasks cannot be negative.".into());
    }
    match raw.parse::<usize>() {
        Ok(count) if count <= max => Ok(count),
        _ => Err(format!("At most {max} tasks can run (--max-instances).")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_takes_whole_numbers_up_to_the_maximum() {
        assert_eq!(parse_count("3", 100), Ok(3));
        assert_eq!(parse_count(" 0 ", 100), Ok(0));
        assert_eq!(parse_count("100", 100), Ok(100));
        let refused = [
            ("", "Enter how many"),
            ("   ", "Enter how many"),
            ("three", "not a whole number"),
            ("2.5", "not a whole number"),
            ("1e3", "not a whole number"),
            ("-", "not a whole number"),
            ("-1", "cannot be negative"),
            ("101", "At most 100"),
            ("99999999999999999999999", "At most 100"),
        ];
        for (raw, reason) in refused {
            let error = parse_count(raw, 100).unwrap_err();
            assert!(error.contains(reason), "{raw:?}: {error}");
        }
    }

    #[test]
    fn the_form_is_read_field_by_field() {
        let form = Form::read(b"instances=+3+&csrf=a%2Bb&other=x&instances=4");
        assert_eq!(form.csrf.as_deref(), Some("a+b"));
        assert_eq!(form.instances, "4", "the last of a field given twice");
        assert_eq!(Form::read(b"%FF=%FF"), Form::default());
    }
}
