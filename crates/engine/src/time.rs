//! Instants, RFC 3339 parsing and the WABA's local calendar.
//!
//! The engine has no clock: every rule receives the instant it is judged at. Instants are
//! milliseconds since the Unix epoch in UTC; that is finer than anything the platform reports
//! (webhooks carry whole seconds) and keeps arithmetic exact and cheap. Sub-millisecond
//! digits in input are accepted and truncated.
//!
//! The parser is hand-written rather than chrono's because `openwaba replay` parses one
//! timestamp per event and must sustain millions of events per second.

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use std::fmt;

/// One hour, one day, in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;
const MINUTE_MS: i64 = 60_000;

/// A point in time: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i64);

impl Instant {
    pub const fn from_millis(ms: i64) -> Self {
        Instant(ms)
    }
    pub const fn from_unix_seconds(s: i64) -> Self {
        Instant(s * 1000)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Whole seconds, rounded down (what webhooks carry).
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
    pub const fn plus_hours(self, h: i64) -> Self {
        Instant(self.0 + h * HOUR_MS)
    }
    /// Rounds up to the next whole minute (an instant already on a minute stays).
    /// Meta's `expiration_timestamp` is `ceil_to_minute(sent + 24h)` in every payload seen.
    pub const fn ceil_to_minute(self) -> Self {
        let r = self.0.rem_euclid(MINUTE_MS);
        if r == 0 {
            self
        } else {
            Instant(self.0 - r + MINUTE_MS)
        }
    }

    /// Parses an RFC 3339 timestamp such as `2023-06-05T09:30:00Z` or
    /// `2023-06-05T06:30:00.250-03:00`.
    pub fn parse_rfc3339(s: &str) -> Result<Self, TimeError> {
        parse_rfc3339(s.as_bytes()).ok_or_else(|| TimeError::Malformed(s.to_owned()))
    }
}

impl fmt::Display for Instant {
    /// RFC 3339 in UTC, with milliseconds only when they are not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            m,
            d,
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not an RFC 3339 timestamp (expected e.g. 2023-06-05T09:30:00Z)")]
    Malformed(String),
    #[error("`{0}` is not an IANA time zone (expected e.g. America/Sao_Paulo or UTC)")]
    UnknownZone(String),
}

fn digits(b: &[u8], from: usize, n: usize) -> Option<i64> {
    let mut v: i64 = 0;
    for &c in b.get(from..from + n)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn parse_rfc3339(b: &[u8]) -> Option<Instant> {
    // YYYY-MM-DDTHH:MM:SS
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let y = digits(b, 0, 4)?;
    let mo = digits(b, 5, 2)?;
    let d = digits(b, 8, 2)?;
    let h = digits(b, 11, 2)?;
    let mi = digits(b, 14, 2)?;
    let s = digits(b, 17, 2)?;
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut i = 19;
    let mut ms: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                ms = ms * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            ms *= 10;
        }
    }
    let offset_s = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = digits(b, i + 1, 2)?;
            let om = digits(b, i + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_s;
    Some(Instant(secs * 1000 + ms))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A calendar month in the WABA's time zone: the unit of free tiers, volume tiers and invoices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u8,
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The WABA's time zone, which decides when a pricing version starts (local midnight) and
/// where month boundaries fall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZoneId(Tz);

impl TimeZoneId {
    pub const UTC: TimeZoneId = TimeZoneId(Tz::UTC);

    pub fn parse(name: &str) -> Result<Self, TimeError> {
        name.parse::<Tz>()
            .map(TimeZoneId)
            .map_err(|_| TimeError::UnknownZone(name.to_owned()))
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The local calendar date of an instant in this zone.
    pub fn local_date(&self, at: Instant) -> NaiveDate {
        let secs = at.unix_seconds();
        match chrono::DateTime::from_timestamp(secs, 0) {
            Some(utc) => self.0.from_utc_datetime(&utc.naive_utc()).date_naive(),
            // Out of chrono's range (±262,000 years): unreachable from parsed input.
            None => NaiveDate::MIN,
        }
    }
}

impl TimeZoneId {
    /// The first instant of a local date: local midnight, or the first instant after a
    /// transition that skips it.
    pub fn start_of_day(&self, date: NaiveDate) -> Instant {
        let mut t = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        // A transition may skip midnight (some zones move clocks at 00:00): step forward by
        // quarter hours, the granularity of every transition.
        for _ in 0..8 {
            if let Some(dt) = self.0.from_local_datetime(&t).earliest() {
                return Instant::from_millis(dt.timestamp_millis());
            }
            t += chrono::Duration::minutes(15);
        }
        Instant::from_millis(
            date.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_millis(),
        )
    }

    /// The local day of an instant as a number of days since 1970-01-01 (a compact key for
    /// daily buckets).
    pub fn day_number(&self, at: Instant) -> i64 {
        day_number(self.local_date(at))
    }
}

/// Days since 1970-01-01 of a date.
pub fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

/// The date of a day number (see [`day_number`]).
pub fn date_of_day(day: i64) -> NaiveDate {
    i32::try_from(day + 719_163)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or(NaiveDate::MIN)
}

impl Default for TimeZoneId {
    fn default() -> Self {
        TimeZoneId::UTC
    }
}

/// A local date and month, with a cache: consecutive events almost always fall in the same
/// quarter hour, and time-zone conversion is the most expensive step of an event otherwise.
/// Every offset of every current zone is a multiple of 15 minutes and transitions happen on
/// such boundaries, so the local date is constant inside an aligned quarter hour.
#[derive(Clone, Debug)]
pub struct LocalCalendar {
    zone: TimeZoneId,
    bucket: i64,
    date: NaiveDate,
}

const BUCKET_MS: i64 = 15 * MINUTE_MS;

impl LocalCalendar {
    pub fn new(zone: TimeZoneId) -> Self {
        LocalCalendar {
            zone,
            bucket: i64::MIN,
            date: NaiveDate::MIN,
        }
    }
    pub fn zone(&self) -> TimeZoneId {
        self.zone
    }
    pub fn date(&mut self, at: Instant) -> NaiveDate {
        let b = at.millis().div_euclid(BUCKET_MS);
        if b != self.bucket {
            self.bucket = b;
            self.date = self.zone.local_date(at);
        }
        self.date
    }
    pub fn month(&mut self, at: Instant) -> YearMonth {
        let d = self.date(at);
        YearMonth {
            year: d.year(),
            month: d.month() as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_local_midnights() {
        let d = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(day_number(d), 0);
        let d = NaiveDate::from_ymd_opt(2023, 6, 1).unwrap();
        assert_eq!(date_of_day(day_number(d)), d);
        let la = TimeZoneId::parse("America/Los_Angeles").unwrap();
        assert_eq!(la.start_of_day(d).unix_seconds(), 1_685_602_800);
        let kathmandu = TimeZoneId::parse("Asia/Kathmandu").unwrap();
        let m = kathmandu.start_of_day(d);
        assert_eq!(m.to_string(), "2023-05-31T18:15:00Z");
        assert_eq!(kathmandu.day_number(m), day_number(d));
        assert_eq!(
            kathmandu.day_number(Instant::from_millis(m.millis() - 1)),
            day_number(d) - 1
        );
    }

    #[test]
    fn parses_and_formats_utc() {
        let t = Instant::parse_rfc3339("2023-06-05T09:30:00Z").unwrap();
        assert_eq!(t.unix_seconds(), 1_685_957_400);
        assert_eq!(t.to_string(), "2023-06-05T09:30:00Z");
    }

    #[test]
    fn parses_offsets_and_fractions() {
        let a = Instant::parse_rfc3339("2023-06-05T06:30:00.250-03:00").unwrap();
        let b = Instant::parse_rfc3339("2023-06-05T09:30:00.25Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2023-06-05T09:30:00.250Z");
        assert_eq!(
            Instant::parse_rfc3339("2023-06-05T09:30:00.123456789Z")
                .unwrap()
                .millis()
                % 1000,
            123
        );
    }

    #[test]
    fn refuses_malformed_timestamps() {
        for s in [
            "",
            "2023-06-05",
            "2023-06-05T09:30:00",
            "2023-02-29T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-06-05T24:00:00Z",
            "2023-06-05T09:30:00.Z",
            "2023-06-05T09:30:00+0300",
            "2023-06-05T09:30:00Zjunk",
            "２023-06-05T09:30:00Z",
        ] {
            assert!(Instant::parse_rfc3339(s).is_err(), "{s}");
        }
        assert!(Instant::parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn ceil_to_minute_keeps_whole_minutes() {
        let t = Instant::parse_rfc3339("2023-06-05T10:00:30Z").unwrap();
        assert_eq!(t.ceil_to_minute().to_string(), "2023-06-05T10:01:00Z");
        let w = Instant::parse_rfc3339("2023-06-05T10:01:00Z").unwrap();
        assert_eq!(w.ceil_to_minute(), w);
        // Meta's own example: sent 1750030073, expiration 1750116480.
        let sent = Instant::from_unix_seconds(1_750_030_073);
        assert_eq!(
            sent.plus_hours(24).ceil_to_minute().unix_seconds(),
            1_750_116_480
        );
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 19_000, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn local_month_in_a_non_utc_zone() {
        let zone = TimeZoneId::parse("America/Sao_Paulo").unwrap();
        let mut cal = LocalCalendar::new(zone);
        // 02:00Z on July 1st is still June 30th in São Paulo (UTC-3).
        let t = Instant::parse_rfc3339("2023-07-01T02:59:59Z").unwrap();
        assert_eq!(cal.month(t).to_string(), "2023-06");
        let t = Instant::parse_rfc3339("2023-07-01T03:00:00Z").unwrap();
        assert_eq!(cal.month(t).to_string(), "2023-07");
    }

    #[test]
    fn unknown_zone_is_refused() {
        let e = TimeZoneId::parse("Mars/Olympus_Mons").unwrap_err();
        assert!(e.to_string().contains("Mars/Olympus_Mons"));
    }
}
