//! A framework's principal and secret, for masters that authenticate
//! frameworks (`--authenticate_http_frameworks`).
//!
//! The secret is a password: it must never reach a log line, a panic
//! message or a `ps` listing. So it comes from a file or the environment,
//! never from a command-line flag, and [`Credentials`]' `Debug` prints only
//! the principal.
//!
//! The file has the form of Mesos' own `--credential` file (the agent's and
//! the C++ scheduler driver's, `src/credentials/credentials.hpp`):
//!
//! ```json
//! { "principal": "hello-mesos", "secret": "s3cret" }
//! ```

use std::path::{Path, PathBuf};

/// The environment variables [`Credentials::load`] falls back to.
pub const PRINCIPAL_ENV: &str = "MESOS_PRINCIPAL";
pub const SECRET_ENV: &str = "MESOS_SECRET";

/// A principal and secret for HTTP basic authentication.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub principal: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, not even in debug logs.
        f.debug_struct("Credentials")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Credentials that cannot be used. The messages never contain the secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the credential file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the credential file {path} is not usable: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl Credentials {
    /// Checks what basic authentication can carry. Mesos splits the decoded
    /// `principal:secret` at every `:` and wants exactly two parts
    /// (libprocess' `BasicAuthenticatorProcess::authenticate`), so a colon
    /// in either could never authenticate: better to say so at start-up
    /// than to be refused by the master.
    pub fn new(principal: String, secret: String) -> Result<Self, CredentialsError> {
        let invalid = |reason: &str| Err(CredentialsError::Invalid(reason.to_string()));
        if principal.is_empty() {
            return invalid("the principal is empty");
        }
        if principal.contains(':') || secret.contains(':') {
            return invalid(
                "the principal and secret cannot contain ':' (HTTP basic authentication)",
            );
        }
        if principal
            .chars()
            .chain(secret.chars())
            .any(char::is_control)
        {
            return invalid("control characters in the principal or secret");
        }
        Ok(Credentials { principal, secret })
    }

    /// The `Authorization` header of HTTP basic authentication.
    pub fn basic_authorization(&self) -> String {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.principal, self.secret));
        format!("Basic {token}")
    }

    /// Whether an `Authorization` header carries these credentials. The
    /// comparison takes as long whatever the header holds, so that its
    /// timing does not tell a guesser how much of a secret was right.
    pub fn authorizes(&self, header: Option<&http::HeaderValue>) -> bool {
        let expected = self.basic_authorization();
        let given = header.map_or(&[][..], |value| value.as_bytes());
        let mut difference = expected.len() ^ given.len();
        for (index, byte) in expected.bytes().enumerate() {
            difference |= usize::from(byte ^ given.get(index).copied().unwrap_or(0));
        }
        difference == 0
    }

    /// Reads a credential file (see the module's documentation).
    pub fn from_file(path: &Path) -> Result<Self, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // serde_json's messages quote no input, so the secret stays out.
        let parsed: Credentials =
            serde_json::from_str(&text).map_err(|e| CredentialsError::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "{e} (expected {{\"principal\": \"…\", \"secret\": \"…\"}}, as Mesos' --credential)"
                ),
            })?;
        Credentials::new(parsed.principal, parsed.secret)
    }

    /// The credentials of a framework: from `file` if given, else from
    /// `MESOS_PRINCIPAL` and `MESOS_SECRET` if set, else none (the master
    /// does not authenticate frameworks).
    pub fn load(file: Option<&Path>) -> Result<Option<Self>, CredentialsError> {
        if let Some(file) = file {
            return Credentials::from_file(file).map(Some);
        }
        let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        match (env(PRINCIPAL_ENV), env(SECRET_ENV)) {
            (None, None) => Ok(None),
            (Some(principal), Some(secret)) => Credentials::new(principal, secret).map(Some),
            (Some(_), None) => Err(CredentialsError::Invalid(format!(
                "{PRINCIPAL_ENV} is set but {SECRET_ENV} is not"
            ))),
            (None, Some(_)) => Err(CredentialsError::Invalid(format!(
                "{SECRET_ENV} is set but {PRINCIPAL_ENV} is not"
            ))),
        }
    }
}

/// The credentials a master accepts: Mesos' `--credentials` file,
/// `{"credentials": [{"principal": "…", "secret": "…"}, …]}`, at a path
/// or a `file://` URL (`src/credentials/credentials.hpp`). Like Mesos, an
/// empty file or list is an error: authentication without any credential
/// would refuse everyone.
pub fn read_credentials_file(path: &Path) -> Result<Vec<Credentials>, CredentialsError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        credentials: Vec<Credentials>,
    }
    let path = path
        .to_str()
        .and_then(|p| p.strip_prefix("file://"))
        .map_or(path, Path::new);
    let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let format = |reason: String| CredentialsError::Format {
        path: path.to_path_buf(),
        reason,
    };
    let file: File = serde_json::from_str(&text).map_err(|e| {
        format(format!(
            "{e} (expected {{\"credentials\": [{{\"principal\": \"…\", \"secret\": \"…\"}}]}})"
        ))
    })?;
    if file.credentials.is_empty() {
        return Err(format(
            "Credentials file must contain at least one credential".into(),
        ));
    }
    file.credentials
        .into_iter()
        .map(|c| Credentials::new(c.principal, c.secret))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_never_printed() {
        let credentials = Credentials::new("fw".into(), "hunter2".into()).unwrap();
        assert!(!format!("{credentials:?}").contains("hunter2"));
        assert!(format!("{credentials:?}").contains("fw"));
    }

    #[test]
    fn basic_authorization_headers() {
        let credentials = Credentials::new("principal".into(), "secret".into()).unwrap();
        // base64("principal:secret")
        let header = "Basic cHJpbmNpcGFsOnNlY3JldA==";
        assert_eq!(credentials.basic_authorization(), header);
        assert!(credentials.authorizes(Some(&http::HeaderValue::from_static(header))));
        for wrong in [
            "Basic cHJpbmNpcGFsOnNlY3JldA=",
            "Basic cHJpbmNpcGFsOnNlY3JldA==x",
            "",
        ] {
            assert!(!credentials.authorizes(Some(&http::HeaderValue::from_static(wrong))));
        }
        assert!(!credentials.authorizes(None));
    }

    #[test]
    fn files_in_mesos_credential_form() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credential");
        std::fs::write(&file, r#"{"principal": "fw", "secret": "hunter2"}"#).unwrap();
        let credentials = Credentials::from_file(&file).unwrap();
        assert_eq!(credentials.principal, "fw");
        assert_eq!(credentials.secret, "hunter2");

        for (text, expected) in [
            (r#"{"principal": "fw"}"#, "missing field `secret`"),
            (
                r#"{"principal": "fw", "secret": "a:b"}"#,
                "cannot contain ':'",
            ),
            (
                r#"{"principal": "", "secret": "x"}"#,
                "the principal is empty",
            ),
            ("principal hunter2", "expected {\"principal\""),
        ] {
            std::fs::write(&file, text).unwrap();
            let error = Credentials::from_file(&file).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
        let error = Credentials::from_file(&dir.path().join("none")).unwrap_err();
        assert!(matches!(error, CredentialsError::Read { .. }), "{error}");
    }

    #[test]
    fn masters_credentials_files_in_mesos_form() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials");
        std::fs::write(
            &file,
            r#"{"credentials": [{"principal": "a", "secret": "x"}, {"principal": "b", "secret": "y"}]}"#,
        )
        .unwrap();
        let read = read_credentials_file(&file).unwrap();
        assert_eq!(
            read.iter()
                .map(|c| c.principal.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        let url = format!("file://{}", file.display());
        assert_eq!(read_credentials_file(Path::new(&url)).unwrap(), read);
        for (text, expected) in [
            (r#"{"credentials": []}"#, "at least one credential"),
            ("", "expected {\"credentials\""),
            (
                r#"{"credentials": [{"principal": "a", "secret": "hunter:2"}]}"#,
                "cannot contain ':'",
            ),
        ] {
            std::fs::write(&file, text).unwrap();
            let error = read_credentials_file(&file).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("hunter"), "{error}");
        }
    }
}
