//! Describe* filters as EC2 applies them: a resource matches when, for every
//! filter, one of its values for the filter's name matches one of the
//! filter's values (`*` and `?` are wildcards). Filter names map to output
//! members: `vpc-id` → `VpcId`, `tag:<Key>`, `tag-key`, `tag-value`, and
//! dotted names such as `association.main` or `attachment.vpc-id`.

use serde_json::Value;

use super::{invalid, AwsError};
use crate::util::{list, s};

/// Parsed `Filters`.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    list: Vec<(String, Vec<String>)>,
}

impl Filters {
    pub fn parse(input: &Value) -> Result<Filters, AwsError> {
        let mut out = Vec::new();
        for f in list(input, "Filters") {
            let name = s(f, "Name").unwrap_or("").to_string();
            if name.is_empty() {
                return Err(invalid("The filter 'null' is invalid"));
            }
            let values: Vec<String> = list(f, "Values")
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            out.push((name, values));
        }
        Ok(Filters { list: out })
    }

    /// Whether the rendered resource `doc` passes every filter.
    pub fn matches(&self, doc: &Value) -> bool {
        self.list.iter().all(|(name, wanted)| {
            let have = values(doc, name);
            have.iter()
                .any(|h| wanted.iter().any(|w| glob(w.as_bytes(), h.as_bytes())))
        })
    }
}

/// `vpc-id` → `VpcId`.
fn camel(name: &str) -> String {
    name.split('-')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

fn push_scalar(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| push_scalar(x, out)),
        _ => {}
    }
}

/// Values of `member` in `doc`, or of `member` in each element of the list `doc`.
fn member_values(doc: &Value, member: &str, out: &mut Vec<String>) {
    match doc {
        Value::Array(a) => a.iter().for_each(|x| member_values(x, member, out)),
        Value::Object(m) => {
            if let Some(v) = m.get(member) {
                push_scalar(v, out);
            }
        }
        _ => {}
    }
}

fn tags_of(doc: &Value) -> &[Value] {
    let t = list(doc, "Tags");
    if t.is_empty() {
        list(doc, "TagSet")
    } else {
        t
    }
}

/// Every value the resource has for a filter name.
pub(crate) fn values(doc: &Value, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(key) = name.strip_prefix("tag:") {
        for t in tags_of(doc) {
            if s(t, "Key") == Some(key) {
                out.push(s(t, "Value").unwrap_or("").to_string());
            }
        }
        return out;
    }
    match name {
        "tag-key" => {
            for t in tags_of(doc) {
                out.extend(s(t, "Key").map(str::to_string));
            }
            return out;
        }
        "tag-value" => {
            for t in tags_of(doc) {
                out.extend(s(t, "Value").map(str::to_string));
            }
            return out;
        }
        "cidr" => {
            member_values(doc, "CidrBlock", &mut out);
            return out;
        }
        "cidr-block-association.cidr-block" => {
            member_values(
                doc.get("CidrBlockAssociationSet").unwrap_or(&Value::Null),
                "CidrBlock",
                &mut out,
            );
            return out;
        }
        "vpc-endpoint-state" => {
            member_values(doc, "State", &mut out);
            return out;
        }
        "service-type" => {
            member_values(
                doc.get("ServiceType").unwrap_or(&Value::Null),
                "ServiceType",
                &mut out,
            );
            return out;
        }
        "deliver-log-status" => {
            member_values(doc, "DeliverLogsStatus", &mut out);
            return out;
        }
        "nat-gateway-address.allocation-id" | "nat-gateway-address.public-ip" => {
            let m = if name.ends_with("allocation-id") {
                "AllocationId"
            } else {
                "PublicIp"
            };
            member_values(
                doc.get("NatGatewayAddresses").unwrap_or(&Value::Null),
                m,
                &mut out,
            );
            return out;
        }
        _ => {}
    }
    if let Some((head, tail)) = name.split_once('.') {
        // `association.main` → Associations[*].Main; `attachment.vpc-id` →
        // Attachments[*].VpcId / Attachment.VpcId; `route.gateway-id` → Routes[*].GatewayId.
        let base = camel(head);
        let leaf = camel(tail);
        for container in [format!("{base}s"), base.clone(), format!("{base}Set")] {
            if let Some(c) = doc.get(&container) {
                member_values(c, &leaf, &mut out);
            }
        }
        if head == "ip-permission" {
            for perm in list(doc, "IpPermissions") {
                match tail {
                    "cidr" => member_values(
                        perm.get("IpRanges").unwrap_or(&Value::Null),
                        "CidrIp",
                        &mut out,
                    ),
                    "group-id" => member_values(
                        perm.get("UserIdGroupPairs").unwrap_or(&Value::Null),
                        "GroupId",
                        &mut out,
                    ),
                    "protocol" => member_values(perm, "IpProtocol", &mut out),
                    _ => member_values(perm, &leaf, &mut out),
                }
            }
        }
        return out;
    }
    let m = camel(name);
    member_values(doc, &m, &mut out);
    if out.is_empty() && name == "group-id" {
        member_values(
            doc.get("Groups").unwrap_or(&Value::Null),
            "GroupId",
            &mut out,
        );
    }
    if out.is_empty() && name == "group-name" {
        member_values(
            doc.get("Groups").unwrap_or(&Value::Null),
            "GroupName",
            &mut out,
        );
    }
    out
}

/// `*` (any run) and `?` (any one character) glob match.
pub(crate) fn glob(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(c) if *c == b'?' || Some(c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    while pat.get(p) == Some(&b'*') {
        p += 1;
    }
    p == pat.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs_and_names() {
        assert!(glob(b"private-*", b"private-sn-1a"));
        assert!(glob(b"us-east-1?", b"us-east-1a"));
        assert!(!glob(b"us-east-1?", b"us-east-1"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"abc", b"abd"));
        let rt = json!({"VpcId": "vpc-1", "Associations": [{"Main": true}],
            "Tags": [{"Key": "Name", "Value": "main"}]});
        assert_eq!(values(&rt, "association.main"), vec!["true"]);
        assert_eq!(values(&rt, "vpc-id"), vec!["vpc-1"]);
        assert_eq!(values(&rt, "tag:Name"), vec!["main"]);
        assert_eq!(values(&rt, "tag-key"), vec!["Name"]);
        let igw = json!({"Attachments": [{"VpcId": "vpc-2", "State": "available"}]});
        assert_eq!(values(&igw, "attachment.vpc-id"), vec!["vpc-2"]);
    }
}
