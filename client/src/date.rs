//! The current date in RFC 5322 form for a `Date:` header (`smtp_date`):
//! `Sat, 28 Nov 2026 13:28:29 +0100`, in local time with a numeric offset,
//! with English day and month names whatever the locale.

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down local time, as `localtime_r` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Years since year 0 (e.g. 2026).
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of month, 1..=31.
    pub day: u32,
    /// Day of week, 0 = Sunday.
    pub weekday: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=60.
    pub second: u32,
    /// Offset from UTC in seconds, east positive.
    pub utc_offset_secs: i64,
}

/// Formats `t` as an RFC 5322 date-time.
pub fn format_rfc5322(t: &LocalTime) -> String {
    let sign = if t.utc_offset_secs < 0 { '-' } else { '+' };
    let off = t.utc_offset_secs.unsigned_abs() / 60;
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        DAYS[(t.weekday % 7) as usize],
        t.day,
        MONTHS[(t.month.clamp(1, 12) - 1) as usize],
        t.year,
        t.hour,
        t.minute,
        t.second,
        sign,
        off / 60,
        off % 60
    )
}

/// The current local time.
#[cfg(unix)]
pub fn now_local() -> LocalTime {
    // SAFETY: time(NULL) and localtime_r with valid pointers have no other
    // preconditions; `tm` is plain data that localtime_r fills in.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            libc::gmtime_r(&now, &mut tm);
            tm.tm_gmtoff = 0;
        }
        LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            weekday: tm.tm_wday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            utc_offset_secs: tm.tm_gmtoff as i64,
        }
    }
}

/// The current time (UTC on platforms without `localtime_r`).
#[cfg(not(unix))]
pub fn now_local() -> LocalTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    LocalTime {
        year,
        month,
        day,
        weekday: ((days + 4).rem_euclid(7)) as u32,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
        utc_offset_secs: 0,
    }
}

/// The current date-time in RFC 5322 form.
pub fn rfc5322_now() -> String {
    format_rfc5322(&now_local())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_rfc() {
        let t = LocalTime {
            year: 2026,
            month: 11,
            day: 28,
            weekday: 6,
            hour: 13,
            minute: 28,
            second: 29,
            utc_offset_secs: 0,
        };
        assert_eq!(format_rfc5322(&t), "Sat, 28 Nov 2026 13:28:29 +0000");
        let t = LocalTime {
            day: 1,
            month: 2,
            weekday: 0,
            hour: 4,
            minute: 5,
            second: 6,
            utc_offset_secs: -(3 * 3600 + 30 * 60),
            ..t
        };
        assert_eq!(format_rfc5322(&t), "Sun, 01 Feb 2026 04:05:06 -0330");
        let t = LocalTime {
            utc_offset_secs: 5 * 3600 + 45 * 60,
            ..t
        };
        assert!(format_rfc5322(&t).ends_with(" +0545"));
    }

    #[test]
    fn now_has_the_shape_and_fits_the_c_buffer() {
        let s = rfc5322_now();
        assert!(s.len() < 64, "{s}");
        let parts: Vec<&str> = s.split(' ').collect();
        assert_eq!(parts.len(), 6, "{s}");
        assert!(DAYS.contains(&parts[0].trim_end_matches(',')));
        assert!(MONTHS.contains(&parts[2]));
        assert!(parts[5].len() == 5 && (parts[5].starts_with('+') || parts[5].starts_with('-')));
    }
}
