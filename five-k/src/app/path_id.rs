//! App ids: paths such as `/shop/web`, as Marathon's `PathId` reads them.
//!
//! Marathon groups apps in a tree, and an app's id is its path in that
//! tree. Clients send ids in many shapes (`web`, `/shop/web/`, `//web`,
//! `/shop/./web`), and the same app must be found whatever the shape, so
//! every id is brought to one canonical, absolute form before it is used
//! (`PathId.apply` and `canonicalPath` in Marathon's `state/PathId.scala`).
//!
//! Each segment must be a lowercase DNS name (labels of letters, digits and
//! hyphens, joined by dots): service discovery turns app ids into host
//! names, and the id appears in Mesos task ids.

use std::fmt;

/// The last segments Marathon refuses: they would collide with the API's
/// own routes (`/v2/apps/web/restart` restarts `/web`).
const RESERVED: [&str; 3] = ["restart", "tasks", "versions"];

/// The regular expression Marathon names in its error message, kept word
/// for word so that clients see the same text.
pub const SEGMENT_PATTERN: &str = r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$";

/// A canonical, absolute app id: `/` followed by segments.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathId {
    segments: Vec<String>,
}

/// Why an id was refused, in Marathon's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPathId(pub String);

impl fmt::Display for InvalidPathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PathId {
    /// Reads an id as a client sent it: leading, trailing and doubled `/`
    /// dropped, `.` and `..` resolved, a relative id taken from the root.
    /// It is not validated: see [`PathId::validate`].
    pub fn parse(text: &str) -> PathId {
        let mut segments: Vec<String> = Vec::new();
        for segment in text.split('/').filter(|s| !s.is_empty()) {
            match segment {
                "." => {}
                ".." => {
                    segments.pop();
                }
                _ => segments.push(segment.to_string()),
            }
        }
        PathId { segments }
    }

    /// Refuses what Marathon's `pathIdValidator` and `nonEmptyPath` refuse.
    pub fn validate(&self) -> Result<(), InvalidPathId> {
        if self.segments.is_empty() {
            return Err(InvalidPathId(
                "Path must contain at least one path element".into(),
            ));
        }
        if !self.segments.iter().all(|s| is_valid_segment(s)) {
            return Err(InvalidPathId(format!(
                "must fully match regular expression '{SEGMENT_PATTERN}'"
            )));
        }
        if self
            .segments
            .last()
            .is_some_and(|last| RESERVED.contains(&last.as_str()))
        {
            return Err(InvalidPathId(format!(
                "must not end with any of the following reserved keywords: {}",
                RESERVED.join(", ")
            )));
        }
        Ok(())
    }

    /// The id with `/` replaced by `_` and no leading one, as Marathon puts
    /// it in front of its task ids (`safePath`): `/shop/web` → `shop_web`.
    /// `_` never appears in a segment, so a task id names its app.
    pub fn safe_path(&self) -> String {
        self.segments.join("_")
    }

    /// The segments, root first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }
}

/// One segment: dot-separated labels of `a-z`, `0-9` and `-`, neither
/// starting nor ending with `-`.
fn is_valid_segment(segment: &str) -> bool {
    segment.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for segment in &self.segments {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for PathId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PathId {
    /// Stored ids were validated when they were stored.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(PathId::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_app_id(text: &str) -> Result<PathId, InvalidPathId> {
        let id = PathId::parse(text);
        id.validate()?;
        Ok(id)
    }

    #[test]
    fn every_shape_of_an_id_becomes_one_canonical_path() {
        for shape in [
            "web",
            "/web",
            "//web",
            "/web/",
            "/shop/../web",
            "./web",
            "/a/./../web",
        ] {
            assert_eq!(PathId::parse(shape).to_string(), "/web", "{shape}");
        }
        assert_eq!(PathId::parse("shop//web").to_string(), "/shop/web");
        assert_eq!(PathId::parse("/../web").to_string(), "/web");
    }

    #[test]
    fn segments_are_lowercase_dns_names() {
        for good in ["/web", "/shop/web-1", "/a.b.c", "/0", "/x-y.z9"] {
            assert_eq!(parse_app_id(good).map(|p| p.to_string()), Ok(good.into()));
        }
        for bad in [
            "/Web", "/web_1", "/-web", "/web-", "/a..b", "/a.", "/.a", "/we b", "/ü",
        ] {
            let error = parse_app_id(bad).unwrap_err();
            assert!(
                error.0.starts_with("must fully match regular expression"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn the_api_routes_last_words_and_the_root_are_refused() {
        for reserved in ["/web/restart", "/tasks", "/a/versions"] {
            let error = parse_app_id(reserved).unwrap_err();
            assert!(
                error
                    .0
                    .contains("reserved keywords: restart, tasks, versions")
            );
        }
        assert!(parse_app_id("/shop/restart/web").is_ok());
        for empty in ["", "/", "//", "/web/.."] {
            assert_eq!(
                parse_app_id(empty).unwrap_err().0,
                "Path must contain at least one path element"
            );
        }
    }

    #[test]
    fn the_safe_path_joins_segments_with_underscores() {
        assert_eq!(PathId::parse("/shop.eu/web-1").safe_path(), "shop.eu_web-1");
    }
}
