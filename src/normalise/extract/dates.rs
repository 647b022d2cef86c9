//! Dates as UK letters write them (standards.md §4.4): day first ("12/03/1975",
//! "12.03.75", "9/7/24"), with month names ("12 March 1975", "12th Mar 1975",
//! "21-Oct-2024"), and ISO ("1975-03-12"). Numeric dates are never read month first.
//!
//! Which date is which is decided by the readers (labels and zones); this module only
//! finds dates and settles two-digit years by what the date is for.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;

/// A date found in the text, before its century is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DateHit {
    pub start: usize,
    pub end: usize,
    day: u32,
    month: u32,
    year: i32,
    short_year: bool,
}

/// What a date is for, which settles a two-digit year.
#[derive(Debug, Clone, Copy)]
pub(super) enum Era {
    /// A date of birth: in the past, and the person old enough to be referred to an
    /// adult service when that reading is possible. `reference_year` is the letter's year.
    Birth { reference_year: i32 },
    /// A letter date: this century unless that is in the future.
    Recent { reference_year: i32 },
}

const MONTHS: &str = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";

static NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,2})\s?[/.\-]\s?(\d{1,2})\s?[/.\-]\s?(\d{4}|\d{2})\b")
        .expect("static pattern compiles")
});

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})\b").expect("static pattern compiles")
});

static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?[\s\-/.]*({MONTHS})\b\.?,?[\s\-/.]*('?\d{{4}}|'?\d{{2}})\b"
    ))
    .expect("static pattern compiles")
});

static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b({MONTHS})\b\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"
    ))
    .expect("static pattern compiles")
});

fn month_number(name: &str) -> Option<u32> {
    let key: String = name
        .chars()
        .take(3)
        .collect::<String>()
        .to_ascii_lowercase();
    let idx = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| *m == key)?;
    u32::try_from(idx + 1).ok()
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim_start_matches('\'').parse().ok()
}

/// Every date in `s`, in order, overlapping readings removed (the earlier, longer wins).
pub(super) fn find(s: &str) -> Vec<DateHit> {
    let mut hits = Vec::new();
    for c in ISO.captures_iter(s) {
        let (Some(m), Some(y), Some(mo), Some(d)) = (c.get(0), c.get(1), c.get(2), c.get(3)) else {
            continue;
        };
        if let (Some(year), Some(month), Some(day)) =
            (num(y.as_str()), num(mo.as_str()), num(d.as_str()))
        {
            hits.push(hit(m.start(), m.end(), day, month, year, false));
        }
    }
    for c in DAY_MONTH.captures_iter(s) {
        let (Some(m), Some(d), Some(mo), Some(y)) = (c.get(0), c.get(1), c.get(2), c.get(3)) else {
            continue;
        };
        let digits = y.as_str().trim_start_matches('\'');
        if let (Some(day), Some(month), Some(year)) =
            (num(d.as_str()), month_number(mo.as_str()), num(digits))
        {
            hits.push(hit(m.start(), m.end(), day, month, year, digits.len() == 2));
        }
    }
    for c in MONTH_DAY.captures_iter(s) {
        let (Some(m), Some(mo), Some(d), Some(y)) = (c.get(0), c.get(1), c.get(2), c.get(3)) else {
            continue;
        };
        if let (Some(day), Some(month), Some(year)) =
            (num(d.as_str()), month_number(mo.as_str()), num(y.as_str()))
        {
            hits.push(hit(m.start(), m.end(), day, month, year, false));
        }
    }
    for c in NUMERIC.captures_iter(s) {
        let (Some(m), Some(d), Some(mo), Some(y)) = (c.get(0), c.get(1), c.get(2), c.get(3)) else {
            continue;
        };
        if let (Some(day), Some(month), Some(year)) =
            (num(d.as_str()), num(mo.as_str()), num(y.as_str()))
        {
            hits.push(hit(
                m.start(),
                m.end(),
                day,
                month,
                year,
                y.as_str().len() == 2,
            ));
        }
    }
    hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    let mut out: Vec<DateHit> = Vec::with_capacity(hits.len());
    for h in hits {
        if out.last().is_none_or(|p| h.start >= p.end) {
            out.push(h);
        }
    }
    out
}

fn hit(start: usize, end: usize, day: u32, month: u32, year: i32, short_year: bool) -> DateHit {
    DateHit {
        start,
        end,
        day,
        month,
        year,
        short_year,
    }
}

impl DateHit {
    /// The calendar date, with a two-digit year settled for `era`. `None` for dates that
    /// do not exist ("31/02/2024").
    pub fn resolve(&self, era: Era) -> Option<NaiveDate> {
        let year = if self.short_year {
            settle_century(self.year, era)
        } else {
            self.year
        };
        NaiveDate::from_ymd_opt(year, self.month, self.day)
    }
}

/// Two-digit years: a birth year gives an age of at least 16 (Talking Therapies sees
/// adults) where that is possible within 110 years; a letter year is this century unless
/// that would be in the future.
fn settle_century(yy: i32, era: Era) -> i32 {
    match era {
        Era::Birth { reference_year } => {
            let recent = 2000 + yy;
            if reference_year - recent >= 16 || reference_year - (1900 + yy) > 110 {
                recent
            } else {
                1900 + yy
            }
        }
        Era::Recent { reference_year } => {
            if 2000 + yy <= reference_year + 1 {
                2000 + yy
            } else {
                1900 + yy
            }
        }
    }
}

/// ISO form for the record.
pub(super) fn iso(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// The year used to settle two-digit years when the letter's own date is unknown.
pub(super) fn this_year() -> i32 {
    chrono::Utc::now().year()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str, era: Era) -> Option<String> {
        find(s).first().and_then(|h| h.resolve(era)).map(iso)
    }

    const BIRTH: Era = Era::Birth {
        reference_year: 2024,
    };
    const RECENT: Era = Era::Recent {
        reference_year: 2024,
    };

    #[test]
    fn uk_formats_are_read_day_first() {
        for (s, want) in [
            ("12/03/1975", "1975-03-12"),
            ("12.03.1975", "1975-03-12"),
            ("12 March 1975", "1975-03-12"),
            ("12th Mar 1975", "1975-03-12"),
            ("21-Oct-2024", "2024-10-21"),
            ("1975-03-12", "1975-03-12"),
            ("March 12, 1975", "1975-03-12"),
            ("8 October 1957", "1957-10-08"),
        ] {
            assert_eq!(one(s, BIRTH).as_deref(), Some(want), "{s}");
        }
    }

    #[test]
    fn two_digit_years_depend_on_what_the_date_is_for() {
        assert_eq!(one("03.02.71", BIRTH).as_deref(), Some("1971-02-03"));
        assert_eq!(one("03.02.05", BIRTH).as_deref(), Some("2005-02-03"));
        // Neither reading gives an adult; 112 years old is the less plausible one.
        assert_eq!(one("03.02.12", BIRTH).as_deref(), Some("2012-02-03"));
        assert_eq!(one("9/7/24", RECENT).as_deref(), Some("2024-07-09"));
        assert_eq!(one("9/7/98", RECENT).as_deref(), Some("1998-07-09"));
    }

    #[test]
    fn impossible_dates_are_none() {
        assert_eq!(one("31/02/2024", RECENT), None);
        assert!(find("L3/4 and version 2").is_empty());
    }
}
