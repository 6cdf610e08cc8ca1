//! Verification errors and their AWS wire wording.

/// Which AWS error dialect a caller speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFamily {
    /// S3 (REST-XML, S3 codes such as `AuthorizationHeaderMalformed`).
    S3,
    /// Query / EC2 / REST-XML services other than S3 (STS, IAM, SQS, SNS ...).
    Query,
    /// JSON services (KMS, DynamoDB, ...): codes carry the `Exception` suffix where AWS uses it.
    Json,
}

/// Everything that can go wrong while parsing or verifying SigV4 auth.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// Auth is required but the request carries none.
    #[error("request is missing authentication")]
    MissingAuthentication,
    /// `Authorization` header with an algorithm other than `AWS4-HMAC-SHA256`.
    #[error("unsupported authorization algorithm '{0}'")]
    UnsupportedAlgorithm(String),
    /// Both an `Authorization` header and presigned query parameters.
    #[error("more than one authentication mechanism supplied")]
    MultipleAuthMechanisms,
    /// `Authorization` header lacks a required component.
    #[error("authorization header requires '{component}' parameter")]
    MissingComponent {
        /// `Credential`, `SignedHeaders` or `Signature`.
        component: &'static str,
        /// The header as received (for the AWS message).
        header: String,
    },
    /// `Authorization` header not parseable.
    #[error("malformed authorization header: {0}")]
    MalformedAuthorization(String),
    /// Presigned URL lacks a required parameter or has a malformed one.
    #[error("malformed presigned query parameters: {0}")]
    MalformedQueryAuth(String),
    /// Credential is not `AKID/YYYYMMDD/region/service/aws4_request`.
    #[error("malformed credential '{0}'")]
    MalformedCredential(String),
    /// Credential scope terminator is not `aws4_request`.
    #[error("credential scope terminator is '{0}', expected 'aws4_request'")]
    BadScopeTerminator(String),
    /// No `X-Amz-Date` (header or query) and no `Date` header.
    #[error("request has no X-Amz-Date or Date")]
    MissingDate,
    /// Date value not parseable.
    #[error("invalid date '{0}'")]
    InvalidDate(String),
    /// Credential date differs from the request date.
    #[error("credential date {credential_date} does not match request date {amz_date}")]
    CredentialDateMismatch {
        /// `YYYYMMDD` from the credential scope.
        credential_date: String,
        /// Full `YYYYMMDDTHHMMSSZ` request time.
        amz_date: String,
    },
    /// `host` is not among the signed headers.
    #[error("the host header is not signed")]
    HostNotSigned,
    /// A header listed in SignedHeaders is not in the request.
    #[error("signed header '{0}' is missing from the request")]
    SignedHeaderMissing(String),
    /// `x-amz-content-sha256` has an unrecognised value.
    #[error("invalid x-amz-content-sha256 value '{0}'")]
    InvalidContentSha256(String),
    /// The body does not hash to the declared `x-amz-content-sha256`.
    #[error("x-amz-content-sha256 does not match the body")]
    ContentSha256Mismatch {
        /// Declared by the client.
        client: String,
        /// Computed by us.
        computed: String,
    },
    /// Header auth: request time too far in the past (`earlier == true`) or future.
    #[error("request time {amz_date} is too far from server time {server_time}")]
    RequestTimeTooSkewed {
        /// Request time `YYYYMMDDTHHMMSSZ`.
        amz_date: String,
        /// Server time `YYYYMMDDTHHMMSSZ`.
        server_time: String,
        /// True when the request is older than the window, false when it is in the future.
        expired: bool,
    },
    /// `X-Amz-Expires` is not a number, or exceeds 604800.
    #[error("invalid X-Amz-Expires '{0}'")]
    InvalidExpires(String),
    /// Presigned URL past its expiry.
    #[error("presigned request expired at {expiry} (now {server_time})")]
    PresignedExpired {
        /// Expiry instant `YYYYMMDDTHHMMSSZ`.
        expiry: String,
        /// Server time `YYYYMMDDTHHMMSSZ`.
        server_time: String,
    },
    /// Presigned URL dated in the future (beyond the skew allowance).
    #[error("presigned request is not yet valid: {amz_date} (now {server_time})")]
    PresignedNotYetValid {
        /// Request time `YYYYMMDDTHHMMSSZ`.
        amz_date: String,
        /// Server time `YYYYMMDDTHHMMSSZ`.
        server_time: String,
    },
    /// Recomputed signature differs.
    #[error("signature does not match")]
    SignatureDoesNotMatch {
        /// Our canonical request (S3 echoes it in the error body).
        canonical_request: String,
        /// Our string to sign (S3 echoes it in the error body).
        string_to_sign: String,
    },
    /// aws-chunked: a chunk or trailer signature does not match.
    #[error("aws-chunked signature does not match")]
    ChunkSignatureDoesNotMatch,
    /// aws-chunked: framing error.
    #[error("malformed aws-chunked body: {0}")]
    MalformedChunk(String),
    /// aws-chunked: body ended before the final chunk / trailers.
    #[error("aws-chunked body is incomplete")]
    IncompleteBody,
    /// aws-chunked: decoded length differs from `x-amz-decoded-content-length`.
    #[error("decoded length {actual} does not match x-amz-decoded-content-length {declared}")]
    DecodedLengthMismatch {
        /// Declared by the client.
        declared: u64,
        /// Bytes actually decoded (so far).
        actual: u64,
    },
    /// aws-chunked: signed mode without a signing key.
    #[error("aws-chunked signed mode requires a signing key")]
    MissingSigningKey,
}

const S3_SIG_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
const SIG_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const S3_CRED_MALFORMED: &str = "The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
const S3_QUERY_REQUIRED: &str = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";

impl SigError {
    /// AWS error code, message and HTTP status. `s3 == true` → S3 dialect, otherwise the
    /// query-protocol dialect (see [`SigError::aws_error_for`] for JSON services).
    pub fn aws_error(&self, s3: bool) -> (&'static str, String, u16) {
        self.aws_error_for(if s3 {
            ErrorFamily::S3
        } else {
            ErrorFamily::Query
        })
    }

    /// AWS error code, message and HTTP status for the given protocol family.
    pub fn aws_error_for(&self, family: ErrorFamily) -> (&'static str, String, u16) {
        match family {
            ErrorFamily::S3 => self.s3_error(),
            ErrorFamily::Query => self.query_error(),
            ErrorFamily::Json => {
                let (code, msg, status) = self.query_error();
                let code = match code {
                    "SignatureDoesNotMatch" => "InvalidSignatureException",
                    "IncompleteSignature" => "IncompleteSignatureException",
                    "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
                    "InvalidParameterValue" => "ValidationException",
                    other => other,
                };
                (code, msg, status)
            }
        }
    }

    fn s3_error(&self) -> (&'static str, String, u16) {
        use SigError::*;
        match self {
            MissingAuthentication => ("AccessDenied", "Access Denied".into(), 403),
            UnsupportedAlgorithm(_) => (
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".into(),
                400,
            ),
            MultipleAuthMechanisms => (
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".into(),
                400,
            ),
            MissingComponent { .. } => (
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.".into(),
                400,
            ),
            MalformedAuthorization(_) | MalformedCredential(_) | BadScopeTerminator(_) => {
                ("AuthorizationHeaderMalformed", S3_CRED_MALFORMED.into(), 400)
            }
            MalformedQueryAuth(_) => ("AuthorizationQueryParametersError", S3_QUERY_REQUIRED.into(), 400),
            MissingDate => (
                "AccessDenied",
                "AWS authentication requires a valid Date or x-amz-date header".into(),
                403,
            ),
            InvalidDate(_) => (
                "AccessDenied",
                "AWS authentication requires a valid Date or x-amz-date header".into(),
                403,
            ),
            CredentialDateMismatch { .. } => (
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.".into(),
                400,
            ),
            HostNotSigned | SignedHeaderMissing(_) => ("SignatureDoesNotMatch", S3_SIG_MISMATCH.into(), 403),
            InvalidContentSha256(_) => (
                "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.".into(),
                400,
            ),
            ContentSha256Mismatch { .. } => (
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
                400,
            ),
            RequestTimeTooSkewed { .. } => (
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.".into(),
                403,
            ),
            InvalidExpires(v) => {
                let msg = if v.parse::<u64>().is_ok() {
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800"
                } else {
                    "X-Amz-Expires should be a number"
                };
                ("AuthorizationQueryParametersError", msg.into(), 400)
            }
            PresignedExpired { .. } => ("AccessDenied", "Request has expired".into(), 403),
            PresignedNotYetValid { .. } => ("AccessDenied", "Request is not valid yet".into(), 403),
            SignatureDoesNotMatch { .. } | ChunkSignatureDoesNotMatch => {
                ("SignatureDoesNotMatch", S3_SIG_MISMATCH.into(), 403)
            }
            MalformedChunk(_) => (
                "InvalidRequest",
                "The request body is not a valid aws-chunked encoding.".into(),
                400,
            ),
            IncompleteBody | DecodedLengthMismatch { .. } => (
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header".into(),
                400,
            ),
            MissingSigningKey => ("InternalError", "We encountered an internal error. Please try again.".into(), 500),
        }
    }

    fn query_error(&self) -> (&'static str, String, u16) {
        use SigError::*;
        match self {
            MissingAuthentication => (
                "MissingAuthenticationToken",
                "Request is missing Authentication Token".into(),
                403,
            ),
            UnsupportedAlgorithm(alg) => (
                "IncompleteSignature",
                format!("Unsupported AWS 'algorithm': '{alg}'"),
                400,
            ),
            MultipleAuthMechanisms => (
                "InvalidParameterCombination",
                "Only one auth mechanism allowed".into(),
                400,
            ),
            MissingComponent { component, header } => (
                "IncompleteSignature",
                format!(
                    "Authorization header requires '{component}' parameter. Authorization={header}"
                ),
                400,
            ),
            MalformedAuthorization(detail) => ("IncompleteSignature", detail.clone(), 400),
            MalformedQueryAuth(detail) => ("IncompleteSignature", detail.clone(), 400),
            MalformedCredential(cred) => (
                "IncompleteSignature",
                format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{cred}'"
                ),
                400,
            ),
            BadScopeTerminator(term) => (
                "SignatureDoesNotMatch",
                format!("Credential should be scoped with a valid terminator: 'aws4_request', not '{term}'."),
                403,
            ),
            MissingDate => (
                "IncompleteSignature",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
                400,
            ),
            InvalidDate(d) => (
                "IncompleteSignature",
                format!("Date must be in ISO-8601 'basic format'. Got '{d}'. See http://en.wikipedia.org/wiki/ISO_8601"),
                400,
            ),
            CredentialDateMismatch {
                credential_date,
                amz_date,
            } => {
                let day = amz_date.get(..8).unwrap_or(amz_date);
                (
                    "SignatureDoesNotMatch",
                    format!(
                        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{credential_date}' != '{day}', from '{amz_date}'."
                    ),
                    403,
                )
            }
            HostNotSigned | SignedHeaderMissing(_) => ("SignatureDoesNotMatch", SIG_MISMATCH.into(), 403),
            InvalidContentSha256(_) | ContentSha256Mismatch { .. } => {
                ("SignatureDoesNotMatch", SIG_MISMATCH.into(), 403)
            }
            RequestTimeTooSkewed {
                amz_date,
                server_time,
                expired,
            } => {
                let msg = if *expired {
                    let bound = shift_amz(server_time, -SKEW_SECS).unwrap_or_default();
                    format!("Signature expired: {amz_date} is now earlier than {bound} ({server_time} - 15 min.)")
                } else {
                    let bound = shift_amz(server_time, SKEW_SECS).unwrap_or_default();
                    format!("Signature not yet current: {amz_date} is still later than {bound} ({server_time} + 15 min.)")
                };
                ("SignatureDoesNotMatch", msg, 403)
            }
            InvalidExpires(v) => (
                "AuthorizationQueryParametersError",
                format!("X-Amz-Expires must be a non-negative integer no greater than 604800, got '{v}'"),
                400,
            ),
            PresignedExpired {
                expiry,
                server_time,
            } => (
                "SignatureDoesNotMatch",
                format!("Signature expired: {expiry} is now earlier than {server_time}"),
                403,
            ),
            PresignedNotYetValid {
                amz_date,
                server_time,
            } => {
                let bound = shift_amz(server_time, SKEW_SECS).unwrap_or_default();
                (
                    "SignatureDoesNotMatch",
                    format!("Signature not yet current: {amz_date} is still later than {bound} ({server_time} + 15 min.)"),
                    403,
                )
            }
            SignatureDoesNotMatch { .. } | ChunkSignatureDoesNotMatch => {
                ("SignatureDoesNotMatch", SIG_MISMATCH.into(), 403)
            }
            MalformedChunk(d) => ("InvalidParameterValue", format!("Malformed aws-chunked body: {d}"), 400),
            IncompleteBody | DecodedLengthMismatch { .. } => (
                "IncompleteBody",
                "The request body is incomplete".into(),
                400,
            ),
            MissingSigningKey => ("InternalFailure", "Internal failure".into(), 500),
        }
    }
}

/// Allowed clock skew for header auth, in seconds.
pub(crate) const SKEW_SECS: i64 = 15 * 60;

fn shift_amz(amz: &str, secs: i64) -> Option<String> {
    let t = crate::parse_amz_date(amz).ok()?;
    let shifted = t.checked_add(time::Duration::seconds(secs))?;
    Some(crate::format_amz_date(shifted))
}
