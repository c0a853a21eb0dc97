//! Query parameters as Marathon's clients send them.
//!
//! Booleans come in any case (marathon-python sends `force=True`), and
//! `embed` may be repeated (`embed=app.tasks&embed=app.counts`), so the
//! query is read by hand rather than into a struct.

use super::error::ApiError;

pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Query { pairs }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter, `default` when absent; anything but true or
    /// false (in any case) is refused.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(value) => Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                format!("Query parameter {name} must be true or false, not {value:?}"),
            )),
        }
    }
}

/// What `embed=` asks to include in apps, whatever its prefix.
#[derive(Default, Clone, Copy, Debug, PartialEq)]
pub struct Embed {
    pub tasks: bool,
    pub last_task_failure: bool,
}

impl Embed {
    /// Counts and deployments are always included (marathon-python reads
    /// them); `tasks` and `lastTaskFailure` on request. Unknown values are
    /// ignored, as Marathon does.
    pub fn parse(query: &Query) -> Embed {
        let mut embed = Embed::default();
        for value in query.all("embed") {
            let name = ["group.apps.", "apps.", "app."]
                .iter()
                .find_map(|prefix| value.strip_prefix(prefix))
                .unwrap_or(value);
            match name {
                "tasks" => embed.tasks = true,
                "lastTaskFailure" | "failures" => embed.last_task_failure = true,
                _ => {}
            }
        }
        embed
    }

    pub fn everything() -> Embed {
        Embed {
            tasks: true,
            last_task_failure: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_in_any_case_and_nothing_else() {
        let query = Query::parse(Some("force=True&scale=FALSE&wipe=maybe"));
        assert!(query.flag("force", false).unwrap());
        assert!(!query.flag("scale", true).unwrap());
        assert!(query.flag("absent", true).unwrap());
        assert_eq!(query.flag("wipe", false).unwrap_err().status.as_u16(), 400);
    }

    #[test]
    fn embed_reads_every_prefix_and_ignores_the_unknown() {
        for raw in [
            "embed=app.tasks",
            "embed=apps.tasks",
            "embed=group.apps.tasks",
            "embed=tasks",
        ] {
            assert!(Embed::parse(&Query::parse(Some(raw))).tasks, "{raw}");
        }
        let embed = Embed::parse(&Query::parse(Some(
            "embed=app.counts&embed=app.failures&embed=nonsense",
        )));
        assert_eq!(
            embed,
            Embed {
                tasks: false,
                last_task_failure: true
            }
        );
    }
}
