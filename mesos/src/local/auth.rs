//! HTTP basic authentication of frameworks, as a master started with
//! `--authenticate_http_frameworks --http_framework_authenticators=basic
//! --credentials=<file>` does it.
//!
//! libprocess authenticates a request before the master's handler sees it
//! (`BasicAuthenticatorProcess::authenticate` in
//! `3rdparty/libprocess/src/authenticator.cpp`): no `Authorization`
//! header, a scheme other than `Basic`, bad base64, anything but exactly
//! one `:` in the decoded text, or a wrong principal or secret all get the
//! same answer, `401` with `WWW-Authenticate: Basic
//! realm="mesos-master-scheduler"` (`DEFAULT_HTTP_FRAMEWORK_AUTHENTICATION_REALM`,
//! `src/master/constants.hpp`) and the body `401 Unauthorized.`. A request
//! that passes carries its principal on to the handler, which compares it
//! with `FrameworkInfo.principal` (`validation::scheduler::call::validate`
//! and `Master::Http::scheduler`).

use std::collections::BTreeMap;

use base64::Engine;
use http::{HeaderMap, header};

use crate::credentials::Credentials;

/// The realm of the scheduler API.
pub(crate) const REALM: &str = "mesos-master-scheduler";

/// The `WWW-Authenticate` challenge of a `401`.
pub(crate) fn challenge() -> String {
    format!("Basic realm=\"{REALM}\"")
}

/// The body libprocess' `Unauthorized` response carries.
pub(crate) const UNAUTHORIZED_BODY: &str = "401 Unauthorized.";

/// The principals a master accepts, and their secrets.
#[derive(Clone, Default)]
pub(crate) struct Authenticator {
    secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The principals only: secrets never reach a log.
        f.debug_set().entries(self.secrets.keys()).finish()
    }
}

impl Authenticator {
    pub(crate) fn new(credentials: &[Credentials]) -> Self {
        Authenticator {
            secrets: credentials
                .iter()
                .map(|c| (c.principal.clone(), c.secret.clone()))
                .collect(),
        }
    }

    /// The authenticated principal, or `None` if the request must get a
    /// `401`.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let components: Vec<&str> = value.split(' ').collect();
        let [scheme, token] = components[..] else {
            return None;
        };
        if scheme != "Basic" {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let credential: Vec<&str> = decoded.split(':').collect();
        let [principal, secret] = credential[..] else {
            return None;
        };
        (self.secrets.get(principal)? == secret).then(|| principal.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn basic(text: &str) -> HeaderMap {
        with(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        ))
    }

    #[test]
    fn only_a_known_principal_with_its_secret_passes() {
        let authenticator =
            Authenticator::new(&[Credentials::new("fw".into(), "s3cret".into()).unwrap()]);
        assert_eq!(
            authenticator.authenticate(&basic("fw:s3cret")).as_deref(),
            Some("fw")
        );
        for refused in [
            basic("fw:wrong"),
            basic("other:s3cret"),
            basic("fw:s3cret:"),
            basic("fw"),
            with("Bearer abc"),
            with("Basic !!!"),
            with(&format!(
                "basic {}",
                base64::engine::general_purpose::STANDARD.encode("fw:s3cret")
            )),
            HeaderMap::new(),
        ] {
            assert_eq!(authenticator.authenticate(&refused), None, "{refused:?}");
        }
    }
}
