//! Units written in scenario files: durations (`250ms`), rates (`10Mbit/s`), sizes (`64KiB`)
//! and probabilities (`0.01`).
//!
//! Every parser is exact (no floating point for durations, rates or sizes) so that a scenario
//! means the same microseconds on every machine, and every error says what was expected.

use core::fmt;
use core::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Splits `"12.5ms"` into its decimal number (`12`, `5`) and its unit (`ms`).
fn split_number(s: &str) -> Option<(&str, &str, &str)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(s.len(), |(i, _)| i);
    let (number, unit) = s.split_at(end);
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if number.contains('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some((int, frac, unit.trim()))
}

/// `int.frac × scale`, exactly, or `None` if it overflows or is not a whole number.
fn scaled(int: &str, frac: &str, scale: u128) -> Option<u128> {
    let int: u128 = int.parse().ok()?;
    let mut value = int.checked_mul(scale)?;
    if !frac.is_empty() {
        if frac.len() > 30 {
            return None;
        }
        let digits: u128 = frac.parse().ok()?;
        let denom = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
        let part = digits.checked_mul(scale)?;
        if part % denom != 0 {
            return None;
        }
        value = value.checked_add(part / denom)?;
    }
    Some(value)
}

/// Parses a duration such as `250ms`, `1.5s`, `100us`, `2min`, `1h` or `0`, to the microsecond.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let expected = "expected a duration such as 250ms, 1.5s, 100us, 2min or 1h";
    let (int, frac, unit) = split_number(s).ok_or_else(|| format!("`{s}`: {expected}"))?;
    let scale: u128 = match unit {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "min" => 60_000_000,
        "h" => 3_600_000_000,
        "" if int.bytes().all(|b| b == b'0') && frac.bytes().all(|b| b == b'0') => 1,
        "" => return Err(format!("`{s}`: a duration needs a unit; {expected}")),
        _ => return Err(format!("`{s}`: unknown unit `{unit}`; {expected}")),
    };
    let micros = scaled(int, frac, scale)
        .ok_or_else(|| format!("`{s}`: too large or finer than a microsecond"))?;
    let micros = u64::try_from(micros).map_err(|_| format!("`{s}`: too large"))?;
    Ok(Duration::from_micros(micros))
}

/// Parses a rate such as `10Mbit/s`, `512kbit/s` or `1MB/s` into bits per second (SI prefixes).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let expected = "expected a rate such as 10Mbit/s, 512kbit/s, 64kB/s or 1Gbit/s";
    let (int, frac, unit) = split_number(s).ok_or_else(|| format!("`{s}`: {expected}"))?;
    let scale: u128 = match unit {
        "bit/s" => 1,
        "kbit/s" => 1_000,
        "Mbit/s" => 1_000_000,
        "Gbit/s" => 1_000_000_000,
        "B/s" => 8,
        "kB/s" => 8_000,
        "MB/s" => 8_000_000,
        "GB/s" => 8_000_000_000,
        _ => return Err(format!("`{s}`: unknown unit `{unit}`; {expected}")),
    };
    let bits = scaled(int, frac, scale)
        .ok_or_else(|| format!("`{s}`: too large or not a whole number of bits per second"))?;
    let bits = u64::try_from(bits).map_err(|_| format!("`{s}`: too large"))?;
    if bits == 0 {
        return Err(format!("`{s}`: a rate must be above zero"));
    }
    Ok(bits)
}

/// Parses a size such as `64KiB`, `1500B`, `100kB` or a bare number of bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let expected = "expected a size such as 1500B, 64KiB, 100kB or 1MiB";
    let (int, frac, unit) = split_number(s).ok_or_else(|| format!("`{s}`: {expected}"))?;
    let scale: u128 = match unit {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "KiB" => 1_024,
        "MB" => 1_000_000,
        "MiB" => 1_048_576,
        _ => return Err(format!("`{s}`: unknown unit `{unit}`; {expected}")),
    };
    let bytes =
        scaled(int, frac, scale).ok_or_else(|| format!("`{s}`: too large or not whole bytes"))?;
    u64::try_from(bytes).map_err(|_| format!("`{s}`: too large"))
}

/// A duration read from a scenario file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurationValue(pub Duration);

/// A rate in bits per second read from a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate(pub u64);

/// A size in bytes read from a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

/// A probability in `0..=1` read from a scenario file.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Probability(pub f64);

impl Probability {
    /// Checks that `p` is a finite number in `0..=1`.
    pub fn new(p: f64) -> Result<Probability, String> {
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            Ok(Probability(p))
        } else {
            Err(format!(
                "{p} is not a probability: expected a number from 0 to 1"
            ))
        }
    }
}

/// A bound on a count read from a scenario file: `3` (exactly), `>=1`, `>2`, `<=5`, `<5` or
/// `2..8` (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// The least count allowed.
    pub min: u64,
    /// The largest count allowed, if any.
    pub max: Option<u64>,
}

impl Count {
    /// Exactly `n`.
    pub fn exactly(n: u64) -> Count {
        Count {
            min: n,
            max: Some(n),
        }
    }

    /// At least `n`.
    pub fn at_least(n: u64) -> Count {
        Count { min: n, max: None }
    }

    /// Whether `n` is within the bound.
    pub fn admits(self, n: u64) -> bool {
        n >= self.min && self.max.is_none_or(|m| n <= m)
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(m) if m == self.min => write!(f, "{m}"),
            Some(m) if self.min == 0 => write!(f, "<={m}"),
            Some(m) => write!(f, "{}..{m}", self.min),
            None => write!(f, ">={}", self.min),
        }
    }
}

/// Parses a count bound (see [`Count`]).
pub fn parse_count(s: &str) -> Result<Count, String> {
    let s = s.trim();
    let number = |t: &str| -> Result<u64, String> {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{s}`: expected a count such as 3, >=1, >2, <=5, <5 or 2..8"))
    };
    if let Some(rest) = s.strip_prefix(">=") {
        return Ok(Count::at_least(number(rest)?));
    }
    if let Some(rest) = s.strip_prefix("<=") {
        return Ok(Count {
            min: 0,
            max: Some(number(rest)?),
        });
    }
    if let Some(rest) = s.strip_prefix('>') {
        let n = number(rest)?;
        let min = n
            .checked_add(1)
            .ok_or_else(|| format!("`{s}`: too large"))?;
        return Ok(Count::at_least(min));
    }
    if let Some(rest) = s.strip_prefix('<') {
        let n = number(rest)?;
        let max = n
            .checked_sub(1)
            .ok_or_else(|| format!("`{s}`: no count is below 0"))?;
        return Ok(Count {
            min: 0,
            max: Some(max),
        });
    }
    if let Some((a, b)) = s.split_once("..") {
        let (min, max) = (number(a)?, number(b)?);
        if min > max {
            return Err(format!("`{s}`: the range is empty"));
        }
        return Ok(Count {
            min,
            max: Some(max),
        });
    }
    Ok(Count::exactly(number(s)?))
}

/// A visitor that accepts a string (or a bare integer, rendered as a string) and parses it.
struct StrVisitor<T> {
    what: &'static str,
    parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor {
            what: "a duration such as 250ms or 10s",
            parse: |s| parse_duration(s).map(DurationValue),
        })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor {
            what: "a rate such as 10Mbit/s",
            parse: |s| parse_rate(s).map(Rate),
        })
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor {
            what: "a size such as 64KiB or 1500",
            parse: |s| parse_size(s).map(Size),
        })
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor {
            what: "a count such as 3, >=1, <=5 or 2..8",
            parse: parse_count,
        })
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = f64::deserialize(d)?;
        Probability::new(p).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_exact_to_the_microsecond() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_micros(1_500_000)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.000001s"), Ok(Duration::from_micros(1)));
    }

    #[test]
    fn bad_durations_say_what_was_expected() {
        for bad in [
            "",
            "10",
            "ms",
            "1.ms",
            "-1s",
            "1e3ms",
            "5 parsecs",
            "0.0000001s",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn rates_are_bits_per_second_with_si_prefixes() {
        assert_eq!(parse_rate("10Mbit/s"), Ok(10_000_000));
        assert_eq!(parse_rate("1.5Mbit/s"), Ok(1_500_000));
        assert_eq!(parse_rate("64kB/s"), Ok(512_000));
        assert!(parse_rate("0Mbit/s").is_err());
        assert!(parse_rate("10Mbps").is_err());
    }

    #[test]
    fn sizes_accept_si_and_binary_prefixes() {
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("100kB"), Ok(100_000));
        assert_eq!(parse_size("1500"), Ok(1500));
        assert!(parse_size("1.5B").is_err());
    }

    #[test]
    fn counts_are_bounds() {
        assert_eq!(parse_count("3"), Ok(Count::exactly(3)));
        assert_eq!(parse_count(">=1"), Ok(Count::at_least(1)));
        assert_eq!(parse_count("> 1"), Ok(Count::at_least(2)));
        let at_most_4 = Count {
            min: 0,
            max: Some(4),
        };
        assert_eq!(parse_count("<5"), Ok(at_most_4));
        assert_eq!(parse_count("<=4"), Ok(at_most_4));
        let range = parse_count("2..8").expect("range");
        assert!(range.admits(2) && range.admits(8) && !range.admits(1) && !range.admits(9));
        assert_eq!(range.to_string(), "2..8");
        assert_eq!(at_most_4.to_string(), "<=4");
        for bad in ["", "x", "<0", "8..2", ">=-1", "1.5"] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn probabilities_are_checked() {
        assert!(Probability::new(0.0).is_ok());
        assert!(Probability::new(1.0).is_ok());
        assert!(Probability::new(1.01).is_err());
        assert!(Probability::new(-0.1).is_err());
        assert!(Probability::new(f64::NAN).is_err());
    }
}
