//! The authenticated caller of a request.

use serde::{Deserialize, Serialize};

/// What kind of principal signed the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PrincipalKind {
    /// The account's root user.
    Root,
    /// An IAM user.
    User {
        /// User name.
        name: String,
        /// User path.
        path: String,
        /// `AIDA…` unique id.
        user_id: String,
    },
    /// A role session from `sts:AssumeRole`.
    AssumedRole {
        /// Role name.
        role_name: String,
        /// Role path.
        role_path: String,
        /// `AROA…` unique id of the role.
        role_id: String,
        /// The session name.
        session_name: String,
    },
}

/// Data attached to temporary credentials.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Expiry, seconds since the epoch.
    pub expiration: i64,
    /// The inline session policy passed to AssumeRole/GetFederationToken.
    #[serde(default)]
    pub policy: Option<String>,
    /// Managed session policy ARNs.
    #[serde(default)]
    pub policy_arns: Vec<String>,
    /// Session tags.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Transitive tag keys.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    /// Source identity, if set.
    #[serde(default)]
    pub source_identity: Option<String>,
}

/// An authenticated principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Caller {
    /// The 12-digit account the principal belongs to.
    pub account: String,
    /// Which principal.
    pub kind: PrincipalKind,
    /// The access key that signed the request.
    pub access_key_id: String,
    /// Present for temporary credentials.
    #[serde(default)]
    pub session: Option<SessionInfo>,
}

impl Caller {
    /// The principal's ARN as `GetCallerIdentity` prints it.
    pub fn arn(&self) -> String {
        match &self.kind {
            PrincipalKind::Root => format!("arn:aws:iam::{}:root", self.account),
            PrincipalKind::User { name, path, .. } => {
                format!("arn:aws:iam::{}:user{}{}", self.account, path, name)
            }
            PrincipalKind::AssumedRole {
                role_name,
                session_name,
                ..
            } => format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                self.account, role_name, session_name
            ),
        }
    }

    /// `aws:userid` / `GetCallerIdentity.UserId`.
    pub fn userid(&self) -> String {
        match &self.kind {
            PrincipalKind::Root => self.account.clone(),
            PrincipalKind::User { user_id, .. } => user_id.clone(),
            PrincipalKind::AssumedRole {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
        }
    }

    /// `aws:username` (users only).
    pub fn username(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::User { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The ARN of the role behind an assumed-role session.
    pub fn role_arn(&self) -> Option<String> {
        match &self.kind {
            PrincipalKind::AssumedRole {
                role_name,
                role_path,
                ..
            } => Some(format!(
                "arn:aws:iam::{}:role{}{}",
                self.account, role_path, role_name
            )),
            _ => None,
        }
    }

    /// Whether this is the account's root user.
    pub fn is_root(&self) -> bool {
        matches!(self.kind, PrincipalKind::Root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_userids() {
        let c = Caller {
            account: "111122223333".into(),
            kind: PrincipalKind::AssumedRole {
                role_name: "R".into(),
                role_path: "/service-role/".into(),
                role_id: "AROAEXAMPLE".into(),
                session_name: "s".into(),
            },
            access_key_id: "ASIA".into(),
            session: None,
        };
        assert_eq!(c.arn(), "arn:aws:sts::111122223333:assumed-role/R/s");
        assert_eq!(c.userid(), "AROAEXAMPLE:s");
        assert_eq!(
            c.role_arn().unwrap(),
            "arn:aws:iam::111122223333:role/service-role/R"
        );
        let root = Caller {
            account: "111122223333".into(),
            kind: PrincipalKind::Root,
            access_key_id: "AKIA".into(),
            session: None,
        };
        assert_eq!(root.arn(), "arn:aws:iam::111122223333:root");
        assert_eq!(root.userid(), "111122223333");
    }
}
