//! `--since T`, one syntax for every runtime: a duration ago (`10m`), an
//! RFC 3339 time (`2026-11-26T10:00:00Z`) or Unix seconds (`@1700000000`).
//! Parsed once, into Unix seconds, when the command line is read; each
//! runtime gets the instant, not the text.

use crate::{duration, timefmt};

/// What `--since` accepts, for error messages and help.
pub const FORMS: &str =
    "a duration ago (10m), an RFC 3339 time (2026-11-26T10:00:00Z) or @UNIX seconds";

/// Unix seconds of `text`, with `now` for durations.
pub fn parse(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Some(unix) = text.strip_prefix('@') {
        return unix
            .parse::<i64>()
            .map_err(|_| format!("`{text}` is not @UNIX seconds; --since takes {FORMS}"));
    }
    // A bare number too large to be meant as seconds ago is a Unix time,
    // as it was before (VM logs took one).
    if let Ok(secs) = text.parse::<i64>()
        && secs > 1_000_000_000
    {
        return Ok(secs);
    }
    if let Some(t) = timefmt::parse_rfc3339(text) {
        return Ok(t);
    }
    if text.contains('-') || text.contains(':') {
        return Err(format!(
            "`{text}` is not an RFC 3339 time (e.g. 2026-11-26T10:00:00Z, with Z or an offset like +01:00)"
        ));
    }
    match duration::parse(text) {
        Ok(ago) => Ok(now.saturating_sub(i64::try_from(ago.as_secs()).unwrap_or(i64::MAX))),
        Err(_) => Err(format!("`{text}` is not a time; --since takes {FORMS}")),
    }
}

/// The clap value parser for `--since`.
pub fn arg(text: &str) -> Result<i64, String> {
    parse(text, timefmt::unix_now())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_671_546;

    #[test]
    fn every_form_gives_the_same_instant() {
        let t = NOW - 600;
        assert_eq!(parse("10m", NOW), Ok(t));
        assert_eq!(parse(&format!("@{t}"), NOW), Ok(t));
        assert_eq!(parse(&t.to_string(), NOW), Ok(t));
        assert_eq!(parse(&timefmt::rfc3339(t), NOW), Ok(t));
        assert_eq!(parse("2026-11-26T06:29:06+01:00", NOW), Ok(t));
        assert_eq!(parse("0s", NOW), Ok(NOW));
        assert_eq!(parse("@0", NOW), Ok(0));
    }

    #[test]
    fn bad_times_say_what_is_accepted() {
        let err = parse("yesterday", NOW).unwrap_err();
        assert!(err.contains("RFC 3339") && err.contains("@UNIX"), "{err}");
        let err = parse("2026-11-26T10:00:00", NOW).unwrap_err();
        assert!(err.contains("with Z or an offset"), "{err}");
        assert!(parse("@soon", NOW).is_err());
        assert!(parse("", NOW).is_err());
    }
}
