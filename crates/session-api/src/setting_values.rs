//! How setting values are read, and how a refused value is reported.
//!
//! The value parsers here say what is wrong with a value in words of the setting itself ("is
//! not a whole number of hours"); [`refused_value`] puts the name the user wrote in front of it:
//! the variable when the value came from the environment, the flag when it came from the
//! command line.

use std::net::IpAddr;

use clap::builder::{PossibleValuesParser, StringValueParser, TypedValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, Command};

/// What is wrong with a value, worded to follow it (`"abc" is not a whole number of hours`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Problem(pub String);

/// The spellings a boolean setting accepts, true ones first in each pair: those of clap's
/// `BoolishValueParser`, listed so that `--help` shows every one.
pub const BOOLEAN_SPELLINGS: [(&str, &str); 6] = [
    ("true", "false"),
    ("yes", "no"),
    ("on", "off"),
    ("1", "0"),
    ("y", "n"),
    ("t", "f"),
];

/// A boolean setting. The argument needs `ignore_case = true`, as `TRUE` and `Yes` are accepted.
pub fn boolean() -> impl TypedValueParser<Value = bool> {
    let spellings = BOOLEAN_SPELLINGS
        .iter()
        .flat_map(|(yes, no)| [*yes, *no])
        .collect::<Vec<_>>();
    PossibleValuesParser::new(spellings).map(|text| {
        let text = text.to_ascii_lowercase();
        BOOLEAN_SPELLINGS.iter().any(|(yes, _)| *yes == text)
    })
}

/// A whole number from `min` to `max` (no bound but the type's without `max`); `what` names
/// it in errors, such as "a whole number of hours".
pub fn whole<T>(what: &'static str, min: u64, max: Option<u64>) -> impl TypedValueParser<Value = T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    StringValueParser::new().try_map(move |text| {
        let number = text
            .parse::<u64>()
            .map_err(|_| Problem(format!("is not {what}")))?;
        let range = match max {
            Some(max) => format!("{min} to {max}"),
            None => format!("at least {min}"),
        };
        let out_of_range = || Problem(format!("is out of range ({range})"));
        if number < min || max.is_some_and(|max| number > max) {
            return Err(out_of_range());
        }
        T::try_from(number).map_err(|_| out_of_range())
    })
}

/// A decimal number; `what` names it in errors, such as "a number of requests per second".
pub fn decimal(what: &'static str) -> impl TypedValueParser<Value = f64> {
    StringValueParser::new().try_map(move |text| {
        text.parse::<f64>()
            .map_err(|_| Problem(format!("is not {what}")))
    })
}

/// A cookie name: an HTTP token (RFC 6265 section 4.1.1), that is one or more visible ASCII
/// characters other than the separators `()<>@,;:\"/[]?={}`.
pub fn cookie_name() -> impl TypedValueParser<Value = String> {
    StringValueParser::new().try_map(|text| {
        let separator = |b: u8| b"()<>@,;:\\\"/[]?={}".contains(&b);
        let token = !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic() && !separator(b));
        if token {
            Ok(text)
        } else {
            Err(Problem(
                "is not a cookie name (visible ASCII characters, none of ()<>@,;:\\\"/[]?={})"
                    .to_owned(),
            ))
        }
    })
}

/// An IP address to listen on.
pub fn ip_address() -> impl TypedValueParser<Value = IpAddr> {
    StringValueParser::new().try_map(|text| {
        text.parse::<IpAddr>().map_err(|_| {
            Problem("is not an IP address (such as 127.0.0.1, 0.0.0.0 or ::)".to_owned())
        })
    })
}

/// A clap error about a setting's value, in the user's own terms: `SESSION_TTL_HOURS: "abc" is
/// not a whole number of hours` when the value came from the environment,
/// `--session-ttl-hours: "abc" is not …` when it came from the command line.
///
/// `command` is the command that refused the value (built, or buildable), and `source` tells
/// where an argument's value came from. `None` when the error is not about one value (help,
/// version, an unknown flag): clap's own message is the right one then.
pub fn refused_value(
    error: &clap::Error,
    command: &mut Command,
    source: &dyn Fn(&Arg) -> Option<ValueSource>,
) -> Option<String> {
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(shown)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let Some(ContextValue::String(value)) = error.get(ContextKind::InvalidValue) else {
        return None;
    };
    // Built, as parsing builds it, so that each argument shows as in clap's errors.
    command.build();
    let arg = std::iter::once(&*command)
        .chain(command.get_subcommands())
        .flat_map(Command::get_arguments)
        .find(|arg| arg.to_string() == *shown)?;
    let name = match (source(arg), arg.get_env(), arg.get_long()) {
        (Some(ValueSource::EnvVariable), Some(variable), _) | (_, Some(variable), None) => {
            variable.to_string_lossy().into_owned()
        }
        (_, _, Some(long)) => format!("--{long}"),
        (_, None, None) => shown.clone(),
    };
    let problem = match (
        error.get(ContextKind::ValidValue),
        std::error::Error::source(error),
    ) {
        (Some(ContextValue::Strings(valid)), _) => format!("is not one of {}", valid.join(", ")),
        (_, Some(cause)) => match cause.downcast_ref::<Problem>() {
            Some(problem) => problem.to_string(),
            None => format!("is not valid: {cause}"),
        },
        (_, None) => "is not valid".to_owned(),
    };
    Some(format!("{name}: {value:?} {problem}"))
}
