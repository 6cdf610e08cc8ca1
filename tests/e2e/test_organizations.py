"""Issue 3 across accounts: Organizations member accounts, cross-account
AssumeRole (both sides must allow) and service control policies."""

import json

from conftest import ACCOUNT
from test_foundation import make_user
from test_iam_enforcement import allow, doc, session_env


def test_cross_account_and_scps(server):
    server.aws("organizations", "create-organization", "--feature-set", "ALL")
    _, out, _ = server.aws("organizations", "create-account", "--email", "dev@example.com", "--account-name", "dev")
    req_id = out["CreateAccountStatus"]["Id"]
    _, out, _ = server.aws("organizations", "describe-create-account-status", "--create-account-request-id", req_id)
    member = out["CreateAccountStatus"]["AccountId"]
    assert out["CreateAccountStatus"]["State"] == "SUCCEEDED" and member != ACCOUNT

    # A management-account user may assume the member's OrganizationAccountAccessRole
    # only with an identity policy allowing it: the trust policy names the account.
    ops, _ = make_user(server, "ops", doc(allow("sts:AssumeRole")))
    idle, _ = make_user(server, "idle", doc(allow("iam:GetUser")))
    role_arn = f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
    rc, _, err = server.aws("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "idle", env=idle, check=False)
    assert rc != 0 and "because no identity-based policy allows the sts:AssumeRole action" in err
    _, out, _ = server.aws("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "ops", env=ops)
    admin = session_env(server, out["Credentials"])
    _, me, _ = server.aws("sts", "get-caller-identity", env=admin)
    assert me["Account"] == member and me["Arn"] == f"arn:aws:sts::{member}:assumed-role/OrganizationAccountAccessRole/ops"

    # In the member account: a role trusting some other account cannot be assumed from here.
    other_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]}
    server.aws("iam", "create-role", "--role-name", "for-others", "--assume-role-policy-document", json.dumps(other_trust), env=admin)
    rc, _, err = server.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{member}:role/for-others", "--role-session-name", "x1", env=ops, check=False)
    assert rc != 0 and "is not authorized to perform: sts:AssumeRole" in err

    # SCPs bound the member account, even its administrators; the management account is exempt.
    _, roots, _ = server.aws("organizations", "list-roots")
    root_id = roots["Roots"][0]["Id"]
    server.aws("organizations", "enable-policy-type", "--root-id", root_id, "--policy-type", "SERVICE_CONTROL_POLICY")
    deny_iam_users = doc({"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"})
    _, pol, _ = server.aws("organizations", "create-policy", "--name", "no-users", "--description", "d", "--type", "SERVICE_CONTROL_POLICY", "--content", json.dumps(deny_iam_users))
    server.aws("organizations", "attach-policy", "--policy-id", pol["Policy"]["PolicySummary"]["Id"], "--target-id", member)
    rc, _, err = server.aws("iam", "create-user", "--user-name", "blocked", env=admin, check=False)
    assert rc != 0 and "with an explicit deny in a service control policy" in err
    _, out, _ = server.aws("iam", "list-roles", env=admin)
    assert any(r["RoleName"] == "for-others" for r in out["Roles"])
    server.aws("iam", "create-user", "--user-name", "mgmt-allowed")
