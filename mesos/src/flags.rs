//! Checking a framework's flags and environment values before anything
//! starts.
//!
//! A bad value found after a scheduler has subscribed costs more than a
//! refused start: a `--cpus -1` task that no offer can ever fit leaves the
//! framework waiting for ever, silently. So every value is checked while
//! the flags are parsed, and a bad one ends the program at once with what
//! is wrong and exit code 2, the code of a usage error (clap's own, and
//! `sysexits`' `EX_USAGE` spirit): scripts can tell "you called me wrong"
//! from "I failed while running" (1).
//!
//! The `fn(&str) -> Result<T, String>` functions here are clap value
//! parsers (`#[arg(value_parser = mesos::flags::positive)]`): clap prints
//! their message with the flag's name and exits with 2. What can only be
//! checked after parsing (values that depend on each other, the
//! environment) goes through [`usage_error`], which does the same.

use std::{fmt::Display, net::SocketAddr, path::Path};

use crate::credentials::Credentials;

/// The exit code of a usage error, as clap's.
pub const USAGE_ERROR: i32 = 2;

/// Ends the program as clap ends it for a bad flag: the message on
/// stderr, exit code 2.
pub fn usage_error(message: impl Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(USAGE_ERROR)
}

/// A number more than zero (CPUs, memory, intervals).
pub fn positive(value: &str) -> Result<f64, String> {
    let number = number(value)?;
    if number > 0.0 {
        Ok(number)
    } else {
        Err(format!("{value:?} must be more than zero"))
    }
}

/// A number of zero or more (a failover timeout).
pub fn non_negative(value: &str) -> Result<f64, String> {
    let number = number(value)?;
    if number >= 0.0 {
        Ok(number)
    } else {
        Err(format!("{value:?} cannot be negative"))
    }
}

/// A whole number of seconds, at least one.
pub fn seconds(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(0) => Err(format!("{value:?} must be at least 1 second")),
        Ok(seconds) => Ok(seconds),
        Err(_) => Err(format!("{value:?} is not a whole number of seconds")),
    }
}

/// Text that is not empty nor only blanks, without control characters
/// (a name, a user, a command).
pub fn text(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("cannot be empty".into());
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(format!("{value:?} contains control characters"));
    }
    Ok(value.to_string())
}

/// An IP address and a port (`127.0.0.1:8088`, `0.0.0.0:8088`,
/// `[::1]:8088`). A host name such as `localhost` is refused, with an
/// example: which of its addresses to use would be a guess.
pub fn socket_addr(value: &str) -> Result<SocketAddr, String> {
    value.trim().parse().map_err(|_| {
        format!(
            "{value:?} is not an IP address with a port: e.g. 127.0.0.1:8088 (this machine \
             only) or 0.0.0.0:8088 (every network interface)"
        )
    })
}

/// A credential file for masters that authenticate frameworks
/// ([`Credentials::from_file`]). Its secret never appears in the error.
pub fn credential_file(value: &str) -> Result<Credentials, String> {
    Credentials::from_file(Path::new(value)).map_err(|e| e.to_string())
}

/// The credentials from `--credential`, else from `MESOS_PRINCIPAL` and
/// `MESOS_SECRET`; a usage error if those are set but unusable.
pub fn credentials(file: Option<Credentials>) -> Option<Credentials> {
    if file.is_some() {
        return file;
    }
    Credentials::load(None).unwrap_or_else(|error| usage_error(error))
}

fn number(value: &str) -> Result<f64, String> {
    let number: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if number.is_finite() {
        Ok(number)
    } else {
        Err(format!("{value:?} is not a finite number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_needs_an_ip_and_a_port_and_a_host_name_gets_an_example() {
        assert_eq!(socket_addr("0.0.0.0:8088").unwrap().port(), 8088);
        assert!(socket_addr("[::1]:8088").is_ok());
        for wrong in ["localhost", "localhost:8088", "127.0.0.1", ":8088"] {
            let error = socket_addr(wrong).unwrap_err();
            assert!(error.contains("e.g. 127.0.0.1:8088"), "{wrong}: {error}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(positive("0.5"), Ok(0.5));
        for bad in ["0", "-1", "NaN", "inf", "", "x"] {
            assert!(positive(bad).is_err(), "{bad}");
        }
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(non_negative("-0.1").is_err());
        assert!(non_negative("NaN").is_err());
        assert_eq!(seconds("15"), Ok(15));
        assert!(seconds("0").is_err());
        assert!(seconds("1.5").is_err());
    }

    #[test]
    fn texts() {
        assert_eq!(text("hello").as_deref(), Ok("hello"));
        assert!(text(" ").is_err());
        assert!(text("a\u{7}b").is_err());
    }
}
