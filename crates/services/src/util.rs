//! Small helpers shared by the service modules.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::AwsError;

/// A string member of the input, if present.
pub fn s<'a>(input: &'a Value, member: &str) -> Option<&'a str> {
    input.get(member).and_then(Value::as_str)
}

/// A required string member (the wire layer has already checked presence;
/// this guards handlers called internally).
pub fn req<'a>(input: &'a Value, member: &str) -> Result<&'a str, AwsError> {
    s(input, member).ok_or_else(|| {
        AwsError::new(
            "ValidationError",
            format!("1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", lower_first(member)),
            400,
        )
    })
}

/// An integer member.
pub fn int(input: &Value, member: &str) -> Option<i64> {
    input.get(member).and_then(Value::as_i64)
}

/// A boolean member.
pub fn boolean(input: &Value, member: &str) -> Option<bool> {
    input.get(member).and_then(Value::as_bool)
}

/// A list member (empty when absent).
pub fn list<'a>(input: &'a Value, member: &str) -> &'a [Value] {
    input
        .get(member)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `roleName` from `RoleName`: AWS's spelling of member paths in messages.
pub fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// ISO 8601 / RFC 3339 UTC timestamp with seconds precision, as AWS prints.
pub fn iso(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Current time.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Tags as `[{Key, Value}]` from an input list member, validated for
/// duplicates as IAM does.
pub fn tags(input: &Value, member: &str) -> Vec<(String, String)> {
    list(input, member)
        .iter()
        .filter_map(|t| {
            Some((
                s(t, "Key")?.to_string(),
                s(t, "Value").unwrap_or("").to_string(),
            ))
        })
        .collect()
}

/// Renders tags back as `[{Key, Value}]`.
pub fn tags_value(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect(),
    )
}

/// Marker-based pagination as IAM does it: `Marker` is the opaque position,
/// `MaxItems` defaults to 100 (1..=1000). Returns the page and the next marker.
pub fn paginate<T: Clone>(
    items: &[T],
    input: &Value,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max = int(input, "MaxItems").unwrap_or(100).clamp(1, 1000) as usize;
    let start = match s(input, "Marker") {
        Some(m) => {
            let after = crate::util::decode_marker(m)?;
            items
                .iter()
                .position(|i| key(i) > after)
                .unwrap_or(items.len())
        }
        None => 0,
    };
    let page: Vec<T> = items.iter().skip(start).take(max).cloned().collect();
    let next = if start + page.len() < items.len() {
        page.last().map(|l| encode_marker(&key(l)))
    } else {
        None
    };
    Ok((page, next))
}

fn encode_marker(k: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(k.as_bytes())
}

fn decode_marker(m: &str) -> Result<String, AwsError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(m.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AwsError::new("ValidationError", "Invalid Marker.", 400))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pagination_walks_everything_once() {
        let items: Vec<String> = (0..250).map(|i| format!("r{i:03}")).collect();
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut input = json!({"MaxItems": 100});
            if let Some(m) = &marker {
                input["Marker"] = json!(m);
            }
            let (page, next) = paginate(&items, &input, |s| s.clone()).unwrap();
            seen.extend(page);
            match next {
                Some(n) => marker = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn iso_has_no_fraction() {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(iso(t), "2027-01-15T08:00:00Z");
    }
}
