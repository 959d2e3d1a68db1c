//! Simulated time as integer nanoseconds ([`SimTime`]), plus parsing and
//! printing of human durations such as `"250ms"`, `"1.5s"` or `"1h30m"`.
//!
//! Everything here is exact integer arithmetic so that simulations stay
//! deterministic; floats only appear at the explicit conversion points
//! [`SimTime::from_secs_f64`] and [`SimTime::as_secs_f64`].

use std::fmt::{self, Write as _};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};
use std::str::FromStr;

const NANOS_PER_MICRO: u64 = 1_000;
const NANOS_PER_MILLI: u64 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_MIN: u64 = 60 * NANOS_PER_SEC;
const NANOS_PER_HOUR: u64 = 60 * NANOS_PER_MIN;
const NANOS_PER_DAY: u64 = 24 * NANOS_PER_HOUR;

/// A point in simulated time, or a span of it, as integer nanoseconds.
///
/// As an instant it counts nanoseconds since the start of the simulation; as
/// a duration it is simply a number of nanoseconds. There are no floats
/// inside, so arithmetic is exact and reproducible. The range is
/// `0 ..= u64::MAX` nanoseconds, about 584 years.
///
/// [`Display`](fmt::Display) prints a compact human form (`"1h2m3.25s"`) that
/// [`FromStr`] / [`parse_duration`] read back to the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// Zero nanoseconds: the start of the simulation, or an empty duration.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable time, `u64::MAX` nanoseconds (about 584 years).
    pub const MAX: SimTime = SimTime(u64::MAX);
    /// One nanosecond.
    pub const NANOSECOND: SimTime = SimTime(1);
    /// One microsecond.
    pub const MICROSECOND: SimTime = SimTime(NANOS_PER_MICRO);
    /// One millisecond.
    pub const MILLISECOND: SimTime = SimTime(NANOS_PER_MILLI);
    /// One second.
    pub const SECOND: SimTime = SimTime(NANOS_PER_SEC);
    /// One minute.
    pub const MINUTE: SimTime = SimTime(NANOS_PER_MIN);
    /// One hour.
    pub const HOUR: SimTime = SimTime(NANOS_PER_HOUR);
    /// One day (24 hours).
    pub const DAY: SimTime = SimTime(NANOS_PER_DAY);

    /// `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> SimTime {
        SimTime(n)
    }

    /// `n` microseconds, saturating at [`SimTime::MAX`] on overflow.
    pub const fn from_micros(n: u64) -> SimTime {
        SimTime(n.saturating_mul(NANOS_PER_MICRO))
    }

    /// `n` milliseconds, saturating at [`SimTime::MAX`] on overflow.
    pub const fn from_millis(n: u64) -> SimTime {
        SimTime(n.saturating_mul(NANOS_PER_MILLI))
    }

    /// `n` seconds, saturating at [`SimTime::MAX`] on overflow.
    pub const fn from_secs(n: u64) -> SimTime {
        SimTime(n.saturating_mul(NANOS_PER_SEC))
    }

    /// `n` minutes, saturating at [`SimTime::MAX`] on overflow.
    pub const fn from_mins(n: u64) -> SimTime {
        SimTime(n.saturating_mul(NANOS_PER_MIN))
    }

    /// `n` hours, saturating at [`SimTime::MAX`] on overflow.
    pub const fn from_hours(n: u64) -> SimTime {
        SimTime(n.saturating_mul(NANOS_PER_HOUR))
    }

    /// `n` days of 24 hours, saturating at [`SimTime::MAX`] on overflow.
    pub const fn from_days(n: u64) -> SimTime {
        SimTime(n.saturating_mul(NANOS_PER_DAY))
    }

    /// Converts seconds given as a float, rounding to the nearest nanosecond.
    ///
    /// This never fails: NaN and negative values give [`SimTime::ZERO`], and
    /// values too large to represent (including +∞) give [`SimTime::MAX`].
    pub fn from_secs_f64(s: f64) -> SimTime {
        if s.is_nan() || s <= 0.0 {
            return SimTime::ZERO;
        }
        let nanos = (s * NANOS_PER_SEC as f64).round();
        // `u64::MAX as f64` rounds up to exactly 2^64, the first value that
        // does not fit.
        if nanos >= u64::MAX as f64 {
            SimTime::MAX
        } else {
            SimTime(nanos as u64)
        }
    }

    /// The number of nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The number of whole microseconds, rounded down.
    pub const fn as_micros(self) -> u64 {
        self.0 / NANOS_PER_MICRO
    }

    /// The number of whole milliseconds, rounded down.
    pub const fn as_millis(self) -> u64 {
        self.0 / NANOS_PER_MILLI
    }

    /// The number of whole seconds, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }

    /// The time in seconds as a float (for reporting; may lose precision
    /// beyond about 2^53 nanoseconds' worth of significant digits).
    pub fn as_secs_f64(self) -> f64 {
        (self.0 / NANOS_PER_SEC) as f64 + (self.0 % NANOS_PER_SEC) as f64 / NANOS_PER_SEC as f64
    }

    /// Whether this is zero nanoseconds.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + rhs`, or `None` on overflow.
    pub const fn checked_add(self, rhs: SimTime) -> Option<SimTime> {
        match self.0.checked_add(rhs.0) {
            Some(n) => Some(SimTime(n)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` if `rhs` is larger than `self`.
    pub const fn checked_sub(self, rhs: SimTime) -> Option<SimTime> {
        match self.0.checked_sub(rhs.0) {
            Some(n) => Some(SimTime(n)),
            None => None,
        }
    }

    /// `self * rhs`, or `None` on overflow.
    pub const fn checked_mul(self, rhs: u64) -> Option<SimTime> {
        match self.0.checked_mul(rhs) {
            Some(n) => Some(SimTime(n)),
            None => None,
        }
    }

    /// `self + rhs`, clamped to [`SimTime::MAX`].
    pub const fn saturating_add(self, rhs: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }

    /// `self - rhs`, clamped to [`SimTime::ZERO`].
    pub const fn saturating_sub(self, rhs: SimTime) -> SimTime {
        SimTime(self.0.saturating_sub(rhs.0))
    }

    /// `self * rhs`, clamped to [`SimTime::MAX`].
    pub const fn saturating_mul(self, rhs: u64) -> SimTime {
        SimTime(self.0.saturating_mul(rhs))
    }

    /// Seconds as a plain decimal number for CSV and similar output: up to
    /// nine decimals with trailing zeros trimmed and no unit, e.g. `"1.5"`,
    /// `"90"` or `"0.000000007"`. Exact (no float rounding).
    pub fn to_secs_string(self) -> String {
        let mut out = String::new();
        push_decimal(&mut out, self.0 / NANOS_PER_SEC, self.0 % NANOS_PER_SEC, 9);
        out
    }
}

impl Add for SimTime {
    type Output = SimTime;

    /// # Panics
    /// On overflow, like [`std::time::Duration`]; use
    /// [`SimTime::checked_add`] or [`SimTime::saturating_add`] to avoid that.
    fn add(self, rhs: SimTime) -> SimTime {
        self.checked_add(rhs)
            .expect("overflow when adding SimTimes")
    }
}

impl AddAssign for SimTime {
    /// # Panics
    /// On overflow, like [`Add`].
    fn add_assign(&mut self, rhs: SimTime) {
        *self = *self + rhs;
    }
}

impl Sub for SimTime {
    type Output = SimTime;

    /// # Panics
    /// If `rhs` is larger than `self`, like [`std::time::Duration`]; use
    /// [`SimTime::checked_sub`] or [`SimTime::saturating_sub`] to avoid that.
    fn sub(self, rhs: SimTime) -> SimTime {
        self.checked_sub(rhs)
            .expect("overflow when subtracting SimTimes")
    }
}

impl SubAssign for SimTime {
    /// # Panics
    /// If `rhs` is larger than `self`, like [`Sub`].
    fn sub_assign(&mut self, rhs: SimTime) {
        *self = *self - rhs;
    }
}

impl Mul<u64> for SimTime {
    type Output = SimTime;

    /// # Panics
    /// On overflow; use [`SimTime::checked_mul`] or
    /// [`SimTime::saturating_mul`] to avoid that.
    fn mul(self, rhs: u64) -> SimTime {
        self.checked_mul(rhs)
            .expect("overflow when multiplying SimTime by scalar")
    }
}

impl Div<u64> for SimTime {
    type Output = SimTime;

    /// Integer division, rounding down.
    ///
    /// # Panics
    /// If `rhs` is zero.
    fn div(self, rhs: u64) -> SimTime {
        assert!(
            rhs != 0,
            "divide by zero error when dividing SimTime by scalar"
        );
        SimTime(self.0 / rhs)
    }
}

impl Sum for SimTime {
    /// # Panics
    /// If the total overflows.
    fn sum<I: Iterator<Item = SimTime>>(iter: I) -> SimTime {
        iter.fold(SimTime::ZERO, |acc, t| acc + t)
    }
}

impl<'a> Sum<&'a SimTime> for SimTime {
    /// # Panics
    /// If the total overflows.
    fn sum<I: Iterator<Item = &'a SimTime>>(iter: I) -> SimTime {
        iter.copied().sum()
    }
}

/// Appends `whole`, then (if `frac` is nonzero) a `.` and `frac` written with
/// `digits` digits, zero-padded on the left and with trailing zeros trimmed.
fn push_decimal(out: &mut String, whole: u64, frac: u64, digits: usize) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{whole}");
    if frac != 0 {
        let frac = format!("{frac:0digits$}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
}

impl fmt::Display for SimTime {
    /// A compact human form with the largest units first, which
    /// [`parse_duration`] reads back to the same value: `0s`, `7ns`, `1.5us`,
    /// `250ms`, `1.5s`, `1m30s`, `1h30m`, `1d2h`, `1h2m3.25s`.
    ///
    /// Days, hours and minutes are printed when nonzero; the remainder below
    /// one minute is printed in seconds if it is at least one second, else in
    /// the largest of `ms`, `us`, `ns` in which it is at least one, with a
    /// decimal fraction as needed. Width, fill and alignment are honoured.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            return f.pad("0s");
        }
        let mut out = String::new();
        let parts = [
            (n / NANOS_PER_DAY, "d"),
            (n / NANOS_PER_HOUR % 24, "h"),
            (n / NANOS_PER_MIN % 60, "m"),
        ];
        for (count, unit) in parts {
            if count != 0 {
                let _ = write!(out, "{count}{unit}");
            }
        }
        let r = n % NANOS_PER_MIN;
        if r != 0 {
            let (unit, size, digits) = if r >= NANOS_PER_SEC {
                ("s", NANOS_PER_SEC, 9)
            } else if r >= NANOS_PER_MILLI {
                ("ms", NANOS_PER_MILLI, 6)
            } else if r >= NANOS_PER_MICRO {
                ("us", NANOS_PER_MICRO, 3)
            } else {
                ("ns", 1, 0)
            };
            push_decimal(&mut out, r / size, r % size, digits);
            out.push_str(unit);
        }
        f.pad(&out)
    }
}

/// The unit names accepted in durations, listed for error messages.
const UNITS_HINT: &str = "ns, us, ms, s, m, h, d";

/// Why a duration string was rejected; see [`DurationError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationErrorKind {
    /// The input was empty or only whitespace.
    #[error(r#"empty; write e.g. "30s", "250ms" or "1h30m""#)]
    Empty,
    /// The input starts with a minus sign.
    #[error("negative durations are not allowed")]
    Negative,
    /// Whitespace between the parts, e.g. `"1h 30m"`.
    #[error(r#"no spaces allowed inside a duration; write e.g. "1h30m""#)]
    InnerWhitespace,
    /// A number without a unit, e.g. `"90"`.
    #[error(r#"missing unit; write e.g. "{number}s" (units: {UNITS_HINT})"#)]
    MissingUnit {
        /// The number that lacks a unit.
        number: String,
    },
    /// A unit that is not one of `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`.
    #[error("unknown unit {unit:?} (units: {UNITS_HINT})")]
    UnknownUnit {
        /// The unrecognised unit as written.
        unit: String,
    },
    /// Units repeated or not in decreasing order, e.g. `"30m1h"`.
    #[error(r#"units must go from largest to smallest, each at most once, e.g. "1h30m""#)]
    UnitOrder,
    /// A fraction without a whole part, e.g. `".5s"`.
    #[error(r#"expected a digit before "."; write e.g. "0.5s""#)]
    MissingWholeDigits,
    /// A decimal point without digits after it, e.g. `"1.s"`.
    #[error(r#"expected digits after "."; write e.g. "1s" or "1.5s""#)]
    MissingFractionDigits,
    /// A character that cannot start or continue a part, e.g. `"+5s"`.
    #[error(r#"unexpected character "{}"; write e.g. "1h30m" or "250ms""#, .found.escape_debug())]
    UnexpectedChar {
        /// The offending character.
        found: char,
    },
    /// A fraction that is not a whole number of nanoseconds, e.g. `"0.5ns"`.
    #[error("finer than one nanosecond")]
    SubNanosecond,
    /// More than `u64::MAX` nanoseconds.
    #[error("too large (the limit is about 584 years)")]
    TooLarge,
}

/// A duration string that [`parse_duration`] could not read: the offending
/// input and why, with a hint on how to write it.
///
/// Displays as e.g. `invalid duration "90": missing unit; write e.g. "90s"
/// (units: ns, us, ms, s, m, h, d)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {kind}")]
pub struct DurationError {
    /// The input, with surrounding whitespace trimmed.
    pub input: String,
    /// What was wrong with it.
    pub kind: DurationErrorKind,
}

impl DurationError {
    /// The cause and hint alone, without the input (the part after the colon
    /// in the [`Display`](fmt::Display) form).
    pub fn reason(&self) -> String {
        self.kind.to_string()
    }
}

/// Units in increasing size; a part's index here is its rank for the
/// largest-to-smallest ordering rule.
const UNITS: [u64; 7] = [
    1,
    NANOS_PER_MICRO,
    NANOS_PER_MILLI,
    NANOS_PER_SEC,
    NANOS_PER_MIN,
    NANOS_PER_HOUR,
    NANOS_PER_DAY,
];

/// The rank (index into [`UNITS`]) of a unit name, if it is known.
fn unit_rank(unit: &str) -> Option<usize> {
    Some(match unit {
        "ns" => 0,
        // Micro sign U+00B5 and Greek small mu U+03BC look the same.
        "us" | "\u{b5}s" | "\u{3bc}s" => 1,
        "ms" => 2,
        "s" => 3,
        "m" => 4,
        "h" => 5,
        "d" => 6,
        _ => return None,
    })
}

/// Splits off the leading run of ASCII digits.
fn split_digits(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    s.split_at(n)
}

/// The value of `whole.frac` times `unit` nanoseconds, exactly.
fn part_nanos(whole: &str, frac: &str, unit: u64) -> Result<u128, DurationErrorKind> {
    let mut w: u128 = 0;
    for d in whole.bytes() {
        w = w * 10 + u128::from(d - b'0');
        if w > u128::from(u64::MAX) {
            return Err(DurationErrorKind::TooLarge);
        }
    }
    let mut total = w * u128::from(unit);
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        // With the last digit nonzero, frac/10^len times `unit` is a whole
        // number only if 2^len or 5^len divides `unit`; no unit has a factor
        // 2^20 or 5^20, so longer fractions are always finer than 1ns. This
        // also keeps the numbers below within u128.
        if frac.len() > 20 {
            return Err(DurationErrorKind::SubNanosecond);
        }
        let f: u128 = frac
            .bytes()
            .fold(0, |acc, d| acc * 10 + u128::from(d - b'0'));
        let denom = 10u128.pow(frac.len() as u32);
        let num = f * u128::from(unit);
        if num % denom != 0 {
            return Err(DurationErrorKind::SubNanosecond);
        }
        total += num / denom;
    }
    Ok(total)
}

/// Parses a human duration such as `"250ms"`, `"1.5s"` or `"1h30m"`.
///
/// Grammar: surrounding whitespace is ignored; then one or more
/// `<number><unit>` parts with nothing between them. A number is ASCII
/// digits with an optional decimal fraction (`"1.5"`, `"0.25"`; not `".5"` or
/// `"5."`). Units are `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, `d` (24h),
/// and must go strictly from largest to smallest (`"1h30m"`, not `"30m1h"` or
/// `"1h1h"`). The bare string `"0"` is also accepted.
///
/// The arithmetic is exact: `"1.5s"` is exactly 1,500,000,000 ns. A value
/// that is not a whole number of nanoseconds (`"0.5ns"`) or exceeds
/// `u64::MAX` nanoseconds is an error.
///
/// # Errors
/// A [`DurationError`] holding the trimmed input and a
/// [`DurationErrorKind`] whose message says what is wrong and how to write
/// it, e.g. `invalid duration "90": missing unit; write e.g. "90s" (units:
/// ns, us, ms, s, m, h, d)`.
pub fn parse_duration(s: &str) -> Result<SimTime, DurationError> {
    let input = s.trim();
    parse_trimmed(input).map_err(|kind| DurationError {
        input: input.to_owned(),
        kind,
    })
}

fn parse_trimmed(input: &str) -> Result<SimTime, DurationErrorKind> {
    use DurationErrorKind as E;
    if input.is_empty() {
        return Err(E::Empty);
    }
    if input == "0" {
        return Ok(SimTime::ZERO);
    }
    if input.starts_with('-') {
        return Err(E::Negative);
    }
    if input.contains(char::is_whitespace) {
        return Err(E::InnerWhitespace);
    }

    let mut rest = input;
    let mut total: u128 = 0;
    let mut prev_rank: Option<usize> = None;
    while !rest.is_empty() {
        let (whole, after) = split_digits(rest);
        if whole.is_empty() {
            return Err(match after.chars().next() {
                Some('.') => E::MissingWholeDigits,
                Some(c) => E::UnexpectedChar { found: c },
                None => unreachable!("loop runs only while input remains"),
            });
        }
        let (frac, after) = match after.strip_prefix('.') {
            Some(tail) => {
                let (frac, after) = split_digits(tail);
                if frac.is_empty() {
                    return Err(E::MissingFractionDigits);
                }
                (frac, after)
            }
            None => ("", after),
        };
        let number = &rest[..rest.len() - after.len()];

        let unit_len = after
            .char_indices()
            .find(|&(_, c)| !c.is_alphabetic())
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(match after.chars().next() {
                None => E::MissingUnit {
                    number: number.to_owned(),
                },
                Some(c) => E::UnexpectedChar { found: c },
            });
        }
        let rank = unit_rank(unit).ok_or_else(|| E::UnknownUnit {
            unit: unit.to_owned(),
        })?;
        if prev_rank.is_some_and(|prev| rank >= prev) {
            return Err(E::UnitOrder);
        }
        prev_rank = Some(rank);

        total += part_nanos(whole, frac, UNITS[rank])?;
        if total > u128::from(u64::MAX) {
            return Err(E::TooLarge);
        }
        rest = after;
    }
    // The check in the loop guarantees the total fits.
    Ok(SimTime(total as u64))
}

impl FromStr for SimTime {
    type Err = DurationError;

    /// Same as [`parse_duration`].
    fn from_str(s: &str) -> Result<SimTime, DurationError> {
        parse_duration(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> SimTime {
        parse_duration(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn err(s: &str) -> String {
        match parse_duration(s) {
            Ok(t) => panic!("{s:?} should not parse, got {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn assert_err(s: &str, phrases: &[&str]) {
        let msg = err(s);
        for phrase in phrases {
            assert!(
                msg.contains(phrase),
                "error for {s:?} is {msg:?}, lacks {phrase:?}"
            );
        }
    }

    #[test]
    fn constants() {
        assert_eq!(SimTime::ZERO.as_nanos(), 0);
        assert_eq!(SimTime::MAX.as_nanos(), u64::MAX);
        assert_eq!(SimTime::NANOSECOND.as_nanos(), 1);
        assert_eq!(SimTime::MICROSECOND.as_nanos(), 1_000);
        assert_eq!(SimTime::MILLISECOND.as_nanos(), 1_000_000);
        assert_eq!(SimTime::SECOND.as_nanos(), 1_000_000_000);
        assert_eq!(SimTime::MINUTE, SimTime::SECOND * 60);
        assert_eq!(SimTime::HOUR, SimTime::MINUTE * 60);
        assert_eq!(SimTime::DAY, SimTime::HOUR * 24);
        assert_eq!(SimTime::default(), SimTime::ZERO);
    }

    #[test]
    fn constructors() {
        assert_eq!(SimTime::from_nanos(7), SimTime(7));
        assert_eq!(SimTime::from_micros(3), SimTime(3_000));
        assert_eq!(SimTime::from_millis(250), SimTime(250_000_000));
        assert_eq!(SimTime::from_secs(2), SimTime(2_000_000_000));
        assert_eq!(SimTime::from_mins(15), SimTime::from_secs(900));
        assert_eq!(SimTime::from_hours(2), SimTime::from_secs(7_200));
        assert_eq!(SimTime::from_days(1), SimTime::from_secs(86_400));
        assert_eq!(SimTime::from_secs(u64::MAX), SimTime::MAX);
        assert_eq!(SimTime::from_hours(u64::MAX / 2), SimTime::MAX);
        const C: SimTime = SimTime::from_millis(5);
        assert_eq!(C.as_millis(), 5);
        assert_eq!(SimTime::from_nanos(1_999_999_999).as_secs(), 1);
        assert_eq!(SimTime::from_nanos(1_999).as_micros(), 1);
        assert!(SimTime::ZERO.is_zero());
        assert!(!SimTime::NANOSECOND.is_zero());
    }

    #[test]
    fn float_conversions() {
        assert_eq!(SimTime::from_secs_f64(1.5), SimTime::from_millis(1_500));
        assert_eq!(SimTime::from_secs_f64(0.1), SimTime::from_millis(100));
        assert_eq!(SimTime::from_secs_f64(1e-9), SimTime(1));
        assert_eq!(SimTime::from_secs_f64(1.4e-9), SimTime(1));
        assert_eq!(SimTime::from_secs_f64(1.6e-9), SimTime(2));
        assert_eq!(SimTime::from_secs_f64(0.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(-0.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(-3.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(f64::NAN), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(f64::NEG_INFINITY), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(f64::INFINITY), SimTime::MAX);
        assert_eq!(SimTime::from_secs_f64(1e12), SimTime::MAX);
        assert_eq!(SimTime::from_secs_f64(1.8446744073709552e10), SimTime::MAX);
        assert_eq!(SimTime::from_millis(1_500).as_secs_f64(), 1.5);
        assert_eq!(SimTime::ZERO.as_secs_f64(), 0.0);
        assert_eq!(SimTime(7).as_secs_f64(), 7e-9);
    }

    #[test]
    fn ordering() {
        let mut v = vec![
            SimTime::HOUR,
            SimTime::ZERO,
            SimTime::MAX,
            SimTime(1),
            SimTime::SECOND,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                SimTime::ZERO,
                SimTime(1),
                SimTime::SECOND,
                SimTime::HOUR,
                SimTime::MAX
            ]
        );
        assert!(SimTime::MILLISECOND < SimTime::SECOND);
        assert!(p("1h") > p("59m59.999999999s"));
        assert_eq!(SimTime::SECOND.max(SimTime::MINUTE), SimTime::MINUTE);
    }

    #[test]
    fn arithmetic() {
        let a = SimTime::from_secs(3);
        let b = SimTime::from_millis(500);
        assert_eq!(a + b, SimTime::from_millis(3_500));
        assert_eq!(a - b, SimTime::from_millis(2_500));
        assert_eq!(b * 4, SimTime::from_secs(2));
        assert_eq!(a / 4, SimTime::from_millis(750));
        assert_eq!(SimTime(10) / 3, SimTime(3));
        let mut c = a;
        c += b;
        assert_eq!(c, SimTime::from_millis(3_500));
        c -= a;
        assert_eq!(c, b);

        assert_eq!(a.checked_add(b), Some(SimTime::from_millis(3_500)));
        assert_eq!(SimTime::MAX.checked_add(SimTime(1)), None);
        assert_eq!(a.checked_sub(b), Some(SimTime::from_millis(2_500)));
        assert_eq!(b.checked_sub(a), None);
        assert_eq!(SimTime::MAX.checked_mul(2), None);
        assert_eq!(b.checked_mul(2), Some(SimTime::SECOND));
        assert_eq!(SimTime::MAX.saturating_add(a), SimTime::MAX);
        assert_eq!(b.saturating_sub(a), SimTime::ZERO);
        assert_eq!(a.saturating_sub(b), SimTime::from_millis(2_500));
        assert_eq!(SimTime::MAX.saturating_mul(3), SimTime::MAX);

        let v = [a, b, SimTime::SECOND];
        assert_eq!(v.iter().sum::<SimTime>(), SimTime::from_millis(4_500));
        assert_eq!(v.into_iter().sum::<SimTime>(), SimTime::from_millis(4_500));
        assert_eq!(
            std::iter::empty::<SimTime>().sum::<SimTime>(),
            SimTime::ZERO
        );
    }

    #[test]
    #[should_panic(expected = "overflow when adding")]
    fn add_overflow_panics() {
        let _ = SimTime::MAX + SimTime(1);
    }

    #[test]
    #[should_panic(expected = "overflow when subtracting")]
    fn sub_overflow_panics() {
        let _ = SimTime(1) - SimTime(2);
    }

    #[test]
    #[should_panic(expected = "overflow when multiplying")]
    fn mul_overflow_panics() {
        let _ = SimTime::MAX * 2;
    }

    #[test]
    #[should_panic(expected = "divide by zero")]
    fn div_by_zero_panics() {
        let _ = SimTime::SECOND / 0;
    }

    #[test]
    #[should_panic(expected = "overflow when adding")]
    fn sum_overflow_panics() {
        let _: SimTime = [SimTime::MAX, SimTime(1)].into_iter().sum();
    }

    #[test]
    fn parses_examples() {
        let s = SimTime::from_secs;
        assert_eq!(p("250ms"), SimTime(250_000_000));
        assert_eq!(p("1.5s"), SimTime(1_500_000_000));
        assert_eq!(p("90s"), s(90));
        assert_eq!(p("15m"), s(900));
        assert_eq!(p("2h"), s(7_200));
        assert_eq!(p("1d"), s(86_400));
        assert_eq!(p("1h30m"), s(5_400));
        assert_eq!(p("1m30.5s"), SimTime::from_millis(90_500));
        assert_eq!(p("0s"), SimTime::ZERO);
        assert_eq!(p("0"), SimTime::ZERO);
        assert_eq!(p("100ns"), SimTime(100));
        assert_eq!(p("10us"), SimTime(10_000));
        assert_eq!(p("2µs"), SimTime(2_000));
        assert_eq!(p("2\u{3bc}s"), SimTime(2_000));
        assert_eq!(p("  5s "), s(5));
        assert_eq!(p("\t5s\n"), s(5));
        assert_eq!(p("0.25s"), SimTime::from_millis(250));
        assert_eq!(p("1.5us"), SimTime(1_500));
        assert_eq!(p("1.000000001s"), SimTime(1_000_000_001));
        assert_eq!(p("1.0000000000000000000000000s"), s(1));
        assert_eq!(p("0.0000000000125d"), SimTime(1_080));
        assert_eq!(p("0000000000000000000000000000000001s"), s(1));
        assert_eq!(p("1d2h3m4s5ms6us7ns"), SimTime(93_784_005_006_007));
        assert_eq!(p("2h0m"), s(7_200));
        assert_eq!(p("18446744073709551615ns"), SimTime::MAX);
        assert_eq!(p("213503d23h34m33.709551615s"), SimTime::MAX);
        assert_eq!("1h30m".parse::<SimTime>(), Ok(s(5_400)));
    }

    #[test]
    fn parse_errors() {
        assert_err(
            "90",
            &[
                r#"invalid duration "90""#,
                "missing unit",
                r#""90s""#,
                "ns, us, ms, s, m, h, d",
            ],
        );
        assert_err("1h30", &["missing unit", r#""30s""#]);
        assert_err("1.5", &["missing unit", r#""1.5s""#]);
        assert_err("00", &["missing unit"]);
        assert_err(
            "5x",
            &[
                r#"invalid duration "5x""#,
                r#"unknown unit "x""#,
                "ns, us, ms, s, m, h, d",
            ],
        );
        assert_err("5sec", &[r#"unknown unit "sec""#]);
        assert_err("1H", &[r#"unknown unit "H""#]);
        assert_err(
            "",
            &[r#"invalid duration """#, "empty", r#""30s""#, r#""1h30m""#],
        );
        assert_err("   ", &["empty"]);
        assert_err(
            "-1s",
            &[
                r#"invalid duration "-1s""#,
                "negative durations are not allowed",
            ],
        );
        assert_err("-0", &["negative"]);
        assert_err(
            "30m1h",
            &[
                r#"invalid duration "30m1h""#,
                "largest to smallest",
                "at most once",
                r#""1h30m""#,
            ],
        );
        assert_err("1h1h", &["largest to smallest"]);
        assert_err("1s1ms1s", &["largest to smallest"]);
        assert_err(
            "0.5ns",
            &[r#"invalid duration "0.5ns""#, "finer than one nanosecond"],
        );
        assert_err("1.0000000001s", &["finer than one nanosecond"]);
        assert_err("0.0000000000000000000001d", &["finer than one nanosecond"]);
        assert_err(
            "99999999999d",
            &[
                r#"invalid duration "99999999999d""#,
                "too large",
                "584 years",
            ],
        );
        assert_err("18446744073709551616ns", &["too large"]);
        assert_err("213503d23h34m33.709551616s", &["too large"]);
        assert_err(
            "99999999999999999999999999999999999999999999ns",
            &["too large"],
        );
        assert_err(
            "1.s",
            &[r#"invalid duration "1.s""#, r#"expected digits after ".""#],
        );
        assert_err("5.", &[r#"expected digits after ".""#]);
        assert_err(".5s", &[r#"expected a digit before ".""#, r#""0.5s""#]);
        assert_err("1h 30m", &["spaces", r#""1h30m""#]);
        assert_err("5 s", &["spaces"]);
        assert_err("+5s", &[r#"unexpected character "+""#]);
        assert_err("1.5.3s", &[r#"unexpected character ".""#]);
        assert_err("1_000s", &[r#"unexpected character "_""#]);
        assert_err("s", &[r#"unexpected character "s""#]);
        assert_err("1h-5m", &[r#"unexpected character "-""#]);
        assert_err("１s", &["unexpected character"]);
        assert_err("5s\"", &[r#"unexpected character "\"""#]);
    }

    #[test]
    fn error_fields() {
        let e = parse_duration("  5x ").unwrap_err();
        assert_eq!(e.input, "5x");
        assert_eq!(
            e.kind,
            DurationErrorKind::UnknownUnit {
                unit: "x".to_owned()
            }
        );
        assert_eq!(
            e.reason(),
            r#"unknown unit "x" (units: ns, us, ms, s, m, h, d)"#
        );
        assert_eq!(
            e.to_string(),
            r#"invalid duration "5x": unknown unit "x" (units: ns, us, ms, s, m, h, d)"#
        );
        assert_eq!(
            err("90"),
            r#"invalid duration "90": missing unit; write e.g. "90s" (units: ns, us, ms, s, m, h, d)"#
        );
        assert_eq!(
            err(""),
            r#"invalid duration "": empty; write e.g. "30s", "250ms" or "1h30m""#
        );
        assert_eq!(
            err("-1s"),
            r#"invalid duration "-1s": negative durations are not allowed"#
        );
        assert_eq!(
            err("30m1h"),
            r#"invalid duration "30m1h": units must go from largest to smallest, each at most once, e.g. "1h30m""#
        );
        assert_eq!(
            err("0.5ns"),
            r#"invalid duration "0.5ns": finer than one nanosecond"#
        );
        assert_eq!(
            err("99999999999d"),
            r#"invalid duration "99999999999d": too large (the limit is about 584 years)"#
        );
        assert!(err("1.s").starts_with(r#"invalid duration "1.s": expected digits after ".""#));
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().contains("5x"));
    }

    #[test]
    fn display_examples() {
        let cases: &[(SimTime, &str)] = &[
            (SimTime::ZERO, "0s"),
            (SimTime::from_millis(250), "250ms"),
            (SimTime::from_millis(1_500), "1.5s"),
            (SimTime::from_secs(90), "1m30s"),
            (SimTime::from_secs(5_400), "1h30m"),
            (SimTime::from_secs(86_400), "1d"),
            (SimTime::DAY + SimTime::HOUR * 2, "1d2h"),
            (SimTime::from_millis(3_723_250), "1h2m3.25s"),
            (SimTime(1_500), "1.5us"),
            (SimTime(7), "7ns"),
            (SimTime(1_000), "1us"),
            (SimTime(999_999), "999.999us"),
            (SimTime(1_000_001), "1.000001ms"),
            (SimTime(1_000_000_001), "1.000000001s"),
            (SimTime::from_secs(60), "1m"),
            (SimTime::DAY + SimTime(5), "1d5ns"),
            (SimTime::HOUR + SimTime::from_millis(1), "1h1ms"),
            (SimTime::DAY * 400, "400d"),
            (SimTime::MAX, "213503d23h34m33.709551615s"),
        ];
        for &(t, want) in cases {
            assert_eq!(t.to_string(), want, "display of {t:?}");
            assert_eq!(p(want), t, "round trip of {want:?}");
        }
        assert_eq!(format!("{:>8}|", SimTime::from_millis(250)), "   250ms|");
        assert_eq!(format!("{:<5}|", SimTime::ZERO), "0s   |");
    }

    #[test]
    fn secs_string() {
        assert_eq!(SimTime::from_millis(1_500).to_secs_string(), "1.5");
        assert_eq!(SimTime::from_secs(90).to_secs_string(), "90");
        assert_eq!(SimTime(7).to_secs_string(), "0.000000007");
        assert_eq!(SimTime::ZERO.to_secs_string(), "0");
        assert_eq!(SimTime::from_millis(3_723_250).to_secs_string(), "3723.25");
        assert_eq!(SimTime::MAX.to_secs_string(), "18446744073.709551615");
    }

    proptest! {
        #[test]
        fn display_round_trips(n in any::<u64>()) {
            let t = SimTime(n);
            prop_assert_eq!(parse_duration(&t.to_string()), Ok(t));
        }

        #[test]
        fn display_round_trips_small(n in 0u64..10_000_000_000_000) {
            let t = SimTime(n);
            prop_assert_eq!(parse_duration(&t.to_string()), Ok(t));
        }

        #[test]
        fn secs_string_round_trips(n in any::<u64>()) {
            let t = SimTime(n);
            prop_assert_eq!(parse_duration(&format!("{}s", t.to_secs_string())), Ok(t));
        }

        #[test]
        fn secs_string_matches_float(n in 0u64..1_000_000_000_000_000) {
            let t = SimTime(n);
            let f: f64 = t.to_secs_string().parse().unwrap();
            prop_assert!((f - t.as_secs_f64()).abs() <= 1e-9 * f.max(1.0));
        }

        #[test]
        fn parses_composed_parts(
            d in 0u64..1000, h in 0u64..24, m in 0u64..60, s in 0u64..60, ns in 0u64..1_000_000_000,
        ) {
            let text = format!("{d}d{h}h{m}m{s}.{ns:09}s");
            let want = SimTime::from_days(d) + SimTime::from_hours(h) + SimTime::from_mins(m)
                + SimTime::from_secs(s) + SimTime(ns);
            prop_assert_eq!(parse_duration(&text), Ok(want));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC*") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn near_miss_strings_never_panic_and_round_trip(s in "[0-9.nusmhdµμ+ -]{0,24}") {
            if let Ok(t) = parse_duration(&s) {
                prop_assert_eq!(parse_duration(&t.to_string()), Ok(t));
            } else {
                let e = parse_duration(&s).unwrap_err();
                prop_assert!(e.to_string().starts_with("invalid duration "));
                prop_assert_eq!(e.input.as_str(), s.trim());
            }
        }

        #[test]
        fn float_seconds_near_exact(ms in 0u64..1_000_000_000) {
            let t = SimTime::from_millis(ms);
            prop_assert_eq!(SimTime::from_secs_f64(t.as_secs_f64()), t);
        }

        #[test]
        fn checked_ops_agree_with_u64(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(SimTime(a).checked_add(SimTime(b)).map(|t| t.0), a.checked_add(b));
            prop_assert_eq!(SimTime(a).checked_sub(SimTime(b)).map(|t| t.0), a.checked_sub(b));
            prop_assert_eq!(SimTime(a).saturating_add(SimTime(b)).0, a.saturating_add(b));
            prop_assert_eq!(SimTime(a).saturating_sub(SimTime(b)).0, a.saturating_sub(b));
            prop_assert_eq!(SimTime(a).cmp(&SimTime(b)), a.cmp(&b));
        }
    }
}
