//! Streaming object bytes: request bodies into blobs (hashing on the way)
//! and blobs back out as one reader, optionally over a byte range.
//!
//! This is the single place where server-side encryption will plug in (a
//! framed encryptor around the blob writer, a decryptor around the reader):
//! every object and part byte goes through [`S3::store_body`] and
//! [`S3::reader`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use base64::Engine;

use super::hash::{Crc32, Md5};
use super::{err, io_err, BlobRef, S3};
use crate::AwsError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const BUF: usize = 64 * 1024;

/// What was written.
#[derive(Debug)]
pub(crate) struct Stored {
    pub blob: BlobRef,
    pub md5: [u8; 16],
    /// (algorithm, base64 value) when a checksum was requested or supplied.
    pub checksum: Option<(String, String)>,
}

/// The checksum a request asked for (`ChecksumAlgorithm`) or supplied
/// (`ChecksumCRC32`...).
#[derive(Debug, Default)]
pub(crate) struct Expect {
    pub content_md5: Option<String>,
    pub content_length: Option<u64>,
    pub algorithm: Option<String>,
    pub checksum: Option<String>,
}

impl Expect {
    pub(crate) fn from_input(input: &serde_json::Value) -> Result<Expect, AwsError> {
        let mut e = Expect {
            content_md5: super::s(input, "ContentMD5").map(str::to_string),
            content_length: input
                .get("ContentLength")
                .and_then(serde_json::Value::as_u64),
            algorithm: super::s(input, "ChecksumAlgorithm").map(str::to_ascii_uppercase),
            checksum: None,
        };
        for (member, algo) in [
            ("ChecksumCRC32", "CRC32"),
            ("ChecksumCRC32C", "CRC32C"),
            ("ChecksumSHA1", "SHA1"),
            ("ChecksumSHA256", "SHA256"),
            ("ChecksumCRC64NVME", "CRC64NVME"),
        ] {
            if let Some(v) = super::s(input, member) {
                e.algorithm = Some(algo.to_string());
                e.checksum = Some(v.to_string());
            }
        }
        if let Some(a) = &e.algorithm {
            if a != "CRC32" && a != "CRC32C" {
                return Err(err(
                    "NotImplemented",
                    &format!("The {a} checksum algorithm is not implemented by ironsage; use CRC32 or CRC32C"),
                    501,
                ));
            }
        }
        Ok(e)
    }
}

fn incomplete() -> AwsError {
    err(
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
        400,
    )
}

impl S3 {
    /// Streams `body` into a new durable blob, computing its MD5 and the
    /// requested checksum, and checking `Content-MD5` / the supplied
    /// checksum / the declared length. On any failure the temporary file is
    /// deleted and nothing references it.
    pub(crate) fn store_body(
        &self,
        body: &mut dyn Read,
        expect: &Expect,
    ) -> Result<Stored, AwsError> {
        let expected_md5 = match &expect.content_md5 {
            Some(m) => {
                let raw = B64.decode(m.trim()).ok().filter(|r| r.len() == 16);
                Some(raw.ok_or_else(|| {
                    err(
                        "InvalidDigest",
                        "The Content-MD5 you specified is not valid.",
                        400,
                    )
                })?)
            }
            None => None,
        };
        let mut w = self.blobs.begin().map_err(super::internal_store)?;
        let mut md5 = Md5::new();
        let mut crc = match expect.algorithm.as_deref() {
            Some("CRC32") => Some(Crc32::ieee()),
            Some("CRC32C") => Some(Crc32::castagnoli()),
            _ => None,
        };
        let mut buf = vec![0u8; BUF];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::info!(error = %e, "s3: request body failed");
                    return Err(incomplete());
                }
            };
            let chunk = &buf[..n];
            md5.update(chunk);
            if let Some(c) = crc.as_mut() {
                c.update(chunk);
            }
            w.write_all(chunk).map_err(io_err)?;
        }
        let size = w.written();
        if expect.content_length.is_some_and(|l| l != size) {
            return Err(incomplete());
        }
        let digest = md5.finish();
        if let Some(m) = expected_md5 {
            if m != digest {
                return Err(err(
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                    400,
                )
                .with_extra("ExpectedDigest", super::hash::hex(&m))
                .with_extra("CalculatedDigest", B64.encode(digest)));
            }
        }
        let checksum = match (crc, &expect.algorithm) {
            (Some(c), Some(a)) => {
                let got = B64.encode(c.finish());
                if let Some(want) = &expect.checksum {
                    if *want != got {
                        return Err(err(
                            "BadDigest",
                            &format!(
                                "The {a} you specified did not match the calculated checksum."
                            ),
                            400,
                        ));
                    }
                }
                Some((a.clone(), got))
            }
            _ => None,
        };
        let id = super::random_id();
        w.finish(&id).map_err(super::internal_store)?;
        Ok(Stored {
            blob: BlobRef { id, size },
            md5: digest,
            checksum,
        })
    }

    /// A reader over `[start, start + len)` of the concatenation of `blobs`.
    pub(crate) fn reader(
        &self,
        blobs: &[BlobRef],
        start: u64,
        len: u64,
    ) -> Result<Box<dyn Read + Send>, AwsError> {
        let mut segs = VecDeque::new();
        let (mut off, end) = (0u64, start + len);
        for b in blobs {
            let (bs, be) = (off, off + b.size);
            off = be;
            if be <= start || bs >= end {
                continue;
            }
            let from = start.max(bs) - bs;
            let to = end.min(be) - bs;
            segs.push_back((b.id.clone(), from, to - from));
        }
        // Open the first segment now so a missing blob fails the request
        // instead of truncating the response.
        let mut r = MultiReader {
            store: self.blobs.clone(),
            segs,
            cur: None,
        };
        r.advance().map_err(io_err)?;
        Ok(Box::new(r))
    }
}

struct MultiReader {
    store: ironsage_store::blobs::BlobStore,
    segs: VecDeque<(String, u64, u64)>,
    cur: Option<io::Take<File>>,
}

impl MultiReader {
    fn advance(&mut self) -> io::Result<()> {
        self.cur = None;
        if let Some((id, from, len)) = self.segs.pop_front() {
            let mut f = self.store.open_blob(&id).map_err(io::Error::other)?;
            f.seek(SeekFrom::Start(from))?;
            self.cur = Some(f.take(len));
        }
        Ok(())
    }
}

impl Read for MultiReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(cur) = self.cur.as_mut() else {
                return Ok(0);
            };
            let n = cur.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if cur.limit() > 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob shorter than recorded",
                ));
            }
            self.advance()?;
        }
    }
}
