//! AWS::IAM::* providers.

use serde_json::{json, Map, Value};

use super::{
    doc_text, ignore_missing, is_not_found, kv_tags, prop, req_prop, scalar, str_list, Created,
    PCtx, Provider,
};

pub(crate) struct Role;
pub(crate) struct InlinePolicy;
pub(crate) struct ManagedPolicy;
pub(crate) struct InstanceProfile;
pub(crate) struct User;
pub(crate) struct Group;
pub(crate) struct AccessKey;

/// `{PolicyName, PolicyDocument}` list of a Role/User/Group.
fn inline_policies(props: &Value) -> Vec<(String, String)> {
    props
        .get("Policies")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p.get("PolicyName").map(scalar).unwrap_or_default(),
                        p.get("PolicyDocument").map(doc_text).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Principal kinds: (member, Put op, Delete op, Attach op, Detach op, ListInline, ListAttached).
struct Kind {
    member: &'static str,
    put: &'static str,
    del: &'static str,
    attach: &'static str,
    detach: &'static str,
    list_inline: &'static str,
    list_attached: &'static str,
}

const ROLE: Kind = Kind {
    member: "RoleName",
    put: "PutRolePolicy",
    del: "DeleteRolePolicy",
    attach: "AttachRolePolicy",
    detach: "DetachRolePolicy",
    list_inline: "ListRolePolicies",
    list_attached: "ListAttachedRolePolicies",
};
const USER: Kind = Kind {
    member: "UserName",
    put: "PutUserPolicy",
    del: "DeleteUserPolicy",
    attach: "AttachUserPolicy",
    detach: "DetachUserPolicy",
    list_inline: "ListUserPolicies",
    list_attached: "ListAttachedUserPolicies",
};
const GROUP: Kind = Kind {
    member: "GroupName",
    put: "PutGroupPolicy",
    del: "DeleteGroupPolicy",
    attach: "AttachGroupPolicy",
    detach: "DetachGroupPolicy",
    list_inline: "ListGroupPolicies",
    list_attached: "ListAttachedGroupPolicies",
};

/// Brings inline and managed policies of a principal from `old` to `new`.
fn sync_policies(
    cx: &PCtx<'_>,
    k: &Kind,
    name: &str,
    old: &Value,
    new: &Value,
) -> Result<(), String> {
    let (oi, ni) = (inline_policies(old), inline_policies(new));
    for (pn, doc) in &ni {
        if !oi.iter().any(|(a, b)| a == pn && b == doc) {
            cx.call(
                "iam",
                k.put,
                json!({k.member: name, "PolicyName": pn, "PolicyDocument": doc}),
            )?;
        }
    }
    for (pn, _) in &oi {
        if !ni.iter().any(|(a, _)| a == pn) {
            ignore_missing(cx.call("iam", k.del, json!({k.member: name, "PolicyName": pn})))?;
        }
    }
    let (om, nm) = (
        str_list(old, "ManagedPolicyArns"),
        str_list(new, "ManagedPolicyArns"),
    );
    for arn in &nm {
        if !om.contains(arn) {
            cx.call("iam", k.attach, json!({k.member: name, "PolicyArn": arn}))?;
        }
    }
    for arn in &om {
        if !nm.contains(arn) {
            ignore_missing(cx.call("iam", k.detach, json!({k.member: name, "PolicyArn": arn})))?;
        }
    }
    Ok(())
}

/// Removes every inline and attached policy of a principal (before deleting it).
fn strip_policies(cx: &PCtx<'_>, k: &Kind, name: &str) -> Result<(), String> {
    let inl = match cx.call("iam", k.list_inline, json!({k.member: name})) {
        Ok(v) => v,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for pn in inl
        .get("PolicyNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        ignore_missing(cx.call("iam", k.del, json!({k.member: name, "PolicyName": pn})))?;
    }
    let att = cx.call("iam", k.list_attached, json!({k.member: name}))?;
    for p in att
        .get("AttachedPolicies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let arn = p.get("PolicyArn").cloned().unwrap_or(Value::Null);
        ignore_missing(cx.call("iam", k.detach, json!({k.member: name, "PolicyArn": arn})))?;
    }
    Ok(())
}

impl Provider for Role {
    fn declared_id(&self, p: &Value) -> Option<String> {
        prop(p, "RoleName").map(str::to_string)
    }
    fn properties(&self) -> &'static [&'static str] {
        &[
            "AssumeRolePolicyDocument",
            "Description",
            "ManagedPolicyArns",
            "MaxSessionDuration",
            "Path",
            "PermissionsBoundary",
            "Policies",
            "RoleName",
            "Tags",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["RoleName", "Path"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let name = prop(p, "RoleName")
            .map(str::to_string)
            .unwrap_or_else(|| cx.gen_name(64, false));
        req_prop(p, "AssumeRolePolicyDocument")?;
        let trust = p
            .get("AssumeRolePolicyDocument")
            .map(doc_text)
            .unwrap_or_default();
        let mut input = json!({"RoleName": name, "AssumeRolePolicyDocument": trust});
        for k in ["Path", "Description", "PermissionsBoundary"] {
            if let Some(v) = p.get(k) {
                input[k] = Value::String(scalar(v));
            }
        }
        if let Some(v) = p.get("MaxSessionDuration") {
            input["MaxSessionDuration"] = json!(scalar(v).parse::<i64>().unwrap_or(3600));
        }
        let tags = cx.merged_tags(p);
        if !tags.is_empty() {
            input["Tags"] = kv_tags(&tags);
        }
        let out = cx.call("iam", "CreateRole", input)?;
        let role = out.get("Role").cloned().unwrap_or(Value::Null);
        if let Err(e) = sync_policies(cx, &ROLE, &name, &Value::Null, p) {
            let _ = strip_policies(cx, &ROLE, &name);
            let _ = cx.call("iam", "DeleteRole", json!({"RoleName": name}));
            return Err(e);
        }
        let mut attrs = Map::new();
        attrs.insert(
            "Arn".into(),
            role.get("Arn").cloned().unwrap_or(Value::Null),
        );
        attrs.insert(
            "RoleId".into(),
            role.get("RoleId").cloned().unwrap_or(Value::Null),
        );
        Ok(Created {
            physical_id: name,
            attrs,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        attrs: &Map<String, Value>,
    ) -> Result<Created, String> {
        if old.get("AssumeRolePolicyDocument") != new.get("AssumeRolePolicyDocument") {
            let d = new
                .get("AssumeRolePolicyDocument")
                .map(doc_text)
                .unwrap_or_default();
            cx.call(
                "iam",
                "UpdateAssumeRolePolicy",
                json!({"RoleName": id, "PolicyDocument": d}),
            )?;
        }
        if old.get("Description") != new.get("Description")
            || old.get("MaxSessionDuration") != new.get("MaxSessionDuration")
        {
            let mut input = json!({"RoleName": id, "Description": new.get("Description").map(scalar).unwrap_or_default()});
            if let Some(v) = new.get("MaxSessionDuration") {
                input["MaxSessionDuration"] = json!(scalar(v).parse::<i64>().unwrap_or(3600));
            }
            cx.call("iam", "UpdateRole", input)?;
        }
        if old.get("PermissionsBoundary") != new.get("PermissionsBoundary") {
            match new.get("PermissionsBoundary") {
                Some(b) => cx.call(
                    "iam",
                    "PutRolePermissionsBoundary",
                    json!({"RoleName": id, "PermissionsBoundary": scalar(b)}),
                )?,
                None => cx.call(
                    "iam",
                    "DeleteRolePermissionsBoundary",
                    json!({"RoleName": id}),
                )?,
            };
        }
        if old.get("Tags") != new.get("Tags") {
            let tags = cx.merged_tags(new);
            let old_keys = cx.removed_tag_keys(old, &tags);
            if !old_keys.is_empty() {
                cx.call(
                    "iam",
                    "UntagRole",
                    json!({"RoleName": id, "TagKeys": old_keys}),
                )?;
            }
            if !tags.is_empty() {
                cx.call(
                    "iam",
                    "TagRole",
                    json!({"RoleName": id, "Tags": kv_tags(&tags)}),
                )?;
            }
        }
        sync_policies(cx, &ROLE, id, old, new)?;
        Ok(Created {
            physical_id: id.to_string(),
            attrs: attrs.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        strip_policies(cx, &ROLE, id)?;
        if let Ok(v) = cx.call(
            "iam",
            "ListInstanceProfilesForRole",
            json!({"RoleName": id}),
        ) {
            for ip in v
                .get("InstanceProfiles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let n = ip
                    .get("InstanceProfileName")
                    .cloned()
                    .unwrap_or(Value::Null);
                ignore_missing(cx.call(
                    "iam",
                    "RemoveRoleFromInstanceProfile",
                    json!({"InstanceProfileName": n, "RoleName": id}),
                ))?;
            }
        }
        ignore_missing(cx.call("iam", "DeleteRole", json!({"RoleName": id})))
    }
}

fn principals(p: &Value) -> Vec<(&'static Kind, String)> {
    let mut out = Vec::new();
    for (k, member) in [(&ROLE, "Roles"), (&USER, "Users"), (&GROUP, "Groups")] {
        for n in str_list(p, member) {
            out.push((k, n));
        }
    }
    out
}

impl Provider for InlinePolicy {
    fn properties(&self) -> &'static [&'static str] {
        &["Groups", "PolicyDocument", "PolicyName", "Roles", "Users"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let name = req_prop(p, "PolicyName")?;
        req_prop(p, "PolicyDocument")?;
        let doc = p.get("PolicyDocument").map(doc_text).unwrap_or_default();
        let targets = principals(p);
        if targets.is_empty() {
            return Err("At least one of [Groups,Roles,Users] must be non-empty.".into());
        }
        let mut done: Vec<(&Kind, String)> = Vec::new();
        for (k, n) in targets {
            if let Err(e) = cx.call(
                "iam",
                k.put,
                json!({k.member: n, "PolicyName": name, "PolicyDocument": doc}),
            ) {
                for (k, n) in done {
                    let _ = cx.call("iam", k.del, json!({k.member: n, "PolicyName": name}));
                }
                return Err(e);
            }
            done.push((k, n));
        }
        Ok(Created {
            physical_id: cx.gen_name(128, false),
            attrs: Map::new(),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        self.delete(cx, id, old, a)?;
        let c = self.create(cx, new)?;
        Ok(Created {
            physical_id: id.to_string(),
            attrs: c.attrs,
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        _id: &str,
        p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let name = p.get("PolicyName").map(scalar).unwrap_or_default();
        for (k, n) in principals(p) {
            ignore_missing(cx.call("iam", k.del, json!({k.member: n, "PolicyName": name})))?;
        }
        Ok(())
    }
}

impl Provider for ManagedPolicy {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "Description",
            "Groups",
            "ManagedPolicyName",
            "Path",
            "PolicyDocument",
            "Roles",
            "Users",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["ManagedPolicyName", "Path", "Description"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let name = prop(p, "ManagedPolicyName")
            .map(str::to_string)
            .unwrap_or_else(|| cx.gen_name(128, false));
        req_prop(p, "PolicyDocument")?;
        let doc = p.get("PolicyDocument").map(doc_text).unwrap_or_default();
        let mut input = json!({"PolicyName": name, "PolicyDocument": doc});
        for k in ["Path", "Description"] {
            if let Some(v) = p.get(k) {
                input[k] = Value::String(scalar(v));
            }
        }
        let out = cx.call("iam", "CreatePolicy", input)?;
        let arn = out
            .pointer("/Policy/Arn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        for (k, n) in principals(p) {
            if let Err(e) = cx.call("iam", k.attach, json!({k.member: n, "PolicyArn": arn})) {
                let _ = self.delete(cx, &arn, p, &Map::new());
                return Err(e);
            }
        }
        let mut attrs = Map::new();
        attrs.insert("PolicyArn".into(), json!(arn));
        attrs.insert(
            "PolicyId".into(),
            out.pointer("/Policy/PolicyId")
                .cloned()
                .unwrap_or(Value::Null),
        );
        Ok(Created {
            physical_id: arn,
            attrs,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        arn: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        if old.get("PolicyDocument") != new.get("PolicyDocument") {
            let doc = new.get("PolicyDocument").map(doc_text).unwrap_or_default();
            let vs = cx.call("iam", "ListPolicyVersions", json!({"PolicyArn": arn}))?;
            for v in vs
                .get("Versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if v.get("IsDefaultVersion") != Some(&Value::Bool(true)) {
                    let id = v.get("VersionId").cloned().unwrap_or(Value::Null);
                    ignore_missing(cx.call(
                        "iam",
                        "DeletePolicyVersion",
                        json!({"PolicyArn": arn, "VersionId": id}),
                    ))?;
                }
            }
            cx.call(
                "iam",
                "CreatePolicyVersion",
                json!({"PolicyArn": arn, "PolicyDocument": doc, "SetAsDefault": true}),
            )?;
        }
        let (o, n) = (principals(old), principals(new));
        for (k, name) in &n {
            if !o.iter().any(|(k2, n2)| k2.member == k.member && n2 == name) {
                cx.call("iam", k.attach, json!({k.member: name, "PolicyArn": arn}))?;
            }
        }
        for (k, name) in &o {
            if !n.iter().any(|(k2, n2)| k2.member == k.member && n2 == name) {
                ignore_missing(cx.call(
                    "iam",
                    k.detach,
                    json!({k.member: name, "PolicyArn": arn}),
                ))?;
            }
        }
        Ok(Created {
            physical_id: arn.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        arn: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let ents = match cx.call("iam", "ListEntitiesForPolicy", json!({"PolicyArn": arn})) {
            Ok(v) => v,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        for (list, k, member) in [
            ("PolicyRoles", &ROLE, "RoleName"),
            ("PolicyUsers", &USER, "UserName"),
            ("PolicyGroups", &GROUP, "GroupName"),
        ] {
            for e in ents
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let n = e.get(member).cloned().unwrap_or(Value::Null);
                ignore_missing(cx.call("iam", k.detach, json!({k.member: n, "PolicyArn": arn})))?;
            }
        }
        if let Ok(vs) = cx.call("iam", "ListPolicyVersions", json!({"PolicyArn": arn})) {
            for v in vs
                .get("Versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if v.get("IsDefaultVersion") != Some(&Value::Bool(true)) {
                    let id = v.get("VersionId").cloned().unwrap_or(Value::Null);
                    ignore_missing(cx.call(
                        "iam",
                        "DeletePolicyVersion",
                        json!({"PolicyArn": arn, "VersionId": id}),
                    ))?;
                }
            }
        }
        ignore_missing(cx.call("iam", "DeletePolicy", json!({"PolicyArn": arn})))
    }
}

impl Provider for InstanceProfile {
    fn properties(&self) -> &'static [&'static str] {
        &["InstanceProfileName", "Path", "Roles"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["InstanceProfileName", "Path"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let name = prop(p, "InstanceProfileName")
            .map(str::to_string)
            .unwrap_or_else(|| cx.gen_name(128, false));
        let mut input = json!({"InstanceProfileName": name});
        if let Some(v) = p.get("Path") {
            input["Path"] = Value::String(scalar(v));
        }
        let out = cx.call("iam", "CreateInstanceProfile", input)?;
        for r in str_list(p, "Roles") {
            if let Err(e) = cx.call(
                "iam",
                "AddRoleToInstanceProfile",
                json!({"InstanceProfileName": name, "RoleName": r}),
            ) {
                let _ = cx.call(
                    "iam",
                    "DeleteInstanceProfile",
                    json!({"InstanceProfileName": name}),
                );
                return Err(e);
            }
        }
        let mut attrs = Map::new();
        attrs.insert(
            "Arn".into(),
            out.pointer("/InstanceProfile/Arn")
                .cloned()
                .unwrap_or(Value::Null),
        );
        Ok(Created {
            physical_id: name,
            attrs,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        let (o, n) = (str_list(old, "Roles"), str_list(new, "Roles"));
        for r in o.iter().filter(|r| !n.contains(r)) {
            ignore_missing(cx.call(
                "iam",
                "RemoveRoleFromInstanceProfile",
                json!({"InstanceProfileName": id, "RoleName": r}),
            ))?;
        }
        for r in n.iter().filter(|r| !o.contains(r)) {
            cx.call(
                "iam",
                "AddRoleToInstanceProfile",
                json!({"InstanceProfileName": id, "RoleName": r}),
            )?;
        }
        Ok(Created {
            physical_id: id.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let ip = match cx.call(
            "iam",
            "GetInstanceProfile",
            json!({"InstanceProfileName": id}),
        ) {
            Ok(v) => v,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        for r in ip
            .pointer("/InstanceProfile/Roles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let n = r.get("RoleName").cloned().unwrap_or(Value::Null);
            ignore_missing(cx.call(
                "iam",
                "RemoveRoleFromInstanceProfile",
                json!({"InstanceProfileName": id, "RoleName": n}),
            ))?;
        }
        ignore_missing(cx.call(
            "iam",
            "DeleteInstanceProfile",
            json!({"InstanceProfileName": id}),
        ))
    }
}

impl Provider for User {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "Groups",
            "ManagedPolicyArns",
            "Path",
            "PermissionsBoundary",
            "Policies",
            "Tags",
            "UserName",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["UserName"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let name = prop(p, "UserName")
            .map(str::to_string)
            .unwrap_or_else(|| cx.gen_name(64, false));
        let mut input = json!({"UserName": name});
        for k in ["Path", "PermissionsBoundary"] {
            if let Some(v) = p.get(k) {
                input[k] = Value::String(scalar(v));
            }
        }
        let tags = cx.merged_tags(p);
        if !tags.is_empty() {
            input["Tags"] = kv_tags(&tags);
        }
        let out = cx.call("iam", "CreateUser", input)?;
        let r = sync_policies(cx, &USER, &name, &Value::Null, p).and_then(|()| {
            for g in str_list(p, "Groups") {
                cx.call(
                    "iam",
                    "AddUserToGroup",
                    json!({"UserName": name, "GroupName": g}),
                )?;
            }
            Ok(())
        });
        if let Err(e) = r {
            let _ = self.delete(cx, &name, p, &Map::new());
            return Err(e);
        }
        let mut attrs = Map::new();
        attrs.insert(
            "Arn".into(),
            out.pointer("/User/Arn").cloned().unwrap_or(Value::Null),
        );
        Ok(Created {
            physical_id: name,
            attrs,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        sync_policies(cx, &USER, id, old, new)?;
        let (o, n) = (str_list(old, "Groups"), str_list(new, "Groups"));
        for g in n.iter().filter(|g| !o.contains(g)) {
            cx.call(
                "iam",
                "AddUserToGroup",
                json!({"UserName": id, "GroupName": g}),
            )?;
        }
        for g in o.iter().filter(|g| !n.contains(g)) {
            ignore_missing(cx.call(
                "iam",
                "RemoveUserFromGroup",
                json!({"UserName": id, "GroupName": g}),
            ))?;
        }
        Ok(Created {
            physical_id: id.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        strip_policies(cx, &USER, id)?;
        if let Ok(v) = cx.call("iam", "ListGroupsForUser", json!({"UserName": id})) {
            for g in v
                .get("Groups")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let n = g.get("GroupName").cloned().unwrap_or(Value::Null);
                ignore_missing(cx.call(
                    "iam",
                    "RemoveUserFromGroup",
                    json!({"UserName": id, "GroupName": n}),
                ))?;
            }
        }
        ignore_missing(cx.call("iam", "DeleteUser", json!({"UserName": id})))
    }
}

impl Provider for Group {
    fn properties(&self) -> &'static [&'static str] {
        &["GroupName", "ManagedPolicyArns", "Path", "Policies"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["GroupName", "Path"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let name = prop(p, "GroupName")
            .map(str::to_string)
            .unwrap_or_else(|| cx.gen_name(128, false));
        let mut input = json!({"GroupName": name});
        if let Some(v) = p.get("Path") {
            input["Path"] = Value::String(scalar(v));
        }
        let out = cx.call("iam", "CreateGroup", input)?;
        if let Err(e) = sync_policies(cx, &GROUP, &name, &Value::Null, p) {
            let _ = self.delete(cx, &name, p, &Map::new());
            return Err(e);
        }
        let mut attrs = Map::new();
        attrs.insert(
            "Arn".into(),
            out.pointer("/Group/Arn").cloned().unwrap_or(Value::Null),
        );
        Ok(Created {
            physical_id: name,
            attrs,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        sync_policies(cx, &GROUP, id, old, new)?;
        Ok(Created {
            physical_id: id.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        strip_policies(cx, &GROUP, id)?;
        if let Ok(v) = cx.call("iam", "GetGroup", json!({"GroupName": id})) {
            for u in v
                .get("Users")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let n = u.get("UserName").cloned().unwrap_or(Value::Null);
                ignore_missing(cx.call(
                    "iam",
                    "RemoveUserFromGroup",
                    json!({"UserName": n, "GroupName": id}),
                ))?;
            }
        }
        ignore_missing(cx.call("iam", "DeleteGroup", json!({"GroupName": id})))
    }
}

impl Provider for AccessKey {
    fn properties(&self) -> &'static [&'static str] {
        &["Serial", "Status", "UserName"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["UserName", "Serial"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let user = req_prop(p, "UserName")?;
        let out = cx.call("iam", "CreateAccessKey", json!({"UserName": user}))?;
        let id = out
            .pointer("/AccessKey/AccessKeyId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if prop(p, "Status") == Some("Inactive") {
            cx.call(
                "iam",
                "UpdateAccessKey",
                json!({"UserName": user, "AccessKeyId": id, "Status": "Inactive"}),
            )?;
        }
        let mut attrs = Map::new();
        attrs.insert(
            "SecretAccessKey".into(),
            out.pointer("/AccessKey/SecretAccessKey")
                .cloned()
                .unwrap_or(Value::Null),
        );
        Ok(Created {
            physical_id: id,
            attrs,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        let user = req_prop(new, "UserName")?;
        let status = prop(new, "Status").unwrap_or("Active");
        cx.call(
            "iam",
            "UpdateAccessKey",
            json!({"UserName": user, "AccessKeyId": id, "Status": status}),
        )?;
        Ok(Created {
            physical_id: id.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let user = p.get("UserName").map(scalar).unwrap_or_default();
        ignore_missing(cx.call(
            "iam",
            "DeleteAccessKey",
            json!({"UserName": user, "AccessKeyId": id}),
        ))
    }
}
