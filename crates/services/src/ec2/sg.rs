//! Security groups and their rules. A group stores its rules (`_rules`), one
//! per peer, each with its `sgr-` id; `IpPermissions`/`IpPermissionsEgress`
//! are rendered from them, grouped by protocol and port range as AWS does.

use serde_json::{json, Value};

use super::filter::Filters;
use super::{
    arr, arr_mut, describe, err, gs, invalid, new_id, not_found, paginate, public, set, spec_tags,
    Region, Rq, ENI, SG, VPC, VPCE,
};
use crate::util::{list, s};
use crate::AwsError;

fn egress_all(id: &str) -> Value {
    json!({"SecurityGroupRuleId": new_id("sgr-"), "GroupId": id, "IsEgress": true,
           "IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0", "Tags": []})
}

/// The VPC's `default` group: all traffic from itself, all egress.
pub(crate) fn create_default_group(r: &mut Region, rq: &Rq<'_>, vpc_id: &str) -> String {
    let id = new_id("sg-");
    let rules = vec![
        json!({"SecurityGroupRuleId": new_id("sgr-"), "GroupId": id, "IsEgress": false,
               "IpProtocol": "-1", "ReferencedGroupInfo": {"GroupId": id, "UserId": rq.account},
               "Tags": []}),
        egress_all(&id),
    ];
    r.insert(
        SG,
        &id,
        json!({"Description": "default VPC security group", "GroupName": "default",
               "GroupId": id, "VpcId": vpc_id, "OwnerId": rq.account,
               "SecurityGroupArn": rq.arn("security-group", &id), "Tags": [], "_rules": rules}),
    );
    id
}

/// A group as DescribeSecurityGroups shows it.
fn render(d: &Value) -> Value {
    let mut out = d.clone();
    for (member, egress) in [("IpPermissions", false), ("IpPermissionsEgress", true)] {
        let mut perms: Vec<Value> = Vec::new();
        for rule in arr(d, "_rules") {
            if rule.get("IsEgress").and_then(Value::as_bool) != Some(egress) {
                continue;
            }
            let proto = gs(rule, "IpProtocol");
            let from = rule.get("FromPort").cloned();
            let to = rule.get("ToPort").cloned();
            let pos = perms.iter().position(|p| {
                gs(p, "IpProtocol") == proto
                    && p.get("FromPort").cloned() == from
                    && p.get("ToPort").cloned() == to
            });
            let idx = match pos {
                Some(i) => i,
                None => {
                    let mut p = json!({"IpProtocol": proto, "IpRanges": [], "Ipv6Ranges": [],
                        "PrefixListIds": [], "UserIdGroupPairs": []});
                    if let Some(f) = &from {
                        set(&mut p, "FromPort", f.clone());
                    }
                    if let Some(t) = &to {
                        set(&mut p, "ToPort", t.clone());
                    }
                    perms.push(p);
                    perms.len() - 1
                }
            };
            let Some(p) = perms.get_mut(idx) else {
                continue;
            };
            let desc = rule.get("Description").cloned();
            let mut entry = |list: &str, v: Value| {
                let mut v = v;
                if let Some(d) = &desc {
                    set(&mut v, "Description", d.clone());
                }
                if let Some(l) = arr_mut(p, list) {
                    l.push(v);
                }
            };
            if let Some(c) = rule.get("CidrIpv4") {
                entry("IpRanges", json!({ "CidrIp": c }));
            } else if let Some(c) = rule.get("CidrIpv6") {
                entry("Ipv6Ranges", json!({ "CidrIpv6": c }));
            } else if let Some(c) = rule.get("PrefixListId") {
                entry("PrefixListIds", json!({ "PrefixListId": c }));
            } else if let Some(g) = rule.get("ReferencedGroupInfo") {
                entry(
                    "UserIdGroupPairs",
                    json!({"GroupId": gs(g, "GroupId"), "UserId": gs(g, "UserId")}),
                );
            }
        }
        set(&mut out, member, Value::Array(perms));
    }
    out
}

fn rule_out(rq: &Rq<'_>, owner: &str, rule: &Value) -> Value {
    let mut v = rule.clone();
    set(&mut v, "GroupOwnerId", json!(owner));
    set(
        &mut v,
        "SecurityGroupRuleArn",
        json!(rq.arn("security-group-rule", gs(rule, "SecurityGroupRuleId"))),
    );
    v
}

fn norm_proto(p: &str) -> Result<String, AwsError> {
    Ok(match p.to_ascii_lowercase().as_str() {
        "tcp" | "6" => "tcp".into(),
        "udp" | "17" => "udp".into(),
        "icmp" | "1" => "icmp".into(),
        "icmpv6" | "58" => "icmpv6".into(),
        "-1" | "all" => "-1".into(),
        other => match other.parse::<u8>() {
            Ok(n) => n.to_string(),
            Err(_) => {
                return Err(invalid(format!(
                    "Invalid value '{p}' for IP protocol. Unknown protocol."
                )))
            }
        },
    })
}

/// The rules a permission list asks for (without ids).
fn wanted(r: &Region, rq: &Rq<'_>, group: &Value, egress: bool) -> Result<Vec<Value>, AwsError> {
    let mut perms: Vec<Value> = list(rq.input, "IpPermissions").to_vec();
    if let Some(proto) = rq.s("IpProtocol") {
        let mut p = json!({"IpProtocol": proto});
        for m in ["FromPort", "ToPort"] {
            if let Some(v) = rq.input.get(m) {
                set(&mut p, m, v.clone());
            }
        }
        if let Some(c) = rq.s("CidrIp") {
            set(&mut p, "IpRanges", json!([{ "CidrIp": c }]));
        }
        if let Some(g) = rq.s("SourceSecurityGroupName") {
            set(&mut p, "UserIdGroupPairs", json!([{ "GroupName": g }]));
        }
        perms.push(p);
    } else if let Some(g) = rq.s("SourceSecurityGroupName") {
        perms.push(json!({"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupName": g}]}));
    }
    let vpc_id = gs(group, "VpcId");
    let mut out = Vec::new();
    for p in &perms {
        let proto = norm_proto(s(p, "IpProtocol").unwrap_or("-1"))?;
        let from = p.get("FromPort").and_then(Value::as_i64);
        let to = p.get("ToPort").and_then(Value::as_i64);
        let mut base =
            json!({"GroupId": gs(group, "GroupId"), "IsEgress": egress, "IpProtocol": proto});
        match proto.as_str() {
            "-1" => {}
            "tcp" | "udp" => {
                let (Some(f), Some(t)) = (from, to) else {
                    return Err(invalid(
                        "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange",
                    ));
                };
                if !(0..=65535).contains(&f) || !(0..=65535).contains(&t) || f > t {
                    return Err(invalid(format!(
                        "Invalid value '{f}-{t}' for portRange. Ports must be between 0 and 65535 and the from port must not exceed the to port."
                    )));
                }
                set(&mut base, "FromPort", json!(f));
                set(&mut base, "ToPort", json!(t));
            }
            _ => {
                set(&mut base, "FromPort", json!(from.unwrap_or(-1)));
                set(&mut base, "ToPort", json!(to.unwrap_or(-1)));
            }
        }
        let mut peers: Vec<(Option<Value>, &str, Value)> = Vec::new();
        for x in list(p, "IpRanges") {
            let c = s(x, "CidrIp").unwrap_or("");
            if super::net::parse_cidr(c).is_none() && c.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(invalid(format!("CIDR block {c} is malformed")));
            }
            peers.push((x.get("Description").cloned(), "CidrIpv4", json!(c)));
        }
        for x in list(p, "Ipv6Ranges") {
            peers.push((
                x.get("Description").cloned(),
                "CidrIpv6",
                json!(s(x, "CidrIpv6").unwrap_or("")),
            ));
        }
        for x in list(p, "PrefixListIds") {
            let id = s(x, "PrefixListId").unwrap_or("");
            if !super::vpce::prefix_lists(rq.region)
                .iter()
                .any(|(p, _)| p == id)
            {
                return Err(err(
                    "InvalidPrefixListId.NotFound",
                    format!("The prefix list ID '{id}' does not exist"),
                ));
            }
            peers.push((x.get("Description").cloned(), "PrefixListId", json!(id)));
        }
        for x in list(p, "UserIdGroupPairs") {
            let gid = match (s(x, "GroupId"), s(x, "GroupName")) {
                (Some(g), _) => {
                    r.need(SG, g)?;
                    g.to_string()
                }
                (None, Some(name)) => r
                    .all(SG)
                    .find(|(_, d)| gs(d, "VpcId") == vpc_id && gs(d, "GroupName") == name)
                    .map(|(k, _)| k.clone())
                    .ok_or_else(|| {
                        err(
                            "InvalidGroup.NotFound",
                            format!("The security group '{name}' does not exist in VPC '{vpc_id}'"),
                        )
                    })?,
                (None, None) => return Err(invalid("A group pair needs GroupId or GroupName.")),
            };
            let user = s(x, "UserId").unwrap_or(rq.account);
            peers.push((
                x.get("Description").cloned(),
                "ReferencedGroupInfo",
                json!({"GroupId": gid, "UserId": user}),
            ));
        }
        if peers.is_empty() {
            return Err(err(
                "InvalidParameterValue",
                "The request must specify at least one source or destination (IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs).",
            ));
        }
        for (desc, member, v) in peers {
            let mut rule = base.clone();
            set(&mut rule, member, v);
            if let Some(d) = desc {
                set(&mut rule, "Description", d);
            }
            out.push(rule);
        }
    }
    Ok(out)
}

/// Two rules with the same direction, protocol, ports and peer.
fn same_rule(a: &Value, b: &Value) -> bool {
    let peer = |x: &Value| {
        for m in ["CidrIpv4", "CidrIpv6", "PrefixListId"] {
            if let Some(v) = x.get(m) {
                return v.clone();
            }
        }
        json!(gs(
            x.get("ReferencedGroupInfo").unwrap_or(&Value::Null),
            "GroupId"
        ))
    };
    ["IsEgress", "IpProtocol", "FromPort", "ToPort"]
        .iter()
        .all(|m| a.get(*m) == b.get(*m))
        && peer(a) == peer(b)
}

fn describe_rule(x: &Value) -> String {
    let peer = ["CidrIpv4", "CidrIpv6", "PrefixListId"]
        .iter()
        .find_map(|m| x.get(*m).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| {
            gs(
                x.get("ReferencedGroupInfo").unwrap_or(&Value::Null),
                "GroupId",
            )
            .to_string()
        });
    let proto = gs(x, "IpProtocol");
    if proto == "-1" {
        format!("peer: {peer}, ALL, ALLOW")
    } else {
        format!(
            "peer: {peer}, {}, from port: {}, to port: {}, ALLOW",
            proto.to_ascii_uppercase(),
            x.get("FromPort").and_then(Value::as_i64).unwrap_or(-1),
            x.get("ToPort").and_then(Value::as_i64).unwrap_or(-1)
        )
    }
}

fn group_by(r: &Region, rq: &Rq<'_>) -> Result<String, AwsError> {
    if let Some(id) = rq.s("GroupId") {
        r.need(SG, id)?;
        return Ok(id.to_string());
    }
    if let Some(name) = rq.s("GroupName") {
        let found: Vec<String> = r
            .all(SG)
            .filter(|(_, d)| gs(d, "GroupName") == name)
            .map(|(k, _)| k.clone())
            .collect();
        return match found.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(err(
                "InvalidGroup.NotFound",
                format!("The security group '{name}' does not exist in default VPC 'none'"),
            )),
        };
    }
    Err(super::missing("GroupId"))
}

pub(crate) fn create_security_group(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let name = rq.req("GroupName")?.to_string();
    let desc = rq.req("Description")?.to_string();
    let Some(vpc_id) = rq.s("VpcId") else {
        return Err(err("VPCIdNotSpecified", "No default VPC for this user"));
    };
    r.need(VPC, vpc_id)?;
    if name.starts_with("sg-") {
        return Err(invalid("Group names may not be in the format sg-*."));
    }
    if name == "default" {
        return Err(invalid("Cannot use reserved security group name: default"));
    }
    if name.len() > 255 || desc.len() > 255 {
        return Err(invalid(
            "Group name and description must be at most 255 characters.",
        ));
    }
    if r.all(SG)
        .any(|(_, d)| gs(d, "VpcId") == vpc_id && gs(d, "GroupName") == name)
    {
        return Err(err(
            "InvalidGroup.Duplicate",
            format!("The security group '{name}' already exists for VPC '{vpc_id}'"),
        ));
    }
    let tags = spec_tags(rq.input, "security-group")?;
    let id = new_id("sg-");
    let arn = rq.arn("security-group", &id);
    r.insert(
        SG,
        &id,
        json!({"Description": desc, "GroupName": name, "GroupId": id, "VpcId": vpc_id,
               "OwnerId": rq.account, "SecurityGroupArn": arn, "Tags": tags,
               "_rules": [egress_all(&id)]}),
    );
    Ok(json!({"GroupId": id, "Tags": tags, "SecurityGroupArn": arn}))
}

pub(crate) fn describe_security_groups(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let names = rq.strs("GroupNames");
    for n in &names {
        if !r.all(SG).any(|(_, d)| gs(d, "GroupName") == n) {
            return Err(err(
                "InvalidGroup.NotFound",
                format!("The security group '{n}' does not exist in default VPC 'none'"),
            ));
        }
    }
    let out = describe(r, rq, SG, "GroupIds", "SecurityGroups", |_, d| {
        std::borrow::Cow::Owned(render(d))
    })?;
    if names.is_empty() {
        return Ok(out);
    }
    let mut out = out;
    let kept: Vec<Value> = list(&out, "SecurityGroups")
        .iter()
        .filter(|g| names.iter().any(|n| n == gs(g, "GroupName")))
        .cloned()
        .collect();
    set(&mut out, "SecurityGroups", Value::Array(kept));
    Ok(out)
}

pub(crate) fn delete_security_group(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = group_by(r, rq)?;
    let g = r.need(SG, &id)?;
    if gs(g, "GroupName") == "default" {
        return Err(err(
            "CannotDelete",
            format!("the specified group: \"{id}\" name: \"default\" cannot be deleted by a user"),
        ));
    }
    let referenced = r.all(SG).any(|(other, d)| {
        other != &id
            && arr(d, "_rules").iter().any(|x| {
                gs(
                    x.get("ReferencedGroupInfo").unwrap_or(&Value::Null),
                    "GroupId",
                ) == id
            })
    });
    let in_use = r
        .all(ENI)
        .any(|(_, e)| arr(e, "Groups").iter().any(|x| gs(x, "GroupId") == id))
        || r.all(VPCE)
            .any(|(_, e)| arr(e, "Groups").iter().any(|x| gs(x, "GroupId") == id));
    if referenced || in_use {
        return Err(err(
            "DependencyViolation",
            format!("resource {id} has a dependent object"),
        ));
    }
    r.remove(SG, &id);
    Ok(json!({ "Return": true, "GroupId": id }))
}

fn authorize(r: &mut Region, rq: &Rq<'_>, egress: bool) -> Result<Value, AwsError> {
    let id = group_by(r, rq)?;
    let group = r.need(SG, &id)?.clone();
    let new_rules = wanted(r, rq, &group, egress)?;
    let existing = arr(&group, "_rules");
    let mut added: Vec<Value> = Vec::new();
    let tags = spec_tags(rq.input, "security-group-rule")?;
    for rule in new_rules {
        if existing
            .iter()
            .chain(added.iter())
            .any(|x| same_rule(x, &rule))
        {
            return Err(err(
                "InvalidPermission.Duplicate",
                format!(
                    "the specified rule \"{}\" already exists",
                    describe_rule(&rule)
                ),
            ));
        }
        let mut rule = rule;
        set(&mut rule, "SecurityGroupRuleId", json!(new_id("sgr-")));
        set(&mut rule, "Tags", tags.clone());
        added.push(rule);
    }
    if let Some(rules) = r.get_mut(SG, &id).and_then(|d| arr_mut(d, "_rules")) {
        rules.extend(added.iter().cloned());
    }
    let owner = gs(&group, "OwnerId").to_string();
    let shown: Vec<Value> = added.iter().map(|x| rule_out(rq, &owner, x)).collect();
    Ok(json!({"Return": true, "SecurityGroupRules": shown}))
}

fn revoke(r: &mut Region, rq: &Rq<'_>, egress: bool) -> Result<Value, AwsError> {
    let id = group_by(r, rq)?;
    let group = r.need(SG, &id)?.clone();
    let existing = arr(&group, "_rules");
    let mut gone: Vec<String> = Vec::new();
    for rid in rq.strs("SecurityGroupRuleIds") {
        let ok = existing.iter().any(|x| {
            gs(x, "SecurityGroupRuleId") == rid
                && x.get("IsEgress").and_then(Value::as_bool) == Some(egress)
        });
        if !ok {
            return Err(err(
                "InvalidSecurityGroupRuleId.NotFound",
                format!("The security group rule ID '{rid}' does not exist"),
            ));
        }
        gone.push(rid);
    }
    if !list(rq.input, "IpPermissions").is_empty()
        || rq.s("IpProtocol").is_some()
        || rq.s("SourceSecurityGroupName").is_some()
    {
        for w in wanted(r, rq, &group, egress)? {
            match existing.iter().find(|x| same_rule(x, &w)) {
                Some(x) => gone.push(gs(x, "SecurityGroupRuleId").to_string()),
                None => {
                    return Err(err(
                        "InvalidPermission.NotFound",
                        "The specified rule does not exist in this security group.",
                    ))
                }
            }
        }
    }
    let revoked: Vec<Value> = existing
        .iter()
        .filter(|x| gone.iter().any(|g| g == gs(x, "SecurityGroupRuleId")))
        .map(|x| {
            let mut v = public(x);
            if let Some(m) = v.as_object_mut() {
                m.remove("Tags");
                if let Some(g) = m.remove("ReferencedGroupInfo") {
                    m.insert("ReferencedGroupId".into(), json!(gs(&g, "GroupId")));
                }
            }
            v
        })
        .collect();
    if let Some(rules) = r.get_mut(SG, &id).and_then(|d| arr_mut(d, "_rules")) {
        rules.retain(|x| !gone.iter().any(|g| g == gs(x, "SecurityGroupRuleId")));
    }
    Ok(json!({"Return": true, "RevokedSecurityGroupRules": revoked}))
}

pub(crate) fn authorize_ingress(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    authorize(r, rq, false)
}

pub(crate) fn authorize_egress(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    authorize(r, rq, true)
}

pub(crate) fn revoke_ingress(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    revoke(r, rq, false)
}

pub(crate) fn revoke_egress(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    revoke(r, rq, true)
}

pub(crate) fn describe_rules(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let ids = rq.strs("SecurityGroupRuleIds");
    let filters = Filters::parse(rq.input)?;
    let mut items = Vec::new();
    for (_, g) in r.all(SG) {
        let owner = gs(g, "OwnerId");
        for rule in arr(g, "_rules") {
            let rid = gs(rule, "SecurityGroupRuleId");
            if !ids.is_empty() && !ids.iter().any(|i| i == rid) {
                continue;
            }
            let v = rule_out(rq, owner, rule);
            if filters.matches(&v) {
                items.push((rid.to_string(), v));
            }
        }
    }
    for id in &ids {
        if !items.iter().any(|(k, _)| k == id) && !filters_present(rq) {
            return Err(err(
                "InvalidSecurityGroupRuleId.NotFound",
                format!("The security group rule ID '{id}' does not exist"),
            ));
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = paginate(items, rq.input)?;
    let mut out = json!({ "SecurityGroupRules": page });
    if let Some(n) = next {
        set(&mut out, "NextToken", json!(n));
    }
    Ok(out)
}

fn filters_present(rq: &Rq<'_>) -> bool {
    !list(rq.input, "Filters").is_empty()
}

/// Whether a group exists (for endpoints).
pub(crate) fn check_groups(r: &Region, ids: &[String], vpc_id: &str) -> Result<(), AwsError> {
    for g in ids {
        let d = r.get(SG, g).ok_or_else(|| not_found(SG, g))?;
        if gs(d, "VpcId") != vpc_id {
            return Err(invalid(format!(
                "The security group {g} does not belong to VPC {vpc_id}"
            )));
        }
    }
    Ok(())
}
