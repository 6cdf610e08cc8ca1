//! Timestamp parsing and formatting in the forms AWS protocols use.

use serde_json::Value;
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// ISO 8601 UTC: `2026-11-27T07:38:28Z`, or with milliseconds when fractional.
pub fn format_iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let ms = t.millisecond();
    if ms == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{ms:03}Z")
    }
}

/// RFC 7231 HTTP date: `Fri, 27 Nov 2026 07:38:28 GMT`.
pub fn format_rfc7231(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&fmt).unwrap_or_else(|_| format_iso8601(t))
}

/// Epoch seconds as a JSON number (integer when whole, else milliseconds precision).
pub fn format_epoch_seconds(t: OffsetDateTime) -> Value {
    let secs = t.unix_timestamp();
    let ms = t.millisecond();
    if ms == 0 {
        Value::from(secs)
    } else {
        let f = secs as f64 + f64::from(ms) / 1000.0;
        serde_json::Number::from_f64(f).map_or(Value::from(secs), Value::Number)
    }
}

fn from_epoch_f64(f: f64) -> Option<OffsetDateTime> {
    if !f.is_finite() {
        return None;
    }
    let nanos = (f * 1e9).round();
    if nanos.abs() > 1e28 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(nanos as i128).ok()
}

/// Parses ISO 8601 (with or without offset / fraction), RFC 7231 / RFC 2822, or epoch seconds.
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    // ISO without offset, or with lowercase/space separator.
    let no_offset = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let no_offset_frac =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    if let Ok(t) = PrimitiveDateTime::parse(s, &no_offset) {
        return Some(t.assume_utc());
    }
    if let Ok(t) = PrimitiveDateTime::parse(s, &no_offset_frac) {
        return Some(t.assume_utc());
    }
    // ISO basic with Z but no seconds fraction handled above; compact `20261127T073828Z`.
    let compact = format_description!("[year][month][day]T[hour][minute][second]Z");
    if let Ok(t) = PrimitiveDateTime::parse(s, &compact) {
        return Some(t.assume_utc());
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc2822) {
        return Some(t);
    }
    let http = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    if let Ok(t) = PrimitiveDateTime::parse(s, &http) {
        return Some(t.assume_utc());
    }
    if let Ok(f) = s.parse::<f64>() {
        return from_epoch_f64(f);
    }
    None
}

/// A timestamp from the value tree: epoch number or string in any accepted form.
pub fn timestamp_from_value(v: &Value) -> Option<OffsetDateTime> {
    match v {
        Value::Number(n) => n.as_f64().and_then(from_epoch_f64),
        Value::String(s) => parse_timestamp(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = parse_timestamp("2026-11-27T07:38:28Z").expect("iso");
        assert_eq!(format_iso8601(t), "2026-11-27T07:38:28Z");
        assert_eq!(format_rfc7231(t), "Fri, 27 Nov 2026 07:38:28 GMT");
        assert_eq!(format_epoch_seconds(t), Value::from(1_795_765_108_i64));
        assert_eq!(parse_timestamp("Fri, 27 Nov 2026 07:38:28 GMT"), Some(t));
        assert_eq!(parse_timestamp("1795765108"), Some(t));
        assert_eq!(parse_timestamp("2026-11-27T07:38:28"), Some(t));
        assert_eq!(parse_timestamp("2026-11-27T08:38:28+01:00"), Some(t));
        let f = timestamp_from_value(&serde_json::json!(1_795_765_108.5)).expect("epoch");
        assert_eq!(format_iso8601(f), "2026-11-27T07:38:28.500Z");
        assert_eq!(format_epoch_seconds(f), serde_json::json!(1_795_765_108.5));
        assert!(parse_timestamp("yesterday").is_none());
        assert!(timestamp_from_value(&serde_json::json!(1e300)).is_none());
    }
}
