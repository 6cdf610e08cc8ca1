#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::bool_assert_comparison
)]

use std::path::Path;

use indexmap::IndexMap;
use ironsage_cfn_template::*;
use serde_json::{json, Value};

struct Fake;
impl Resolver for Fake {
    fn ref_resource(&self, id: &str) -> Option<Value> {
        Some(Value::String(format!("phys-{id}")))
    }
    fn get_att(&self, id: &str, attr: &str) -> Result<Value, String> {
        match (id, attr) {
            ("Vpc", "CidrBlock") => Ok(json!("10.0.0.0/16")),
            (_, "Outputs.Missing") => Err(format!("Output 'Missing' not found in stack {id}")),
            _ => Ok(Value::String(format!("{id}.{attr}"))),
        }
    }
    fn import_value(&self, name: &str) -> Result<Value, String> {
        if name == "shared-vpc-id" {
            Ok(json!("vpc-123"))
        } else {
            Err(format!("No export named {name} found."))
        }
    }
    fn azs(&self, region: &str) -> Vec<String> {
        ["a", "b", "c"]
            .iter()
            .map(|s| format!("{region}{s}"))
            .collect()
    }
}

struct Ssm;
impl ParameterResolver for Ssm {
    fn validate_aws_type(&self, ty: &str, value: &str) -> Result<(), String> {
        if ty == "AWS::EC2::VPC::Id" && !value.starts_with("vpc-") {
            return Err(format!(
                "Parameter value {value} for parameter name Vpc does not exist"
            ));
        }
        Ok(())
    }
    fn ssm_value(&self, name: &str) -> Result<String, String> {
        match name {
            "/ami/latest" => Ok("ami-123".into()),
            "/subnets" => Ok("subnet-1,subnet-2".into()),
            _ => Err(format!(
                "Unable to fetch parameters [{name}] from parameter store for this account."
            )),
        }
    }
}

fn dir(kind: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/templates")
        .join(kind)
}

#[test]
fn valid_templates_parse_and_validate() {
    let mut n = 0;
    for e in std::fs::read_dir(dir("valid")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let t = parse_template(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        t.validate()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        n += 1;
    }
    assert!(n >= 2);
}

#[test]
fn invalid_templates_fail_with_expected_message() {
    let mut n = 0;
    for e in std::fs::read_dir(dir("invalid")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let expected = std::fs::read_to_string(p.with_extension("expected")).unwrap();
        let err = parse_template(&text)
            .and_then(|t| t.validate())
            .unwrap_err();
        assert!(
            err.to_string().starts_with(expected.trim()),
            "{}: got `{err}`, expected `{}`",
            p.display(),
            expected.trim()
        );
        n += 1;
    }
    assert!(n >= 8);
}

#[test]
fn cfn_lint_is_clean_on_valid_templates() {
    let Ok(out) = std::process::Command::new("cfn-lint")
        .arg("--version")
        .output()
    else {
        println!("cfn-lint not on PATH: skipped");
        return;
    };
    if !out.status.success() {
        println!("cfn-lint not runnable: skipped");
        return;
    }
    for e in std::fs::read_dir(dir("valid")).unwrap() {
        let p = e.unwrap().path();
        let out = std::process::Command::new("cfn-lint")
            .arg(&p)
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        // Bit 2 = errors; warnings (4) and informational (8) are allowed.
        assert!(
            code >= 0 && code & 2 == 0 && code & 1 == 0,
            "cfn-lint {} exited {code}:\n{}",
            p.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

fn mlops() -> Template {
    parse_template(&std::fs::read_to_string(dir("valid").join("mlops-env.yaml")).unwrap()).unwrap()
}

#[test]
fn full_evaluation_of_mlops_template() {
    let t = mlops();
    let mut inputs = IndexMap::new();
    inputs.insert("EnvType".to_string(), ParameterInput::Value("prod".into()));
    inputs.insert(
        "NumberOfAZs".to_string(),
        ParameterInput::UsePreviousValue {
            previous: "3".into(),
        },
    );
    let params = resolve_parameters(&t, &inputs, &Ssm).unwrap();
    assert_eq!(params.get("LatestAmi").unwrap().value, json!("ami-123"));
    assert_eq!(
        params.get("LatestAmi").unwrap().resolved_value.as_deref(),
        Some("ami-123")
    );
    assert_eq!(params.get("Ports").unwrap().value, json!(["443", "80"]));
    assert_eq!(params.get("AdminRoleArn").unwrap().display_value(), "****");
    let pseudo = Pseudo::new(
        "123456789012",
        "eu-west-1",
        "stk",
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/stk/1",
    );
    evaluate_rules(&t, &params, &pseudo, &Ssm).unwrap();
    let values = params.values();
    let conds = evaluate_conditions(&t, &values, &pseudo).unwrap();
    assert_eq!(conds["IsProd"], true);
    assert_eq!(conds["ProdRoles&3AZ"], true);
    assert_eq!(conds["NotProd"], false);
    let ctx = EvalContext {
        template: &t,
        parameters: &values,
        pseudo: &pseudo,
        conditions: &conds,
        resolver: &Fake,
    };
    let props = |id: &str| resolve(t.resources[id].properties.as_ref().unwrap(), &ctx).unwrap();
    assert_eq!(props("SubnetC")["CidrBlock"], json!("10.0.2.0/24"));
    assert_eq!(props("SubnetB")["AvailabilityZone"], json!("eu-west-1b"));
    let b = props("DataBucket");
    assert_eq!(b["BucketName"], json!("ds-env-data-123456789012-eu-west-1"));
    assert_eq!(
        b["Tags"],
        json!([{"Key": "Env", "Value": "prod"}, {"Key": "Critical", "Value": "true"}])
    );
    assert_eq!(
        b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            ["ServerSideEncryptionByDefault"]["KMSMasterKeyID"],
        json!("Key.Arn")
    );
    assert_eq!(props("Key")["KeyPolicy"]["Version"], json!("2012-10-17"));
    assert_eq!(
        props("Key")["KeyPolicy"]["Statement"][0]["Principal"]["AWS"],
        json!("arn:aws:iam::123456789012:root")
    );
    assert_eq!(props("Logs")["RetentionInDays"], json!(365));
    assert_eq!(
        props("EnvParam")["Description"],
        json!("Bucket phys-DataBucket in stk, literal ${NotAVar}")
    );
    assert_eq!(
        props("DataBucketPolicy")["PolicyDocument"]["Statement"][0]["Resource"],
        json!(["DataBucket.Arn/*", "DataBucket.Arn"])
    );
    let out = resolve(&t.outputs["ChildOut"].value, &ctx).unwrap();
    assert_eq!(out, json!("Child.Outputs.Endpoint"));
    let ud = resolve(&t.outputs["UserData"].value, &ctx).unwrap();
    assert_eq!(ud, json!("ZWNobyBkcy1lbnY="));
    // Dependencies and order.
    let deps = dependencies(&t).unwrap();
    assert_eq!(deps["EnvParam"], vec!["DataBucketPolicy", "DataBucket"]);
    assert_eq!(deps["Child"], vec!["Key", "SageMakerRole"]);
    let order = creation_order(&deps).unwrap();
    let pos = |x: &str| order.iter().position(|o| o == x).unwrap();
    assert!(
        pos("Vpc") < pos("SubnetA")
            && pos("DataBucketPolicy") < pos("EnvParam")
            && pos("Key") < pos("DataBucket")
    );
    let del = deletion_order(&deps).unwrap();
    assert_eq!(
        del.first().map(String::as_str),
        order.last().map(String::as_str)
    );
    // Summary / capabilities.
    let s = summarize(&t);
    assert_eq!(s.capabilities, vec!["CAPABILITY_NAMED_IAM"]);
    assert!(s.metadata.unwrap()["AWS::CloudFormation::Interface"].is_object());
    assert_eq!(s.parameters[1].allowed_values, vec!["dev", "test", "prod"]);
    let caps = required_capabilities(&t, &|id| id != "SageMakerRole");
    assert!(caps.is_empty());
}

#[test]
fn conditions_false_branch_and_novalue() {
    let t = mlops();
    let params = resolve_parameters(&t, &IndexMap::new(), &Ssm).unwrap();
    let pseudo = Pseudo::new("123456789012", "us-east-1", "s", "id");
    let values = params.values();
    let conds = evaluate_conditions(&t, &values, &pseudo).unwrap();
    assert!(!conds["IsProd"]);
    let ctx = EvalContext {
        template: &t,
        parameters: &values,
        pseudo: &pseudo,
        conditions: &conds,
        resolver: &Fake,
    };
    let b = resolve(t.resources["DataBucket"].properties.as_ref().unwrap(), &ctx).unwrap();
    assert_eq!(b["Tags"], json!([{"Key": "Env", "Value": "dev"}]));
    assert_eq!(
        resolve(t.resources["Logs"].properties.as_ref().unwrap(), &ctx).unwrap()["RetentionInDays"],
        json!(7)
    );
    let deps = dependencies_with_conditions(&t, &conds).unwrap();
    assert!(!deps.contains_key("SubnetC"));
}

#[test]
fn parameter_errors_have_aws_wording() {
    let t = mlops();
    let err = |k: &str, v: &str| {
        let mut i = IndexMap::new();
        i.insert(k.to_string(), ParameterInput::Value(v.into()));
        resolve_parameters(&t, &i, &Ssm).unwrap_err().to_string()
    };
    assert_eq!(
        err("EnvType", "qa"),
        "Parameter 'EnvType' must be one of AllowedValues"
    );
    assert_eq!(
        err("EnvName", "Bad_Name"),
        "Parameter 'EnvName' failed to satisfy constraint: lowercase letters, digits and dashes"
    );
    assert_eq!(
        err("NumberOfAZs", "4"),
        "Parameter 'NumberOfAZs' must be a number not greater than 3"
    );
    assert_eq!(
        err("NumberOfAZs", "x"),
        "Parameter 'NumberOfAZs' must be a number"
    );
    assert_eq!(
        err("Ports", "443,abc"),
        "Parameter 'Ports' must be a number"
    );
    assert_eq!(
        err("Nope", "1"),
        "Parameters: [Nope] do not exist in the template"
    );
    assert_eq!(
        err("LatestAmi", "/missing"),
        "Unable to fetch parameters [/missing] from parameter store for this account."
    );
    let t2 = parse_template("Parameters:\n  A: {Type: String}\n  B: {Type: String, MinLength: 4, MaxLength: 5}\n  V: {Type: 'List<AWS::EC2::VPC::Id>'}\nResources:\n  X: {Type: AWS::SNS::Topic}\n").unwrap();
    assert_eq!(
        resolve_parameters(&t2, &IndexMap::new(), &Ssm)
            .unwrap_err()
            .to_string(),
        "Parameters: [A, B, V] must have values"
    );
    let mut i = IndexMap::new();
    i.insert("A".into(), ParameterInput::Value("".into()));
    i.insert("B".into(), ParameterInput::Value("abc".into()));
    i.insert("V".into(), ParameterInput::Value("vpc-1".into()));
    assert_eq!(
        resolve_parameters(&t2, &i, &Ssm).unwrap_err().to_string(),
        "Parameter 'B' must contain at least 4 characters"
    );
    i.insert("B".into(), ParameterInput::Value("abcdef".into()));
    assert_eq!(
        resolve_parameters(&t2, &i, &Ssm).unwrap_err().to_string(),
        "Parameter 'B' must contain at most 5 characters"
    );
    i.insert("B".into(), ParameterInput::Value("abcd".into()));
    i.insert("V".into(), ParameterInput::Value("vpc-1, sg-2".into()));
    assert_eq!(
        resolve_parameters(&t2, &i, &Ssm).unwrap_err().to_string(),
        "Parameter value sg-2 for parameter name Vpc does not exist"
    );
    i.insert("V".into(), ParameterInput::Value("vpc-1, vpc-2".into()));
    assert_eq!(
        resolve_parameters(&t2, &i, &Ssm)
            .unwrap()
            .get("V")
            .unwrap()
            .value,
        json!(["vpc-1", "vpc-2"])
    );
}

#[test]
fn rule_failure_names_rule_and_uses_description() {
    let t = mlops();
    let mut i = IndexMap::new();
    i.insert(
        "CreateIAMRoles".to_string(),
        ParameterInput::Value("NO".into()),
    );
    let params = resolve_parameters(&t, &i, &Ssm).unwrap();
    let e = evaluate_rules(&t, &params, &Pseudo::new("1", "r", "s", "i"), &Ssm).unwrap_err();
    assert_eq!(
        e.message(),
        "AdminRoleArn must be set when CreateIAMRoles is NO"
    );
    assert_eq!(
        e.kind,
        ErrorKind::Rule {
            rule: "RolesRequired".into()
        }
    );
    assert_eq!((e.span.line, e.span.col), (49, 9));
    let t2 = parse_template("Parameters:\n  L: {Type: CommaDelimitedList, Default: 'a,b'}\nRules:\n  R:\n    Assertions:\n      - Assert: !EachMemberIn [!Ref L, [a, c]]\n  Q:\n    Assertions:\n      - Assert: !EachMemberEquals [!RefAll String, x]\nResources:\n  X: {Type: AWS::SNS::Topic}\n").unwrap();
    let p = resolve_parameters(&t2, &IndexMap::new(), &Ssm).unwrap();
    let e = evaluate_rules(&t2, &p, &Pseudo::new("1", "r", "s", "i"), &Ssm).unwrap_err();
    assert_eq!(e.message(), "Assertion failed for rule R");
}

#[test]
fn yaml_loader_semantics() {
    let n = parse_node("a: !GetAtt Stack.Outputs.X\nb: !Sub [x, {y: 1}]\nc: !Base64 {Fn::Sub: z}\nd: 2012-10-17\ne: 'true'\nf: TRUE\ng: YES\nh: 012\ni: 1.5\nj: ~\nk: !Ref AWS::Region\nl: !Condition C\n").unwrap();
    assert_eq!(
        n.to_json(),
        json!({
            "a": {"Fn::GetAtt": ["Stack", "Outputs.X"]},
            "b": {"Fn::Sub": ["x", {"y": 1}]},
            "c": {"Fn::Base64": {"Fn::Sub": "z"}},
            "d": "2012-10-17", "e": "true", "f": true, "g": "YES", "h": "012", "i": 1.5, "j": null,
            "k": {"Ref": "AWS::Region"}, "l": {"Condition": "C"}
        })
    );
    let e = parse_node("a: 1\nb:\n  <<: {x: 1}\n").unwrap_err();
    assert_eq!(e.to_string(), "Template format error: YAML merge keys (<<) are not supported by CloudFormation at line 3, column 3");
    let e = parse_node("a: &x 1\nb: *x\n").unwrap_err();
    assert!(e.to_string().contains("anchors are not supported"));
    let e = parse_node("{\n  \"a\": 1,\n  \"a\": 2\n}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Template format error: Duplicate key 'a' found at line 3, column 3"
    );
    let e = parse_node("{\n  \"a\": 1,\n}").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Template format error: JSON not well-formed."),
        "{e}"
    );
    assert_eq!(e.span.line, 3);
    let e = parse_node("a: [1\n").unwrap_err();
    assert!(e.to_string().contains("YAML not well-formed") && e.span.line >= 1);
}

#[test]
fn intrinsic_errors() {
    let t =
        parse_template("Mappings:\n  M: {k: {v: 1}}\nResources:\n  X: {Type: AWS::SNS::Topic}\n")
            .unwrap();
    let p = IndexMap::new();
    let pseudo = Pseudo::new("1", "us-east-1", "s", "i");
    let c = IndexMap::new();
    let ctx = EvalContext {
        template: &t,
        parameters: &p,
        pseudo: &pseudo,
        conditions: &c,
        resolver: &Fake,
    };
    let ev = |y: &str| resolve(&parse_node(y).unwrap(), &ctx);
    assert_eq!(
        ev("!Select [3, [a, b]]").unwrap_err().to_string(),
        "Template error: Fn::Select cannot select nonexistent value at index 3 at line 1, column 1"
    );
    assert_eq!(ev("!Select ['1', [a, b]]").unwrap(), json!("b"));
    assert_eq!(
        ev("!FindInMap [M, k, w]").unwrap_err().message(),
        "Template error: Unable to get mapping for M::k::w"
    );
    assert_eq!(
        ev("!FindInMap [M, k, w, {DefaultValue: d}]").unwrap(),
        json!("d")
    );
    assert_eq!(
        ev("!GetAtt X.Outputs.Missing").unwrap_err().message(),
        "Template error: Output 'Missing' not found in stack X"
    );
    assert_eq!(
        ev("!GetAtt Y.Arn").unwrap_err().message(),
        "Template error: instance of Fn::GetAtt references undefined resource Y"
    );
    assert_eq!(
        ev("!GetAtt [X, !Ref 'AWS::Region']").unwrap(),
        json!("X.us-east-1")
    );
    assert_eq!(
        ev("!ImportValue nope").unwrap_err().message(),
        "Template error: No export named nope found."
    );
    assert_eq!(ev("!ImportValue shared-vpc-id").unwrap(), json!("vpc-123"));
    assert_eq!(
        ev("!Join ['', [a, !Ref 'AWS::NoValue', b]]").unwrap(),
        json!("ab")
    );
    assert_eq!(
        ev("!Cidr ['192.168.0.0/24', '6', 5]").unwrap(),
        json!([
            "192.168.0.0/27",
            "192.168.0.32/27",
            "192.168.0.64/27",
            "192.168.0.96/27",
            "192.168.0.128/27",
            "192.168.0.160/27"
        ])
    );
    assert_eq!(ev("!Ref AWS::URLSuffix").unwrap(), json!("amazonaws.com"));
    assert_eq!(ev("!ToJsonString {a: 1}").unwrap_err().message(), "Template format error: Fn::ToJsonString requires the AWS::LanguageExtensions transform, which ironsage does not support");
    assert_eq!(ev("!If [Nope, a, b]").unwrap_err().message(), "Template format error: Unresolved condition dependencies [Nope] in the Resources block of the template");
}

#[test]
fn validate_errors() {
    let v = |y: &str| {
        parse_template(y)
            .and_then(|t| t.validate())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        v("Resources:\n  X:\n    Type: T\n    Properties:\n      P: !If [Nope, a, b]\n"),
        "Template error: unresolved condition dependency Nope in Fn::If at line 5, column 15"
    );
    assert_eq!(v("Parameters:\n  P: {Type: String}\nConditions:\n  C: !Equals [!Ref X, a]\nResources:\n  X: {Type: T}\n"), "Template format error: Unresolved dependencies [X]. Cannot reference resources in the Conditions block of the template at line 4, column 15");
    assert_eq!(v("Conditions:\n  A: !Condition B\n  B: !Not [!Condition A]\nResources:\n  X: {Type: T}\n"), "Template format error: Circular dependency between conditions: [A, B] at line 2, column 6");
    assert_eq!(v("Resources:\n  X: {Type: T, Properties: {A: !Sub '${Y.Arn}'}}\n"), "Template format error: Unresolved resource dependencies [Y] in the Resources block of the template at line 2, column 32");
    assert_eq!(v("Resources:\n  X: {Type: T, DependsOn: [Y]}\n"), "Template format error: Unresolved resource dependencies [Y] in the Resources block of the template at line 2, column 28");
    assert_eq!(v("Resources:\n  X: {Type: T}\nOutputs:\n  O: {Value: !Ref Z}\n"), "Template format error: Unresolved resource dependencies [Z] in the Outputs block of the template at line 4, column 14");
    assert_eq!(
        v("Resources:\n  X: {Type: T, Properties: {A: {Fn::Foo: 1}}}\n"),
        "Template format error: Encountered unsupported function: Fn::Foo at line 2, column 32"
    );
    assert_eq!(v("Parameters:\n  P: {Type: String, Default: c, AllowedValues: [a, b]}\nResources:\n  X: {Type: T}\n"), "Parameter 'P' must be one of AllowedValues at line 2, column 6");
    assert_eq!(
        v("Foo: 1\nResources:\n  X: {Type: T}\n"),
        "Template format error: Invalid template property or properties [Foo] at line 1, column 6"
    );
    assert_eq!(v("Resources: {}\n"), "Template format error: At least one Resources member must be defined. at line 1, column 12");
    let mut many = String::from("Resources:\n  X: {Type: T}\nOutputs:\n");
    for i in 0..201 {
        many.push_str(&format!("  O{i}: {{Value: a}}\n"));
    }
    assert_eq!(v(&many), "Template format error: The template contains 201 outputs; the maximum is 200 at line 204, column 9");
}

#[test]
fn garbage_never_panics() {
    let seeds = [
        "Resources:\n  A: !GetAtt",
        "{\"Resources\": [",
        "- !Sub [",
        "a: !Cidr [x, 999999999999999999999, -1]",
        "!!binary x",
        "? [a]\n: b",
        "a: !Ref\n",
        "%YAML 1.2\n---\na: 1\n---\nb: 2\n",
    ];
    let mut rng: u64 = 0x9e3779b97f4a7c15;
    let alphabet = b"{}[]:,-!&*<>|'\"#\n  abRefFn:GetAtt.Sub${}0123\t?%";
    for s in seeds {
        fuzz_parse(s.as_bytes());
    }
    for _ in 0..3000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let len = (rng % 80) as usize;
        let mut buf = Vec::with_capacity(len);
        let mut r = rng;
        for _ in 0..len {
            r = r
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            buf.push(alphabet[((r >> 33) as usize) % alphabet.len()]);
        }
        fuzz_parse(&buf);
    }
    let deep = "[".repeat(5000);
    assert!(parse_node(&deep).is_err());
}
