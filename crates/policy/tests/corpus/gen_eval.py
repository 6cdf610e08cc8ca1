#!/usr/bin/env python3
"""Writes evaluation.json (policy-type combination rules) and parse.json
(validation rules). Run from this directory."""
import json

A, B = "111122223333", "444455556666"
PEL = "Policy evaluation logic"
SINGLE = "Policy evaluation for requests within a single account"
CROSS = "Cross-account policy evaluation logic"

def st(sid, effect, action, resource="*", principal=None, cond=None, not_principal=None):
    s = {"Sid": sid, "Effect": effect, "Action": action}
    if resource is not None:
        s["Resource"] = resource
    if principal is not None:
        s["Principal"] = principal
    if not_principal is not None:
        s["NotPrincipal"] = not_principal
    if cond:
        s["Condition"] = cond
    return s

def pol(pid, *stmts, kind=None):
    d = {"id": pid, "document": {"Version": "2012-10-17", "Statement": list(stmts)}}
    if kind:
        d["kind"] = kind
    return d

def user(acct=A, name="alice"):
    return {"type": "user", "account": acct, "name": name}

def role(acct=A, name="R", session="s", path="/"):
    return {"type": "role", "account": acct, "name": name, "session": session, "path": path}

def allow(policy, sid, reason="allowed_identity"):
    return {"allowed": True, "reason": reason, "policy": policy, "sid": sid}

def deny(reason, policy=None, sid=None):
    e = {"allowed": False, "reason": reason}
    if policy:
        e["policy"] = policy
        e["sid"] = sid
    return e

C = []
def case(name, rule, policies, principal, action, resource, expect, ctx=None, resource_account=None):
    req = {"principal": principal, "action": action, "resource": resource, "context": ctx or {}}
    if resource_account:
        req["resource_account"] = resource_account
    C.append({"name": name, "doc_rule": rule, "policies": policies, "request": req, "expect": expect})

OBJ = "arn:aws:s3:::b/k"
GET = "s3:GetObject"
ID_ALLOW = pol("id-allow", st("AllowGet", "Allow", GET, "arn:aws:s3:::b/*"))
ID_DENY = pol("id-deny", st("DenyGet", "Deny", GET, "*"))

# --- basics
case("no policies => implicit deny", f"{PEL}: requests are implicitly denied by default", {}, user(), GET, OBJ, deny("implicit_deny_identity"))
case("identity allow", f"{PEL}: identity-based policy Allow", {"identity": [ID_ALLOW]}, user(), GET, OBJ, allow("id-allow", "AllowGet"))
case("identity allow other resource", f"{PEL}: statement must match resource", {"identity": [ID_ALLOW]}, user(), GET, "arn:aws:s3:::c/k", deny("implicit_deny_identity"))
case("identity allow other action", f"{PEL}: statement must match action", {"identity": [ID_ALLOW]}, user(), "s3:PutObject", OBJ, deny("implicit_deny_identity"))
case("explicit deny beats allow same policy", f"{PEL}: an explicit deny overrides an allow",
     {"identity": [pol("p", st("A", "Allow", "s3:*"), st("D", "Deny", GET))]}, user(), GET, OBJ, deny("explicit_deny_identity", "p", "D"))
case("explicit deny in another policy", f"{PEL}: explicit deny in any policy", {"identity": [ID_ALLOW, ID_DENY]}, user(), GET, OBJ, deny("explicit_deny_identity", "id-deny", "DenyGet"))
case("deny order independent", f"{PEL}: order of policies does not matter", {"identity": [ID_DENY, ID_ALLOW]}, user(), GET, OBJ, deny("explicit_deny_identity", "id-deny", "DenyGet"))
case("union of identity policies", f"{PEL}: any identity policy may allow",
     {"identity": [pol("p1", st("X", "Allow", "ec2:*")), pol("p2", st("Y", "Allow", GET))]}, user(), GET, OBJ, allow("p2", "Y"))
case("deny with NotAction spares listed", f"{PEL}: NotAction with Deny",
     {"identity": [pol("p", st("A", "Allow", "*"), {"Sid": "D", "Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})]}, user(), GET, OBJ, allow("p", "A"))
case("deny with NotAction hits others", f"{PEL}: NotAction with Deny",
     {"identity": [pol("p", st("A", "Allow", "*"), {"Sid": "D", "Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})]}, user(), "ec2:RunInstances", "*", deny("explicit_deny_identity", "p", "D"))
case("deny NotResource", f"{PEL}: NotResource with Deny",
     {"identity": [pol("p", st("A", "Allow", "s3:*"), {"Sid": "D", "Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"})]}, user(), GET, "arn:aws:s3:::other/k", deny("explicit_deny_identity", "p", "D"))
case("deny conditional not applicable", f"{PEL}: deny applies only when conditions match",
     {"identity": [pol("p", st("A", "Allow", "s3:*"), st("D", "Deny", "s3:*", cond={"Bool": {"aws:SecureTransport": "false"}}))]}, user(), GET, OBJ, allow("p", "A"), ctx={"aws:SecureTransport": True})
case("deny conditional applicable", f"{PEL}: deny applies when conditions match",
     {"identity": [pol("p", st("A", "Allow", "s3:*"), st("D", "Deny", "s3:*", cond={"Bool": {"aws:SecureTransport": "false"}}))]}, user(), GET, OBJ, deny("explicit_deny_identity", "p", "D"), ctx={"aws:SecureTransport": False})
case("resource variable username", "IAM policy elements: Variables: ${aws:username} in Resource",
     {"identity": [pol("p", st("Home", "Allow", GET, "arn:aws:s3:::b/home/${aws:username}/*"))]}, user(), GET, "arn:aws:s3:::b/home/alice/f", allow("p", "Home"))
case("resource variable other user", "IAM policy elements: Variables: ${aws:username} in Resource",
     {"identity": [pol("p", st("Home", "Allow", GET, "arn:aws:s3:::b/home/${aws:username}/*"))]}, user(), GET, "arn:aws:s3:::b/home/bob/f", deny("implicit_deny_identity"))
case("resource variable absent for role", "IAM policy elements: Variables: missing key => no match",
     {"identity": [pol("p", st("Home", "Allow", GET, "arn:aws:s3:::b/home/${aws:username}/*"))]}, role(), GET, "arn:aws:s3:::b/home/alice/f", deny("implicit_deny_identity"))
case("resource variable principal tag", "IAM policy elements: Variables: ${aws:PrincipalTag/key}",
     {"identity": [pol("p", st("Team", "Allow", GET, "arn:aws:s3:::b/${aws:PrincipalTag/team}/*"))]}, role(), GET, "arn:aws:s3:::b/red/f", allow("p", "Team"), ctx={"aws:PrincipalTag/team": "red"})

# --- SCPs
FULL = pol("FullAWSAccess", st("FullAWSAccess", "Allow", "*"))
SCP_DENY = pol("scp-deny-s3", st("DenyS3", "Deny", "s3:*"))
SCP_EC2 = pol("scp-ec2-only", st("OnlyEC2", "Allow", "ec2:*"))
R_SCP = "Service control policies (SCPs): SCP evaluation"
case("SCP full access + identity allow", f"{R_SCP}: every level must allow", {"identity": [ID_ALLOW], "scps": [[FULL], [FULL]]}, user(), GET, OBJ, allow("id-allow", "AllowGet"))
case("SCP deny wins", f"{R_SCP}: explicit deny in an SCP", {"identity": [ID_ALLOW], "scps": [[FULL, SCP_DENY], [FULL]]}, user(), GET, OBJ, deny("explicit_deny_scp", "scp-deny-s3", "DenyS3"))
case("SCP level without allow", f"{R_SCP}: each level of the OU path must allow", {"identity": [ID_ALLOW], "scps": [[FULL], [SCP_EC2]]}, user(), GET, OBJ, deny("implicit_deny_scp"))
case("SCP empty level", f"{R_SCP}: a level with no allowing SCP denies", {"identity": [ID_ALLOW], "scps": [[FULL], []]}, user(), GET, OBJ, deny("implicit_deny_scp"))
case("SCP allows but identity does not", f"{R_SCP}: SCPs grant no permissions", {"identity": [], "scps": [[FULL]]}, user(), GET, OBJ, deny("implicit_deny_identity"))
case("management account exempt", f"{R_SCP}: SCPs do not affect the management account", {"identity": [ID_ALLOW], "scps": []}, user(), GET, OBJ, allow("id-allow", "AllowGet"))
case("SCP restricts root user", f"{R_SCP}: SCPs affect the root user of member accounts", {"scps": [[FULL, SCP_DENY]]}, {"type": "root", "account": A}, GET, OBJ, deny("explicit_deny_scp", "scp-deny-s3", "DenyS3"))
case("SCP implicit deny root", f"{R_SCP}: SCPs affect the root user of member accounts", {"scps": [[SCP_EC2]]}, {"type": "root", "account": A}, GET, OBJ, deny("implicit_deny_scp"))
case("SCP condition", f"{R_SCP}: conditions in SCPs", {"identity": [ID_ALLOW], "scps": [[FULL, pol("region", st("DenyRegion", "Deny", "*", cond={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}}))]]}, user(), GET, OBJ, deny("explicit_deny_scp", "region", "DenyRegion"), ctx={"aws:RequestedRegion": "eu-west-1"})
case("SCP condition not applicable", f"{R_SCP}: conditions in SCPs", {"identity": [ID_ALLOW], "scps": [[FULL, pol("region", st("DenyRegion", "Deny", "*", cond={"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}}))]]}, user(), GET, OBJ, allow("id-allow", "AllowGet"), ctx={"aws:RequestedRegion": "us-east-1"})
case("SCP does not apply to service principal", f"{R_SCP}: SCPs do not restrict service principals", {"resource": pol("bp", st("Svc", "Allow", GET, "arn:aws:s3:::b/*", principal={"Service": "cloudtrail.amazonaws.com"})), "scps": [[SCP_EC2]]}, {"type": "service", "name": "cloudtrail.amazonaws.com"}, GET, OBJ, allow("bp", "Svc", "allowed_resource"))

# --- root
ROOT = {"type": "root", "account": A}
case("root allowed without policies", f"{PEL}: the root user has full access", {}, ROOT, "iam:CreateUser", "*", {"allowed": True, "reason": "allowed_root"})
case("root denied by resource policy", f"{PEL}: explicit deny in a resource-based policy applies to root", {"resource": pol("bp", st("DenyAll", "Deny", "s3:*", "*", principal="*"))}, ROOT, GET, OBJ, deny("explicit_deny_resource", "bp", "DenyAll"))
case("root cross-account needs resource grant", f"{CROSS}: the resource account must allow", {}, ROOT, GET, OBJ, deny("implicit_deny_resource"), resource_account=B)
case("root cross-account with grant", f"{CROSS}: trusted account root", {"resource": pol("bp", st("X", "Allow", GET, "*", principal={"AWS": A}))}, ROOT, GET, OBJ, allow("bp", "X", "allowed_resource"), resource_account=B)

# --- boundaries
BND_S3 = pol("bnd-s3", st("BoundS3", "Allow", "s3:*"))
BND_EC2 = pol("bnd-ec2", st("BoundEC2", "Allow", "ec2:*"))
R_B = "Permissions boundaries for IAM entities"
case("boundary allows", f"{R_B}: effective = identity ∩ boundary", {"identity": [ID_ALLOW], "boundary": BND_S3}, user(), GET, OBJ, allow("id-allow", "AllowGet"))
case("boundary does not allow", f"{R_B}: effective = identity ∩ boundary", {"identity": [ID_ALLOW], "boundary": BND_EC2}, user(), GET, OBJ, deny("implicit_deny_boundary"))
case("boundary alone grants nothing", f"{R_B}: a boundary does not grant permissions", {"boundary": BND_S3}, user(), GET, OBJ, deny("implicit_deny_identity"))
case("boundary explicit deny", f"{R_B}: explicit deny in a boundary", {"identity": [ID_ALLOW], "boundary": pol("bnd-deny", st("All", "Allow", "*"), st("NoS3", "Deny", "s3:*"))}, user(), GET, OBJ, deny("explicit_deny_boundary", "bnd-deny", "NoS3"))
case("boundary role session", f"{R_B}: applies to role sessions", {"identity": [ID_ALLOW], "boundary": BND_EC2}, role(), GET, OBJ, deny("implicit_deny_boundary"))

# --- session policies
R_S = "Session policies"
case("session policy allows", f"{R_S}: effective = identity ∩ session", {"identity": [ID_ALLOW], "session": [pol("sess", st("S", "Allow", "s3:*"))]}, role(), GET, OBJ, allow("id-allow", "AllowGet"))
case("session policy does not allow", f"{R_S}: effective = identity ∩ session", {"identity": [ID_ALLOW], "session": [pol("sess", st("S", "Allow", "ec2:*"))]}, role(), GET, OBJ, deny("implicit_deny_session"))
case("session policies are a union", f"{R_S}: inline and managed session policies", {"identity": [ID_ALLOW], "session": [pol("s1", st("S1", "Allow", "ec2:*")), pol("s2", st("S2", "Allow", GET))]}, role(), GET, OBJ, allow("id-allow", "AllowGet"))
case("session explicit deny", f"{R_S}: explicit deny in a session policy", {"identity": [ID_ALLOW], "session": [pol("sess", st("All", "Allow", "*"), st("D", "Deny", GET))]}, role(), GET, OBJ, deny("explicit_deny_session", "sess", "D"))
case("session without identity", f"{R_S}: session policies do not grant", {"session": [pol("sess", st("All", "Allow", "*"))]}, role(), GET, OBJ, deny("implicit_deny_identity"))
case("boundary checked before session", f"{PEL}: boundary then session", {"identity": [ID_ALLOW], "boundary": BND_EC2, "session": [pol("sess", st("S", "Allow", "ec2:*"))]}, role(), GET, OBJ, deny("implicit_deny_boundary"))

# --- resource-based, same account
RB = "Policy evaluation for requests within a single account: resource-based policies"
def bp(principal, sid="Grant", effect="Allow", action=GET, kind=None):
    return pol("bucket-policy", st(sid, effect, action, "arn:aws:s3:::b/*", principal=principal), kind=kind)
case("same-account grant to user ARN, no identity", f"{RB}: grant to the IAM user ARN suffices", {"resource": bp({"AWS": f"arn:aws:iam::{A}:user/alice"})}, user(), GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("same-account grant to other user", f"{RB}: principal must match", {"resource": bp({"AWS": f"arn:aws:iam::{A}:user/bob"})}, user(), GET, OBJ, deny("implicit_deny_identity"))
case("same-account grant to user ignores boundary", f"{RB}: implicit deny in a boundary does not limit a grant to the user ARN", {"resource": bp({"AWS": f"arn:aws:iam::{A}:user/alice"}), "boundary": BND_EC2}, user(), GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("same-account grant to session ARN", f"{RB}: grant to the role session ARN suffices", {"resource": bp({"AWS": f"arn:aws:sts::{A}:assumed-role/R/s"})}, role(), GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("session ARN grant ignores boundary and session policy", f"{RB}: grant to the session ARN is not limited by implicit denies", {"resource": bp({"AWS": f"arn:aws:sts::{A}:assumed-role/R/s"}), "boundary": BND_EC2, "session": [pol("sess", st("S", "Allow", "ec2:*"))]}, role(), GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("same-account grant to role ARN, no identity", f"{RB}: grant to the role ARN needs no identity-based allow", {"resource": bp({"AWS": f"arn:aws:iam::{A}:role/R"})}, role(), GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("role ARN grant with path", f"{RB}: role ARN includes the path", {"resource": bp({"AWS": f"arn:aws:iam::{A}:role/service-role/R"})}, role(path="/service-role/"), GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("role ARN grant limited by boundary", f"{RB}: grant to the role ARN is limited by an implicit deny in a permissions boundary", {"resource": bp({"AWS": f"arn:aws:iam::{A}:role/R"}), "boundary": BND_EC2}, role(), GET, OBJ, deny("implicit_deny_boundary"))
case("role ARN grant limited by session policy", f"{RB}: grant to the role ARN is limited by an implicit deny in a session policy", {"resource": bp({"AWS": f"arn:aws:iam::{A}:role/R"}), "session": [pol("sess", st("S", "Allow", "ec2:*"))]}, role(), GET, OBJ, deny("implicit_deny_session"))
case("role ARN grant other role", f"{RB}: principal must match", {"resource": bp({"AWS": f"arn:aws:iam::{A}:role/Other"})}, role(), GET, OBJ, deny("implicit_deny_identity"))
case("account grant same account needs identity", f"{RB}: granting the account delegates to IAM policies", {"resource": bp({"AWS": f"arn:aws:iam::{A}:root"})}, user(), GET, OBJ, deny("implicit_deny_identity"))
case("account grant same account with identity", f"{RB}: granting the account delegates to IAM policies", {"resource": bp({"AWS": A}), "identity": [ID_ALLOW]}, user(), GET, OBJ, allow("id-allow", "AllowGet"))
case("star grant same account", f"{RB}: Principal * includes the caller", {"resource": bp("*")}, user(), GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("AWS star grant same account", f"{RB}: AWS * includes the caller", {"resource": bp({"AWS": "*"})}, role(), GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("identity allow without resource grant same account", f"{SINGLE}: either identity or resource policy may allow", {"resource": bp({"AWS": f"arn:aws:iam::{A}:user/bob"}), "identity": [ID_ALLOW]}, user(), GET, OBJ, allow("id-allow", "AllowGet"))
case("resource deny beats identity allow", f"{PEL}: explicit deny in a resource-based policy", {"resource": bp("*", "DenyAll", "Deny", "s3:*"), "identity": [ID_ALLOW]}, user(), GET, OBJ, deny("explicit_deny_resource", "bucket-policy", "DenyAll"))
case("resource grant, identity deny", f"{PEL}: explicit deny in identity policy beats resource grant", {"resource": bp("*"), "identity": [ID_DENY]}, user(), GET, OBJ, deny("explicit_deny_identity", "id-deny", "DenyGet"))
case("NotPrincipal deny excludes listed", "IAM JSON policy elements: NotPrincipal", {"resource": pol("bp", {"Sid": "D", "Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{A}:user/alice"}, "Action": "s3:*", "Resource": "*"}), "identity": [ID_ALLOW]}, user(), GET, OBJ, allow("id-allow", "AllowGet"))
case("NotPrincipal deny hits others", "IAM JSON policy elements: NotPrincipal", {"resource": pol("bp", {"Sid": "D", "Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{A}:user/bob"}, "Action": "s3:*", "Resource": "*"}), "identity": [ID_ALLOW]}, user(), GET, OBJ, deny("explicit_deny_resource", "bp", "D"))
case("bucket policy deny with StringNotEquals absent key", "SOLUTION-SPEC 6.4.2: StringNotEquals matches absent keys",
     {"resource": pol("bp", st("DenyNoVPC", "Deny", GET, "arn:aws:s3:::b/*", principal="*", cond={"StringNotEquals": {"aws:sourceVpce": "vpce-1", "aws:PrincipalTag/Principal": "env-sm-pipeline-role"}, "Bool": {"aws:ViaAWSService": "false"}})), "identity": [ID_ALLOW]},
     role(), GET, OBJ, deny("explicit_deny_resource", "bp", "DenyNoVPC"), ctx={"aws:ViaAWSService": False})
case("bucket policy deny not applied inside VPC", "SOLUTION-SPEC 6.4.2: request through the endpoint",
     {"resource": pol("bp", st("DenyNoVPC", "Deny", GET, "arn:aws:s3:::b/*", principal="*", cond={"StringNotEquals": {"aws:sourceVpce": "vpce-1", "aws:PrincipalTag/Principal": "env-sm-pipeline-role"}, "Bool": {"aws:ViaAWSService": "false"}})), "identity": [ID_ALLOW]},
     role(), GET, OBJ, allow("id-allow", "AllowGet"), ctx={"aws:SourceVpce": "vpce-1", "aws:ViaAWSService": False})
case("bucket policy deny not applied via AWS service", "SOLUTION-SPEC 6.4.2: aws:ViaAWSService",
     {"resource": pol("bp", st("DenyNoVPC", "Deny", GET, "arn:aws:s3:::b/*", principal="*", cond={"StringNotEquals": {"aws:sourceVpce": "vpce-1"}, "Bool": {"aws:ViaAWSService": "false"}})), "identity": [ID_ALLOW]},
     role(), GET, OBJ, allow("id-allow", "AllowGet"), ctx={"aws:ViaAWSService": True})

# --- anonymous / service
case("anonymous with public grant", f"{PEL}: anonymous access only via resource policy", {"resource": bp("*")}, {"type": "anonymous"}, GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("anonymous without grant", f"{PEL}: anonymous access only via resource policy", {"resource": bp({"AWS": A})}, {"type": "anonymous"}, GET, OBJ, deny("implicit_deny_resource"))
case("service principal grant", "IAM JSON policy elements: Principal: service principals", {"resource": bp({"Service": "sagemaker.amazonaws.com"})}, {"type": "service", "name": "sagemaker.amazonaws.com"}, GET, OBJ, allow("bucket-policy", "Grant", "allowed_resource"))
case("service principal other service", "IAM JSON policy elements: Principal: service principals", {"resource": bp({"Service": "lambda.amazonaws.com"})}, {"type": "service", "name": "sagemaker.amazonaws.com"}, GET, OBJ, deny("implicit_deny_resource"))
case("account grant does not match service", "IAM JSON policy elements: Principal", {"resource": bp({"AWS": A})}, {"type": "service", "name": "sagemaker.amazonaws.com"}, GET, OBJ, deny("implicit_deny_resource"))

# --- cross-account
case("cross-account identity only", f"{CROSS}: both sides must allow", {"identity": [ID_ALLOW]}, user(), GET, OBJ, deny("implicit_deny_resource"), resource_account=B)
case("cross-account resource only", f"{CROSS}: both sides must allow", {"resource": bp({"AWS": f"arn:aws:iam::{A}:user/alice"})}, user(), GET, OBJ, deny("implicit_deny_identity"), resource_account=B)
case("cross-account both", f"{CROSS}: both sides allow", {"identity": [ID_ALLOW], "resource": bp({"AWS": A})}, user(), GET, OBJ, allow("id-allow", "AllowGet"), resource_account=B)
case("cross-account role ARN grant", f"{CROSS}: role ARN grant + identity allow", {"identity": [ID_ALLOW], "resource": bp({"AWS": f"arn:aws:iam::{A}:role/R"})}, role(), GET, OBJ, allow("id-allow", "AllowGet"), resource_account=B)
case("cross-account other account granted", f"{CROSS}: resource policy must name the caller", {"identity": [ID_ALLOW], "resource": bp({"AWS": "999988887777"})}, user(), GET, OBJ, deny("implicit_deny_resource"), resource_account=B)
case("cross-account boundary", f"{CROSS}: boundary applies to the requester", {"identity": [ID_ALLOW], "resource": bp({"AWS": A}), "boundary": BND_EC2}, user(), GET, OBJ, deny("implicit_deny_boundary"), resource_account=B)
case("cross-account session ARN grant still needs identity", f"{CROSS}: identity side must allow", {"resource": bp({"AWS": f"arn:aws:sts::{A}:assumed-role/R/s"})}, role(), GET, OBJ, deny("implicit_deny_identity"), resource_account=B)
case("cross-account resource deny", f"{CROSS}: explicit deny in the resource policy", {"identity": [ID_ALLOW], "resource": bp({"AWS": A}, "D", "Deny")}, user(), GET, OBJ, deny("explicit_deny_resource", "bucket-policy", "D"), resource_account=B)
case("cross-account SCP of caller", f"{CROSS}: requester's SCPs apply", {"identity": [ID_ALLOW], "resource": bp({"AWS": A}), "scps": [[SCP_EC2]]}, user(), GET, OBJ, deny("implicit_deny_scp"), resource_account=B)

# --- KMS key policies
KMS = "AWS KMS: Key policies: no IAM policy alone grants access to a KMS key"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234"
KID = pol("id-kms", st("UseKey", "Allow", ["kms:Decrypt", "kms:GenerateDataKey"]))
def kp(*stmts):
    return pol("key-policy", *stmts, kind="KeyPolicy")
case("key policy without root, identity allow", KMS, {"identity": [KID], "resource": kp(st("Other", "Allow", "kms:*", "*", principal={"AWS": f"arn:aws:iam::{A}:role/Admin"}))}, user(), "kms:Decrypt", KEY, deny("implicit_deny_resource"))
case("key policy root delegation + identity", KMS, {"identity": [KID], "resource": kp(st("Enable IAM User Permissions", "Allow", "kms:*", "*", principal={"AWS": f"arn:aws:iam::{A}:root"}))}, user(), "kms:Decrypt", KEY, allow("id-kms", "UseKey"))
case("key policy root delegation without identity", KMS, {"resource": kp(st("Enable IAM User Permissions", "Allow", "kms:*", "*", principal={"AWS": f"arn:aws:iam::{A}:root"}))}, user(), "kms:Decrypt", KEY, deny("implicit_deny_identity"))
case("key policy grants role directly", KMS, {"resource": kp(st("AllowUse", "Allow", "kms:Decrypt", "*", principal={"AWS": f"arn:aws:iam::{A}:role/R"}))}, role(), "kms:Decrypt", KEY, allow("key-policy", "AllowUse", "allowed_resource"))
case("key policy DenyNoVPC", "SOLUTION-SPEC 6.4.4: DenyNoVPC on the S3 key", {"identity": [KID], "resource": kp(st("Enable IAM User Permissions", "Allow", "kms:*", "*", principal={"AWS": f"arn:aws:iam::{A}:root"}), st("DenyNoVPC", "Deny", "kms:*", "*", principal="*", cond={"StringNotEquals": {"aws:sourceVpce": "vpce-kms"}, "Bool": {"aws:ViaAWSService": "false"}}))}, role(), "kms:Decrypt", KEY, deny("explicit_deny_resource", "key-policy", "DenyNoVPC"), ctx={"aws:ViaAWSService": False})
case("key policy locks out root", KMS, {"resource": kp(st("Other", "Allow", "kms:*", "*", principal={"AWS": f"arn:aws:iam::{A}:role/Admin"}))}, ROOT, "kms:Decrypt", KEY, deny("implicit_deny_resource"))
case("grant for AWS resource", "SOLUTION-SPEC 6.4.4: kms:GrantIsForAWSResource", {"resource": kp(st("AllowGrants", "Allow", "kms:CreateGrant", "*", principal={"AWS": f"arn:aws:iam::{A}:role/R"}, cond={"Bool": {"kms:GrantIsForAWSResource": "true"}}))}, role(), "kms:CreateGrant", KEY, allow("key-policy", "AllowGrants", "allowed_resource"), ctx={"kms:GrantIsForAWSResource": True})
case("grant not for AWS resource", "SOLUTION-SPEC 6.4.4: kms:GrantIsForAWSResource", {"resource": kp(st("AllowGrants", "Allow", "kms:CreateGrant", "*", principal={"AWS": f"arn:aws:iam::{A}:role/R"}, cond={"Bool": {"kms:GrantIsForAWSResource": "true"}}))}, role(), "kms:CreateGrant", KEY, deny("implicit_deny_resource"))

# --- trust policies (AssumeRole)
TR = "Roles: trust policies (sts:AssumeRole)"
ROLE_ARN = f"arn:aws:iam::{A}:role/Target"
def trust(principal):
    return {"id": "trust", "kind": "Trust", "document": {"Version": "2012-10-17", "Statement": [{"Sid": "Trust", "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}}
case("trust root same account user with identity", f"{TR}: account principal delegates", {"resource": trust({"AWS": f"arn:aws:iam::{A}:root"}), "identity": [pol("ar", st("Assume", "Allow", "sts:AssumeRole", ROLE_ARN))]}, user(), "sts:AssumeRole", ROLE_ARN, allow("ar", "Assume"))
case("trust root same account user without identity", f"{TR}: account principal delegates", {"resource": trust({"AWS": A})}, user(), "sts:AssumeRole", ROLE_ARN, deny("implicit_deny_identity"))
case("trust names user", f"{TR}: user named directly", {"resource": trust({"AWS": f"arn:aws:iam::{A}:user/alice"})}, user(), "sts:AssumeRole", ROLE_ARN, allow("trust", "Trust", "allowed_resource"))
case("trust service", f"{TR}: service principal", {"resource": trust({"Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]})}, {"type": "service", "name": "lambda.amazonaws.com"}, "sts:AssumeRole", ROLE_ARN, allow("trust", "Trust", "allowed_resource"))
case("trust cross-account root", f"{TR}+{CROSS}", {"resource": trust({"AWS": f"arn:aws:iam::{B}:root"}), "identity": [pol("ar", st("Assume", "Allow", "sts:AssumeRole", "*"))]}, role(acct=B, name="Caller"), "sts:AssumeRole", ROLE_ARN, allow("ar", "Assume"), resource_account=A)
case("trust cross-account not trusted", f"{TR}+{CROSS}", {"resource": trust({"AWS": f"arn:aws:iam::{A}:root"}), "identity": [pol("ar", st("Assume", "Allow", "sts:AssumeRole", "*"))]}, role(acct=B, name="Caller"), "sts:AssumeRole", ROLE_ARN, deny("implicit_deny_resource"), resource_account=A)
case("trust role ARN", f"{TR}: role ARN matches its sessions", {"resource": trust({"AWS": f"arn:aws:iam::{B}:role/Caller"}), "identity": [pol("ar", st("Assume", "Allow", "sts:AssumeRole", "*"))]}, role(acct=B, name="Caller"), "sts:AssumeRole", ROLE_ARN, allow("ar", "Assume"), resource_account=A)
case("trust not naming caller, identity allows", f"{TR}: the trust policy must allow; an identity allow alone never assumes a role", {"resource": trust({"Service": "sagemaker.amazonaws.com"}), "identity": [pol("ar", st("Assume", "Allow", "sts:AssumeRole", "*"))]}, user(), "sts:AssumeRole", ROLE_ARN, deny("implicit_deny_resource"))
case("trust root same account, root caller", f"{TR}: the trust policy must allow even for the account root", {"resource": trust({"Service": "sagemaker.amazonaws.com"})}, ROOT, "sts:AssumeRole", ROLE_ARN, deny("implicit_deny_resource"))

# --- VPC endpoint policies
EP = "Control access to VPC endpoints using endpoint policies"
def ep(*stmts):
    return pol("vpce-policy", *stmts, kind="VpcEndpoint")
EP_S3 = ep(st("Buckets", "Allow", ["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::*sagemaker*", "arn:aws:s3:::*sagemaker*/*"], principal="*"))
case("endpoint allows", f"{EP}: endpoint policy must allow", {"identity": [pol("p", st("S3", "Allow", "s3:*"))], "endpoint": EP_S3}, role(), GET, "arn:aws:s3:::my-sagemaker-b/k", allow("p", "S3"))
case("endpoint does not allow bucket", f"{EP}: endpoint policy must allow", {"identity": [pol("p", st("S3", "Allow", "s3:*"))], "endpoint": EP_S3}, role(), GET, "arn:aws:s3:::other/k", deny("implicit_deny_endpoint"))
case("endpoint does not allow ListAllMyBuckets", "SOLUTION-SPEC 6.6.1: aws s3 ls denied in the VPC", {"identity": [pol("p", st("S3", "Allow", "s3:*"))], "endpoint": EP_S3}, role(), "s3:ListAllMyBuckets", "*", deny("implicit_deny_endpoint"))
case("endpoint explicit deny", f"{EP}: explicit deny", {"identity": [pol("p", st("S3", "Allow", "s3:*"))], "endpoint": ep(st("All", "Allow", "*", "*", principal="*"), st("NoDelete", "Deny", "s3:DeleteObject", "*", principal="*"))}, role(), "s3:DeleteObject", OBJ, deny("explicit_deny_endpoint", "vpce-policy", "NoDelete"))
case("endpoint grants nothing by itself", f"{EP}: endpoint policies do not grant", {"endpoint": ep(st("All", "Allow", "*", "*", principal="*"))}, role(), GET, OBJ, deny("implicit_deny_identity"))
case("endpoint principal mismatch", f"{EP}: endpoint principal", {"identity": [pol("p", st("S3", "Allow", "s3:*"))], "endpoint": ep(st("OnlyB", "Allow", "*", "*", principal={"AWS": B}))}, role(), GET, OBJ, deny("implicit_deny_endpoint"))
case("endpoint tagged object ignore case", "SOLUTION-SPEC 6.4.3: GetObject on objects tagged SageMaker=true", {"identity": [pol("p", st("S3", "Allow", "s3:*"))], "endpoint": ep(st("Tagged", "Allow", GET, "*", principal="*", cond={"StringEqualsIgnoreCase": {"s3:ExistingObjectTag/SageMaker": "true"}}))}, role(), GET, OBJ, allow("p", "S3"), ctx={"s3:ExistingObjectTag/SageMaker": "TRUE"})

# --- SageMaker preventive control (spec 6.4.1)
VPC_DENY = pol("exec-deny", st("DenyNoVpc", "Deny", ["sagemaker:CreateTrainingJob", "sagemaker:CreateModel"], f"arn:aws:sagemaker:*:{A}:*", cond={"Null": {"sagemaker:VpcSubnets": "true", "sagemaker:VpcSecurityGroupIds": "true"}}))
SMF = pol("sm-full", st("SageMaker", "Allow", "sagemaker:*"))
JOB = f"arn:aws:sagemaker:us-east-1:{A}:training-job/j"
case("training job without VPC denied", "SOLUTION-SPEC 6.6.5", {"identity": [SMF, VPC_DENY]}, role(name="exec", session="SageMaker"), "sagemaker:CreateTrainingJob", JOB, deny("explicit_deny_identity", "exec-deny", "DenyNoVpc"))
case("training job with VPC allowed", "SOLUTION-SPEC 6.6.6", {"identity": [SMF, VPC_DENY]}, role(name="exec", session="SageMaker"), "sagemaker:CreateTrainingJob", JOB, allow("sm-full", "SageMaker"), ctx={"sagemaker:VpcSubnets": ["subnet-1"], "sagemaker:VpcSecurityGroupIds": ["sg-1"]})
case("training job with only subnets allowed", "SOLUTION-SPEC 6.4.1: same block => both null", {"identity": [SMF, VPC_DENY]}, role(name="exec", session="SageMaker"), "sagemaker:CreateTrainingJob", JOB, allow("sm-full", "SageMaker"), ctx={"sagemaker:VpcSubnets": ["subnet-1"]})
case("PassRole to service", "SOLUTION-SPEC 6.2: iam:PassedToService", {"identity": [pol("pr", st("Pass", "Allow", "iam:PassRole", "*", cond={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))]}, user(), "iam:PassRole", f"arn:aws:iam::{A}:role/X", allow("pr", "Pass"), ctx={"iam:PassedToService": "sagemaker.amazonaws.com"})
case("PassRole to other service", "SOLUTION-SPEC 6.2: iam:PassedToService", {"identity": [pol("pr", st("Pass", "Allow", "iam:PassRole", "*", cond={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))]}, user(), "iam:PassRole", f"arn:aws:iam::{A}:role/X", deny("implicit_deny_identity"), ctx={"iam:PassedToService": "ec2.amazonaws.com"})

with open("evaluation.json", "w") as f:
    json.dump(C, f, indent=1)

# ---- parse / validation ------------------------------------------------------
P = []
def parse(name, kind, doc, error=None, path=None, rule="IAM JSON policy grammar / MalformedPolicyDocument"):
    P.append({"name": name, "doc_rule": rule, "parse": {"kind": kind, "document": doc, "error": error, "path": path}})
OK = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
parse("minimal identity", "Identity", {"Version": "2012-10-17", "Statement": [OK]})
parse("statement object", "Identity", {"Statement": OK}, rule="Statement may be a single object; Version optional")
parse("2008 version", "Identity", {"Version": "2008-10-17", "Statement": [OK]})
parse("bad version", "Identity", {"Version": "2020-01-01", "Statement": [OK]}, "The policy failed legacy parsing", "Version")
parse("unknown top-level", "Identity", {"Version": "2012-10-17", "Statment": [OK]}, "Syntax errors in policy.", "Statment")
parse("unknown statement element", "Identity", {"Statement": [dict(OK, Foo=1)]}, "Syntax errors in policy.", "Statement[0].Foo")
parse("bad effect", "Identity", {"Statement": [dict(OK, Effect="allow")]}, "Syntax errors in policy.", "Statement[0].Effect")
parse("missing effect", "Identity", {"Statement": [{"Action": "s3:*", "Resource": "*"}]}, "Syntax errors in policy.", "Statement[0].Effect")
parse("principal in identity", "Identity", {"Statement": [dict(OK, Principal="*")]}, "Policy document should not specify a principal.", "Statement[0].Principal")
parse("NotPrincipal in identity", "Identity", {"Statement": [dict(OK, NotPrincipal={"AWS": A})]}, "Policy document should not specify a principal.", "Statement[0].NotPrincipal")
parse("principal in boundary", "Boundary", {"Statement": [dict(OK, Principal="*")]}, "Policy document should not specify a principal.", "Statement[0].Principal")
parse("principal in session", "Session", {"Statement": [dict(OK, Principal="*")]}, "Policy document should not specify a principal.", "Statement[0].Principal")
parse("principal in SCP", "Scp", {"Statement": [dict(OK, Principal="*")]}, "Policy document should not specify a principal.", "Statement[0].Principal")
parse("resource policy without principal", "Resource", {"Statement": [OK]}, "Missing required field Principal", "Statement[0].Principal")
parse("trust without principal", "Trust", {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}, "Missing required field Principal", "Statement[0].Principal")
parse("trust non-sts action", "Trust", {"Statement": [{"Effect": "Allow", "Principal": {"AWS": A}, "Action": "s3:GetObject"}]}, "AssumeRole policy may only specify STS AssumeRole actions.", "Statement[0].Action")
parse("trust with resource", "Trust", {"Statement": [{"Effect": "Allow", "Principal": {"AWS": A}, "Action": "sts:AssumeRole", "Resource": "*"}]}, "Has prohibited field Resource", "Statement[0].Resource")
parse("trust ok", "Trust", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": ["sagemaker.amazonaws.com"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
parse("action without vendor", "Identity", {"Statement": [dict(OK, Action=["s3:GetObject", "GetObject"])]}, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", "Statement[0].Action[1]")
parse("action two colons", "Identity", {"Statement": [dict(OK, Action="s3:Get:Object")]}, "Actions/Condition can contain only one colon.", "Statement[0].Action")
parse("missing action", "Identity", {"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Policy statement must contain actions.", "Statement[0]")
parse("empty action list", "Identity", {"Statement": [dict(OK, Action=[])]}, "Policy statement must contain actions.", "Statement[0].Action")
parse("missing resource identity", "Identity", {"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}, "Policy statement must contain resources.", "Statement[0]")
parse("bad resource", "Identity", {"Statement": [dict(OK, Resource="bucket")]}, "Resource bucket must be in ARN format or \"*\".", "Statement[0].Resource")
parse("wildcard partition resource", "Identity", {"Statement": [dict(OK, Resource="arn:*:iam::123456789012:*")]}, rule="never stricter than AWS: arn:*:iam::acct:* valid")
parse("short arn resource", "Identity", {"Statement": [dict(OK, Resource="arn:aws:ecr:*")]}, rule="never stricter than AWS")
parse("action and NotAction", "Identity", {"Statement": [dict(OK, NotAction="s3:*")]}, "Syntax errors in policy.", "Statement[0].NotAction")
parse("resource and NotResource", "Identity", {"Statement": [dict(OK, NotResource="*")]}, "Syntax errors in policy.", "Statement[0].NotResource")
parse("unknown condition operator", "Identity", {"Statement": [dict(OK, Condition={"StringEqualz": {"aws:x": "a"}})]}, "Syntax errors in policy.", "Statement[0].Condition.StringEqualz")
parse("condition key as operator", "Identity", {"Statement": [dict(OK, Condition={"servicecatalog:accountLevel": "self"})]}, "Syntax errors in policy.", "Statement[0].Condition.servicecatalog:accountLevel", rule="cfn-lint #3751: missing operator => Syntax errors in policy.")
parse("condition value object", "Identity", {"Statement": [dict(OK, Condition={"StringEquals": {"aws:x": {"a": 1}}})]}, "Syntax errors in policy.", "Statement[0].Condition.StringEquals.aws:x")
parse("condition values mixed scalars", "Identity", {"Statement": [dict(OK, Condition={"StringEquals": {"aws:x": ["a", 1, True]}})]})
parse("NullIfExists invalid", "Identity", {"Statement": [dict(OK, Condition={"NullIfExists": {"aws:x": "true"}})]}, "Syntax errors in policy.", "Statement[0].Condition.NullIfExists")
parse("duplicate sid", "Identity", {"Statement": [dict(OK, Sid="A"), dict(OK, Sid="A")]}, "Statement IDs (SID) in a single policy must be unique.", "Statement[1].Sid")
parse("statement not object", "Identity", {"Statement": ["x"]}, "Syntax errors in policy.", "Statement[0]")
parse("missing statement", "Identity", {"Version": "2012-10-17"}, "Syntax errors in policy.", "Statement")
parse("not an object", "Identity", ["x"], "Syntax errors in policy.", "")
parse("action number", "Identity", {"Statement": [dict(OK, Action=5)]}, "Syntax errors in policy.", "Statement[0].Action")
parse("unknown principal type", "Resource", {"Statement": [dict(OK, Principal={"Foo": "x"})]}, "Syntax errors in policy.", "Statement[0].Principal.Foo")
parse("bucket policy ok", "Resource", {"Version": "2012-10-17", "Statement": [dict(OK, Principal={"AWS": [A, f"arn:aws:iam::{A}:role/R"]})]})
parse("key policy sid with spaces", "KeyPolicy", {"Version": "2012-10-17", "Statement": [dict(OK, Sid="Enable IAM User Permissions", Action="kms:*", Principal={"AWS": f"arn:aws:iam::{A}:root"})]})
parse("SCP without resource", "Scp", {"Statement": [{"Effect": "Allow", "Action": "*"}]}, rule="lenient for SCPs")
parse("Id element", "Identity", {"Id": "x", "Statement": [OK]})
parse("NotResource ok", "Identity", {"Statement": [{"Effect": "Deny", "Action": "sagemaker:*", "NotResource": ["arn:aws:sagemaker:*:*:domain/*"]}]})
parse("wildcard action", "Identity", {"Statement": [dict(OK, Action="*")]})
parse("IfExists set operator", "Identity", {"Statement": [dict(OK, Condition={"ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a*"]}})]})
parse("variable resource", "Identity", {"Version": "2012-10-17", "Statement": [dict(OK, Resource="arn:aws:s3:::b/${aws:username}/*")]})
parse("version number", "Identity", {"Version": 2012, "Statement": [OK]}, "The policy failed legacy parsing", "Version")
with open("parse.json", "w") as f:
    json.dump(P, f, indent=1)
print(len(C), len(P))
