//! Incremental decoder/verifier for `Content-Encoding: aws-chunked` bodies.

use sha2::{Digest, Sha256};

use crate::crypto::hex;
use crate::{PayloadHash, SigError, SigningKey, EMPTY_SHA256};

/// Longest accepted chunk header line (`<hex>;chunk-signature=<64 hex>` is ~90 bytes).
const MAX_HEADER_LINE: usize = 4096;
/// Upper bound on the total size of the trailer section.
const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Upper bound on the number of trailer lines.
const MAX_TRAILERS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Signed,
    SignedTrailer,
    UnsignedTrailer,
}

impl Mode {
    fn signed(self) -> bool {
        matches!(self, Mode::Signed | Mode::SignedTrailer)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data { remaining: u64 },
    DataCr,
    DataLf,
    Trailer,
    Done,
}

/// Decodes an aws-chunked body fed in arbitrary pieces, verifying chunk signatures
/// (signed modes) as each chunk completes. Memory use is bounded by the small line buffer;
/// chunk data is streamed to `out` as it arrives.
///
/// Decoded bytes of a chunk are emitted before that chunk's signature has been checked: treat
/// everything decoded as provisional until [`ChunkedDecoder::finish`] returns `Ok`, and
/// discard it on any error.
#[derive(Debug)]
pub struct ChunkedDecoder {
    mode: Option<Mode>,
    key: Option<SigningKey>,
    prev_signature: String,
    amz_date: String,
    scope: String,
    state: State,
    line: Vec<u8>,
    trailer_bytes: usize,
    hasher: Sha256,
    chunk_signature: Option<String>,
    decoded: u64,
    declared: Option<u64>,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
    failed: Option<SigError>,
}

impl ChunkedDecoder {
    /// `mode` must be one of the three streaming modes; `key` is required for the signed
    /// ones. `seed_signature` is the request's (verified) signature; `amz_date` and `scope`
    /// are the request's `YYYYMMDDTHHMMSSZ` and `date/region/service/aws4_request`.
    pub fn new(
        mode: PayloadHash,
        key: Option<SigningKey>,
        seed_signature: &str,
        amz_date: &str,
        scope: &str,
    ) -> Self {
        let mode = match mode {
            PayloadHash::StreamingSigned => Some(Mode::Signed),
            PayloadHash::StreamingSignedTrailer => Some(Mode::SignedTrailer),
            PayloadHash::StreamingUnsignedTrailer => Some(Mode::UnsignedTrailer),
            _ => None,
        };
        let failed = match mode {
            None => Some(SigError::MalformedChunk(
                "x-amz-content-sha256 is not an aws-chunked streaming mode".into(),
            )),
            Some(m) if m.signed() && key.is_none() => Some(SigError::MissingSigningKey),
            _ => None,
        };
        ChunkedDecoder {
            mode,
            key,
            prev_signature: seed_signature.to_string(),
            amz_date: amz_date.to_string(),
            scope: scope.to_string(),
            state: State::Header,
            line: Vec::new(),
            trailer_bytes: 0,
            hasher: Sha256::new(),
            chunk_signature: None,
            decoded: 0,
            declared: None,
            trailers: Vec::new(),
            trailer_signature: None,
            failed,
        }
    }

    /// Enforce `x-amz-decoded-content-length`.
    pub fn with_decoded_content_length(mut self, len: Option<u64>) -> Self {
        self.declared = len;
        self
    }

    /// Number of payload bytes decoded so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// True once the final chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feed the next piece of the encoded body; decoded bytes are appended to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), SigError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.feed_inner(input, out);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    /// Finish: checks the body was complete and the decoded length; returns the trailers
    /// (lowercased names, trimmed values; `x-amz-trailer-signature` removed).
    pub fn finish(self) -> Result<Vec<(String, String)>, SigError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.state != State::Done {
            return Err(SigError::IncompleteBody);
        }
        if let Some(declared) = self.declared {
            if declared != self.decoded {
                return Err(SigError::DecodedLengthMismatch {
                    declared,
                    actual: self.decoded,
                });
            }
        }
        Ok(self.trailers)
    }

    fn mode(&self) -> Result<Mode, SigError> {
        self.mode
            .ok_or_else(|| SigError::MalformedChunk("not an aws-chunked streaming mode".into()))
    }

    fn feed_inner(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), SigError> {
        while let Some((&first, rest)) = input.split_first() {
            match self.state {
                State::Header => {
                    let (line_done, used) = take_line(&mut self.line, input);
                    input = input.get(used..).unwrap_or_default();
                    if self.line.len() > MAX_HEADER_LINE {
                        return Err(SigError::MalformedChunk("chunk header too long".into()));
                    }
                    if line_done {
                        let line = std::mem::take(&mut self.line);
                        self.on_header(&line)?;
                    }
                }
                State::Data { remaining } => {
                    let avail = u64::try_from(input.len()).unwrap_or(u64::MAX);
                    let n = remaining.min(avail);
                    let n_usize = usize::try_from(n).unwrap_or(input.len());
                    let (data, rest) = input.split_at(n_usize.min(input.len()));
                    out.extend_from_slice(data);
                    if self.mode()?.signed() {
                        self.hasher.update(data);
                    }
                    input = rest;
                    let remaining = remaining - n;
                    if remaining == 0 {
                        if self.mode()?.signed() {
                            let digest =
                                std::mem::replace(&mut self.hasher, Sha256::new()).finalize();
                            self.check_chunk_signature(&hex(&digest))?;
                        }
                        self.state = State::DataCr;
                    } else {
                        self.state = State::Data { remaining };
                    }
                }
                State::DataCr => {
                    if first != b'\r' {
                        return Err(SigError::MalformedChunk(
                            "chunk data not followed by CRLF".into(),
                        ));
                    }
                    input = rest;
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if first != b'\n' {
                        return Err(SigError::MalformedChunk(
                            "chunk data not followed by CRLF".into(),
                        ));
                    }
                    input = rest;
                    self.state = State::Header;
                }
                State::Trailer => {
                    let (line_done, used) = take_line(&mut self.line, input);
                    input = input.get(used..).unwrap_or_default();
                    self.trailer_bytes = self.trailer_bytes.saturating_add(used);
                    if self.trailer_bytes > MAX_TRAILER_BYTES {
                        return Err(SigError::MalformedChunk("trailers too large".into()));
                    }
                    if line_done {
                        let line = std::mem::take(&mut self.line);
                        self.on_trailer_line(&line)?;
                    }
                }
                State::Done => {
                    return Err(SigError::MalformedChunk(
                        "data after the final chunk".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn on_header(&mut self, line: &[u8]) -> Result<(), SigError> {
        let mode = self.mode()?;
        let line = std::str::from_utf8(line)
            .map_err(|_| SigError::MalformedChunk("chunk header is not ASCII".into()))?;
        let (size_hex, ext) = match line.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (line, None),
        };
        let size_hex = size_hex.trim();
        if size_hex.is_empty()
            || size_hex.len() > 16
            || !size_hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(SigError::MalformedChunk(format!(
                "invalid chunk size '{size_hex}'"
            )));
        }
        let size = u64::from_str_radix(size_hex, 16)
            .map_err(|_| SigError::MalformedChunk(format!("invalid chunk size '{size_hex}'")))?;
        if mode.signed() {
            let sig = ext
                .into_iter()
                .flat_map(|e| e.split(';'))
                .find_map(|kv| kv.trim().strip_prefix("chunk-signature="))
                .ok_or_else(|| SigError::MalformedChunk("missing chunk-signature".into()))?;
            self.chunk_signature = Some(sig.trim().to_string());
        }
        let total = self
            .decoded
            .checked_add(size)
            .ok_or_else(|| SigError::MalformedChunk("decoded length overflows".into()))?;
        if let Some(declared) = self.declared {
            if total > declared {
                return Err(SigError::DecodedLengthMismatch {
                    declared,
                    actual: total,
                });
            }
        }
        if size == 0 {
            if mode.signed() {
                self.check_chunk_signature(EMPTY_SHA256)?;
            }
            self.state = State::Trailer;
        } else {
            self.decoded = total;
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    fn check_chunk_signature(&mut self, data_hash: &str) -> Result<(), SigError> {
        let key = self.key.as_ref().ok_or(SigError::MissingSigningKey)?;
        let sig = self
            .chunk_signature
            .take()
            .ok_or_else(|| SigError::MalformedChunk("missing chunk-signature".into()))?;
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}",
            self.amz_date, self.scope, self.prev_signature, EMPTY_SHA256, data_hash
        );
        if !key.verify_signature(sts.as_bytes(), &sig) {
            return Err(SigError::ChunkSignatureDoesNotMatch);
        }
        self.prev_signature = sig;
        Ok(())
    }

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), SigError> {
        let mode = self.mode()?;
        if line.is_empty() {
            if mode == Mode::SignedTrailer {
                self.check_trailer_signature()?;
            }
            self.state = State::Done;
            return Ok(());
        }
        if mode == Mode::Signed {
            return Err(SigError::MalformedChunk(
                "final chunk not followed by CRLF".into(),
            ));
        }
        if self.trailers.len() >= MAX_TRAILERS {
            return Err(SigError::MalformedChunk("too many trailers".into()));
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| SigError::MalformedChunk("trailer is not UTF-8".into()))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| SigError::MalformedChunk(format!("invalid trailer line '{line}'")))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_string();
        if name.is_empty() {
            return Err(SigError::MalformedChunk("empty trailer name".into()));
        }
        if name == "x-amz-trailer-signature" {
            if mode != Mode::SignedTrailer || self.trailer_signature.is_some() {
                return Err(SigError::MalformedChunk(
                    "unexpected x-amz-trailer-signature".into(),
                ));
            }
            self.trailer_signature = Some(value);
        } else {
            if self.trailer_signature.is_some() {
                return Err(SigError::MalformedChunk(
                    "trailer after x-amz-trailer-signature".into(),
                ));
            }
            self.trailers.push((name, value));
        }
        Ok(())
    }

    fn check_trailer_signature(&mut self) -> Result<(), SigError> {
        let key = self.key.as_ref().ok_or(SigError::MissingSigningKey)?;
        let sig = self
            .trailer_signature
            .as_deref()
            .ok_or_else(|| SigError::MalformedChunk("missing x-amz-trailer-signature".into()))?;
        let sts = trailer_string_to_sign(
            &self.amz_date,
            &self.scope,
            &self.prev_signature,
            &self.trailers,
        );
        if key.verify_signature(sts.as_bytes(), sig) {
            Ok(())
        } else {
            Err(SigError::ChunkSignatureDoesNotMatch)
        }
    }
}

/// Build the `AWS4-HMAC-SHA256-TRAILER` string to sign: the trailers are canonicalised as
/// sorted `name:value\n` lines and hashed.
pub(crate) fn trailer_string_to_sign(
    amz_date: &str,
    scope: &str,
    prev_signature: &str,
    trailers: &[(String, String)],
) -> String {
    let mut sorted: Vec<&(String, String)> = trailers.iter().collect();
    sorted.sort();
    let mut canon = String::new();
    for (n, v) in sorted {
        canon.push_str(n);
        canon.push(':');
        canon.push_str(v);
        canon.push('\n');
    }
    format!(
        "AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{prev_signature}\n{}",
        hex(&Sha256::digest(canon.as_bytes()))
    )
}

/// Append bytes up to and including the next `\n` to `line`. Returns (line complete, bytes
/// consumed). A complete line has its `\n` and any trailing `\r` removed.
fn take_line(line: &mut Vec<u8>, input: &[u8]) -> (bool, usize) {
    match input.iter().position(|&b| b == b'\n') {
        Some(pos) => {
            line.extend_from_slice(input.get(..pos).unwrap_or_default());
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            (true, pos + 1)
        }
        None => {
            line.extend_from_slice(input);
            (false, input.len())
        }
    }
}
