#!/usr/bin/env python3
"""Regenerates the generated families of the policy corpus
(conditions.json, matching.json). Hand-written files (evaluation.json,
parse.json) are edited directly. Run from this directory."""
import json

A = "111122223333"
COND_DOC = "IAM JSON policy elements: Condition operators"

def user():
    return {"type": "user", "account": A, "name": "alice"}

def cond_cases(name, rule, op, key, values, ctx, expect_true, version="2012-10-17", extra_ctx=None):
    cond = {op: {key: values}}
    context = {}
    if ctx is not None:
        context[ctx[0]] = ctx[1]
    if extra_ctx:
        context.update(extra_ctx)
    req = {"principal": user(), "action": "s3:GetObject", "resource": "arn:aws:s3:::bucket/key", "context": context}
    out = []
    # Deny form: condition true => explicit deny by "Cond", else allowed by "AllowAll".
    out.append({
        "name": f"{name} [deny form]", "doc_rule": f"{COND_DOC}: {rule}",
        "policies": {"identity": [{"id": "p-deny", "document": {"Version": version, "Statement": [
            {"Sid": "Cond", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*", "Condition": cond},
            {"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"}]}}]},
        "request": req,
        "expect": {"allowed": False, "reason": "explicit_deny_identity", "policy": "p-deny", "sid": "Cond"} if expect_true
        else {"allowed": True, "reason": "allowed_identity", "policy": "p-deny", "sid": "AllowAll"},
    })
    out.append({
        "name": f"{name} [allow form]", "doc_rule": f"{COND_DOC}: {rule}",
        "policies": {"identity": [{"id": "p-allow", "document": {"Version": version, "Statement": [
            {"Sid": "Cond", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": cond}]}}]},
        "request": req,
        "expect": {"allowed": True, "reason": "allowed_identity", "policy": "p-allow", "sid": "Cond"} if expect_true
        else {"allowed": False, "reason": "implicit_deny_identity"},
    })
    return out

V = []  # (name, rule, op, key, values, ctx(key,value)|None, expected)
def v(*a):
    V.append(a)

K = "aws:PrincipalTag/team"
# String operators
v("StringEquals match", "values are OR-ed", "StringEquals", K, ["a", "b"], (K, "b"), True)
v("StringEquals no match", "case-sensitive", "StringEquals", K, ["a"], (K, "A"), False)
v("StringEquals other value", "exact match", "StringEquals", K, ["a"], (K, "c"), False)
v("StringEquals absent key", "missing key => false", "StringEquals", K, ["a"], None, False)
v("StringNotEquals equal", "negated", "StringNotEquals", K, ["a"], (K, "a"), False)
v("StringNotEquals different", "negated", "StringNotEquals", K, ["a"], (K, "b"), True)
v("StringNotEquals absent key", "negated operator with missing key => true", "StringNotEquals", K, ["a"], None, True)
v("StringNotEquals several values", "not equal to any", "StringNotEquals", K, ["a", "b"], (K, "b"), False)
v("StringEqualsIgnoreCase match", "case-insensitive", "StringEqualsIgnoreCase", K, ["Abc"], (K, "aBC"), True)
v("StringEqualsIgnoreCase no match", "case-insensitive", "StringEqualsIgnoreCase", K, ["Abc"], (K, "abd"), False)
v("StringEqualsIgnoreCase absent", "missing key => false", "StringEqualsIgnoreCase", K, ["Abc"], None, False)
v("StringNotEqualsIgnoreCase same", "negated ignore case", "StringNotEqualsIgnoreCase", K, ["Abc"], (K, "ABC"), False)
v("StringNotEqualsIgnoreCase other", "negated ignore case", "StringNotEqualsIgnoreCase", K, ["Abc"], (K, "x"), True)
v("StringNotEqualsIgnoreCase absent", "negated missing key => true", "StringNotEqualsIgnoreCase", K, ["Abc"], None, True)
v("StringLike star", "multi-character wildcard", "StringLike", "s3:prefix", ["home/*"], ("s3:prefix", "home/x/y"), True)
v("StringLike star no match", "wildcard", "StringLike", "s3:prefix", ["home/*"], ("s3:prefix", "homex"), False)
v("StringLike question", "single-character wildcard", "StringLike", "s3:prefix", ["a?c"], ("s3:prefix", "abc"), True)
v("StringLike question too long", "single-character wildcard", "StringLike", "s3:prefix", ["a?c"], ("s3:prefix", "abbc"), False)
v("StringLike absent", "missing key => false", "StringLike", "s3:prefix", ["*"], None, False)
v("StringLike case-sensitive", "case-sensitive", "StringLike", "s3:prefix", ["Home/*"], ("s3:prefix", "home/a"), False)
v("StringNotLike match", "negated like", "StringNotLike", "s3:prefix", ["a*"], ("s3:prefix", "ab"), False)
v("StringNotLike no match", "negated like", "StringNotLike", "s3:prefix", ["a*"], ("s3:prefix", "b"), True)
v("StringNotLike absent", "negated missing key => true", "StringNotLike", "s3:prefix", ["a*"], None, True)
v("StringEqualsIfExists absent", "IfExists: missing key => true", "StringEqualsIfExists", K, ["a"], None, True)
v("StringEqualsIfExists present mismatch", "IfExists: present key evaluated", "StringEqualsIfExists", K, ["a"], (K, "b"), False)
v("StringEqualsIfExists present match", "IfExists", "StringEqualsIfExists", K, ["a"], (K, "a"), True)
v("StringNotEqualsIfExists absent", "IfExists negated", "StringNotEqualsIfExists", K, ["a"], None, True)
v("StringLikeIfExists absent", "IfExists", "StringLikeIfExists", K, ["a*"], None, True)
v("StringNotLikeIfExists present", "IfExists negated", "StringNotLikeIfExists", K, ["a*"], (K, "ab"), False)
v("StringEquals on bool context", "string form of booleans", "StringEquals", "aws:SecureTransport", ["true"], ("aws:SecureTransport", True), True)
v("StringEquals number policy value", "numeric JSON values are compared as text", "StringEquals", "s3:max-keys", [10], ("s3:max-keys", "10"), True)
# Numeric
N = "s3:max-keys"
v("NumericEquals match", "numeric", "NumericEquals", N, ["10"], (N, 10), True)
v("NumericEquals string context", "numeric parse", "NumericEquals", N, ["10"], (N, "10"), True)
v("NumericEquals mismatch", "numeric", "NumericEquals", N, ["10"], (N, 11), False)
v("NumericEquals absent", "missing key => false", "NumericEquals", N, ["10"], None, False)
v("NumericNotEquals equal", "negated", "NumericNotEquals", N, ["10"], (N, 10), False)
v("NumericNotEquals different", "negated", "NumericNotEquals", N, ["10"], (N, 11), True)
v("NumericNotEquals absent", "negated missing => true", "NumericNotEquals", N, ["10"], None, True)
v("NumericLessThan below", "less than", "NumericLessThan", N, ["10"], (N, 9), True)
v("NumericLessThan equal", "strict", "NumericLessThan", N, ["10"], (N, 10), False)
v("NumericLessThanEquals equal", "inclusive", "NumericLessThanEquals", N, ["10"], (N, 10), True)
v("NumericLessThanEquals above", "inclusive", "NumericLessThanEquals", N, ["10"], (N, 11), False)
v("NumericGreaterThan above", "greater", "NumericGreaterThan", N, ["10"], (N, 11), True)
v("NumericGreaterThan equal", "strict", "NumericGreaterThan", N, ["10"], (N, 10), False)
v("NumericGreaterThanEquals equal", "inclusive", "NumericGreaterThanEquals", N, ["10"], (N, 10), True)
v("NumericGreaterThanEquals below", "inclusive", "NumericGreaterThanEquals", N, ["10"], (N, 9), False)
v("NumericLessThan float", "floats", "NumericLessThan", N, ["2"], (N, 1.5), True)
v("NumericEquals non-numeric context", "unparsable => no match", "NumericEquals", N, ["10"], (N, "ten"), False)
v("NumericLessThanIfExists absent", "IfExists", "NumericLessThanIfExists", N, ["10"], None, True)
v("NumericEquals JSON number", "numbers may be JSON numbers", "NumericEquals", N, [10], (N, 10), True)
# Date
D = "aws:CurrentTime"
T0 = "2020-01-01T00:00:00Z"
v("DateLessThan before", "ISO 8601", "DateLessThan", D, [T0], (D, "2019-12-31T23:59:59Z"), True)
v("DateLessThan equal", "strict", "DateLessThan", D, [T0], (D, T0), False)
v("DateLessThan epoch context", "epoch seconds", "DateLessThan", D, [T0], (D, 1577836799), True)
v("DateLessThanEquals equal", "inclusive", "DateLessThanEquals", D, [T0], (D, T0), True)
v("DateGreaterThan after", "greater", "DateGreaterThan", D, [T0], (D, "2020-01-01T00:00:01Z"), True)
v("DateGreaterThan before", "greater", "DateGreaterThan", D, [T0], (D, "2019-01-01T00:00:00Z"), False)
v("DateGreaterThanEquals equal", "inclusive", "DateGreaterThanEquals", D, [T0], (D, T0), True)
v("DateEquals other offset", "time zones compared as instants", "DateEquals", D, [T0], (D, "2020-01-01T01:00:00+01:00"), True)
v("DateEquals epoch policy value", "epoch policy values", "DateEquals", D, ["1577836800"], (D, T0), True)
v("DateNotEquals same", "negated", "DateNotEquals", D, [T0], (D, T0), False)
v("DateNotEquals other", "negated", "DateNotEquals", D, [T0], (D, "2021-01-01T00:00:00Z"), True)
v("DateNotEquals absent", "negated missing => true", "DateNotEquals", D, [T0], None, True)
v("DateLessThan absent", "missing => false", "DateLessThan", D, [T0], None, False)
v("DateLessThan date-only policy", "ISO 8601 date", "DateLessThan", D, ["2020-01-02"], (D, "2020-01-01T12:00:00Z"), True)
v("DateGreaterThanIfExists absent", "IfExists", "DateGreaterThanIfExists", D, [T0], None, True)
v("DateLessThan fractional", "fractional seconds", "DateLessThan", D, ["2020-01-01T00:00:00.500Z"], (D, "2020-01-01T00:00:00.250Z"), True)
# Bool
B = "aws:SecureTransport"
v("Bool true", "Bool", "Bool", B, ["true"], (B, True), True)
v("Bool mismatch", "Bool", "Bool", B, ["true"], (B, False), False)
v("Bool string context", "Bool", "Bool", B, ["true"], (B, "true"), True)
v("Bool JSON boolean", "Bool", "Bool", B, [True], (B, True), True)
v("Bool false value", "Bool", "Bool", "aws:ViaAWSService", ["false"], ("aws:ViaAWSService", False), True)
v("Bool absent", "missing => false", "Bool", B, ["false"], None, False)
v("BoolIfExists absent", "IfExists", "BoolIfExists", B, ["false"], None, True)
v("Bool case-insensitive value", "Bool values", "Bool", B, ["TRUE"], (B, True), True)
# Binary
v("BinaryEquals match", "base64 compare", "BinaryEquals", "custom:bin", ["QmluYXJ5VmFsdWU="], ("custom:bin", "QmluYXJ5VmFsdWU="), True)
v("BinaryEquals mismatch", "base64 compare", "BinaryEquals", "custom:bin", ["QmluYXJ5VmFsdWU="], ("custom:bin", "AAAA"), False)
# IP
I = "aws:SourceIp"
v("IpAddress in CIDR", "IPv4 CIDR", "IpAddress", I, ["10.0.0.0/8"], (I, "10.1.2.3"), True)
v("IpAddress outside CIDR", "IPv4 CIDR", "IpAddress", I, ["10.0.0.0/8"], (I, "11.0.0.1"), False)
v("IpAddress single address", "no prefix = /32", "IpAddress", I, ["203.0.113.5"], (I, "203.0.113.5"), True)
v("IpAddress list OR", "values OR-ed", "IpAddress", I, ["192.0.2.0/24", "10.0.0.0/8"], (I, "10.9.9.9"), True)
v("IpAddress IPv6", "IPv6 CIDR", "IpAddress", I, ["2001:db8::/32"], (I, "2001:db8::5"), True)
v("IpAddress IPv6 outside", "IPv6 CIDR", "IpAddress", I, ["2001:db8::/32"], (I, "2001:db9::5"), False)
v("IpAddress family mismatch", "v4 vs v6", "IpAddress", I, ["2001:db8::/32"], (I, "10.0.0.1"), False)
v("IpAddress absent", "missing => false", "IpAddress", I, ["0.0.0.0/0"], None, False)
v("NotIpAddress inside", "negated", "NotIpAddress", I, ["10.0.0.0/8"], (I, "10.1.1.1"), False)
v("NotIpAddress outside", "negated", "NotIpAddress", I, ["10.0.0.0/8"], (I, "192.168.1.1"), True)
v("NotIpAddress absent", "negated missing => true", "NotIpAddress", I, ["10.0.0.0/8"], None, True)
v("IpAddress /0", "all addresses", "IpAddress", I, ["0.0.0.0/0"], (I, "8.8.8.8"), True)
v("IpAddress /31", "prefix", "IpAddress", I, ["10.0.0.2/31"], (I, "10.0.0.3"), True)
v("IpAddressIfExists absent", "IfExists", "IpAddressIfExists", I, ["10.0.0.0/8"], None, True)
# ARN
R = "aws:SourceArn"
ROLE = f"arn:aws:iam::{A}:role/R"
v("ArnEquals match", "ARN compare", "ArnEquals", R, [ROLE], (R, ROLE), True)
v("ArnEquals mismatch", "ARN compare", "ArnEquals", R, [ROLE], (R, f"arn:aws:iam::{A}:role/S"), False)
v("ArnLike wildcard", "segment wildcards", "ArnLike", R, ["arn:aws:iam::*:role/*"], (R, ROLE), True)
v("ArnLike wrong resource type", "segment wildcards", "ArnLike", R, ["arn:aws:iam::*:role/*"], (R, f"arn:aws:iam::{A}:user/u"), False)
v("ArnLike account segment", "segments are separate", "ArnLike", R, ["arn:aws:iam::999999999999:*"], (R, ROLE), False)
v("ArnLike non-ARN context", "invalid ARN => no match", "ArnLike", R, ["arn:*"], (R, "not-an-arn"), False)
v("ArnEquals wildcard allowed", "ArnEquals accepts wildcards", "ArnEquals", R, ["arn:aws:iam::*:role/R"], (R, ROLE), True)
v("ArnNotLike match", "negated", "ArnNotLike", R, ["arn:aws:iam::*:role/*"], (R, ROLE), False)
v("ArnNotLike no match", "negated", "ArnNotLike", R, ["arn:aws:s3:::*"], (R, ROLE), True)
v("ArnNotEquals absent", "negated missing => true", "ArnNotEquals", R, [ROLE], None, True)
v("ArnLike absent", "missing => false", "ArnLike", R, ["*"], None, False)
v("ArnLikeIfExists absent", "IfExists", "ArnLikeIfExists", "cloudformation:RoleArn", ["arn:aws:sts::*:assumed-role/AmazonSageMakerServiceCatalog*"], None, True)
v("ArnLikeIfExists mismatch", "IfExists present", "ArnLikeIfExists", "cloudformation:RoleArn", ["arn:aws:sts::*:assumed-role/AmazonSageMakerServiceCatalog*"], ("cloudformation:RoleArn", ROLE), False)
# Null
S = "sagemaker:VpcSubnets"
v("Null true absent", "Null: true => key absent", "Null", S, ["true"], None, True)
v("Null true present", "Null", "Null", S, ["true"], (S, ["subnet-1"]), False)
v("Null false present", "Null: false => key present", "Null", S, ["false"], (S, ["subnet-1"]), True)
v("Null false absent", "Null", "Null", S, ["false"], None, False)
v("Null true empty multivalued", "empty set counts as absent", "Null", S, ["true"], (S, []), True)
v("Null JSON bool", "Null accepts booleans", "Null", S, [True], None, True)
# Set operators
TK = "aws:TagKeys"
v("ForAllValues subset", "ForAllValues: every value in set", "ForAllValues:StringEquals", TK, ["a", "b"], (TK, ["a"]), True)
v("ForAllValues equal set", "ForAllValues", "ForAllValues:StringEquals", TK, ["a", "b"], (TK, ["a", "b"]), True)
v("ForAllValues extra value", "ForAllValues", "ForAllValues:StringEquals", TK, ["a", "b"], (TK, ["a", "c"]), False)
v("ForAllValues empty set", "ForAllValues with empty key => true", "ForAllValues:StringEquals", TK, ["a"], (TK, []), True)
v("ForAllValues absent", "ForAllValues with missing key => true", "ForAllValues:StringEquals", TK, ["a"], None, True)
v("ForAnyValue intersect", "ForAnyValue: at least one", "ForAnyValue:StringEquals", TK, ["a"], (TK, ["a", "c"]), True)
v("ForAnyValue disjoint", "ForAnyValue", "ForAnyValue:StringEquals", TK, ["a"], (TK, ["c"]), False)
v("ForAnyValue empty", "ForAnyValue with empty key => false", "ForAnyValue:StringEquals", TK, ["a"], (TK, []), False)
v("ForAnyValue absent", "ForAnyValue with missing key => false", "ForAnyValue:StringEquals", TK, ["a"], None, False)
v("ForAnyValue StringLike", "ForAnyValue:StringLike", "ForAnyValue:StringLike", TK, ["sagemaker:*"], (TK, ["x", "sagemaker:launch-source"]), True)
v("ForAllValues StringLike", "ForAllValues:StringLike", "ForAllValues:StringLike", TK, ["x*"], (TK, ["xa", "xb"]), True)
v("ForAllValues StringLike one fails", "ForAllValues:StringLike", "ForAllValues:StringLike", TK, ["x*"], (TK, ["xa", "yb"]), False)
v("ForAllValues StringNotEquals none listed", "negated set operator", "ForAllValues:StringNotEquals", TK, ["a"], (TK, ["b", "c"]), True)
v("ForAllValues StringNotEquals one listed", "negated set operator", "ForAllValues:StringNotEquals", TK, ["a"], (TK, ["a", "b"]), False)
v("ForAllValues StringNotEquals absent", "ForAllValues missing => true", "ForAllValues:StringNotEquals", TK, ["a"], None, True)
v("ForAnyValue StringNotEquals some unlisted", "negated set operator", "ForAnyValue:StringNotEquals", TK, ["a"], (TK, ["a", "b"]), True)
v("ForAnyValue StringNotEquals all listed", "negated set operator", "ForAnyValue:StringNotEquals", TK, ["a"], (TK, ["a"]), False)
v("ForAnyValue StringNotEquals absent", "ForAnyValue missing => false", "ForAnyValue:StringNotEquals", TK, ["a"], None, False)
v("ForAnyValue IfExists absent", "IfExists with set operator", "ForAnyValue:StringLikeIfExists", TK, ["a*"], None, True)
v("ForAllValues ArnEquals", "set operator with ARN", "ForAllValues:ArnEquals", "custom:arns", [ROLE], ("custom:arns", [ROLE]), True)
v("Single operator multivalued key any", "single-valued operator on multivalued key", "StringEquals", TK, ["a"], (TK, ["b", "a"]), True)
v("Single negated operator multivalued key", "negated operator on multivalued key", "StringNotEquals", TK, ["a"], (TK, ["b", "a"]), False)
# Keys case-insensitive, values case-sensitive
v("key case-insensitive", "condition keys are case-insensitive", "StringEquals", "AWS:SOURCEVPCE", ["vpce-1"], ("aws:SourceVpce", "vpce-1"), True)
v("key case-insensitive other direction", "condition keys are case-insensitive", "StringNotEquals", "aws:sourceVpce", ["vpce-1"], ("aws:SourceVpce", "vpce-2"), True)
v("value case-sensitive", "values case-sensitive", "StringEquals", "aws:SourceVpce", ["VPCE-1"], ("aws:SourceVpce", "vpce-1"), False)
v("tag key with colon", "service keys with colons", "StringEquals", "s3:ExistingObjectTag/servicecatalog:provisioning", ["true"], ("s3:ExistingObjectTag/servicecatalog:provisioning", "true"), True)
v("StringEqualsIgnoreCase tag", "ignore case", "StringEqualsIgnoreCase", "s3:ExistingObjectTag/SageMaker", ["true"], ("s3:ExistingObjectTag/SageMaker", "True"), True)
# Policy variables in condition values
PV = "IAM policy elements: Variables and tags"
V.append(("variable aws:username in value", "variable substituted", "StringLike", "s3:prefix", ["home/${aws:username}/*"], ("s3:prefix", "home/alice/x"), True))
V.append(("variable aws:username other user", "variable substituted", "StringLike", "s3:prefix", ["home/${aws:username}/*"], ("s3:prefix", "home/bob/x"), False))
V.append(("variable PrincipalTag", "tag variable", "StringEquals", "aws:ResourceTag/team", ["${aws:PrincipalTag/team}"], ("aws:ResourceTag/team", "red"), True, "2012-10-17", {"aws:PrincipalTag/team": "red"}))
V.append(("variable absent key", "absent variable => value does not match", "StringEquals", "aws:ResourceTag/team", ["${aws:PrincipalTag/team}"], ("aws:ResourceTag/team", "red"), False))
V.append(("variable default", "default value", "StringEquals", "aws:ResourceTag/team", ["${aws:PrincipalTag/team, 'none'}"], ("aws:ResourceTag/team", "none"), True))
V.append(("variable ${*} literal", "special characters", "StringEquals", "s3:prefix", ["a${*}b"], ("s3:prefix", "a*b"), True))
V.append(("variable ${$} literal", "special characters", "StringEquals", "s3:prefix", ["a${$}b"], ("s3:prefix", "a$b"), True))
V.append(("variable not substituted in 2008 version", "variables need Version 2012-10-17", "StringEquals", "s3:prefix", ["${aws:username}"], ("s3:prefix", "alice"), False, "2008-10-17"))
V.append(("variable literal in 2008 version", "variables need Version 2012-10-17", "StringEquals", "s3:prefix", ["${aws:username}"], ("s3:prefix", "${aws:username}"), True, "2008-10-17"))

cases = []
for t in V:
    name, rule, op, key, values, ctx, exp = t[:7]
    version = t[7] if len(t) > 7 else "2012-10-17"
    extra = t[8] if len(t) > 8 else None
    cases += cond_cases(name, rule, op, key, values, ctx, exp, version, extra)

# Multi-key / multi-operator AND
def multi(name, cond, ctx, exp):
    req = {"principal": user(), "action": "s3:GetObject", "resource": "arn:aws:s3:::bucket/key", "context": ctx}
    return {"name": name, "doc_rule": "IAM JSON policy elements: Condition: multiple keys and operators are AND-ed, values OR-ed",
            "policies": {"identity": [{"id": "p", "document": {"Version": "2012-10-17", "Statement": [
                {"Sid": "Cond", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": cond}]}}]},
            "request": req,
            "expect": {"allowed": True, "reason": "allowed_identity", "policy": "p", "sid": "Cond"} if exp
            else {"allowed": False, "reason": "implicit_deny_identity"}}
two_keys = {"StringEquals": {"aws:PrincipalTag/a": "1", "aws:PrincipalTag/b": "2"}}
cases.append(multi("two keys both match", two_keys, {"aws:PrincipalTag/a": "1", "aws:PrincipalTag/b": "2"}, True))
cases.append(multi("two keys one mismatch", two_keys, {"aws:PrincipalTag/a": "1", "aws:PrincipalTag/b": "3"}, False))
cases.append(multi("two keys one absent", two_keys, {"aws:PrincipalTag/a": "1"}, False))
two_ops = {"StringEquals": {"aws:PrincipalTag/a": "1"}, "Bool": {"aws:SecureTransport": "true"}}
cases.append(multi("two operators both", two_ops, {"aws:PrincipalTag/a": "1", "aws:SecureTransport": True}, True))
cases.append(multi("two operators one fails", two_ops, {"aws:PrincipalTag/a": "1", "aws:SecureTransport": False}, False))
null_pair = {"Null": {"sagemaker:VpcSubnets": "true", "sagemaker:VpcSecurityGroupIds": "true"}}
cases.append(multi("Null pair both absent", null_pair, {}, True))
cases.append(multi("Null pair one present", null_pair, {"sagemaker:VpcSubnets": ["subnet-1"]}, False))

with open("conditions.json", "w") as f:
    json.dump(cases, f, indent=1)

# ---- matching family: actions and resources -------------------------------
M = []
def am(pattern, action, exp, rule):
    M.append(("action", pattern, action, exp, rule))
def rm(pattern, resource, exp, rule):
    M.append(("resource", pattern, resource, exp, rule))
am("s3:GetObject", "s3:GetObject", True, "exact")
am("s3:getobject", "s3:GetObject", True, "actions are case-insensitive")
am("S3:GETOBJECT", "s3:GetObject", True, "actions are case-insensitive")
am("s3:Get*", "s3:GetObjectAcl", True, "prefix wildcard")
am("s3:Get*", "s3:PutObject", False, "prefix wildcard")
am("s3:*Object", "s3:GetObject", True, "leading wildcard")
am("s3:*Object", "s3:GetObjectAcl", False, "wildcard must cover whole name")
am("sagemaker:*Model", "sagemaker:CreateModel", True, "wildcard in name")
am("s3:Get?bject", "s3:GetObject", True, "single-char wildcard")
am("s3:Get?bject", "s3:GetOObject", False, "single-char wildcard")
am("*", "kms:Decrypt", True, "all actions")
am("s3:*", "s3:ListBucket", True, "service wildcard")
am("s3:*", "s3express:CreateSession", False, "service prefix is exact")
am("s3*:*", "s3express:CreateSession", True, "wildcard in service prefix")
am("ec2:*", "s3:GetObject", False, "other service")
am("s3:HeadObject", "s3:GetObject", False, "unknown actions tolerated but do not match")
am("iam:Pass*", "iam:PassRole", True, "prefix wildcard")
am("*:Get*", "dynamodb:GetItem", True, "wildcard service")
rm("*", "arn:aws:s3:::b/k", True, "all resources")
rm("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c", True, "wildcard spans /")
rm("arn:aws:s3:::b/*", "arn:aws:s3:::b", False, "bucket vs objects")
rm("arn:aws:s3:::b*", "arn:aws:s3:::bucket", True, "prefix")
rm("arn:aws:s3:::B/*", "arn:aws:s3:::b/k", False, "resources are case-sensitive")
rm("arn:aws:s3:::*sagemaker*", "arn:aws:s3:::my-sagemaker-bucket", True, "infix wildcard")
rm("arn:aws:s3:::*SageMaker*", "arn:aws:s3:::my-sagemaker-bucket", False, "case-sensitive infix")
rm("arn:*:iam::*:role/*StackSetExecutionRole*", "arn:aws:iam::123456789012:role/x/AWSCloudFormationStackSetExecutionRole", True, "wildcards in several segments")
rm("arn:*:iam::*:role/*StackSetExecutionRole*", "arn:aws:iam::123456789012:user/StackSetExecutionRole", False, "resource type differs")
rm("arn:aws:iam::*:*", "arn:aws:iam::123456789012:role/R", True, "account wildcard")
rm("arn:aws:iam::123456789012:*", "arn:aws:iam::999999999999:role/R", False, "account segment")
rm("arn:aws:ecr:*", "arn:aws:ecr:us-east-1:123456789012:repository/r", True, "short pattern absorbs remaining segments")
rm("arn:aws:sagemaker:*:123456789012:*", "arn:aws:sagemaker:us-east-1:123456789012:training-job/j", True, "region wildcard")
rm("arn:aws:sagemaker:*:123456789012:*", "arn:aws:sagemaker:us-east-1:999999999999:training-job/j", False, "account mismatch")
rm("arn:aws:logs:*:*:log-group:/vpcflowlogs/env*", "arn:aws:logs:us-east-1:1:log-group:/vpcflowlogs/env1-vpc-flow-logs:log-stream:x", True, "colons inside the resource segment")
rm("arn:aws:s3:::b/?", "arn:aws:s3:::b/k", True, "single-character")
rm("arn:aws:s3:::b/?", "arn:aws:s3:::b/kk", False, "single-character")
rm("arn:aws:s3:::b", "*", False, "ARN pattern does not match resource '*'")
rm("arn:aws:ssm:*:*:parameter/env*", "arn:aws:ssm:eu-west-1:123456789012:parameter/env1/x", True, "parameter paths")
rm("arn:aws:iam::*:role/service-role/AmazonSageMakerServiceCatalog*", "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole", True, "role paths")
rm("arn:aws:iam::*:role/service-role/AmazonSageMakerServiceCatalog*", "arn:aws:iam::123456789012:role/AmazonSageMakerServiceCatalogProductsUseRole", False, "role paths are part of the ARN")

mcases = []
for kind, pattern, target, exp, rule in M:
    action = target if kind == "action" else "s3:GetObject"
    resource = target if kind == "resource" else "arn:aws:s3:::b/k"
    st = {"Sid": "M", "Effect": "Allow", "Action": pattern if kind == "action" else "*",
          "Resource": pattern if kind == "resource" else "*"}
    mcases.append({"name": f"{kind} {pattern} vs {target}", "doc_rule": f"IAM JSON policy elements: {'Action' if kind == 'action' else 'Resource'}: {rule}",
                   "policies": {"identity": [{"id": "p", "document": {"Version": "2012-10-17", "Statement": [st]}}]},
                   "request": {"principal": user(), "action": action, "resource": resource, "context": {}},
                   "expect": {"allowed": True, "reason": "allowed_identity", "policy": "p", "sid": "M"} if exp
                   else {"allowed": False, "reason": "implicit_deny_identity"}})
    # NotAction / NotResource mirror
    nst = dict(st)
    if kind == "action":
        del nst["Action"]; nst["NotAction"] = pattern
    else:
        del nst["Resource"]; nst["NotResource"] = pattern
    mcases.append({"name": f"Not{kind} {pattern} vs {target}", "doc_rule": f"IAM JSON policy elements: Not{'Action' if kind == 'action' else 'Resource'}: matches everything except the listed; {rule}",
                   "policies": {"identity": [{"id": "p", "document": {"Version": "2012-10-17", "Statement": [nst]}}]},
                   "request": {"principal": user(), "action": action, "resource": resource, "context": {}},
                   "expect": {"allowed": True, "reason": "allowed_identity", "policy": "p", "sid": "M"} if not exp
                   else {"allowed": False, "reason": "implicit_deny_identity"}})
with open("matching.json", "w") as f:
    json.dump(mcases, f, indent=1)
print(len(cases), len(mcases))
