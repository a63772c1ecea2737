//! Human durations for CLI flags such as `--timeout 90s`.
//!
//! The grammar is a sequence of `NUMBER UNIT` pairs with no spaces, largest unit first, each
//! unit at most once: `500ms`, `90s`, `3m`, `1h`, `1m30s`, `1h2m3s`. Units are `h`, `m`, `s`
//! and `ms`. A bare number is rejected rather than guessed: `--timeout 90` could mean seconds
//! or milliseconds, and a wrong guess turns into a hang or an instant failure.

use std::time::Duration;

/// Units from largest to smallest; a duration must list them in this order.
const UNITS: [(&str, Duration); 4] = [
    ("h", Duration::from_secs(3600)),
    ("m", Duration::from_secs(60)),
    ("s", Duration::from_secs(1)),
    ("ms", Duration::from_millis(1)),
];

const EXPECTED: &str =
    "expected a duration such as 90s, 3m, 1h, 1m30s or 500ms (units: h, m, s, ms)";

/// Parses `90s`, `3m`, `1h`, `1m30s`, `500ms`, … into a [`Duration`].
///
/// The error is a complete sentence for the user; the signature fits clap's `value_parser`:
/// `#[arg(long, value_parser = parse_duration)]`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty duration: {EXPECTED}"));
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    // Index into UNITS of the last unit seen: the next one must be strictly smaller.
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("invalid duration `{text}`: {EXPECTED}"));
        }
        let (number, after) = rest.split_at(digits);
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(letters);
        if unit.is_empty() {
            return Err(if after.starts_with('.') {
                format!(
                    "invalid duration `{text}`: fractions are not supported, combine units instead (1m30s, not 1.5m)"
                )
            } else {
                format!("invalid duration `{text}`: `{number}` has no unit; {EXPECTED}")
            });
        }
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!(
                "invalid duration `{text}`: unknown unit `{unit}`; {EXPECTED}"
            ));
        };
        if last_unit.is_some_and(|last| index <= last) {
            return Err(format!(
                "invalid duration `{text}`: units must go from largest to smallest, each once (e.g. 1h2m3s)"
            ));
        }
        last_unit = Some(index);
        let too_long = || format!("invalid duration `{text}`: too long");
        let count: u32 = number.parse().map_err(|_| too_long())?;
        let part = UNITS[index].1.checked_mul(count).ok_or_else(too_long)?;
        total = total.checked_add(part).ok_or_else(too_long)?;
        rest = after;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        let cases = [
            ("90s", Duration::from_secs(90)),
            ("3m", Duration::from_secs(180)),
            ("1h", Duration::from_secs(3600)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1h2m3s", Duration::from_secs(3723)),
            ("1s500ms", Duration::from_millis(1500)),
            ("0s", Duration::ZERO),
            (" 10s ", Duration::from_secs(10)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("", "empty duration"),
            ("90", "`90` has no unit"),
            ("1.5m", "fractions are not supported"),
            ("5d", "unknown unit `d`"),
            ("5 s", "invalid duration `5 s`"),
            ("s", "invalid duration `s`"),
            ("-1s", "invalid duration `-1s`"),
            ("30s1m", "largest to smallest"),
            ("1m1m", "largest to smallest"),
            ("99999999999h", "too long"),
        ];
        for (text, want) in cases {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn works_as_a_clap_value_parser() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[arg(long, value_parser = parse_duration)]
            timeout: Duration,
        }
        let cli = Cli::try_parse_from(["x", "--timeout", "1m30s"]).unwrap();
        assert_eq!(cli.timeout, Duration::from_secs(90));
        let err = Cli::try_parse_from(["x", "--timeout", "90"]).err().unwrap();
        assert!(err.to_string().contains("has no unit"), "{err}");
    }
}
