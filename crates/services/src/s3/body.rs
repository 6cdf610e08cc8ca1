//! Streaming object bytes: request bodies into blobs (hashing on the way)
//! and blobs back out as one reader, optionally over a byte range.
//!
//! This is the single place where server-side encryption happens: every
//! object and part byte goes through [`S3::store_body`] and [`S3::reader`].
//! With a data key, the body is encrypted in 64 KiB AES-256-GCM frames
//! (bound to the blob id) as it streams in, so plaintext never reaches the
//! disk; reads decrypt only the frames the requested range touches, one
//! frame at a time. A blob's recorded `size` is always the plaintext size.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use base64::Engine;

use ironsage_crypto::{encrypted_len, FrameDecryptor, FrameEncryptor, Zeroizing, FRAME_HEADER};

use super::hash::Md5;
use super::sse::DataKey;
use super::{err, io_err, BlobRef, S3};
use crate::AwsError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const BUF: usize = 64 * 1024;
/// Read buffer for bodies larger than [`BUF`] (fewer reads, hash updates
/// and write syscalls per byte).
const BIG_BUF: usize = 1024 * 1024;

/// Bodies at least this long (or of unknown length) are large: hashed on a
/// helper thread while the request's thread encrypts and writes them, and
/// written to their blob with direct I/O ([`BlobStore::begin_direct`]); a
/// read of this much of one blob reads it directly too.
///
/// [`BlobStore::begin_direct`]: ironsage_store::blobs::BlobStore::begin_direct
const LARGE_BODY: u64 = 8 * 1024 * 1024;
/// Chunks queued for the hashing thread at most (of up to [`BIG_BUF`]).
const HASH_QUEUE: usize = 4;

/// The digests a body's bytes feed: the MD5 (ETag, `Content-MD5`) and the
/// requested `x-amz-checksum-*`.
struct Hashes {
    md5: Option<Md5>,
    sum: Option<super::hash::Checksum>,
}

impl Hashes {
    fn update(&mut self, chunk: &[u8]) {
        if let Some(m) = self.md5.as_mut() {
            m.update(chunk);
        }
        if let Some(c) = self.sum.as_mut() {
            c.update(chunk);
        }
    }

    /// Whether a digest is slow enough (MD5, SHA, table-driven CRC32) to
    /// be worth a thread of its own on a large body.
    fn slow(&self) -> bool {
        self.md5.is_some() || self.sum.as_ref().is_some_and(|c| !c.is_fast())
    }
}

/// What was written.
#[derive(Debug)]
pub(crate) struct Stored {
    pub blob: BlobRef,
    /// The MD5 of the bytes or, when [`Expect::opaque_etag`] was set and no
    /// `Content-MD5` was sent, 16 random bytes (an opaque ETag).
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
    /// The ETag is not an MD5 of the data (SSE-KMS objects, as on AWS): the
    /// MD5 is computed only to verify a `Content-MD5` that was sent.
    pub opaque_etag: bool,
    /// A body of declared length at most [`super::INLINE_MAX`] may be kept
    /// inline in its row (objects; not parts, whose blobs are concatenated
    /// by reference).
    pub inline: bool,
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
            opaque_etag: false,
            inline: false,
        };
        for &(member, algo) in super::hash::CHECKSUM_MEMBERS {
            if let Some(v) = super::s(input, member) {
                if e.checksum.is_some() {
                    return Err(err(
                        "InvalidRequest",
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                        400,
                    ));
                }
                e.algorithm = Some(algo.to_string());
                e.checksum = Some(v.to_string());
            }
        }
        if let Some(a) = &e.algorithm {
            if super::hash::Checksum::for_algorithm(a).is_none() {
                return Err(err(
                    "InvalidRequest",
                    "Value for x-amz-checksum-algorithm header is invalid.",
                    400,
                ));
            }
        }
        Ok(e)
    }
}

/// Where a body's stored bytes go: a blob file, or memory for a blob kept
/// inline in its row.
enum Sink {
    File(ironsage_store::blobs::BlobWriter),
    Inline(Vec<u8>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Inline(v) => {
                v.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Inline(_) => Ok(()),
        }
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
    /// checksum / the declared length. With `key`, the bytes are encrypted
    /// on the way to disk. On any failure the temporary file is deleted and
    /// nothing references it.
    pub(crate) fn store_body(
        &self,
        body: &mut dyn Read,
        expect: &Expect,
        key: Option<&DataKey>,
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
        let inline = expect.inline
            && expect
                .content_length
                .is_some_and(|l| l <= super::INLINE_MAX);
        let large = expect.content_length.is_none_or(|l| l >= LARGE_BODY);
        let mut w = if inline {
            Sink::Inline(Vec::new())
        } else if large {
            Sink::File(self.blobs.begin_direct().map_err(super::internal_store)?)
        } else {
            Sink::File(self.blobs.begin().map_err(super::internal_store)?)
        };
        let mut hashes = Hashes {
            md5: (!expect.opaque_etag || expected_md5.is_some()).then(Md5::new),
            sum: expect
                .algorithm
                .as_deref()
                .and_then(super::hash::Checksum::for_algorithm),
        };
        // The blob id is chosen first: encrypted frames are bound to it.
        let id = if inline {
            super::random_id()
        } else {
            self.blobs
                .new_id(&super::random_id())
                .map_err(super::internal_store)?
        };
        let mut enc = key.map(|k| FrameEncryptor::new(k, id.as_bytes()));
        let mut sealed: Vec<u8> = Vec::new();
        // A small body needs no 64 KiB buffer (one byte more than declared
        // lets the first read see the end). Plaintext is wiped after use
        // only when it is to be encrypted: an unencrypted object's bytes
        // go to disk as they are.
        let cap = expect
            .content_length
            .and_then(|l| usize::try_from(l).ok())
            .map_or(BUF, |l| l.saturating_add(1).clamp(1, BIG_BUF));
        let mut buf = Zeroizing::new(Vec::new());
        let mut plain_buf = Vec::new();
        let buf: &mut Vec<u8> = if key.is_some() {
            &mut buf
        } else {
            &mut plain_buf
        };
        buf.resize(cap, 0);
        // Reads the body to its end, each chunk to `feed` (the hashes) and
        // then, encrypted or not, to the sink; the body's length.
        let mut copy = |feed: &mut dyn FnMut(&[u8])| -> Result<u64, AwsError> {
            let mut size = 0u64;
            loop {
                let n = match body.read(buf) {
                    Ok(0) => return Ok(size),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::info!(error = %e, "s3: request body failed");
                        return Err(incomplete());
                    }
                };
                let chunk = &buf[..n];
                feed(chunk);
                size += n as u64;
                if inline && expect.content_length.is_some_and(|l| size > l) {
                    return Err(incomplete());
                }
                match enc.as_mut() {
                    Some(e) => {
                        sealed.clear();
                        e.push(chunk, &mut sealed);
                        w.write_all(&sealed).map_err(io_err)?;
                    }
                    None => w.write_all(chunk).map_err(io_err)?,
                }
            }
        };
        let offload = hashes.slow() && large;
        let (size, hashes) = if offload {
            // MD5 runs at about the disk's speed: on a helper thread it
            // overlaps the encryption and the writes instead of adding to
            // them. The bounded queue keeps memory flat.
            std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Zeroizing<Vec<u8>>>(HASH_QUEUE);
                let helper = scope.spawn(move || {
                    for chunk in rx {
                        hashes.update(&chunk);
                    }
                    hashes
                });
                let copied = copy(&mut |c: &[u8]| {
                    // A send fails only if the helper is gone, which
                    // the join below reports.
                    let _ = tx.send(Zeroizing::new(c.to_vec()));
                });
                drop(tx);
                let hashes = helper
                    .join()
                    .map_err(|_| err("InternalError", "The body's checksum thread failed.", 500))?;
                Ok::<_, AwsError>((copied?, hashes))
            })?
        } else {
            let size = copy(&mut |c: &[u8]| hashes.update(c))?;
            (size, hashes)
        };
        if let Some(e) = enc {
            sealed.clear();
            e.finish(&mut sealed);
            w.write_all(&sealed).map_err(io_err)?;
        }
        if expect.content_length.is_some_and(|l| l != size) {
            return Err(incomplete());
        }
        let Hashes { md5, sum: crc } = hashes;
        let digest = match md5 {
            Some(m) => m.finish(),
            None => ironsage_crypto::random_bytes::<16>(),
        };
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
        let inline = match w {
            Sink::Inline(bytes) => Some(B64.encode(bytes)),
            Sink::File(f) => {
                f.finish(&id).map_err(super::internal_store)?;
                None
            }
        };
        Ok(Stored {
            blob: BlobRef { id, size, inline },
            md5: digest,
            checksum,
        })
    }

    /// A reader over plaintext bytes `[start, start + len)` of the
    /// concatenation of `blobs`, decrypting with `key` when the object is
    /// encrypted. The first segment is opened (and its first frame
    /// authenticated) now, so a missing or tampered blob fails the request
    /// instead of truncating the response.
    pub(crate) fn reader(
        &self,
        blobs: &[BlobRef],
        start: u64,
        len: u64,
        key: Option<&DataKey>,
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
            segs.push_back(Seg {
                id: b.id.clone(),
                from,
                len: to - from,
                size: b.size,
                inline: b.inline.clone(),
            });
        }
        let mut r = MultiReader {
            store: self.blobs.clone(),
            key: key.map(|k| Zeroizing::new(**k)),
            segs,
            cur: None,
        };
        r.advance().map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                tampered(&e)
            } else {
                io_err(e)
            }
        })?;
        Ok(Box::new(r))
    }
}

fn tampered(e: &io::Error) -> AwsError {
    tracing::error!(error = %e, "s3: stored object failed authentication");
    err(
        "InternalError",
        "We encountered an internal error. Please try again.",
        500,
    )
}

/// One blob's share of a read: plaintext `[from, from + len)` of a blob
/// whose plaintext is `size` bytes.
struct Seg {
    id: String,
    from: u64,
    len: u64,
    size: u64,
    /// Base64 of the stored bytes of an inline blob.
    inline: Option<String>,
}

/// A blob's stored bytes: its file (read directly when a large span of it
/// is wanted), or its inline bytes.
enum Source {
    File(File),
    Direct(ironsage_store::blobs::BlobReader),
    Mem(io::Cursor<Vec<u8>>),
}

impl Source {
    fn len(&self) -> io::Result<u64> {
        match self {
            Source::File(f) => Ok(f.metadata()?.len()),
            Source::Direct(r) => Ok(r.len()),
            Source::Mem(c) => Ok(c.get_ref().len() as u64),
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::File(f) => f.read(buf),
            Source::Direct(r) => r.read(buf),
            Source::Mem(c) => c.read(buf),
        }
    }
}

impl Seek for Source {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Source::File(f) => f.seek(pos),
            Source::Direct(r) => r.seek(pos),
            Source::Mem(c) => c.seek(pos),
        }
    }
}

enum Cur {
    Plain(io::Take<Source>),
    Sealed(Box<Frames>),
}

/// Decrypts one blob's frames in order, holding one frame at a time.
struct Frames {
    file: Source,
    dec: FrameDecryptor,
    prefix: [u8; 4],
    /// Next frame to decrypt.
    next: u64,
    /// Plaintext offset (within the blob) where the read ends.
    end: u64,
    /// Plaintext offset of the first byte still wanted.
    pos: u64,
    frame: Zeroizing<Vec<u8>>,
    /// Read position inside `frame`.
    at: usize,
}

fn integrity(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl Frames {
    fn open(mut file: Source, key: &[u8; 32], seg: &Seg) -> io::Result<Frames> {
        let disk = file.len()?;
        if disk != encrypted_len(seg.size) {
            return Err(integrity(format!(
                "encrypted blob {} is {disk} bytes, expected {}",
                seg.id,
                encrypted_len(seg.size)
            )));
        }
        let mut header = [0u8; FRAME_HEADER];
        file.read_exact(&mut header)?;
        let prefix = FrameDecryptor::parse_header(&header).map_err(integrity)?;
        let frame_len = ironsage_crypto::FRAME as u64;
        let first = seg.from / frame_len;
        let mut f = Frames {
            file,
            dec: FrameDecryptor::new(key, seg.id.as_bytes(), seg.size),
            prefix,
            next: first,
            end: seg.from + seg.len,
            pos: seg.from,
            frame: Zeroizing::new(Vec::new()),
            at: 0,
        };
        f.load()?;
        Ok(f)
    }

    /// Decrypts the next frame into `frame`, positioned at `pos`.
    fn load(&mut self) -> io::Result<()> {
        let span = self.dec.frame_span(self.next);
        self.file.seek(SeekFrom::Start(span.start))?;
        // One buffer, reused frame after frame: read the ciphertext into
        // it and decrypt in place. Sized once for the largest frame, so it
        // never reallocates (a reallocation would free plaintext unwiped).
        if self.frame.capacity() < ironsage_crypto::FRAME + 16 {
            let more = ironsage_crypto::FRAME + 16 - self.frame.len();
            self.frame.reserve_exact(more);
        }
        self.frame.resize((span.end - span.start) as usize, 0);
        self.file.read_exact(&mut self.frame)?;
        self.dec
            .decrypt_frame_in_place(&self.prefix, self.next, &mut self.frame)
            .map_err(|e| integrity(format!("frame {}: {e}", self.next)))?;
        let base = self.next * ironsage_crypto::FRAME as u64;
        self.at = (self.pos - base) as usize;
        self.next += 1;
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.end || buf.is_empty() {
            return Ok(0);
        }
        if self.at >= self.frame.len() {
            self.load()?;
        }
        let avail = &self.frame[self.at..];
        let n = avail
            .len()
            .min(buf.len())
            .min((self.end - self.pos) as usize);
        buf[..n].copy_from_slice(&avail[..n]);
        self.at += n;
        self.pos += n as u64;
        Ok(n)
    }
}

struct MultiReader {
    store: ironsage_store::blobs::BlobStore,
    key: Option<Zeroizing<[u8; 32]>>,
    segs: VecDeque<Seg>,
    cur: Option<(Cur, u64)>,
}

impl MultiReader {
    fn advance(&mut self) -> io::Result<()> {
        self.cur = None;
        if let Some(seg) = self.segs.pop_front() {
            let mut f = match &seg.inline {
                Some(b64) => Source::Mem(io::Cursor::new(
                    B64.decode(b64)
                        .map_err(|e| integrity(format!("inline blob {}: {e}", seg.id)))?,
                )),
                None if seg.len >= LARGE_BODY => {
                    Source::Direct(self.store.open_direct(&seg.id).map_err(io::Error::other)?)
                }
                None => Source::File(self.store.open_blob(&seg.id).map_err(io::Error::other)?),
            };
            let cur = match &self.key {
                Some(k) => Cur::Sealed(Box::new(Frames::open(f, k, &seg)?)),
                None => {
                    f.seek(SeekFrom::Start(seg.from))?;
                    Cur::Plain(f.take(seg.len))
                }
            };
            self.cur = Some((cur, seg.len));
        }
        Ok(())
    }
}

impl Read for MultiReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some((cur, left)) = self.cur.as_mut() else {
                return Ok(0);
            };
            let n = match cur {
                Cur::Plain(f) => f.read(buf)?,
                Cur::Sealed(f) => f.read(buf)?,
            };
            *left -= (n as u64).min(*left);
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if *left > 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "blob shorter than recorded",
                ));
            }
            self.advance()?;
        }
    }
}
