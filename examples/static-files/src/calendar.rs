//! Dates in the proleptic Gregorian calendar, counted in days from 1970-01-01, with std only.
//!
//! `static-files` formats and reads HTTP dates with it, and `guestbook` includes this file too
//! (`#[path]`) to show when an entry was written, so the two examples share one copy.

/// The date `days` after 1970-01-01, as year, month (1 to 12) and day of the month (1 to 31).
pub(crate) fn date_from_days(mut days: u64) -> (u64, u64, u64) {
    let mut year = 1970;
    while days >= days_in_year(year) {
        days -= days_in_year(year);
        year += 1;
    }
    let mut month = 1;
    while days >= days_in_month(year, month) {
        days -= days_in_month(year, month);
        month += 1;
    }
    (year, month, days + 1)
}

pub(crate) fn days_in_year(year: u64) -> u64 {
    if is_leap_year(year) { 366 } else { 365 }
}

pub(crate) fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_leap_year(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}
