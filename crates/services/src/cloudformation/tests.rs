//! CloudFormation tests over a temp-dir store with the real IAM, KMS, S3 and
//! SSM services behind an allow-all `Internal` (the gateway's authorization
//! is covered end to end).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use super::CloudFormation;
use crate::{AwsError, Caller, Ctx, Internal, InternalHandle, PrincipalKind, Service};

const ACCT: &str = "111122223333";
const REGION: &str = "us-east-1";

struct Svcs {
    map: HashMap<&'static str, Arc<dyn Service>>,
}

impl Internal for Svcs {
    fn invoke(
        &self,
        caller: &Caller,
        region: &str,
        _via: Option<&str>,
        service: &str,
        op: &str,
        input: Value,
    ) -> Result<Value, AwsError> {
        let svc = self
            .map
            .get(service)
            .ok_or_else(|| AwsError::not_implemented(service, op))?;
        let ctx = Ctx {
            caller,
            region,
            request_id: "req",
            now: time::OffsetDateTime::now_utc(),
        };
        if service == "s3" && op == "GetObject" {
            let r = svc.call_stream(&ctx, op, input, None)?;
            let mut out = r.output;
            if let Some(b) = r.body {
                let mut bytes = Vec::new();
                b.reader.take(1 << 20).read_to_end(&mut bytes).unwrap();
                out["Body"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
            return Ok(out);
        }
        svc.call(&ctx, op, input)
    }
}

struct Env {
    _dir: Arc<tempfile::TempDir>,
    svcs: Arc<Svcs>,
    cfn: CloudFormation,
    caller: Caller,
}

fn root() -> Caller {
    Caller {
        account: ACCT.into(),
        kind: PrincipalKind::Root,
        access_key_id: "AKIAROOT".into(),
        session: None,
    }
}

fn build(dir: Arc<tempfile::TempDir>) -> Env {
    let store = ironsage_store::Store::open(
        &dir.path().join("state.db"),
        ironsage_store::Durability::Normal,
    )
    .unwrap();
    let creds = Arc::new(crate::credentials::Credentials::open(&store).unwrap());
    let iam = Arc::new(crate::iam::Iam::open(&store, creds).unwrap());
    let kms = Arc::new(crate::kms::Kms::open(&store, dir.path()).unwrap());
    let ssm = Arc::new(crate::ssm::Ssm::open(&store, Arc::clone(&kms)).unwrap());
    let s3 = Arc::new(crate::s3::S3::open(&store, dir.path(), Arc::clone(&kms)).unwrap());
    let mut map: HashMap<&'static str, Arc<dyn Service>> = HashMap::new();
    map.insert("iam", iam);
    map.insert("kms", kms);
    map.insert("ssm", ssm);
    map.insert("s3", s3);
    map.insert("ec2", Arc::new(crate::ec2::Ec2::open(&store).unwrap()));
    let svcs = Arc::new(Svcs { map });
    let handle = InternalHandle::default();
    let strong: Arc<dyn Internal> = svcs.clone();
    handle.bind(Arc::downgrade(&strong));
    let cfn = CloudFormation::open(&store, handle).unwrap();
    Env {
        _dir: dir,
        svcs,
        cfn,
        caller: root(),
    }
}

fn env() -> Env {
    build(Arc::new(tempfile::tempdir().unwrap()))
}

impl Env {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            caller: &self.caller,
            region: REGION,
            request_id: "req",
            now: time::OffsetDateTime::now_utc(),
        }
    }
    fn call(&self, op: &str, input: Value) -> Result<Value, AwsError> {
        self.cfn.call(&self.ctx(), op, input)
    }
    fn svc(&self, service: &str, op: &str, input: Value) -> Result<Value, AwsError> {
        self.svcs
            .invoke(&self.caller, REGION, None, service, op, input)
    }
    fn wait(&self, stack: &str) -> Value {
        assert!(
            self.cfn.wait_idle(Duration::from_secs(60)),
            "stack operation did not finish"
        );
        self.call("DescribeStacks", json!({"StackName": stack}))
            .unwrap()["Stacks"][0]
            .clone()
    }
    fn create(&self, name: &str, body: &str, extra: Value) -> Value {
        let mut input = json!({"StackName": name, "TemplateBody": body});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                input[k] = v;
            }
        }
        let out = self.call("CreateStack", input).unwrap();
        let st = self.wait(out["StackId"].as_str().unwrap());
        st
    }
    fn events(&self, stack: &str) -> Vec<Value> {
        self.call("DescribeStackEvents", json!({"StackName": stack}))
            .unwrap()["StackEvents"]
            .as_array()
            .unwrap()
            .clone()
    }
    fn put_object(&self, bucket: &str, key: &str, body: &str) {
        let s3 = self.svcs.map.get("s3").unwrap();
        let _ = s3.call(&self.ctx(), "CreateBucket", json!({"Bucket": bucket}));
        s3.call_stream(
            &self.ctx(),
            "PutObject",
            json!({"Bucket": bucket, "Key": key}),
            Some(Box::new(std::io::Cursor::new(body.as_bytes().to_vec()))),
        )
        .unwrap();
    }
}

fn output(stack: &Value, key: &str) -> String {
    stack["Outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["OutputKey"] == key)
        .unwrap_or_else(|| panic!("no output {key}: {stack}"))["OutputValue"]
        .as_str()
        .unwrap()
        .to_string()
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn big_template() -> String {
    format!(
        r#"
AWSTemplateFormatVersion: "2010-09-09"
Description: twenty-one resources
Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
    Default: dev
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {TRUST}
      Path: /app/
      Policies:
        - PolicyName: inline
          PolicyDocument: {{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}
  Role2:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {TRUST}
      ManagedPolicyArns: [!Ref Managed]
  Managed:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument: {{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}}]}}
  Pol:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: extra
      Roles: [!Ref Role]
      PolicyDocument: {{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:Decrypt","Resource":!GetAtt Key.Arn}}]}}
  Profile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Roles: [!Ref Role]
  Group:
    Type: AWS::IAM::Group
  User:
    Type: AWS::IAM::User
    Properties:
      Groups: [!Ref Group]
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: !Sub "key for ${{AWS::StackName}}"
      EnableKeyRotation: true
  Alias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: !Sub "alias/${{AWS::StackName}}-key"
      TargetKeyId: !Ref Key
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault: {{SSEAlgorithm: "aws:kms", KMSMasterKeyID: !GetAtt Key.Arn}}
      VersioningConfiguration: {{Status: Enabled}}
      PublicAccessBlockConfiguration: {{BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true}}
      Tags: [{{Key: team, Value: ml}}]
  Logs:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource: [!GetAtt Bucket.Arn, !Sub "${{Bucket.Arn}}/*"]
            Condition: {{Bool: {{"aws:SecureTransport": "false"}}}}
  P1: {{Type: AWS::SSM::Parameter, Properties: {{Type: String, Value: !GetAtt Role.Arn}}}}
  P2: {{Type: AWS::SSM::Parameter, Properties: {{Type: String, Name: !Sub "/${{AWS::StackName}}/p2", Value: !Join [",", [a, b, !Ref Env]]}}}}
  P3: {{Type: AWS::SSM::Parameter, Properties: {{Type: String, Value: !Select [1, !GetAZs ""]}}}}
  P4: {{Type: AWS::SSM::Parameter, Properties: {{Type: String, Value: !Select [2, !Cidr ["10.0.0.0/16", 4, 8]]}}}}
  P5: {{Type: AWS::SSM::Parameter, Properties: {{Type: StringList, Value: "x,y"}}}}
  P6: {{Type: AWS::SSM::Parameter, Properties: {{Type: String, Value: !GetAtt Bucket.RegionalDomainName}}}}
  P7: {{Type: AWS::SSM::Parameter, Properties: {{Type: String, Value: !Ref Managed}}}}
  P8: {{Type: AWS::SSM::Parameter, DependsOn: [P7], Properties: {{Type: String, Value: !GetAtt Profile.Arn}}}}
  P9: {{Type: AWS::SSM::Parameter, Properties: {{Type: String, Value: !GetAtt User.Arn}}}}
Outputs:
  RoleArn: {{Value: !GetAtt Role.Arn}}
  RoleId: {{Value: !GetAtt Role.RoleId}}
  BucketName: {{Value: !Ref Bucket, Export: {{Name: !Sub "${{AWS::StackName}}-bucket"}}}}
  Joined: {{Value: !Join ["-", [!Ref Env, !Select [0, !GetAZs ""]]]}}
  Subnet: {{Value: !Select [2, !Cidr ["10.0.0.0/16", 4, 8]]}}
  KeyId: {{Value: !Ref Key}}
  KeyArn: {{Value: !GetAtt Key.Arn}}
  P2: {{Value: !Ref P2}}
  Sub: {{Value: !Sub "${{Bucket}}:${{AWS::Region}}"}}
"#
    )
}

#[test]
fn create_twenty_one_resources_outputs_events_then_delete_keeps_retain() {
    let e = env();
    let t0 = Instant::now();
    let st = e.create(
        "app",
        &big_template(),
        json!({"Capabilities": ["CAPABILITY_IAM"]}),
    );
    let took = t0.elapsed();
    println!("21-resource stack created in {took:?}");
    assert_eq!(
        st["StackStatus"],
        "CREATE_COMPLETE",
        "{st}\n{:#?}",
        e.events("app")
    );
    let role_arn = output(&st, "RoleArn");
    assert!(
        role_arn.starts_with(&format!("arn:aws:iam::{ACCT}:role/app/app-Role-")),
        "{role_arn}"
    );
    assert_eq!(output(&st, "Joined"), "dev-us-east-1a");
    assert_eq!(output(&st, "Subnet"), "10.0.2.0/24");
    assert_eq!(output(&st, "P2"), "/app/p2");
    let bucket = output(&st, "BucketName");
    assert!(
        bucket.starts_with("app-bucket-") && bucket == bucket.to_lowercase(),
        "{bucket}"
    );
    assert_eq!(output(&st, "Sub"), format!("{bucket}:us-east-1"));
    // Real resources exist in the services.
    let role_name = role_arn.rsplit('/').next().unwrap();
    let r = e
        .svc("iam", "GetRole", json!({"RoleName": role_name}))
        .unwrap();
    assert_eq!(r["Role"]["RoleId"], output(&st, "RoleId"));
    let pols = e
        .svc("iam", "ListRolePolicies", json!({"RoleName": role_name}))
        .unwrap();
    assert_eq!(pols["PolicyNames"], json!(["extra", "inline"]));
    let p2 = e
        .svc("ssm", "GetParameter", json!({"Name": "/app/p2"}))
        .unwrap();
    assert_eq!(p2["Parameter"]["Value"], "a,b,dev");
    let enc = e
        .svc("s3", "GetBucketEncryption", json!({"Bucket": bucket}))
        .unwrap();
    assert_eq!(
        enc["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
            ["KMSMasterKeyID"],
        output(&st, "KeyArn")
    );
    assert!(e
        .svc("s3", "GetBucketPolicy", json!({"Bucket": bucket}))
        .is_ok());
    // Events newest first, last one the stack's CREATE_COMPLETE.
    let ev = e.events("app");
    assert_eq!(ev[0]["LogicalResourceId"], "app");
    assert_eq!(ev[0]["ResourceStatus"], "CREATE_COMPLETE");
    assert_eq!(ev.last().unwrap()["ResourceStatus"], "CREATE_IN_PROGRESS");
    assert_eq!(ev.last().unwrap()["ResourceStatusReason"], "User Initiated");
    let res = e
        .call("ListStackResources", json!({"StackName": "app"}))
        .unwrap();
    assert_eq!(res["StackResourceSummaries"].as_array().unwrap().len(), 21);
    let exports = e.call("ListExports", json!({})).unwrap();
    assert_eq!(exports["Exports"][0]["Name"], "app-bucket");
    // Delete: everything but the retained bucket goes, in reverse order.
    let logs = e
        .call(
            "DescribeStackResource",
            json!({"StackName": "app", "LogicalResourceId": "Logs"}),
        )
        .unwrap()["StackResourceDetail"]["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_string();
    let t0 = Instant::now();
    e.call("DeleteStack", json!({"StackName": "app"})).unwrap();
    let st = e.wait(st["StackId"].as_str().unwrap());
    println!("21-resource stack deleted in {:?}", t0.elapsed());
    assert_eq!(
        st["StackStatus"],
        "DELETE_COMPLETE",
        "{:#?}",
        e.events(st["StackId"].as_str().unwrap())
    );
    assert!(e
        .svc("iam", "GetRole", json!({"RoleName": role_name}))
        .is_err());
    assert!(e
        .svc("ssm", "GetParameter", json!({"Name": "/app/p2"}))
        .is_err());
    assert!(e
        .svc("s3", "HeadBucket", json!({"Bucket": bucket}))
        .is_err());
    assert!(
        e.svc("s3", "HeadBucket", json!({"Bucket": logs})).is_ok(),
        "retained bucket kept"
    );
    let ev = e.events(st["StackId"].as_str().unwrap());
    assert!(ev
        .iter()
        .any(|x| x["LogicalResourceId"] == "Logs" && x["ResourceStatus"] == "DELETE_SKIPPED"));
    // Reverse order: the bucket policy is deleted before the bucket, the key after the bucket.
    let pos = |id: &str| {
        ev.iter()
            .position(|x| x["LogicalResourceId"] == id && x["ResourceStatus"] == "DELETE_COMPLETE")
            .unwrap()
    };
    assert!(
        pos("BucketPolicy") > pos("Bucket"),
        "newest first: policy deleted before bucket"
    );
    assert!(pos("Bucket") > pos("Key"));
    // By name the stack is gone; by id it remains.
    let err = e
        .call("DescribeStacks", json!({"StackName": "app"}))
        .unwrap_err();
    assert_eq!(err.message, "Stack with id app does not exist");
    assert!(e.call("ListExports", json!({})).unwrap()["Exports"]
        .as_array()
        .unwrap()
        .is_empty());
    // Deleting a missing stack succeeds.
    e.call("DeleteStack", json!({"StackName": "app"})).unwrap();
}

#[test]
fn failing_resource_rolls_back_and_leaves_nothing() {
    let e = env();
    let body = r#"
Resources:
  Good:
    Type: AWS::SSM::Parameter
    Properties: {Name: /ok/good, Type: String, Value: v}
  Bucket:
    Type: AWS::S3::Bucket
  Bad:
    Type: AWS::SSM::Parameter
    DependsOn: [Good, Bucket]
    Properties: {Name: "/aws/reserved", Type: String, Value: v}
"#;
    let st = e.create("fails", body, json!({}));
    assert_eq!(st["StackStatus"], "ROLLBACK_COMPLETE", "{st}");
    let ev = e.events("fails");
    let bad = ev
        .iter()
        .find(|x| x["LogicalResourceId"] == "Bad" && x["ResourceStatus"] == "CREATE_FAILED")
        .unwrap();
    let reason = bad["ResourceStatusReason"].as_str().unwrap();
    assert!(
        reason.contains("Error Code:") && reason.contains("Ssm"),
        "{reason}"
    );
    assert!(ev
        .iter()
        .any(|x| x["ResourceStatus"] == "ROLLBACK_IN_PROGRESS"
            && x["ResourceStatusReason"]
                .as_str()
                .unwrap()
                .starts_with("The following resource(s) failed to create: [Bad].")));
    assert!(
        e.svc("ssm", "GetParameter", json!({"Name": "/ok/good"}))
            .is_err(),
        "rolled back"
    );
    let buckets = e.svc("s3", "ListBuckets", json!({})).unwrap();
    assert!(
        buckets["Buckets"]
            .as_array()
            .map(|b| b.is_empty())
            .unwrap_or(true),
        "{buckets}"
    );

    // DisableRollback: CREATE_FAILED, resources kept, cause in events.
    let st = e.create(
        "keeps",
        &body.replace("/ok/good", "/ok/kept"),
        json!({"DisableRollback": true}),
    );
    assert_eq!(st["StackStatus"], "CREATE_FAILED");
    assert!(st["StackStatusReason"].as_str().unwrap().contains("[Bad]"));
    assert!(e
        .svc("ssm", "GetParameter", json!({"Name": "/ok/kept"}))
        .is_ok());
    let ev = e.events("keeps");
    assert!(ev.iter().any(|x| x["LogicalResourceId"] == "Bad"
        && x["ResourceStatus"] == "CREATE_FAILED"
        && x["ResourceStatusReason"]
            .as_str()
            .unwrap()
            .contains("Resource handler returned message")));
}

#[test]
fn up_front_validation_errors() {
    let e = env();
    let iam = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: named\n      AssumeRolePolicyDocument: {}\n";
    let err = e
        .call(
            "CreateStack",
            json!({"StackName": "s", "TemplateBody": iam}),
        )
        .unwrap_err();
    assert_eq!(err.code, "InsufficientCapabilitiesException");
    assert_eq!(
        err.message,
        "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    );
    let err = e
        .call("CreateStack", json!({"StackName": "s", "TemplateBody": "Resources:\n  L:\n    Type: AWS::Logs::LogGroup\n  F:\n    Type: AWS::Foo::Bar\n"}))
        .unwrap_err();
    assert_eq!(err.code, "ValidationError");
    assert_eq!(
        err.message,
        "Template format error: Unrecognized resource types: [AWS::Logs::LogGroup, AWS::Foo::Bar]"
    );
    let t = "Parameters:\n  Env:\n    Type: String\n    AllowedValues: [dev, prod]\nResources:\n  W:\n    Type: AWS::CloudFormation::WaitConditionHandle\n";
    let err = e
        .call("CreateStack", json!({"StackName": "s", "TemplateBody": t, "Parameters": [{"ParameterKey": "Env", "ParameterValue": "qa"}]}))
        .unwrap_err();
    assert_eq!(err.code, "ValidationError");
    assert!(err.message.contains("Env"), "{}", err.message);
    let err = e
        .call(
            "CreateStack",
            json!({"StackName": "s", "TemplateBody": "Resources:\n  A: [\n"}),
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationError");
    assert!(err.message.contains("line"), "{}", err.message);
    // Nothing was created for any of them.
    assert!(e.call("DescribeStacks", json!({})).unwrap()["Stacks"]
        .as_array()
        .unwrap()
        .is_empty());
    // AlreadyExists.
    e.create(
        "s",
        t,
        json!({"Parameters": [{"ParameterKey": "Env", "ParameterValue": "dev"}]}),
    );
    let err = e
        .call("CreateStack", json!({"StackName": "s", "TemplateBody": t, "Parameters": [{"ParameterKey": "Env", "ParameterValue": "dev"}]}))
        .unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("AlreadyExistsException", "Stack [s] already exists")
    );
    // Termination protection.
    e.call(
        "UpdateTerminationProtection",
        json!({"StackName": "s", "EnableTerminationProtection": true}),
    )
    .unwrap();
    let err = e
        .call("DeleteStack", json!({"StackName": "s"}))
        .unwrap_err();
    assert!(err.message.contains("TerminationProtection"));
}

#[test]
fn export_in_use_blocks_deletion() {
    let e = env();
    let exp = "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: shared}\nOutputs:\n  O:\n    Value: !Ref P\n    Export: {Name: SharedName}\n";
    let imp = "Resources:\n  Q:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !ImportValue SharedName}\n";
    assert_eq!(
        e.create("exporter", exp, json!({}))["StackStatus"],
        "CREATE_COMPLETE"
    );
    assert_eq!(
        e.create("importer", imp, json!({}))["StackStatus"],
        "CREATE_COMPLETE"
    );
    let dup = e.create("dup", exp, json!({}));
    assert_eq!(dup["StackStatus"], "ROLLBACK_COMPLETE");
    assert!(e
        .events("dup")
        .iter()
        .any(|x| x["ResourceStatusReason"].as_str().is_some_and(
            |r| r.contains("Export with name SharedName is already exported by stack exporter")
        )));
    let imports = e
        .call("ListImports", json!({"ExportName": "SharedName"}))
        .unwrap();
    assert_eq!(imports["Imports"], json!(["importer"]));
    e.call("DeleteStack", json!({"StackName": "exporter"}))
        .unwrap();
    let st = e.wait("exporter");
    assert_eq!(st["StackStatus"], "DELETE_FAILED");
    assert_eq!(
        st["StackStatusReason"],
        "Export SharedName cannot be deleted as it is in use by importer"
    );
    e.call("DeleteStack", json!({"StackName": "importer"}))
        .unwrap();
    e.wait(
        e.call("DescribeStacks", json!({"StackName": "exporter"}))
            .unwrap()["Stacks"][0]["StackId"]
            .as_str()
            .unwrap(),
    );
    e.call("DeleteStack", json!({"StackName": "exporter"}))
        .unwrap();
    let id = st["StackId"].as_str().unwrap().to_string();
    assert_eq!(e.wait(&id)["StackStatus"], "DELETE_COMPLETE");
}

#[test]
fn nested_stack_outputs_through_s3_url() {
    let e = env();
    let child = "Parameters:\n  V: {Type: String}\nResources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref V}\nOutputs:\n  Name: {Value: !Ref P}\n";
    e.put_object("templates", "nested/child.yaml", child);
    let parent = "Resources:\n  Child:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: https://templates.s3.us-east-1.amazonaws.com/nested/child.yaml\n      Parameters: {V: hello}\n  Use:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !GetAtt Child.Outputs.Name}\nOutputs:\n  ChildParam: {Value: !GetAtt Child.Outputs.Name}\n";
    let st = e.create("parent", parent, json!({}));
    assert_eq!(
        st["StackStatus"],
        "CREATE_COMPLETE",
        "{:#?}",
        e.events("parent")
    );
    let name = output(&st, "ChildParam");
    assert_eq!(
        e.svc("ssm", "GetParameter", json!({"Name": name})).unwrap()["Parameter"]["Value"],
        "hello"
    );
    let stacks = e.call("DescribeStacks", json!({})).unwrap()["Stacks"]
        .as_array()
        .unwrap()
        .clone();
    let child_st = stacks
        .iter()
        .find(|s| {
            s["StackName"]
                .as_str()
                .unwrap()
                .starts_with("parent-Child-")
        })
        .unwrap();
    assert_eq!(child_st["ParentId"], st["StackId"]);
    // A path-style URL works too, and a missing object fails up front.
    let err = e
        .call("CreateStack", json!({"StackName": "x", "TemplateURL": "https://s3.amazonaws.com/templates/missing.yaml"}))
        .unwrap_err();
    assert_eq!(err.code, "ValidationError");
    e.call("DeleteStack", json!({"StackName": "parent"}))
        .unwrap();
    assert_eq!(
        e.wait(st["StackId"].as_str().unwrap())["StackStatus"],
        "DELETE_COMPLETE"
    );
    assert!(
        e.svc("ssm", "GetParameter", json!({"Name": name})).is_err(),
        "child resources deleted"
    );
}

#[test]
fn change_sets_and_replacement_update() {
    let e = env();
    let v1 = "Parameters:\n  N: {Type: String}\nResources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: !Ref N}\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref B}\n";
    let cs = e
        .call("CreateChangeSet", json!({"StackName": "cs", "ChangeSetName": "c1", "ChangeSetType": "CREATE", "TemplateBody": v1,
            "Parameters": [{"ParameterKey": "N", "ParameterValue": "bucket-one"}]}))
        .unwrap();
    let st = e
        .call("DescribeStacks", json!({"StackName": "cs"}))
        .unwrap()["Stacks"][0]
        .clone();
    assert_eq!(st["StackStatus"], "REVIEW_IN_PROGRESS");
    let d = e
        .call("DescribeChangeSet", json!({"ChangeSetName": cs["Id"]}))
        .unwrap();
    assert_eq!(d["Status"], "CREATE_COMPLETE");
    assert_eq!(d["Changes"].as_array().unwrap().len(), 2);
    e.call("ExecuteChangeSet", json!({"ChangeSetName": cs["Id"]}))
        .unwrap();
    assert_eq!(e.wait("cs")["StackStatus"], "CREATE_COMPLETE");
    // Same again: no changes.
    let cs2 = e
        .call(
            "CreateChangeSet",
            json!({"StackName": "cs", "ChangeSetName": "c2", "TemplateBody": v1,
            "Parameters": [{"ParameterKey": "N", "UsePreviousValue": true}]}),
        )
        .unwrap();
    let d = e
        .call("DescribeChangeSet", json!({"ChangeSetName": cs2["Id"]}))
        .unwrap();
    assert_eq!(d["Status"], "FAILED");
    assert_eq!(d["StatusReason"], "The submitted information didn't contain changes. Submit different information to create a change set.");
    let err = e.call("UpdateStack", json!({"StackName": "cs", "UsePreviousTemplate": true, "Parameters": [{"ParameterKey": "N", "UsePreviousValue": true}]})).unwrap_err();
    assert_eq!(err.message, "No updates are to be performed.");
    // Rename the bucket: replacement (new first, old at cleanup).
    let cs3 = e
        .call(
            "CreateChangeSet",
            json!({"StackName": "cs", "ChangeSetName": "c3", "TemplateBody": v1,
            "Parameters": [{"ParameterKey": "N", "ParameterValue": "bucket-two"}]}),
        )
        .unwrap();
    let d = e
        .call("DescribeChangeSet", json!({"ChangeSetName": cs3["Id"]}))
        .unwrap();
    let b = d["Changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ResourceChange"]["LogicalResourceId"] == "B")
        .unwrap();
    assert_eq!(b["ResourceChange"]["Action"], "Modify");
    assert_eq!(b["ResourceChange"]["Replacement"], "True");
    e.call("ExecuteChangeSet", json!({"ChangeSetName": cs3["Id"]}))
        .unwrap();
    let st = e.wait("cs");
    assert_eq!(
        st["StackStatus"],
        "UPDATE_COMPLETE",
        "{:#?}",
        e.events("cs")
    );
    assert!(e
        .svc("s3", "HeadBucket", json!({"Bucket": "bucket-two"}))
        .is_ok());
    assert!(e
        .svc("s3", "HeadBucket", json!({"Bucket": "bucket-one"}))
        .is_err());
    let p = e
        .call(
            "DescribeStackResource",
            json!({"StackName": "cs", "LogicalResourceId": "P"}),
        )
        .unwrap();
    let pname = p["StackResourceDetail"]["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        e.svc("ssm", "GetParameter", json!({"Name": pname}))
            .unwrap()["Parameter"]["Value"],
        "bucket-two"
    );
    let ev = e.events("cs");
    let created_new = ev
        .iter()
        .position(|x| {
            x["LogicalResourceId"] == "B"
                && x["PhysicalResourceId"] == "bucket-two"
                && x["ResourceStatus"] == "UPDATE_COMPLETE"
        })
        .unwrap();
    let deleted_old = ev
        .iter()
        .position(|x| {
            x["LogicalResourceId"] == "B"
                && x["PhysicalResourceId"] == "bucket-one"
                && x["ResourceStatus"] == "DELETE_COMPLETE"
        })
        .unwrap();
    assert!(
        deleted_old < created_new,
        "old deleted after new created (newest first)"
    );
    assert!(ev
        .iter()
        .any(|x| x["ResourceStatus"] == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
}

#[test]
fn restart_mid_create_rolls_back_without_orphans() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut body = String::from("Resources:\n");
    for i in 0..60 {
        body.push_str(&format!("  P{i}:\n    Type: AWS::SSM::Parameter\n    Properties: {{Name: /r/p{i}, Type: String, Value: v}}\n"));
    }
    let id = {
        let e = build(Arc::clone(&dir));
        let out = e
            .call(
                "CreateStack",
                json!({"StackName": "r", "TemplateBody": body}),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(15));
        // "Crash": nothing more is persisted by this instance; reopen.
        e.cfn.halt();
        drop(e);
        out["StackId"].as_str().unwrap().to_string()
    };
    std::thread::sleep(Duration::from_millis(300));
    let e = build(Arc::clone(&dir));
    e.cfn.resume();
    let t0 = Instant::now();
    let st = e.wait(&id);
    println!("resume reached {} in {:?}", st["StackStatus"], t0.elapsed());
    let status = st["StackStatus"].as_str().unwrap();
    assert!(
        ["ROLLBACK_COMPLETE", "CREATE_COMPLETE"].contains(&status),
        "{st}"
    );
    if status == "ROLLBACK_COMPLETE" {
        let left = e
            .svc("ssm", "GetParametersByPath", json!({"Path": "/r"}))
            .unwrap();
        assert!(
            left["Parameters"].as_array().unwrap().is_empty(),
            "orphans: {left}"
        );
    }
}

#[test]
fn five_hundred_parameters_create_and_delete() {
    let e = env();
    let mut body = String::from("Resources:\n");
    for i in 0..500 {
        body.push_str(&format!("  P{i}:\n    Type: AWS::SSM::Parameter\n    Properties: {{Type: String, Value: v{i}}}\n"));
    }
    let t0 = Instant::now();
    let st = e.create("big", &body, json!({}));
    let created = t0.elapsed();
    assert_eq!(st["StackStatus"], "CREATE_COMPLETE");
    let t0 = Instant::now();
    e.call("DeleteStack", json!({"StackName": "big"})).unwrap();
    let st = e.wait(st["StackId"].as_str().unwrap());
    let deleted = t0.elapsed();
    assert_eq!(st["StackStatus"], "DELETE_COMPLETE");
    println!("500 SSM parameters: create {created:?}, delete {deleted:?}");
    let left = e.svc("ssm", "DescribeParameters", json!({})).unwrap();
    assert!(left["Parameters"].as_array().unwrap().is_empty());
}

#[test]
fn vpc_network_stack_physical_ids_attributes_and_reverse_delete() {
    let e = env();
    let body = r#"
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.5.0.0/16, EnableDnsHostnames: true}
  Sub:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: !Select [1, !Cidr [!GetAtt Vpc.CidrBlock, 2, 8]]
      AvailabilityZone: !Select [2, !GetAZs ""]
      MapPublicIpOnLaunch: true
  Rtb: {Type: AWS::EC2::RouteTable, Properties: {VpcId: !Ref Vpc}}
  Igw: {Type: AWS::EC2::InternetGateway}
  Att: {Type: AWS::EC2::VPCGatewayAttachment, Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Igw}}
  Default:
    Type: AWS::EC2::Route
    DependsOn: Att
    Properties: {RouteTableId: !Ref Rtb, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}
  # AWS's EIP docs: an address in a VPC of the same template depends on the
  # gateway attachment (else deleting them in parallel may detach the
  # gateway while the NAT gateway still maps the address).
  Eip: {Type: AWS::EC2::EIP, DependsOn: Att, Properties: {Domain: vpc}}
  Nat: {Type: AWS::EC2::NatGateway, Properties: {SubnetId: !Ref Sub, AllocationId: !GetAtt Eip.AllocationId}}
  Dopt: {Type: AWS::EC2::DHCPOptions, Properties: {DomainName: corp.example, DomainNameServers: [AmazonProvidedDNS]}}
  DoptAssoc: {Type: AWS::EC2::VPCDHCPOptionsAssociation, Properties: {VpcId: !Ref Vpc, DhcpOptionsId: !Ref Dopt}}
Outputs:
  Vpc: {Value: !Ref Vpc}
  Sg: {Value: !GetAtt Vpc.DefaultSecurityGroup}
  Acl: {Value: !GetAtt Vpc.DefaultNetworkAcl}
  Az: {Value: !GetAtt Sub.AvailabilityZone}
  Cidr: {Value: !GetAtt Sub.CidrBlock}
  Ip: {Value: !Ref Eip}
  Alloc: {Value: !GetAtt Eip.AllocationId}
  Nat: {Value: !Ref Nat}
"#;
    let st = e.create("net", body, json!({}));
    assert_eq!(
        st["StackStatus"],
        "CREATE_COMPLETE",
        "{:#?}",
        e.events("net")
    );
    let vpc = output(&st, "Vpc");
    assert!(vpc.starts_with("vpc-"));
    assert!(output(&st, "Sg").starts_with("sg-"));
    assert!(output(&st, "Acl").starts_with("acl-"));
    assert_eq!(output(&st, "Az"), "us-east-1c");
    assert_eq!(output(&st, "Cidr"), "10.5.1.0/24");
    let addrs = e
        .svc(
            "ec2",
            "DescribeAddresses",
            json!({"AllocationIds": [output(&st, "Alloc")]}),
        )
        .unwrap();
    assert_eq!(addrs["Addresses"][0]["PublicIp"], json!(output(&st, "Ip")));
    let v = e
        .svc("ec2", "DescribeVpcs", json!({"VpcIds": [vpc.clone()]}))
        .unwrap();
    assert_eq!(
        v["Vpcs"][0]["DhcpOptionsId"]
            .as_str()
            .map(|d| d.starts_with("dopt-")),
        Some(true)
    );
    let res = e
        .call("DescribeStackResources", json!({"StackName": "net"}))
        .unwrap();
    let route = res["StackResources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["LogicalResourceId"] == "Default")
        .unwrap()["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        route.starts_with("rtb-") && route.ends_with("|0.0.0.0/0"),
        "{route}"
    );
    let sid = st["StackId"].as_str().unwrap().to_string();
    e.call("DeleteStack", json!({"StackName": "net"})).unwrap();
    let st = e.wait(&sid);
    assert_eq!(
        st["StackStatus"],
        "DELETE_COMPLETE",
        "{:#?}",
        e.events(&sid)
    );
    let gone = e.svc("ec2", "DescribeVpcs", json!({"VpcIds": [vpc]}));
    assert!(gone.is_err());
}

// ---------------------------------------------------------------- stack policies

/// Two SSM parameters (`Db`, `App`), optionally a third (`Extra`); `db_name`
/// is create-only, so changing it replaces `Db`.
fn policy_template(db_value: &str, db_name: &str, app_value: &str, extra: bool) -> String {
    let mut t = format!(
        "Resources:\n  Db:\n    Type: AWS::SSM::Parameter\n    Properties: {{Name: {db_name}, Type: String, Value: {db_value}}}\n  App:\n    Type: AWS::SSM::Parameter\n    Properties: {{Name: app-param, Type: String, Value: {app_value}}}\n"
    );
    if extra {
        t.push_str(
            "  Extra:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: x}\n",
        );
    }
    t
}

fn pol(statements: Value) -> String {
    json!({ "Statement": statements }).to_string()
}

const ALLOW_ALL: &str = r#"{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}"#;

impl Env {
    fn param(&self, name: &str) -> String {
        self.svc("ssm", "GetParameter", json!({"Name": name}))
            .unwrap()["Parameter"]["Value"]
            .as_str()
            .unwrap()
            .to_string()
    }
    fn update(&self, stack: &str, body: &str, extra: Value) -> Value {
        let mut input = json!({"StackName": stack, "TemplateBody": body});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                input[k] = v;
            }
        }
        self.call("UpdateStack", input).unwrap();
        self.wait(stack)
    }
}

fn deny_db() -> Value {
    json!({"Effect":"Deny","Action":"Update:*","Principal":"*","Resource":"LogicalResourceId/Db"})
}

#[test]
fn stack_policy_modify_allowed_denied_and_explicit_deny_wins() {
    let e = env();
    let all: Value = serde_json::from_str(ALLOW_ALL).unwrap();
    let policy = pol(json!([all, deny_db()]));
    let st = e.create(
        "sp",
        &policy_template("v1", "db-param", "a1", false),
        json!({"StackPolicyBody": policy}),
    );
    assert_eq!(st["StackStatus"], "CREATE_COMPLETE");
    // App may change (statement 1 allows, nothing denies).
    let st = e.update(
        "sp",
        &policy_template("v1", "db-param", "a2", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_COMPLETE", "{st:#}");
    assert_eq!(e.param("app-param"), "a2");
    // Db and App change together: the explicit deny wins, nothing changes.
    let st = e.update(
        "sp",
        &policy_template("v2", "db-param", "a3", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE", "{st:#}");
    assert_eq!(e.param("db-param"), "v1");
    assert_eq!(e.param("app-param"), "a2");
    let reason = "Action denied by stack policy: Statement [#2] does not allow [Update:Modify] for resource [LogicalResourceId/Db]";
    let ev = e.events("sp");
    assert!(
        ev.iter()
            .any(|x| x["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS"
                && x["ResourceStatusReason"] == reason),
        "{ev:#?}"
    );
    // No resource was touched by the refused update.
    let latest: Vec<&Value> = ev
        .iter()
        .take_while(|x| {
            x["ResourceStatus"] != "UPDATE_IN_PROGRESS" || x["LogicalResourceId"] != "sp"
        })
        .collect();
    assert!(
        latest.iter().all(|x| x["LogicalResourceId"] == "sp"),
        "{latest:#?}"
    );
    // Default deny: a policy allowing only App blocks Db.
    let only_app = pol(
        json!([{"Effect":"Allow","Action":"Update:Modify","Principal":"*","Resource":"LogicalResourceId/App*"}]),
    );
    e.call(
        "SetStackPolicy",
        json!({"StackName": "sp", "StackPolicyBody": only_app}),
    )
    .unwrap();
    let st = e.update(
        "sp",
        &policy_template("v3", "db-param", "a2", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE");
    let ev = e.events("sp");
    assert!(ev.iter().any(|x| x["ResourceStatusReason"]
        == "Action denied by stack policy: Stack policy does not allow [Update:Modify] for resource [LogicalResourceId/Db]"));
    assert_eq!(e.param("db-param"), "v1");
    let st = e.update(
        "sp",
        &policy_template("v1", "db-param", "a9", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_COMPLETE");
    assert_eq!(e.param("app-param"), "a9");
}

#[test]
fn stack_policy_not_resource_condition_and_during_update_override() {
    let e = env();
    // NotResource: everything but Db may be updated.
    let policy = pol(
        json!([{"Effect":"Allow","Action":"Update:*","Principal":"*","NotResource":"LogicalResourceId/Db"}]),
    );
    e.create(
        "nr",
        &policy_template("v1", "db-param", "a1", false),
        json!({"StackPolicyBody": policy}),
    );
    let st = e.update(
        "nr",
        &policy_template("v2", "db-param", "a1", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(e.param("db-param"), "v1");
    // The override allows this one update; the stored policy is unchanged.
    let st = e.update(
        "nr",
        &policy_template("v2", "db-param", "a1", false),
        json!({"StackPolicyDuringUpdateBody": pol(json!([serde_json::from_str::<Value>(ALLOW_ALL).unwrap()]))}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_COMPLETE", "{st:#}");
    assert_eq!(e.param("db-param"), "v2");
    let got = e
        .call("GetStackPolicy", json!({"StackName": "nr"}))
        .unwrap();
    assert_eq!(got["StackPolicyBody"], json!(policy));
    let st = e.update(
        "nr",
        &policy_template("v3", "db-param", "a1", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE");

    // Condition on ResourceType: deny SSM parameters (StringLike), allow the rest.
    let e2 = env();
    let all: Value = serde_json::from_str(ALLOW_ALL).unwrap();
    let policy = pol(
        json!([all, {"Effect":"Deny","Action":"Update:Modify","Principal":"*","Resource":"*",
        "Condition":{"StringLike":{"ResourceType":["AWS::SSM::*"]}}}]),
    );
    e2.create(
        "rt",
        &policy_template("v1", "db-param", "a1", false),
        json!({"StackPolicyBody": policy}),
    );
    let st = e2.update(
        "rt",
        &policy_template("v1", "db-param", "a2", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(e2.param("app-param"), "a1");
    let policy = pol(
        json!([all, {"Effect":"Deny","Action":"Update:Modify","Principal":"*","Resource":"*",
        "Condition":{"StringEquals":{"ResourceType":"AWS::S3::Bucket"}}}]),
    );
    e2.call(
        "SetStackPolicy",
        json!({"StackName": "rt", "StackPolicyBody": policy}),
    )
    .unwrap();
    let st = e2.update(
        "rt",
        &policy_template("v1", "db-param", "a2", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_COMPLETE");
    assert_eq!(e2.param("app-param"), "a2");
}

#[test]
fn stack_policy_replace_and_delete() {
    let e = env();
    // Modify is allowed everywhere, but not Replace or Delete.
    let policy =
        pol(json!([{"Effect":"Allow","Action":"Update:Modify","Principal":"*","Resource":"*"}]));
    e.create(
        "rd",
        &policy_template("v1", "db-param", "a1", true),
        json!({"StackPolicyBody": policy}),
    );
    // Renaming Db replaces it: refused with Update:Replace.
    let st = e.update(
        "rd",
        &policy_template("v1", "db-renamed", "a1", true),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE");
    assert!(e.events("rd").iter().any(|x| x["ResourceStatusReason"]
        == "Action denied by stack policy: Stack policy does not allow [Update:Replace] for resource [LogicalResourceId/Db]"));
    assert_eq!(e.param("db-param"), "v1");
    assert!(e
        .svc("ssm", "GetParameter", json!({"Name": "db-renamed"}))
        .is_err());
    // Removing Extra: refused with Update:Delete.
    let st = e.update(
        "rd",
        &policy_template("v1", "db-param", "a1", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE");
    assert!(e.events("rd").iter().any(|x| x["ResourceStatusReason"]
        == "Action denied by stack policy: Stack policy does not allow [Update:Delete] for resource [LogicalResourceId/Extra]"));
    let res = e
        .call("DescribeStackResources", json!({"StackName": "rd"}))
        .unwrap();
    assert_eq!(res["StackResources"].as_array().unwrap().len(), 3);
    // Allowing Replace (without Modify) suffices for a replacement; Delete for a removal.
    let policy = pol(
        json!([{"Effect":"Allow","Action":["Update:Replace","Update:Delete"],"Principal":"*","Resource":"*"}]),
    );
    e.call(
        "SetStackPolicy",
        json!({"StackName": "rd", "StackPolicyBody": policy}),
    )
    .unwrap();
    let st = e.update(
        "rd",
        &policy_template("v1", "db-renamed", "a1", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_COMPLETE", "{st:#}");
    assert_eq!(e.param("db-renamed"), "v1");
    // ... but not an in-place modify.
    let st = e.update(
        "rd",
        &policy_template("v2", "db-renamed", "a1", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE");
    // A change set is checked the same way.
    let cs = e
        .call(
            "CreateChangeSet",
            json!({"StackName": "rd", "ChangeSetName": "c",
            "TemplateBody": policy_template("v2", "db-renamed", "a1", false)}),
        )
        .unwrap();
    e.call("ExecuteChangeSet", json!({"ChangeSetName": cs["Id"]}))
        .unwrap();
    assert_eq!(e.wait("rd")["StackStatus"], "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(e.param("db-renamed"), "v1");
}

#[test]
fn stack_policy_bodies_are_validated() {
    let e = env();
    let t = policy_template("v1", "db-param", "a1", false);
    let bad = [
        "not json".to_string(),
        "{}".to_string(),
        pol(json!([{"Effect":"Maybe","Action":"Update:*","Principal":"*","Resource":"*"}])),
        pol(json!([{"Effect":"Allow","Action":"s3:GetObject","Principal":"*","Resource":"*"}])),
        pol(
            json!([{"Effect":"Allow","Action":"Update:*","Principal":"arn:aws:iam::1:root","Resource":"*"}]),
        ),
        pol(json!([{"Effect":"Allow","Action":"Update:*","Resource":"*"}])),
        pol(
            json!([{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"arn:aws:s3:::b"}]),
        ),
        pol(
            json!([{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*","Condition":{"NumericEquals":{"ResourceType":"x"}}}]),
        ),
    ];
    for b in &bad {
        let err = e
            .call(
                "CreateStack",
                json!({"StackName": "v", "TemplateBody": t, "StackPolicyBody": b}),
            )
            .unwrap_err();
        assert_eq!(err.code, "ValidationError", "{b}");
    }
    e.create("v", &t, json!({}));
    for b in &bad {
        let err = e
            .call(
                "SetStackPolicy",
                json!({"StackName": "v", "StackPolicyBody": b}),
            )
            .unwrap_err();
        assert_eq!(err.code, "ValidationError", "{b}");
        let err = e
            .call("UpdateStack", json!({"StackName": "v", "TemplateBody": policy_template("v2", "db-param", "a1", false), "StackPolicyDuringUpdateBody": b}))
            .unwrap_err();
        assert_eq!(err.code, "ValidationError", "{b}");
    }
    // Without a policy every update is allowed.
    let st = e.update(
        "v",
        &policy_template("v2", "db-renamed", "a1", false),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "UPDATE_COMPLETE");
}

/// `AccessControl` goes to CreateBucket with the ownership, as CloudFormation
/// sends it: `Private` with the public access blocks creates; `PublicRead`
/// meets S3's default ownership and the stack rolls back; a change of
/// `AccessControl` is a PutBucketAcl.
#[test]
fn bucket_access_control_meets_the_default_ownership() {
    let e = env();
    let body = |acl: &str| {
        format!(
            "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: acl-stack-bucket\n      AccessControl: {acl}\n      PublicAccessBlockConfiguration: {{BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true}}\n"
        )
    };
    let st = e.create("private-bucket", &body("Private"), json!({}));
    assert_eq!(st["StackStatus"], "CREATE_COMPLETE", "{st}");
    let acl = e
        .svc("s3", "GetBucketAcl", json!({"Bucket": "acl-stack-bucket"}))
        .unwrap();
    assert_eq!(acl["Grants"][0]["Permission"], "FULL_CONTROL");
    // An update to a public ACL fails on S3's ownership rule and rolls back.
    let up = e
        .call(
            "UpdateStack",
            json!({"StackName": "private-bucket", "TemplateBody": body("PublicRead")}),
        )
        .unwrap();
    let st = e.wait(up["StackId"].as_str().unwrap());
    assert_eq!(st["StackStatus"], "UPDATE_ROLLBACK_COMPLETE", "{st}");
    assert!(e
        .events("private-bucket")
        .iter()
        .any(|x| x["ResourceStatus"] == "UPDATE_FAILED"
            && x["ResourceStatusReason"]
                .as_str()
                .unwrap()
                .contains("AccessControlListNotSupported")));
    e.call("DeleteStack", json!({"StackName": "private-bucket"}))
        .unwrap();
    assert!(e.cfn.wait_idle(Duration::from_secs(60)));
    let st = e.create(
        "public-bucket",
        &body("PublicRead").replace("acl-stack-bucket", "acl-stack-public"),
        json!({}),
    );
    assert_eq!(st["StackStatus"], "ROLLBACK_COMPLETE", "{st}");
    assert!(e
        .events("public-bucket")
        .iter()
        .any(|x| x["ResourceStatus"] == "CREATE_FAILED"
            && x["ResourceStatusReason"].as_str().unwrap().contains(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            )));
    assert!(e
        .svc("s3", "HeadBucket", json!({"Bucket": "acl-stack-public"}))
        .is_err());
}
