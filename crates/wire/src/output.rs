//! Output serialization: neutral value tree -> wire response.

use base64::Engine;
use ironsage_model::{
    Location, Member, Operation, Protocol, ServiceModel, Shape, ShapeType, XmlNamespace,
};
use serde_json::{Map, Value};

use crate::timefmt::{format_epoch_seconds, format_iso8601, format_rfc7231, timestamp_from_value};
use crate::xml::escape;
use crate::{Response, MAX_DEPTH};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const EC2_NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";
const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

struct Out<'m> {
    model: &'m ServiceModel,
    protocol: Protocol,
}

impl<'m> Out<'m> {
    fn shape(&self, name: &str) -> Option<&'m Shape> {
        self.model.shape(name)
    }
}

/// Formats a timestamp value for `format` (`iso8601`, `rfc822`, `unixTimestamp`).
fn ts_string(v: &Value, format: &str) -> String {
    match timestamp_from_value(v) {
        Some(t) => match format {
            "rfc822" => format_rfc7231(t),
            "unixTimestamp" => format_epoch_seconds(t).to_string(),
            _ => format_iso8601(t),
        },
        None => scalar_text(v),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn ts_format<'a>(member: Option<&'a Member>, shape: &'a Shape, default: &'a str) -> &'a str {
    member
        .and_then(|m| m.timestamp_format.as_deref())
        .or(shape.timestamp_format.as_deref())
        .unwrap_or(default)
}

/// Serializes `output` for `op`.
pub fn serialize_output(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
    request_id: &str,
) -> Response {
    let out = Out {
        model,
        protocol: model.info.protocol,
    };
    let shape = op.output.as_deref().and_then(|n| out.shape(n));
    let empty = Value::Object(Map::new());
    let output = if output.is_object() { output } else { &empty };
    match out.protocol {
        Protocol::Query => {
            let ns = model.info.xml_namespace.unwrap_or_default();
            let mut s = format!("<{}Response xmlns=\"{}\">", op.name, escape(ns));
            if let Some(shape) = shape {
                let wrapper = op
                    .result_wrapper()
                    .map_or_else(|| format!("{}Result", op.name), str::to_owned);
                s.push_str(&format!("<{wrapper}>"));
                xml_members(&out, shape, output, &mut s, 0);
                s.push_str(&format!("</{wrapper}>"));
            }
            s.push_str(&format!(
                "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{}Response>",
                escape(request_id),
                op.name
            ));
            xml_resp(200, s, request_id, false)
        }
        Protocol::Ec2 => {
            let mut s = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{}Response xmlns=\"{EC2_NS}\"><requestId>{}</requestId>",
                op.name,
                escape(request_id)
            );
            if let Some(shape) = shape {
                xml_members(&out, shape, output, &mut s, 0);
            }
            s.push_str(&format!("</{}Response>", op.name));
            xml_resp(200, s, request_id, false)
        }
        Protocol::Json => {
            let body = match shape {
                Some(shape) => json_out(&out, shape, None, output, 0),
                None => empty.clone(),
            };
            Response {
                status: 200,
                headers: vec![
                    ("x-amzn-RequestId".to_owned(), request_id.to_owned()),
                    (
                        "Content-Type".to_owned(),
                        format!(
                            "application/x-amz-json-{}",
                            model.info.json_version.unwrap_or("1.0")
                        ),
                    ),
                ],
                body: body.to_string().into_bytes(),
            }
        }
        Protocol::RestJson | Protocol::RestXml => rest_out(&out, op, shape, output, request_id),
    }
}

fn xml_resp(status: u16, body: String, request_id: &str, s3: bool) -> Response {
    let mut headers = Vec::new();
    if s3 {
        headers.push(("x-amz-request-id".to_owned(), request_id.to_owned()));
        headers.push((
            "x-amz-id-2".to_owned(),
            B64.encode(format!("ironsage/{request_id}")),
        ));
    } else {
        headers.push(("x-amzn-RequestId".to_owned(), request_id.to_owned()));
    }
    headers.push(("Content-Type".to_owned(), "text/xml".to_owned()));
    Response {
        status,
        headers,
        body: body.into_bytes(),
    }
}

fn elem_name<'a>(
    protocol: Protocol,
    name: &'a str,
    member: &'a Member,
    target: &'a Shape,
) -> &'a str {
    let _ = protocol;
    member
        .location_name
        .as_deref()
        .or(target.location_name.as_deref())
        .unwrap_or(name)
}

fn ns_attr(ns: Option<&XmlNamespace>) -> String {
    match ns {
        Some(XmlNamespace {
            uri,
            prefix: Some(p),
        }) => format!(" xmlns:{p}=\"{}\"", escape(uri)),
        Some(XmlNamespace { uri, prefix: None }) => format!(" xmlns=\"{}\"", escape(uri)),
        None => String::new(),
    }
}

/// Writes the members of a structure (children only) as XML.
fn xml_members(out: &Out<'_>, shape: &Shape, value: &Value, s: &mut String, depth: usize) {
    let Some(obj) = value.as_object() else { return };
    if depth > MAX_DEPTH {
        return;
    }
    for (name, member) in &shape.members {
        if member.location.is_some() || member.xml_attribute {
            continue;
        }
        let (Some(v), Some(target)) = (obj.get(name), out.shape(&member.shape)) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        let ename = elem_name(out.protocol, name, member, target);
        xml_value(out, ename, Some(member), target, v, s, depth + 1);
    }
}

fn xml_attrs(out: &Out<'_>, shape: &Shape, value: &Value) -> String {
    let mut a = String::new();
    let Some(obj) = value.as_object() else {
        return a;
    };
    for (name, member) in &shape.members {
        if !member.xml_attribute {
            continue;
        }
        if let (Some(v), Some(target)) = (obj.get(name), out.shape(&member.shape)) {
            let aname = elem_name(out.protocol, name, member, target);
            a.push_str(&format!(" {aname}=\"{}\"", escape(&scalar_text(v))));
        }
    }
    a
}

fn xml_value(
    out: &Out<'_>,
    ename: &str,
    member: Option<&Member>,
    shape: &Shape,
    v: &Value,
    s: &mut String,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let ns = ns_attr(
        member
            .and_then(|m| m.xml_namespace.as_ref())
            .or(shape.xml_namespace.as_ref()),
    );
    let flattened = member.is_some_and(|m| m.flattened) || shape.flattened;
    match shape.shape_type {
        ShapeType::Structure => {
            s.push_str(&format!("<{ename}{ns}{}>", xml_attrs(out, shape, v)));
            xml_members(out, shape, v, s, depth);
            s.push_str(&format!("</{ename}>"));
        }
        ShapeType::List => {
            let Some(items) = v.as_array() else { return };
            let Some(elem) = shape.member.as_deref() else {
                return;
            };
            let Some(es) = out.shape(&elem.shape) else {
                return;
            };
            if flattened {
                let iname = elem.location_name.as_deref().unwrap_or(ename);
                for item in items {
                    xml_value(out, iname, Some(elem), es, item, s, depth + 1);
                }
            } else {
                let default = if out.protocol == Protocol::Ec2 {
                    "item"
                } else {
                    "member"
                };
                let iname = elem.location_name.as_deref().unwrap_or(default);
                s.push_str(&format!("<{ename}{ns}>"));
                for item in items {
                    xml_value(out, iname, Some(elem), es, item, s, depth + 1);
                }
                s.push_str(&format!("</{ename}>"));
            }
        }
        ShapeType::Map => {
            let Some(m) = v.as_object() else { return };
            let (Some(k), Some(vm)) = (shape.key.as_deref(), shape.value.as_deref()) else {
                return;
            };
            let (Some(ks), Some(vs)) = (out.shape(&k.shape), out.shape(&vm.shape)) else {
                return;
            };
            let kname = k.location_name.as_deref().unwrap_or("key");
            let vname = vm.location_name.as_deref().unwrap_or("value");
            if !flattened {
                s.push_str(&format!("<{ename}{ns}>"));
            }
            for (key, item) in m {
                s.push_str(if flattened { "" } else { "<entry>" });
                if flattened {
                    s.push_str(&format!("<{ename}>"));
                }
                xml_value(
                    out,
                    kname,
                    Some(k),
                    ks,
                    &Value::String(key.clone()),
                    s,
                    depth + 1,
                );
                xml_value(out, vname, Some(vm), vs, item, s, depth + 1);
                s.push_str(if flattened { "" } else { "</entry>" });
                if flattened {
                    s.push_str(&format!("</{ename}>"));
                }
            }
            if !flattened {
                s.push_str(&format!("</{ename}>"));
            }
        }
        ShapeType::Timestamp => {
            let text = ts_string(v, ts_format(member, shape, "iso8601"));
            s.push_str(&format!("<{ename}{ns}>{}</{ename}>", escape(&text)));
        }
        _ => {
            s.push_str(&format!(
                "<{ename}{ns}>{}</{ename}>",
                escape(&scalar_text(v))
            ));
        }
    }
}

/// JSON body form of `v` per `shape` (wire names, epoch timestamps).
fn json_out(
    out: &Out<'_>,
    shape: &Shape,
    member: Option<&Member>,
    v: &Value,
    depth: usize,
) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match shape.shape_type {
        ShapeType::Structure => {
            let mut m = Map::new();
            if let Some(obj) = v.as_object() {
                for (name, mem) in &shape.members {
                    if mem.location.is_some() {
                        continue;
                    }
                    let (Some(item), Some(target)) = (obj.get(name), out.shape(&mem.shape)) else {
                        continue;
                    };
                    if item.is_null() {
                        continue;
                    }
                    let wire = mem.location_name.as_deref().unwrap_or(name);
                    m.insert(
                        wire.to_owned(),
                        json_out(out, target, Some(mem), item, depth + 1),
                    );
                }
            }
            Value::Object(m)
        }
        ShapeType::List => {
            let (Some(items), Some(elem)) = (v.as_array(), shape.member.as_deref()) else {
                return v.clone();
            };
            let Some(es) = out.shape(&elem.shape) else {
                return v.clone();
            };
            Value::Array(
                items
                    .iter()
                    .map(|i| json_out(out, es, Some(elem), i, depth + 1))
                    .collect(),
            )
        }
        ShapeType::Map => {
            let (Some(m), Some(vm)) = (v.as_object(), shape.value.as_deref()) else {
                return v.clone();
            };
            let Some(vs) = out.shape(&vm.shape) else {
                return v.clone();
            };
            Value::Object(
                m.iter()
                    .map(|(k, i)| (k.clone(), json_out(out, vs, Some(vm), i, depth + 1)))
                    .collect(),
            )
        }
        ShapeType::Timestamp => match timestamp_from_value(v) {
            Some(t) => match ts_format(member, shape, "unixTimestamp") {
                "iso8601" => Value::String(format_iso8601(t)),
                "rfc822" => Value::String(format_rfc7231(t)),
                _ => format_epoch_seconds(t),
            },
            None => v.clone(),
        },
        _ => v.clone(),
    }
}

/// Root element name of a rest-xml body without a payload member.
fn rest_xml_root(op: &Operation, shape: &Shape) -> String {
    if let Some(n) = op
        .output_ref
        .as_ref()
        .and_then(|r| r.location_name.as_deref())
        .or(shape.location_name.as_deref())
    {
        return n.to_owned();
    }
    let known = match shape.name.as_str() {
        "ListObjectsV2Output" | "ListObjectsOutput" => Some("ListBucketResult"),
        "ListBucketsOutput" => Some("ListAllMyBucketsResult"),
        "ListDirectoryBucketsOutput" => Some("ListAllMyDirectoryBucketsResult"),
        "GetBucketTaggingOutput" | "GetObjectTaggingOutput" => Some("Tagging"),
        "CreateMultipartUploadOutput" => Some("InitiateMultipartUploadResult"),
        "ListMultipartUploadsOutput" => Some("ListMultipartUploadsResult"),
        "ListPartsOutput" => Some("ListPartsResult"),
        "ListObjectVersionsOutput" => Some("ListVersionsResult"),
        "DeleteObjectsOutput" => Some("DeleteResult"),
        "GetBucketAclOutput" | "GetObjectAclOutput" => Some("AccessControlPolicy"),
        "GetBucketVersioningOutput" => Some("VersioningConfiguration"),
        "GetBucketCorsOutput" => Some("CORSConfiguration"),
        "GetBucketLifecycleConfigurationOutput" => Some("LifecycleConfiguration"),
        "GetBucketWebsiteOutput" => Some("WebsiteConfiguration"),
        "GetBucketLoggingOutput" => Some("BucketLoggingStatus"),
        "GetBucketAccelerateConfigurationOutput" => Some("AccelerateConfiguration"),
        "GetBucketRequestPaymentOutput" => Some("RequestPaymentConfiguration"),
        "GetBucketLocationOutput" => Some("LocationConstraint"),
        "GetObjectAttributesOutput" => Some("GetObjectAttributesResponse"),
        _ => None,
    };
    known.map_or_else(
        || {
            shape
                .name
                .strip_suffix("Output")
                .unwrap_or(&shape.name)
                .to_owned()
        },
        str::to_owned,
    )
}

fn header_text(member: &Member, shape: &Shape, v: &Value) -> String {
    if member.jsonvalue {
        return B64.encode(v.to_string());
    }
    match shape.shape_type {
        ShapeType::Timestamp => ts_string(v, ts_format(Some(member), shape, "rfc822")),
        ShapeType::List => v
            .as_array()
            .map(|a| a.iter().map(scalar_text).collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
        _ => scalar_text(v),
    }
}

fn rest_out(
    out: &Out<'_>,
    op: &Operation,
    shape: Option<&Shape>,
    output: &Value,
    request_id: &str,
) -> Response {
    let s3 = out.protocol == Protocol::RestXml;
    let mut status = op.http.response_code.unwrap_or(200);
    let mut headers: Vec<(String, String)> = Vec::new();
    if s3 {
        headers.push(("x-amz-request-id".to_owned(), request_id.to_owned()));
        headers.push((
            "x-amz-id-2".to_owned(),
            B64.encode(format!("ironsage/{request_id}")),
        ));
    } else {
        headers.push(("x-amzn-RequestId".to_owned(), request_id.to_owned()));
    }
    let mut body = Vec::new();
    let mut content_type = if s3 {
        "application/xml"
    } else {
        "application/json"
    };
    let empty = Map::new();
    let obj = output.as_object().unwrap_or(&empty);
    if let Some(shape) = shape {
        // The output holds a few of the shape's many members: walk those.
        for (name, v) in obj {
            let Some(member) = shape.members.get(name) else {
                continue;
            };
            if v.is_null() {
                continue;
            }
            let Some(target) = out.shape(&member.shape) else {
                continue;
            };
            let wire = member.location_name.as_deref().unwrap_or(name);
            match member.location {
                Some(Location::StatusCode) => {
                    if let Some(code) = v.as_u64().and_then(|c| u16::try_from(c).ok()) {
                        status = code;
                    }
                }
                Some(Location::Header) => {
                    headers.push((wire.to_owned(), header_text(member, target, v)))
                }
                Some(Location::Headers) => {
                    if let Some(m) = v.as_object() {
                        for (k, hv) in m {
                            headers.push((format!("{wire}{k}"), scalar_text(hv)));
                        }
                    }
                }
                _ => {}
            }
        }
        match shape
            .payload
            .as_deref()
            .and_then(|p| shape.members.get(p).map(|m| (p, m)))
        {
            Some((pname, member)) => {
                if let (Some(v), Some(target)) = (obj.get(pname), out.shape(&member.shape)) {
                    match target.shape_type {
                        ShapeType::Blob => {
                            body = v
                                .as_str()
                                .and_then(|s| B64.decode(s).ok())
                                .unwrap_or_default();
                            content_type = "application/octet-stream";
                        }
                        ShapeType::String => {
                            body = scalar_text(v).into_bytes();
                            content_type = "text/plain";
                        }
                        _ if s3 => {
                            let ename = elem_name(out.protocol, pname, member, target);
                            let mut s =
                                String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                            let mut inner = String::new();
                            xml_value(out, ename, Some(member), target, v, &mut inner, 0);
                            // The payload root carries the service namespace when the model gives none.
                            if member.xml_namespace.is_none() && target.xml_namespace.is_none() {
                                inner = inner.replacen(
                                    &format!("<{ename}"),
                                    &format!("<{ename} xmlns=\"{S3_NS}\""),
                                    1,
                                );
                            }
                            s.push_str(&inner);
                            body = s.into_bytes();
                        }
                        _ => {
                            body = json_out(out, target, Some(member), v, 0)
                                .to_string()
                                .into_bytes()
                        }
                    }
                }
            }
            None => {
                let has_body = shape
                    .members
                    .iter()
                    .any(|(n, m)| m.location.is_none() && obj.get(n).is_some_and(|v| !v.is_null()));
                if s3 {
                    if has_body {
                        let root = rest_xml_root(op, shape);
                        let ns = out.model.info.xml_namespace.unwrap_or(S3_NS);
                        let mut s = format!(
                            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{ns}\">"
                        );
                        xml_members(out, shape, output, &mut s, 0);
                        s.push_str(&format!("</{root}>"));
                        body = s.into_bytes();
                    }
                } else {
                    body = json_out(out, shape, None, output, 0)
                        .to_string()
                        .into_bytes();
                }
            }
        }
    } else if !s3 {
        body = b"{}".to_vec();
    }
    if !body.is_empty()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".to_owned(), content_type.to_owned()));
    }
    Response {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ser(service: &str, op: &str, v: Value) -> Response {
        let m = ironsage_model::model(service).expect("model");
        serialize_output(m, m.operation(op).expect("op"), &v, "rid")
    }

    #[test]
    fn query_output() {
        let r = ser(
            "sts",
            "GetCallerIdentity",
            json!({"UserId": "AIDA", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/u"}),
        );
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><UserId>AIDA</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/u</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        );
        let r = ser(
            "iam",
            "ListRoles",
            json!({"Roles": [{"RoleName": "r", "CreateDate": 1_795_765_108}], "IsTruncated": false}),
        );
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(body.contains("<Roles><member><RoleName>r</RoleName><CreateDate>2026-11-27T07:38:28Z</CreateDate></member></Roles><IsTruncated>false</IsTruncated>"), "{body}");
    }

    #[test]
    fn ec2_output() {
        let r = ser(
            "ec2",
            "DescribeVpcs",
            json!({"Vpcs": [{"VpcId": "vpc-1", "Tags": [{"Key": "a", "Value": "b"}]}]}),
        );
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(body.contains("<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>rid</requestId><vpcSet><item><tagSet><item><key>a</key><value>b</value></item></tagSet><vpcId>vpc-1</vpcId></item></vpcSet>"), "{body}");
    }

    #[test]
    fn json_output() {
        let r = ser(
            "kms",
            "CreateKey",
            json!({"KeyMetadata": {"KeyId": "k", "CreationDate": "2026-11-27T07:38:28Z", "Enabled": true}}),
        );
        let v: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            v,
            json!({"KeyMetadata": {"KeyId": "k", "CreationDate": 1_795_765_108, "Enabled": true}})
        );
        assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    }

    #[test]
    fn rest_outputs() {
        let r = ser(
            "s3",
            "PutObject",
            json!({"ETag": "\"abc\"", "VersionId": "v1"}),
        );
        assert_eq!(r.header("ETag"), Some("\"abc\""));
        assert!(r.body.is_empty());
        let r = ser(
            "s3",
            "ListObjectsV2",
            json!({"Name": "b", "KeyCount": 1, "Contents": [{"Key": "k", "Size": 3}]}),
        );
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(body.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Contents><Key>k</Key><Size>3</Size></Contents><Name>b</Name><KeyCount>1</KeyCount></ListBucketResult>"), "{body}");
        let r = ser(
            "s3",
            "GetObject",
            json!({"Body": "aGk=", "ContentType": "text/plain", "LastModified": 1_795_765_108, "Metadata": {"a": "b"}}),
        );
        assert_eq!(r.body, b"hi");
        assert_eq!(
            r.header("Last-Modified"),
            Some("Fri, 27 Nov 2026 07:38:28 GMT")
        );
        assert_eq!(r.header("x-amz-meta-a"), Some("b"));
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        let r = ser(
            "lambda",
            "CreateFunction",
            json!({"FunctionName": "f", "LastModified": "x"}),
        );
        assert_eq!(r.status, 201);
        let r = ser("s3", "DeleteObject", json!({}));
        assert_eq!(r.status, 204);
    }
}
