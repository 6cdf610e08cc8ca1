use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::accounts::{Accounts, Bootstrap};
use crate::credentials::Credentials;
use crate::{Caller, PrincipalKind};

const MGMT: &str = "111122223333";

struct World {
    _dir: tempfile::TempDir,
    iam: Arc<Iam>,
    orgs: Organizations,
    accounts: Accounts,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.db"), Default::default()).unwrap();
    let creds = Arc::new(Credentials::open(&store).unwrap());
    let accounts = Accounts::open(&store);
    accounts
        .ensure_management(
            &creds,
            &Bootstrap {
                account_id: Some(MGMT.into()),
                ..Default::default()
            },
        )
        .unwrap();
    let iam = Arc::new(Iam::open(&store, Arc::clone(&creds)).unwrap());
    let orgs = Organizations::open(&store, Arc::clone(&iam));
    World {
        _dir: dir,
        iam,
        orgs,
        accounts,
    }
}

fn root_of(account: &str) -> Caller {
    Caller {
        account: account.into(),
        kind: PrincipalKind::Root,
        access_key_id: "AKIAEXAMPLE".into(),
        session: None,
    }
}

fn call(w: &World, as_account: &str, op: &str, input: Value) -> Result<Value, AwsError> {
    let caller = root_of(as_account);
    let ctx = Ctx {
        caller: &caller,
        region: "us-east-1",
        request_id: "req",
        now: util::now(),
    };
    w.orgs.call(&ctx, op, input)
}

fn ok(w: &World, op: &str, input: Value) -> Value {
    call(w, MGMT, op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn code(r: Result<Value, AwsError>) -> String {
    r.expect_err("expected an error").code
}

const DENY_S3: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;

/// Creates the organization and one member account; returns (root id, member id).
fn org_with_member(w: &World) -> (String, String) {
    ok(w, "CreateOrganization", json!({}));
    let root = ok(w, "ListRoots", json!({}))["Roots"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let st = ok(
        w,
        "CreateAccount",
        json!({"Email": "dev@example.com", "AccountName": "dev"}),
    );
    let req_id = st["CreateAccountStatus"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = ok(
        w,
        "DescribeCreateAccountStatus",
        json!({"CreateAccountRequestId": req_id}),
    );
    assert_eq!(done["CreateAccountStatus"]["State"], "SUCCEEDED");
    let member = done["CreateAccountStatus"]["AccountId"]
        .as_str()
        .unwrap()
        .to_string();
    (root, member)
}

fn is_id(s: &str, prefix: &str, n: usize) -> bool {
    s.strip_prefix(prefix).is_some_and(|r| {
        r.len() == n
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

#[test]
fn organization_lifecycle_and_ids() {
    let w = world();
    assert_eq!(
        code(call(&w, MGMT, "DescribeOrganization", json!({}))),
        "AWSOrganizationsNotInUseException"
    );
    let out = ok(&w, "CreateOrganization", json!({}));
    let org = &out["Organization"];
    let id = org["Id"].as_str().unwrap();
    assert!(is_id(id, "o-", 10), "{id}");
    assert_eq!(org["FeatureSet"], "ALL");
    assert_eq!(org["MasterAccountId"], MGMT);
    assert_eq!(
        org["Arn"],
        format!("arn:aws:organizations::{MGMT}:organization/{id}")
    );
    assert_eq!(
        code(call(&w, MGMT, "CreateOrganization", json!({}))),
        "AlreadyInOrganizationException"
    );
    let roots = ok(&w, "ListRoots", json!({}));
    let root = roots["Roots"][0]["Id"].as_str().unwrap();
    assert!(is_id(root, "r-", 4), "{root}");
    assert_eq!(
        ok(&w, "DescribeOrganization", json!({}))["Organization"]["Id"],
        id
    );
    assert_eq!(w.orgs.organization_of(MGMT).as_deref(), Some(id));
    // The management account is the organization's only account.
    let accts = ok(&w, "ListAccounts", json!({}));
    assert_eq!(accts["Accounts"].as_array().unwrap().len(), 1);
    assert_eq!(accts["Accounts"][0]["Id"], MGMT);
    ok(&w, "DeleteOrganization", json!({}));
    assert_eq!(w.orgs.organization_of(MGMT), None);
    assert_eq!(
        code(call(&w, MGMT, "ListRoots", json!({}))),
        "AWSOrganizationsNotInUseException"
    );
}

#[test]
fn create_account_makes_real_account_with_access_role() {
    let w = world();
    let (root, member) = org_with_member(&w);
    assert_eq!(member.len(), 12);
    assert!(member.bytes().all(|b| b.is_ascii_digit()));
    assert_ne!(member, MGMT);
    // In the registry.
    let reg = w.accounts.get(&member).unwrap().unwrap();
    assert_eq!(reg.email, "dev@example.com");
    assert!(!reg.management);
    // With a role the management account can assume, holding AdministratorAccess.
    let role = w
        .iam
        .role(&member, "OrganizationAccountAccessRole")
        .unwrap()
        .expect("role created");
    assert_eq!(
        role.arn,
        format!("arn:aws:iam::{member}:role/OrganizationAccountAccessRole")
    );
    let trust: Value = serde_json::from_str(&role.assume_role_policy).unwrap();
    assert_eq!(
        trust["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{MGMT}:root")
    );
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    let caller = root_of(&member);
    let ctx = Ctx {
        caller: &caller,
        region: "us-east-1",
        request_id: "r",
        now: util::now(),
    };
    let attached = w
        .iam
        .call(
            &ctx,
            "ListAttachedRolePolicies",
            json!({"RoleName": "OrganizationAccountAccessRole"}),
        )
        .unwrap();
    assert_eq!(
        attached["AttachedPolicies"][0]["PolicyArn"],
        "arn:aws:iam::aws:policy/AdministratorAccess"
    );
    // In the organization, under the root, CREATED.
    let d = ok(&w, "DescribeAccount", json!({"AccountId": member}));
    assert_eq!(d["Account"]["JoinedMethod"], "CREATED");
    assert_eq!(d["Account"]["Name"], "dev");
    let under_root = ok(&w, "ListAccountsForParent", json!({"ParentId": root}));
    assert_eq!(under_root["Accounts"].as_array().unwrap().len(), 2);
    assert!(w.orgs.organization_of(&member).is_some());
    // The request is listed; a duplicate email fails asynchronously.
    let again = ok(
        &w,
        "CreateAccount",
        json!({"Email": "DEV@example.com", "AccountName": "dup"}),
    );
    assert_eq!(again["CreateAccountStatus"]["State"], "IN_PROGRESS");
    let failed = ok(&w, "ListCreateAccountStatus", json!({"States": ["FAILED"]}));
    assert_eq!(
        failed["CreateAccountStatuses"][0]["FailureReason"],
        "EMAIL_ALREADY_EXISTS"
    );
    assert_eq!(
        ok(&w, "ListAccounts", json!({}))["Accounts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A custom role name is honoured.
    let st = ok(
        &w,
        "CreateAccount",
        json!({"Email": "p@example.com", "AccountName": "prod", "RoleName": "Admin"}),
    );
    let d = ok(
        &w,
        "DescribeCreateAccountStatus",
        json!({"CreateAccountRequestId": st["CreateAccountStatus"]["Id"]}),
    );
    let prod = d["CreateAccountStatus"]["AccountId"].as_str().unwrap();
    assert!(w.iam.role(prod, "Admin").unwrap().is_some());
    assert!(w
        .iam
        .role(prod, "OrganizationAccountAccessRole")
        .unwrap()
        .is_none());
    let car = st["CreateAccountStatus"]["Id"].as_str().unwrap();
    assert!(car.starts_with("car-") && car.len() == 36);
}

#[test]
fn ous_move_account_and_scp_chain() {
    let w = world();
    let (root, member) = org_with_member(&w);
    let ou = ok(
        &w,
        "CreateOrganizationalUnit",
        json!({"ParentId": root, "Name": "Workloads"}),
    );
    let ou_id = ou["OrganizationalUnit"]["Id"].as_str().unwrap().to_string();
    let root4 = root.trim_start_matches("r-");
    assert!(ou_id.starts_with(&format!("ou-{root4}-")) && ou_id.len() == 3 + 4 + 1 + 8);
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "CreateOrganizationalUnit",
            json!({"ParentId": root, "Name": "Workloads"})
        )),
        "DuplicateOrganizationalUnitException"
    );
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "CreateOrganizationalUnit",
            json!({"ParentId": "ou-zzzz-zzzzzzzz", "Name": "x"})
        )),
        "ParentNotFoundException"
    );
    ok(
        &w,
        "MoveAccount",
        json!({"AccountId": member, "SourceParentId": root, "DestinationParentId": ou_id}),
    );
    let in_ou = ok(&w, "ListAccountsForParent", json!({"ParentId": ou_id}));
    assert_eq!(in_ou["Accounts"].as_array().unwrap().len(), 1);
    assert_eq!(in_ou["Accounts"][0]["Id"], member);
    let parents = ok(&w, "ListParents", json!({"ChildId": member}));
    assert_eq!(parents["Parents"][0]["Id"], ou_id);
    assert_eq!(parents["Parents"][0]["Type"], "ORGANIZATIONAL_UNIT");
    let kids = ok(
        &w,
        "ListChildren",
        json!({"ParentId": root, "ChildType": "ORGANIZATIONAL_UNIT"}),
    );
    assert_eq!(kids["Children"][0]["Id"], ou_id);
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "DeleteOrganizationalUnit",
            json!({"OrganizationalUnitId": ou_id})
        )),
        "OrganizationalUnitNotEmptyException"
    );

    // SCPs not enabled yet: no chain, and attaching is refused.
    assert!(w.orgs.scp_chain(&member).unwrap().is_empty());
    let deny = ok(
        &w,
        "CreatePolicy",
        json!({"Content": DENY_S3, "Description": "no s3", "Name": "DenyS3", "Type": SCP}),
    );
    let deny_id = deny["Policy"]["PolicySummary"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(is_id(&deny_id, "p-", 8), "{deny_id}");
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "AttachPolicy",
            json!({"PolicyId": deny_id, "TargetId": ou_id})
        )),
        "PolicyTypeNotEnabledException"
    );

    let r = ok(
        &w,
        "EnablePolicyType",
        json!({"RootId": root, "PolicyType": SCP}),
    );
    assert_eq!(r["Root"]["PolicyTypes"][0]["Type"], SCP);
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "EnablePolicyType",
            json!({"RootId": root, "PolicyType": SCP})
        )),
        "PolicyTypeAlreadyEnabledException"
    );
    ok(
        &w,
        "AttachPolicy",
        json!({"PolicyId": deny_id, "TargetId": ou_id}),
    );
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "AttachPolicy",
            json!({"PolicyId": deny_id, "TargetId": ou_id})
        )),
        "DuplicatePolicyAttachmentException"
    );
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "AttachPolicy",
            json!({"PolicyId": deny_id, "TargetId": "ou-zzzz-zzzzzzzz"})
        )),
        "TargetNotFoundException"
    );

    let chain = w.orgs.scp_chain(&member).unwrap();
    // Order within a level carries no meaning (policy ids are random).
    let ids: Vec<Vec<&str>> = chain
        .iter()
        .map(|l| {
            let mut level: Vec<&str> = l.iter().map(|(id, _)| id.as_str()).collect();
            level.sort_unstable();
            level
        })
        .collect();
    let deny_arn = format!(
        "arn:aws:organizations::{MGMT}:policy/{}/service_control_policy/{deny_id}",
        w.orgs.organization_of(MGMT).unwrap()
    );
    assert_eq!(
        ids,
        vec![
            vec![FULL_ACCESS_ARN],
            {
                let mut level = vec![FULL_ACCESS_ARN, deny_arn.as_str()];
                level.sort_unstable();
                level
            },
            vec![FULL_ACCESS_ARN],
        ]
    );
    // The parsed policies are the real documents.
    assert_eq!(chain[1][1].1.kind(), PolicyKind::Scp);
    // The management account is exempt.
    assert!(w.orgs.scp_chain(MGMT).unwrap().is_empty());
    // An account outside any organization has none.
    assert!(w.orgs.scp_chain("999988887777").unwrap().is_empty());

    let targets = ok(&w, "ListTargetsForPolicy", json!({"PolicyId": deny_id}));
    assert_eq!(targets["Targets"][0]["TargetId"], ou_id);
    assert_eq!(targets["Targets"][0]["Type"], "ORGANIZATIONAL_UNIT");
    let on_ou = ok(
        &w,
        "ListPoliciesForTarget",
        json!({"TargetId": ou_id, "Filter": SCP}),
    );
    assert_eq!(on_ou["Policies"].as_array().unwrap().len(), 2);
    assert_eq!(
        code(call(&w, MGMT, "DeletePolicy", json!({"PolicyId": deny_id}))),
        "PolicyInUseException"
    );

    // Detaching changes the chain (the cache is invalidated).
    ok(
        &w,
        "DetachPolicy",
        json!({"PolicyId": deny_id, "TargetId": ou_id}),
    );
    assert_eq!(w.orgs.scp_chain(&member).unwrap()[1].len(), 1);
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "DetachPolicy",
            json!({"PolicyId": deny_id, "TargetId": ou_id})
        )),
        "PolicyNotAttachedException"
    );
    // The last SCP of a target cannot be detached.
    let e = call(
        &w,
        MGMT,
        "DetachPolicy",
        json!({"PolicyId": FULL_ACCESS_ID, "TargetId": ou_id}),
    )
    .unwrap_err();
    assert_eq!(e.code, "ConstraintViolationException");
    assert!(e.extra.contains(&(
        "Reason".into(),
        "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED".into()
    )));
    ok(&w, "DeletePolicy", json!({"PolicyId": deny_id}));
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "DescribePolicy",
            json!({"PolicyId": deny_id})
        )),
        "PolicyNotFoundException"
    );

    // A new OU gets FullAWSAccess by default while SCPs are enabled.
    let ou2 = ok(
        &w,
        "CreateOrganizationalUnit",
        json!({"ParentId": ou_id, "Name": "Nested"}),
    );
    let ou2_id = ou2["OrganizationalUnit"]["Id"].as_str().unwrap();
    let p = ok(
        &w,
        "ListPoliciesForTarget",
        json!({"TargetId": ou2_id, "Filter": SCP}),
    );
    assert_eq!(p["Policies"][0]["Id"], FULL_ACCESS_ID);
    assert_eq!(p["Policies"][0]["AwsManaged"], true);

    // Disabling SCPs empties every chain.
    ok(
        &w,
        "DisablePolicyType",
        json!({"RootId": root, "PolicyType": SCP}),
    );
    assert!(w.orgs.scp_chain(&member).unwrap().is_empty());
}

#[test]
fn delegated_admin_and_member_access() {
    let w = world();
    let (root, member) = org_with_member(&w);
    let sp = "member.org.stacksets.cloudformation.amazonaws.com";
    // A member cannot manage the organization.
    let e = call(
        &w,
        &member,
        "ListAccountsForParent",
        json!({"ParentId": root}),
    )
    .unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    assert_eq!(
        e.message,
        "You don't have permissions to access this resource."
    );
    assert_eq!(
        code(call(
            &w,
            &member,
            "EnableAWSServiceAccess",
            json!({"ServicePrincipal": sp})
        )),
        "AccessDeniedException"
    );
    // ... but may describe it.
    assert!(call(&w, &member, "DescribeOrganization", json!({})).is_ok());
    // An outsider is not in use.
    assert_eq!(
        code(call(&w, "999988887777", "ListAccounts", json!({}))),
        "AWSOrganizationsNotInUseException"
    );

    assert_eq!(
        ok(&w, "ListAWSServiceAccessForOrganization", json!({}))["EnabledServicePrincipals"],
        json!([])
    );
    // Registration needs trusted access first.
    let e = call(
        &w,
        MGMT,
        "RegisterDelegatedAdministrator",
        json!({"AccountId": member, "ServicePrincipal": sp}),
    )
    .unwrap_err();
    assert_eq!(e.code, "ConstraintViolationException");
    ok(
        &w,
        "EnableAWSServiceAccess",
        json!({"ServicePrincipal": sp}),
    );
    let enabled = ok(&w, "ListAWSServiceAccessForOrganization", json!({}));
    assert_eq!(
        enabled["EnabledServicePrincipals"][0]["ServicePrincipal"],
        sp
    );
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "RegisterDelegatedAdministrator",
            json!({"AccountId": MGMT, "ServicePrincipal": sp})
        )),
        "ConstraintViolationException"
    );
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "RegisterDelegatedAdministrator",
            json!({"AccountId": "999988887777", "ServicePrincipal": sp})
        )),
        "AccountNotFoundException"
    );
    ok(
        &w,
        "RegisterDelegatedAdministrator",
        json!({"AccountId": member, "ServicePrincipal": sp}),
    );
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "RegisterDelegatedAdministrator",
            json!({"AccountId": member, "ServicePrincipal": sp})
        )),
        "AccountAlreadyRegisteredException"
    );
    let admins = ok(
        &w,
        "ListDelegatedAdministrators",
        json!({"ServicePrincipal": sp}),
    );
    assert_eq!(admins["DelegatedAdministrators"][0]["Id"], member);
    assert!(admins["DelegatedAdministrators"][0]["DelegationEnabledDate"].is_string());
    let svcs = ok(
        &w,
        "ListDelegatedServicesForAccount",
        json!({"AccountId": member}),
    );
    assert_eq!(svcs["DelegatedServices"][0]["ServicePrincipal"], sp);

    // Now the delegated administrator may read the organization.
    let listed = call(
        &w,
        &member,
        "ListAccountsForParent",
        json!({"ParentId": root}),
    )
    .unwrap();
    assert_eq!(listed["Accounts"].as_array().unwrap().len(), 2);
    assert!(call(&w, &member, "ListAccounts", json!({})).is_ok());
    assert!(call(&w, &member, "ListRoots", json!({})).is_ok());
    assert!(call(
        &w,
        &member,
        "ListOrganizationalUnitsForParent",
        json!({"ParentId": root})
    )
    .is_ok());
    // ... but still not manage it.
    assert_eq!(
        code(call(
            &w,
            &member,
            "CreateOrganizationalUnit",
            json!({"ParentId": root, "Name": "x"})
        )),
        "AccessDeniedException"
    );
    // A delegated administrator cannot be removed from the organization.
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "RemoveAccountFromOrganization",
            json!({"AccountId": member})
        )),
        "ConstraintViolationException"
    );
    ok(
        &w,
        "DeregisterDelegatedAdministrator",
        json!({"AccountId": member, "ServicePrincipal": sp}),
    );
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "DeregisterDelegatedAdministrator",
            json!({"AccountId": member, "ServicePrincipal": sp})
        )),
        "AccountNotRegisteredException"
    );
    assert_eq!(
        code(call(&w, &member, "ListAccounts", json!({}))),
        "AccessDeniedException"
    );
    // Unknown principals are refused.
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "EnableAWSServiceAccess",
            json!({"ServicePrincipal": "example.com"})
        )),
        "InvalidInputException"
    );
    // The organization cannot be deleted while it has members.
    assert_eq!(
        code(call(&w, MGMT, "DeleteOrganization", json!({}))),
        "OrganizationNotEmptyException"
    );
    ok(
        &w,
        "RemoveAccountFromOrganization",
        json!({"AccountId": member}),
    );
    assert_eq!(w.orgs.organization_of(&member), None);
    ok(&w, "DeleteOrganization", json!({}));
}

#[test]
fn malformed_scp_is_rejected_and_failures_change_nothing() {
    let w = world();
    let (root, _member) = org_with_member(&w);
    let before = w.orgs.org_doc_of(MGMT).unwrap().unwrap();
    let e = call(
        &w,
        MGMT,
        "CreatePolicy",
        json!({"Content": "{\"Statement\": 5}", "Description": "", "Name": "Bad", "Type": SCP}),
    )
    .unwrap_err();
    assert_eq!(e.code, "MalformedPolicyDocumentException");
    let e = call(
        &w,
        MGMT,
        "CreatePolicy",
        json!({"Content": "not json", "Description": "", "Name": "Bad", "Type": SCP}),
    )
    .unwrap_err();
    assert_eq!(e.code, "MalformedPolicyDocumentException");
    // SCPs may not name principals.
    let with_principal = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#;
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "CreatePolicy",
            json!({"Content": with_principal, "Description": "", "Name": "Bad", "Type": SCP})
        )),
        "MalformedPolicyDocumentException"
    );
    // Failed operations of several kinds.
    let _ = call(
        &w,
        MGMT,
        "CreateOrganizationalUnit",
        json!({"ParentId": "r-zzzz", "Name": "x"}),
    );
    let _ = call(
        &w,
        MGMT,
        "MoveAccount",
        json!({"AccountId": MGMT, "SourceParentId": root, "DestinationParentId": root}),
    );
    let _ = call(
        &w,
        MGMT,
        "EnablePolicyType",
        json!({"RootId": "r-zzzz", "PolicyType": SCP}),
    );
    let after = w.orgs.org_doc_of(MGMT).unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&before).unwrap(),
        serde_json::to_value(&after).unwrap()
    );
    assert_eq!(
        ok(&w, "ListPolicies", json!({"Filter": SCP}))["Policies"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn policies_update_tags_and_pagination() {
    let w = world();
    let (root, member) = org_with_member(&w);
    let p = ok(
        &w,
        "CreatePolicy",
        json!({"Content": DENY_S3, "Description": "d", "Name": "P1", "Type": SCP,
               "Tags": [{"Key": "team", "Value": "a"}]}),
    );
    let pid = p["Policy"]["PolicySummary"]["Id"].as_str().unwrap();
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "CreatePolicy",
            json!({"Content": DENY_S3, "Description": "d", "Name": "P1", "Type": SCP})
        )),
        "DuplicatePolicyException"
    );
    let u = ok(
        &w,
        "UpdatePolicy",
        json!({"PolicyId": pid, "Name": "P1b", "Description": "new"}),
    );
    assert_eq!(u["Policy"]["PolicySummary"]["Name"], "P1b");
    assert_eq!(u["Policy"]["Content"], DENY_S3);
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "UpdatePolicy",
            json!({"PolicyId": FULL_ACCESS_ID, "Name": "x"})
        )),
        "InvalidInputException"
    );
    let tags = ok(&w, "ListTagsForResource", json!({"ResourceId": pid}));
    assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "a"}]));
    ok(
        &w,
        "TagResource",
        json!({"ResourceId": member, "Tags": [{"Key": "env", "Value": "dev"}]}),
    );
    ok(
        &w,
        "TagResource",
        json!({"ResourceId": root, "Tags": [{"Key": "k", "Value": "v"}]}),
    );
    assert_eq!(
        ok(&w, "ListTagsForResource", json!({"ResourceId": member}))["Tags"],
        json!([{"Key": "env", "Value": "dev"}])
    );
    ok(
        &w,
        "UntagResource",
        json!({"ResourceId": member, "TagKeys": ["env"]}),
    );
    assert_eq!(
        ok(&w, "ListTagsForResource", json!({"ResourceId": member}))["Tags"],
        json!([])
    );
    assert_eq!(
        code(call(
            &w,
            MGMT,
            "TagResource",
            json!({"ResourceId": "ou-zzzz-zzzzzzzz", "Tags": [{"Key": "a", "Value": "b"}]})
        )),
        "TargetNotFoundException"
    );
    // Pagination walks every OU once.
    for n in 0..25 {
        ok(
            &w,
            "CreateOrganizationalUnit",
            json!({"ParentId": root, "Name": format!("ou{n}")}),
        );
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"ParentId": root, "MaxResults": 10});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let out = ok(&w, "ListOrganizationalUnitsForParent", input);
        for o in out["OrganizationalUnits"].as_array().unwrap() {
            seen.push(o["Id"].as_str().unwrap().to_string());
        }
        match out["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), 25);
    assert_eq!(unique.len(), 25);
}

#[test]
fn targets_name_organization_arns() {
    let w = world();
    let (root, member) = org_with_member(&w);
    let org = w.orgs.organization_of(MGMT).unwrap();
    let caller = root_of(MGMT);
    let ctx = Ctx {
        caller: &caller,
        region: "us-east-1",
        request_id: "r",
        now: util::now(),
    };
    let t = w
        .orgs
        .targets(&ctx, "DescribeAccount", &json!({"AccountId": member}))
        .unwrap();
    assert_eq!(t[0].action, "organizations:DescribeAccount");
    assert_eq!(
        t[0].resource,
        format!("arn:aws:organizations::{MGMT}:account/{org}/{member}")
    );
    let t = w
        .orgs
        .targets(&ctx, "ListAccountsForParent", &json!({"ParentId": root}))
        .unwrap();
    assert_eq!(
        t[0].resource,
        format!("arn:aws:organizations::{MGMT}:root/{org}/{root}")
    );
    let t = w
        .orgs
        .targets(
            &ctx,
            "RegisterDelegatedAdministrator",
            &json!({"AccountId": member, "ServicePrincipal": "x.amazonaws.com"}),
        )
        .unwrap();
    assert!(t[0].context.contains(&(
        "organizations:ServicePrincipal".into(),
        vec!["x.amazonaws.com".into()]
    )));
    let t = w.orgs.targets(&ctx, "ListAccounts", &json!({})).unwrap();
    assert_eq!(t[0].resource, "*");
    let t = w
        .orgs
        .targets(
            &ctx,
            "AttachPolicy",
            &json!({"PolicyId": FULL_ACCESS_ID, "TargetId": member}),
        )
        .unwrap();
    assert_eq!(t[0].resource, FULL_ACCESS_ARN);
    assert!(t[0]
        .context
        .contains(&("organizations:PolicyType".into(), vec![SCP.to_string()])));
}
