//! Stored IAM documents and their renderings as the API's output shapes.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::doc::url_encode;
use crate::util::tags_value;

/// A role as other modules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRecord {
    /// Role name as created.
    pub name: String,
    /// Path, e.g. `/` or `/service-role/`.
    pub path: String,
    /// `AROA…` id.
    pub role_id: String,
    /// Role ARN.
    pub arn: String,
    /// Trust policy, JSON text (decoded).
    pub assume_role_policy: String,
    /// Maximum session duration, seconds.
    pub max_session_duration: i64,
    /// Permissions boundary policy ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// Creation time, ISO 8601.
    pub create_date: String,
    /// Description.
    pub description: Option<String>,
}

/// A stored role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RoleDoc {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: String,
    pub trust: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session: i64,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// (date, region) of the last use.
    #[serde(default)]
    pub last_used: Option<(String, String)>,
}

pub(crate) fn boundary_value(arn: &str) -> Value {
    json!({"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": arn})
}

impl RoleDoc {
    pub fn arn(&self, acct: &str) -> String {
        format!("arn:aws:iam::{acct}:role{}{}", self.path, self.name)
    }

    pub fn record(&self, acct: &str) -> RoleRecord {
        RoleRecord {
            name: self.name.clone(),
            path: self.path.clone(),
            role_id: self.id.clone(),
            arn: self.arn(acct),
            assume_role_policy: self.trust.clone(),
            max_session_duration: self.max_session,
            permissions_boundary: self.boundary.clone(),
            tags: self.tags.clone(),
            create_date: self.created.clone(),
            description: self.description.clone(),
        }
    }

    /// The `Role` shape as ListRoles prints it (no tags, boundary, last use).
    pub fn brief(&self, acct: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Path".into(), json!(self.path));
        m.insert("RoleName".into(), json!(self.name));
        m.insert("RoleId".into(), json!(self.id));
        m.insert("Arn".into(), json!(self.arn(acct)));
        m.insert("CreateDate".into(), json!(self.created));
        m.insert(
            "AssumeRolePolicyDocument".into(),
            json!(url_encode(&self.trust)),
        );
        if let Some(d) = &self.description {
            m.insert("Description".into(), json!(d));
        }
        m.insert("MaxSessionDuration".into(), json!(self.max_session));
        m
    }

    /// The full `Role` shape (GetRole, CreateRole).
    pub fn full(&self, acct: &str) -> Value {
        let mut m = self.brief(acct);
        if let Some(b) = &self.boundary {
            m.insert("PermissionsBoundary".into(), boundary_value(b));
        }
        if !self.tags.is_empty() {
            m.insert("Tags".into(), tags_value(&self.tags));
        }
        m.insert("RoleLastUsed".into(), self.last_used_value());
        Value::Object(m)
    }

    pub fn last_used_value(&self) -> Value {
        match &self.last_used {
            Some((d, r)) => json!({"LastUsedDate": d, "Region": r}),
            None => json!({}),
        }
    }

    /// Service-linked roles are only modifiable by AWS.
    pub fn protected(&self) -> bool {
        self.path.starts_with("/aws-service-role/")
    }
}

/// A stored user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserDoc {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: String,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Group names (as created) the user belongs to, in joining order.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl UserDoc {
    pub fn arn(&self, acct: &str) -> String {
        format!("arn:aws:iam::{acct}:user{}{}", self.path, self.name)
    }

    pub fn brief(&self, acct: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Path".into(), json!(self.path));
        m.insert("UserName".into(), json!(self.name));
        m.insert("UserId".into(), json!(self.id));
        m.insert("Arn".into(), json!(self.arn(acct)));
        m.insert("CreateDate".into(), json!(self.created));
        m
    }

    pub fn full(&self, acct: &str) -> Value {
        let mut m = self.brief(acct);
        if let Some(b) = &self.boundary {
            m.insert("PermissionsBoundary".into(), boundary_value(b));
        }
        if !self.tags.is_empty() {
            m.insert("Tags".into(), tags_value(&self.tags));
        }
        Value::Object(m)
    }
}

/// A stored group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GroupDoc {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: String,
}

impl GroupDoc {
    pub fn arn(&self, acct: &str) -> String {
        format!("arn:aws:iam::{acct}:group{}{}", self.path, self.name)
    }

    pub fn value(&self, acct: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Path".into(), json!(self.path));
        m.insert("GroupName".into(), json!(self.name));
        m.insert("GroupId".into(), json!(self.id));
        m.insert("Arn".into(), json!(self.arn(acct)));
        m.insert("CreateDate".into(), json!(self.created));
        m
    }
}

/// A stored inline policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InlineDoc {
    pub name: String,
    pub document: String,
}

/// A stored managed-policy attachment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AttachDoc {
    pub arn: String,
    /// `role`, `user` or `group`.
    pub etype: String,
    /// Entity name as created.
    pub name: String,
}

/// One version of a customer-managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VersionDoc {
    pub id: String,
    pub document: String,
    pub created: String,
}

/// A stored customer-managed policy with its versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PolicyDoc {
    pub name: String,
    pub path: String,
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created: String,
    pub updated: String,
    pub default_version: String,
    /// The number of the next version id (`v<n>`); never reused.
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub versions: Vec<VersionDoc>,
}

impl PolicyDoc {
    pub fn arn(&self, acct: &str) -> String {
        format!("arn:aws:iam::{acct}:policy{}{}", self.path, self.name)
    }

    pub fn default(&self) -> Option<&VersionDoc> {
        self.versions.iter().find(|v| v.id == self.default_version)
    }
}

/// The `Policy` shape for a customer or AWS-managed policy.
pub(crate) struct PolicyView<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub arn: String,
    pub path: &'a str,
    pub default_version: &'a str,
    pub attachments: usize,
    pub boundary_uses: usize,
    pub description: Option<&'a str>,
    pub created: &'a str,
    pub updated: &'a str,
}

impl PolicyView<'_> {
    pub fn value(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("PolicyName".into(), json!(self.name));
        m.insert("PolicyId".into(), json!(self.id));
        m.insert("Arn".into(), json!(self.arn));
        m.insert("Path".into(), json!(self.path));
        m.insert("DefaultVersionId".into(), json!(self.default_version));
        m.insert("AttachmentCount".into(), json!(self.attachments));
        m.insert(
            "PermissionsBoundaryUsageCount".into(),
            json!(self.boundary_uses),
        );
        m.insert("IsAttachable".into(), json!(true));
        if let Some(d) = self.description {
            m.insert("Description".into(), json!(d));
        }
        m.insert("CreateDate".into(), json!(self.created));
        m.insert("UpdateDate".into(), json!(self.updated));
        m
    }
}

/// The `PolicyVersion` shape; `with_doc` adds the URL-encoded document.
pub(crate) fn version_value(
    id: &str,
    document: &str,
    default: bool,
    created: &str,
    with_doc: bool,
) -> Value {
    let mut m = Map::new();
    if with_doc {
        m.insert("Document".into(), json!(url_encode(document)));
    }
    m.insert("VersionId".into(), json!(id));
    m.insert("IsDefaultVersion".into(), json!(default));
    m.insert("CreateDate".into(), json!(created));
    Value::Object(m)
}

/// A stored instance profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProfileDoc {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: String,
    /// Row keys (lowercased names) of the roles in the profile.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl ProfileDoc {
    pub fn arn(&self, acct: &str) -> String {
        format!(
            "arn:aws:iam::{acct}:instance-profile{}{}",
            self.path, self.name
        )
    }
}
