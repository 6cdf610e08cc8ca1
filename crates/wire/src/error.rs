//! AWS errors and their serialization in each protocol's format.

use ironsage_model::{Protocol, ServiceInfo};

use crate::xml::escape;
use crate::Response;

/// An error to return to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// Wire error code (`NoSuchEntity`, `InvalidVpcID.NotFound`).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// HTTP status.
    pub status: u16,
    /// Client fault (`Sender`) rather than server fault (`Receiver`).
    pub sender_fault: bool,
    /// Extra error members, e.g. S3 `<Resource>` / `<BucketName>`.
    pub extra: Vec<(String, String)>,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    /// A new error; statuses >= 500 are server (Receiver) faults.
    pub fn new(code: impl Into<String>, message: impl Into<String>, status: u16) -> Self {
        AwsError {
            code: code.into(),
            message: message.into(),
            status,
            sender_fault: status < 500,
            extra: Vec::new(),
        }
    }

    /// Adds an extra error member.
    #[must_use]
    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }

    /// 501 for an operation ironsage does not implement.
    pub fn not_implemented(service_id: &str, operation: &str) -> Self {
        AwsError::new(
            "NotImplemented",
            format!(
                "The operation {operation} of service {service_id} is not implemented by ironsage"
            ),
            501,
        )
    }

    /// The protocol's input-validation error (`ValidationError`, `ValidationException`,
    /// `InvalidParameterValue`, `InvalidArgument`).
    pub fn validation(protocol: Protocol, message: impl Into<String>) -> Self {
        let code = match protocol {
            Protocol::Query => "ValidationError",
            Protocol::Json | Protocol::RestJson => "ValidationException",
            Protocol::Ec2 => "InvalidParameterValue",
            Protocol::RestXml => "InvalidArgument",
        };
        AwsError::new(code, message, 400)
    }

    /// A required parameter is missing (`MissingParameter` for ec2, else validation).
    pub fn missing_parameter(
        protocol: Protocol,
        wire_name: &str,
        message: impl Into<String>,
    ) -> Self {
        match protocol {
            Protocol::Ec2 => AwsError::new(
                "MissingParameter",
                format!("The request must contain the parameter {wire_name}"),
                400,
            ),
            Protocol::RestXml => AwsError::new("InvalidRequest", message, 400),
            other => AwsError::validation(other, message),
        }
    }

    /// The protocol's error for a body that cannot be decoded.
    pub fn malformed(protocol: Protocol, message: impl Into<String>) -> Self {
        match protocol {
            Protocol::Json | Protocol::RestJson => {
                AwsError::new("SerializationException", message, 400)
            }
            Protocol::RestXml => AwsError::new("MalformedXML", message, 400),
            Protocol::Query => AwsError::new("MalformedQueryString", message, 400),
            Protocol::Ec2 => AwsError::new("InvalidParameterValue", message, 400),
        }
    }

    /// 500 InternalFailure.
    pub fn internal(message: impl Into<String>) -> Self {
        AwsError::new("InternalFailure", message, 500)
    }

    /// An error built from a model exception shape (code, status, fault).
    pub fn from_shape(shape: &ironsage_model::Shape, message: impl Into<String>) -> Self {
        let status = shape
            .error
            .as_ref()
            .and_then(|e| e.http_status_code)
            .unwrap_or(if shape.fault { 500 } else { 400 });
        let mut e = AwsError::new(shape.error_code(), message, status);
        e.sender_fault = !shape.fault && status < 500;
        e
    }
}

fn xml_response(status: u16, body: String, request_id: &str, id_header: &str) -> Response {
    Response {
        status,
        headers: vec![
            (id_header.to_owned(), request_id.to_owned()),
            ("Content-Type".to_owned(), "text/xml".to_owned()),
        ],
        body: body.into_bytes(),
    }
}

fn query_error_body(err: &AwsError, request_id: &str) -> String {
    let mut s = String::from("<ErrorResponse><Error>");
    s.push_str(if err.sender_fault {
        "<Type>Sender</Type>"
    } else {
        "<Type>Receiver</Type>"
    });
    s.push_str(&format!(
        "<Code>{}</Code><Message>{}</Message>",
        escape(&err.code),
        escape(&err.message)
    ));
    for (k, v) in &err.extra {
        s.push_str(&format!("<{k}>{}</{k}>", escape(v)));
    }
    s.push_str(&format!(
        "</Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(request_id)
    ));
    s
}

/// Serializes `err` in the format of `info`'s protocol.
pub fn serialize_error(
    info: &ServiceInfo,
    err: &AwsError,
    request_id: &str,
    is_head: bool,
) -> Response {
    match info.protocol {
        Protocol::Query => xml_response(
            err.status,
            query_error_body(err, request_id),
            request_id,
            "x-amzn-RequestId",
        ),
        Protocol::Ec2 => {
            let mut s = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>",
            );
            s.push_str(&format!(
                "<Code>{}</Code><Message>{}</Message>",
                escape(&err.code),
                escape(&err.message)
            ));
            s.push_str(&format!(
                "</Error></Errors><RequestID>{}</RequestID></Response>",
                escape(request_id)
            ));
            xml_response(err.status, s, request_id, "x-amzn-RequestId")
        }
        Protocol::Json | Protocol::RestJson => {
            let mut body = serde_json::Map::new();
            body.insert("__type".to_owned(), err.code.clone().into());
            body.insert("message".to_owned(), err.message.clone().into());
            for (k, v) in &err.extra {
                body.insert(k.clone(), v.clone().into());
            }
            let content_type = if info.protocol == Protocol::RestJson {
                "application/json".to_owned()
            } else {
                format!(
                    "application/x-amz-json-{}",
                    info.json_version.unwrap_or("1.0")
                )
            };
            Response {
                status: err.status,
                headers: vec![
                    ("x-amzn-RequestId".to_owned(), request_id.to_owned()),
                    ("x-amzn-ErrorType".to_owned(), err.code.clone()),
                    ("Content-Type".to_owned(), content_type),
                ],
                body: if is_head {
                    Vec::new()
                } else {
                    serde_json::Value::Object(body).to_string().into_bytes()
                },
            }
        }
        Protocol::RestXml if info.name == "s3" => {
            let host_id = s3_host_id(request_id);
            let mut headers = vec![
                ("x-amz-request-id".to_owned(), request_id.to_owned()),
                ("x-amz-id-2".to_owned(), host_id.clone()),
            ];
            if is_head {
                return Response {
                    status: err.status,
                    headers,
                    body: Vec::new(),
                };
            }
            headers.push(("Content-Type".to_owned(), "application/xml".to_owned()));
            let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
            s.push_str(&format!(
                "<Code>{}</Code><Message>{}</Message>",
                escape(&err.code),
                escape(&err.message)
            ));
            for (k, v) in &err.extra {
                s.push_str(&format!("<{k}>{}</{k}>", escape(v)));
            }
            s.push_str(&format!(
                "<RequestId>{}</RequestId><HostId>{}</HostId></Error>",
                escape(request_id),
                escape(&host_id)
            ));
            Response {
                status: err.status,
                headers,
                body: s.into_bytes(),
            }
        }
        Protocol::RestXml => {
            let mut r = xml_response(
                err.status,
                query_error_body(err, request_id),
                request_id,
                "x-amzn-RequestId",
            );
            if is_head {
                r.body.clear();
            }
            r
        }
    }
}

/// A stable pseudo host id derived from the request id (S3 `x-amz-id-2`).
fn s3_host_id(request_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("ironsage/{request_id}"))
}

/// A generic XML error (query format) for requests no service could be found for.
pub fn error_for_protocol_no_service(err: &AwsError, request_id: &str) -> Response {
    xml_response(
        err.status,
        query_error_body(err, request_id),
        request_id,
        "x-amzn-RequestId",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> &'static ServiceInfo {
        ironsage_model::service_info(name).expect("service")
    }

    #[test]
    fn query_error_format() {
        let e = AwsError::new("NoSuchEntity", "The role with name x cannot be found.", 404);
        let r = serialize_error(info("iam"), &e, "req-1", false);
        assert_eq!(r.status, 404);
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name x cannot be found.</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
        );
        assert_eq!(r.header("x-amzn-requestid"), Some("req-1"));
    }

    #[test]
    fn ec2_error_format() {
        let e = AwsError::new(
            "InvalidVpcID.NotFound",
            "The vpc ID 'vpc-1' does not exist",
            400,
        );
        let r = serialize_error(info("ec2"), &e, "rid", false);
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(body.contains("<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code>"));
        assert!(body.ends_with("<RequestID>rid</RequestID></Response>"));
    }

    #[test]
    fn json_error_format() {
        let e = AwsError::new("NotFoundException", "Key 'x' does not exist", 400);
        let r = serialize_error(info("kms"), &e, "rid", false);
        assert_eq!(r.header("x-amzn-ErrorType"), Some("NotFoundException"));
        assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"__type": "NotFoundException", "message": "Key 'x' does not exist"})
        );
    }

    #[test]
    fn s3_error_format_and_head() {
        let e = AwsError::new("NoSuchKey", "The specified key does not exist.", 404)
            .with_extra("Key", "a&b");
        let r = serialize_error(info("s3"), &e, "rid", false);
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(body.contains("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key><RequestId>rid</RequestId><HostId>"));
        assert_eq!(r.header("x-amz-request-id"), Some("rid"));
        let h = serialize_error(info("s3"), &e, "rid", true);
        assert!(h.body.is_empty());
        assert_eq!(h.status, 404);
    }

    #[test]
    fn receiver_fault() {
        let e = AwsError::internal("boom");
        let r = serialize_error(info("sts"), &e, "rid", false);
        assert!(String::from_utf8_lossy(&r.body).contains("<Type>Receiver</Type>"));
        assert_eq!(AwsError::not_implemented("STS", "X").status, 501);
    }
}
