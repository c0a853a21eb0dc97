//! The scale form's fields, read from a POSTed body: the one piece of the
//! page that takes input from anyone who can reach it.

/// What a POST of the scale form carries.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScaleForm {
    /// The token against forged forms, if the form has one.
    pub csrf: Option<String>,
    /// The new instance count, as typed (checked by [`parse_instances`]).
    pub instances: String,
    /// Scale even if a deployment holds the app (`?force=true` of the API).
    pub force: bool,
}

impl ScaleForm {
    /// Reads an `application/x-www-form-urlencoded` body. Other fields
    /// are ignored; of a field given twice, the last counts.
    pub fn read(body: &[u8]) -> ScaleForm {
        let mut form = ScaleForm::default();
        for (key, value) in form_urlencoded::parse(body) {
            match &*key {
                "csrf" => form.csrf = Some(value.into_owned()),
                "instances" => form.instances = value.into_owned(),
                // Only the page's own button sends it, as "true".
                "force" => form.force = value == "true",
                _ => {}
            }
        }
        form
    }
}

/// The form's instance count: a whole number that fits an app's
/// `instances` (Marathon's is an `Int`; 5K's an unsigned one).
pub fn parse_instances(raw: &str) -> Result<u32, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Enter how many instances to run.".into());
    }
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{raw:?} is not a whole number."));
    }
    if raw.starts_with('-') {
        return Err("The number of instances cannot be negative.".into());
    }
    raw.parse::<u32>()
        .map_err(|_| format!("At most {} instances can be asked for.", u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_whole_numbers_that_fit() {
        assert_eq!(parse_instances("3"), Ok(3));
        assert_eq!(parse_instances(" 0 "), Ok(0));
        assert_eq!(parse_instances("4294967295"), Ok(u32::MAX));
        let refused = [
            ("", "Enter how many"),
            ("   ", "Enter how many"),
            ("three", "not a whole number"),
            ("2.5", "not a whole number"),
            ("+3", "not a whole number"),
            ("1e3", "not a whole number"),
            ("-", "not a whole number"),
            ("-1", "cannot be negative"),
            ("4294967296", "At most 4294967295"),
            ("99999999999999999999999", "At most"),
        ];
        for (raw, reason) in refused {
            let error = parse_instances(raw).unwrap_err();
            assert!(error.contains(reason), "{raw:?}: {error}");
        }
    }

    #[test]
    fn the_form_is_read_field_by_field() {
        let form = ScaleForm::read(b"instances=+3+&csrf=a%2Bb&other=x&instances=4&force=true");
        assert_eq!(
            form,
            ScaleForm {
                csrf: Some("a+b".into()),
                instances: "4".into(),
                force: true,
            },
            "the last of a field given twice; spaces and %-escapes decoded"
        );
        assert!(
            !ScaleForm::read(b"force=yes").force,
            "only the button's value forces"
        );
        assert!(!ScaleForm::read(b"force=").force);
        assert_eq!(ScaleForm::read(b"%FF=%FF&=&&"), ScaleForm::default());
    }
}
