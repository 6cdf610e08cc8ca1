//! Framed AEAD for object bodies.
//!
//! Layout of an encrypted body:
//!
//! ```text
//! header (8 bytes) = "ISF1" ‖ nonce prefix (4 random bytes)
//! frame 0 ‖ frame 1 ‖ … ‖ frame n-1
//! frame i = AES-256-GCM(plaintext[i*FRAME .. (i+1)*FRAME]) ‖ tag (16)
//! nonce_i = prefix ‖ i (u64 big-endian)
//! aad_i   = object id ‖ i (u64 big-endian) ‖ final flag (1 byte: 1 for the last frame)
//! ```
//!
//! Every frame but the last holds exactly [`FRAME`] plaintext bytes; the last
//! holds 0..=FRAME (an empty body is one empty final frame), so frame `i`
//! starts at ciphertext offset `8 + i * (FRAME + 16)` and a range read
//! decrypts only the frames it touches. Reordering, dropping or truncating
//! frames fails authentication (the index and the final flag are bound).

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use zeroize::Zeroizing;

use crate::{random_bytes, CryptoError};

/// Plaintext bytes per frame.
pub const FRAME: usize = 65536;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Length of the header in front of the frames.
pub const FRAME_HEADER: usize = 8;
const MAGIC: &[u8; 4] = b"ISF1";

/// Number of frames for a plaintext of `plain_len` bytes (at least one).
fn frame_count(plain_len: u64) -> u64 {
    plain_len.div_ceil(FRAME as u64).max(1)
}

/// Ciphertext length of a plaintext of `plain_len` bytes.
pub fn encrypted_len(plain_len: u64) -> u64 {
    FRAME_HEADER as u64 + plain_len + frame_count(plain_len) * TAG_LEN as u64
}

fn nonce(prefix: &[u8; 4], index: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(prefix);
    n[4..].copy_from_slice(&index.to_be_bytes());
    n
}

fn aad(object_id: &[u8], index: u64, last: bool) -> Vec<u8> {
    let mut a = Vec::with_capacity(object_id.len() + 9);
    a.extend_from_slice(object_id);
    a.extend_from_slice(&index.to_be_bytes());
    a.push(u8::from(last));
    a
}

/// Encrypts a body chunk by chunk.
pub struct FrameEncryptor {
    key: Zeroizing<[u8; 32]>,
    object_id: Vec<u8>,
    prefix: [u8; 4],
    index: u64,
    buf: Zeroizing<Vec<u8>>,
    header_written: bool,
}

impl std::fmt::Debug for FrameEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncryptor")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl FrameEncryptor {
    /// A new encryptor under `key` for the object `object_id` (bound into
    /// every frame, so frames cannot be moved between objects).
    pub fn new(key: &[u8; 32], object_id: &[u8]) -> Self {
        FrameEncryptor {
            key: Zeroizing::new(*key),
            object_id: object_id.to_vec(),
            prefix: random_bytes::<4>(),
            index: 0,
            // Sized by the first chunks (see `reserve`): a 1 KiB object
            // should not allocate and wipe a 64 KiB frame buffer.
            buf: Zeroizing::new(Vec::new()),
            header_written: false,
        }
    }

    fn header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            out.extend_from_slice(MAGIC);
            out.extend_from_slice(&self.prefix);
            self.header_written = true;
        }
    }

    /// Seals the buffered frame onto `out` and empties the buffer (its
    /// allocation is kept for the next frame; it is wiped on drop).
    fn emit(&mut self, last: bool, out: &mut Vec<u8>) {
        let n = nonce(&self.prefix, self.index);
        let a = aad(&self.object_id, self.index, last);
        crate::seal_append(&self.key, &n, &a, &self.buf, out);
        self.buf.clear();
        self.index += 1;
    }

    /// Makes room for `more` plaintext bytes without a reallocation that
    /// would free an unwiped copy: a buffer too small is replaced (and
    /// the old one wiped on drop). Room is exact while the frame stays
    /// under 4 KiB, then a whole frame.
    fn reserve(&mut self, more: usize) {
        let need = self.buf.len() + more;
        if need <= self.buf.capacity() {
            return;
        }
        let cap = if need <= 4096 { need } else { FRAME };
        let mut bigger = Zeroizing::new(Vec::with_capacity(cap));
        bigger.extend_from_slice(&self.buf);
        self.buf = bigger;
    }

    /// Feeds plaintext; appends every completed non-final frame to `out`.
    /// A full frame is held back until more data arrives, because only
    /// [`FrameEncryptor::finish`] knows which frame is the last.
    pub fn push(&mut self, plaintext_chunk: &[u8], out: &mut Vec<u8>) {
        self.header(out);
        let mut rest = plaintext_chunk;
        while !rest.is_empty() {
            if self.buf.len() == FRAME {
                self.emit(false, out);
            }
            let take = (FRAME - self.buf.len()).min(rest.len());
            let (now, later) = rest.split_at(take);
            self.reserve(take);
            self.buf.extend_from_slice(now);
            rest = later;
        }
    }

    /// Emits the final frame (possibly empty).
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.header(out);
        self.emit(true, out);
    }
}

/// Decrypts whole bodies or plaintext ranges of them.
pub struct FrameDecryptor {
    key: Zeroizing<[u8; 32]>,
    object_id: Vec<u8>,
    plain_len: u64,
}

impl std::fmt::Debug for FrameDecryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecryptor")
            .field("plain_len", &self.plain_len)
            .finish_non_exhaustive()
    }
}

impl FrameDecryptor {
    /// A decryptor for the body of `object_id` whose plaintext is
    /// `plain_len` bytes long.
    pub fn new(key: &[u8; 32], object_id: &[u8], plain_len: u64) -> Self {
        FrameDecryptor {
            key: Zeroizing::new(*key),
            object_id: object_id.to_vec(),
            plain_len,
        }
    }

    /// Number of frames of the body.
    pub fn frames(&self) -> u64 {
        frame_count(self.plain_len)
    }

    /// Ciphertext byte range of frame `i` (tag included).
    pub fn frame_span(&self, i: u64) -> Range<u64> {
        let start = FRAME_HEADER as u64 + i * (FRAME + TAG_LEN) as u64;
        let plain = if i + 1 == self.frames() {
            self.plain_len - i * FRAME as u64
        } else {
            FRAME as u64
        };
        start..start + plain + TAG_LEN as u64
    }

    /// The nonce prefix from a body's header.
    pub fn parse_header(header: &[u8]) -> Result<[u8; 4], CryptoError> {
        match header.get(..FRAME_HEADER) {
            Some(h) if &h[..4] == MAGIC => {
                let mut p = [0u8; 4];
                p.copy_from_slice(&h[4..8]);
                Ok(p)
            }
            _ => Err(CryptoError::Format("not a framed ciphertext".into())),
        }
    }

    /// Decrypts frame `i` given its ciphertext (from [`Self::frame_span`]).
    pub fn decrypt_frame(
        &self,
        prefix: &[u8; 4],
        i: u64,
        frame: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut buf = frame.to_vec();
        self.decrypt_frame_in_place(prefix, i, &mut buf)?;
        Ok(buf)
    }

    /// [`Self::decrypt_frame`] in place: `frame` holds frame `i`'s
    /// ciphertext and is left holding its plaintext.
    pub fn decrypt_frame_in_place(
        &self,
        prefix: &[u8; 4],
        i: u64,
        frame: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if i >= self.frames() {
            return Err(CryptoError::Format(format!("frame {i} out of range")));
        }
        let last = i + 1 == self.frames();
        let span = self.frame_span(i);
        if frame.len() as u64 != span.end - span.start {
            return Err(CryptoError::Integrity);
        }
        crate::open_in_place(
            &self.key,
            &nonce(prefix, i),
            &aad(&self.object_id, i, last),
            frame,
        )
    }

    /// Decrypts a whole body held in memory.
    pub fn decrypt_all(&self, encrypted: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if encrypted.len() as u64 != encrypted_len(self.plain_len) {
            return Err(CryptoError::Integrity);
        }
        let mut cur = std::io::Cursor::new(encrypted);
        self.decrypt_range(&mut cur, 0..self.plain_len)
    }

    /// Decrypts the plaintext bytes `range` (clamped to the body), reading
    /// from `src` only the header and the frames the range touches.
    pub fn decrypt_range<R: Read + Seek>(
        &self,
        src: &mut R,
        range: Range<u64>,
    ) -> Result<Vec<u8>, CryptoError> {
        let end = range.end.min(self.plain_len);
        let start = range.start.min(end);
        src.seek(SeekFrom::Start(0))?;
        let mut header = [0u8; FRAME_HEADER];
        src.read_exact(&mut header).map_err(truncated)?;
        let prefix = Self::parse_header(&header)?;
        let mut out = Vec::with_capacity((end - start) as usize);
        if start == end {
            return Ok(out);
        }
        let first = start / FRAME as u64;
        let last = (end - 1) / FRAME as u64;
        for i in first..=last {
            let span = self.frame_span(i);
            src.seek(SeekFrom::Start(span.start))?;
            let mut ct = vec![0u8; (span.end - span.start) as usize];
            src.read_exact(&mut ct).map_err(truncated)?;
            let plain = Zeroizing::new(self.decrypt_frame(&prefix, i, &ct)?);
            let base = i * FRAME as u64;
            let from = (start.max(base) - base) as usize;
            let to = (end.min(base + plain.len() as u64) - base) as usize;
            out.extend_from_slice(plain.get(from..to).unwrap_or_default());
        }
        Ok(out)
    }
}

fn truncated(e: std::io::Error) -> CryptoError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        CryptoError::Integrity
    } else {
        CryptoError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_vec;
    use std::io::Cursor;

    fn encrypt(key: &[u8; 32], id: &[u8], data: &[u8], chunk: usize) -> Vec<u8> {
        let mut enc = FrameEncryptor::new(key, id);
        let mut out = Vec::new();
        for c in data.chunks(chunk.max(1)) {
            enc.push(c, &mut out);
        }
        enc.finish(&mut out);
        out
    }

    #[test]
    fn lengths_and_round_trips() {
        let key = random_bytes::<32>();
        for len in [
            0usize,
            1,
            FRAME - 1,
            FRAME,
            FRAME + 1,
            2 * FRAME,
            3 * FRAME + 17,
        ] {
            let data = random_vec(len);
            for chunk in [1usize, 1000, 4095, 4097, FRAME, 7 * FRAME] {
                let enc = encrypt(&key, b"bucket/key#v1", &data, chunk);
                assert_eq!(enc.len() as u64, encrypted_len(len as u64), "len {len}");
                let dec = FrameDecryptor::new(&key, b"bucket/key#v1", len as u64);
                assert_eq!(dec.decrypt_all(&enc).unwrap(), data);
            }
        }
        assert_eq!(encrypted_len(0), 8 + 16);
        assert_eq!(encrypted_len(FRAME as u64), 8 + FRAME as u64 + 16);
        assert_eq!(encrypted_len(FRAME as u64 + 1), 8 + FRAME as u64 + 1 + 32);
    }

    /// A reader that records which byte offsets were read.
    struct Spy<'a> {
        inner: Cursor<&'a [u8]>,
        read: Vec<Range<u64>>,
    }
    impl Read for Spy<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let pos = self.inner.position();
            let n = self.inner.read(buf)?;
            self.read.push(pos..pos + n as u64);
            Ok(n)
        }
    }
    impl Seek for Spy<'_> {
        fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    #[test]
    fn range_reads_touch_only_their_frames() {
        let key = random_bytes::<32>();
        let len = 5 * FRAME + 123;
        let data = random_vec(len);
        let enc = encrypt(&key, b"obj", &data, 10_000);
        let dec = FrameDecryptor::new(&key, b"obj", len as u64);
        let cases = [
            0..1,
            (FRAME as u64 - 3)..(FRAME as u64 + 3),
            (2 * FRAME as u64 + 5)..(2 * FRAME as u64 + 6),
            (5 * FRAME as u64)..(len as u64),
            100..(len as u64 + 1000),
            7..7,
        ];
        for r in cases {
            let mut spy = Spy {
                inner: Cursor::new(&enc),
                read: Vec::new(),
            };
            let got = dec.decrypt_range(&mut spy, r.clone()).unwrap();
            let end = r.end.min(len as u64) as usize;
            assert_eq!(got, &data[r.start as usize..end]);
            // Only the header and the touched frames were read.
            if r.start < r.end {
                let first = r.start / FRAME as u64;
                let last = (end as u64 - 1) / FRAME as u64;
                for span in spy.read.iter().skip(1) {
                    let frame = (span.start - 8) / (FRAME + TAG_LEN) as u64;
                    assert!(frame >= first && frame <= last, "read frame {frame}");
                }
            }
        }
    }

    #[test]
    fn tampering_is_detected() {
        let key = random_bytes::<32>();
        let len = 2 * FRAME + 10;
        let data = random_vec(len);
        let enc = encrypt(&key, b"obj", &data, FRAME);
        let dec = FrameDecryptor::new(&key, b"obj", len as u64);
        // Flip one byte in each frame.
        for pos in [10usize, FRAME + 30, enc.len() - 1] {
            let mut bad = enc.clone();
            bad[pos] ^= 1;
            assert!(matches!(dec.decrypt_all(&bad), Err(CryptoError::Integrity)));
        }
        // Wrong object id or key.
        assert!(FrameDecryptor::new(&key, b"other", len as u64)
            .decrypt_all(&enc)
            .is_err());
        let mut k2 = key;
        k2[0] ^= 1;
        assert!(FrameDecryptor::new(&k2, b"obj", len as u64)
            .decrypt_all(&enc)
            .is_err());
        // Swapping two full frames fails.
        let f = FRAME + TAG_LEN;
        let mut swapped = enc.clone();
        let (a, b) = (8..8 + f, 8 + f..8 + 2 * f);
        let fa = enc[a.clone()].to_vec();
        let fb = enc[b.clone()].to_vec();
        swapped[a].copy_from_slice(&fb);
        swapped[b].copy_from_slice(&fa);
        assert!(dec.decrypt_all(&swapped).is_err());
        // Truncating at a frame boundary (dropping the final frame) and
        // claiming the shorter length fails: frame 1 was not final.
        let cut = &enc[..8 + 2 * f];
        let short = FrameDecryptor::new(&key, b"obj", 2 * FRAME as u64);
        assert!(short.decrypt_all(cut).is_err());
        // A truncated file fails a range read.
        assert!(dec
            .decrypt_range(&mut Cursor::new(&enc[..enc.len() - 5]), 0..len as u64)
            .is_err());
    }
}
