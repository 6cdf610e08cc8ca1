//! Streaming digests S3 needs that no dependency of this crate provides:
//! MD5 (ETags, Content-MD5) per RFC 1321 and CRC-32 / CRC-32C (the
//! `x-amz-checksum-crc32[c]` checksums).

/// Incremental MD5.
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    buf: [u8; 64],
    buf_len: usize,
    len: u64,
}

impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Md5").field("len", &self.len).finish()
    }
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5 {
    /// A fresh digest.
    pub fn new() -> Self {
        Md5 {
            state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476],
            buf: [0; 64],
            buf_len: 0,
            len: 0,
        }
    }

    /// One 64-byte block, the four rounds written out (RFC 1321 §3.4):
    /// no table lookups or index arithmetic in the loop.
    fn block(&mut self, block: &[u8; 64]) {
        let mut m = [0u32; 16];
        for (w, c) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        let [mut a, mut b, mut c, mut d] = self.state;
        macro_rules! step {
            (f, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:expr) => {
                step!(@ (($b & $c) | (!$b & $d)), $a, $b, $m, $k, $s)
            };
            (g, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:expr) => {
                step!(@ (($d & $b) | (!$d & $c)), $a, $b, $m, $k, $s)
            };
            (h, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:expr) => {
                step!(@ ($b ^ $c ^ $d), $a, $b, $m, $k, $s)
            };
            (i, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:expr) => {
                step!(@ ($c ^ ($b | !$d)), $a, $b, $m, $k, $s)
            };
            (@ $f:expr, $a:ident, $b:ident, $m:expr, $k:expr, $s:expr) => {
                $a = $b.wrapping_add(
                    $f.wrapping_add($a)
                        .wrapping_add($k)
                        .wrapping_add($m)
                        .rotate_left($s),
                );
            };
        }
        step!(f, a, b, c, d, m[0], 0xd76aa478, 7);
        step!(f, d, a, b, c, m[1], 0xe8c7b756, 12);
        step!(f, c, d, a, b, m[2], 0x242070db, 17);
        step!(f, b, c, d, a, m[3], 0xc1bdceee, 22);
        step!(f, a, b, c, d, m[4], 0xf57c0faf, 7);
        step!(f, d, a, b, c, m[5], 0x4787c62a, 12);
        step!(f, c, d, a, b, m[6], 0xa8304613, 17);
        step!(f, b, c, d, a, m[7], 0xfd469501, 22);
        step!(f, a, b, c, d, m[8], 0x698098d8, 7);
        step!(f, d, a, b, c, m[9], 0x8b44f7af, 12);
        step!(f, c, d, a, b, m[10], 0xffff5bb1, 17);
        step!(f, b, c, d, a, m[11], 0x895cd7be, 22);
        step!(f, a, b, c, d, m[12], 0x6b901122, 7);
        step!(f, d, a, b, c, m[13], 0xfd987193, 12);
        step!(f, c, d, a, b, m[14], 0xa679438e, 17);
        step!(f, b, c, d, a, m[15], 0x49b40821, 22);
        step!(g, a, b, c, d, m[1], 0xf61e2562, 5);
        step!(g, d, a, b, c, m[6], 0xc040b340, 9);
        step!(g, c, d, a, b, m[11], 0x265e5a51, 14);
        step!(g, b, c, d, a, m[0], 0xe9b6c7aa, 20);
        step!(g, a, b, c, d, m[5], 0xd62f105d, 5);
        step!(g, d, a, b, c, m[10], 0x02441453, 9);
        step!(g, c, d, a, b, m[15], 0xd8a1e681, 14);
        step!(g, b, c, d, a, m[4], 0xe7d3fbc8, 20);
        step!(g, a, b, c, d, m[9], 0x21e1cde6, 5);
        step!(g, d, a, b, c, m[14], 0xc33707d6, 9);
        step!(g, c, d, a, b, m[3], 0xf4d50d87, 14);
        step!(g, b, c, d, a, m[8], 0x455a14ed, 20);
        step!(g, a, b, c, d, m[13], 0xa9e3e905, 5);
        step!(g, d, a, b, c, m[2], 0xfcefa3f8, 9);
        step!(g, c, d, a, b, m[7], 0x676f02d9, 14);
        step!(g, b, c, d, a, m[12], 0x8d2a4c8a, 20);
        step!(h, a, b, c, d, m[5], 0xfffa3942, 4);
        step!(h, d, a, b, c, m[8], 0x8771f681, 11);
        step!(h, c, d, a, b, m[11], 0x6d9d6122, 16);
        step!(h, b, c, d, a, m[14], 0xfde5380c, 23);
        step!(h, a, b, c, d, m[1], 0xa4beea44, 4);
        step!(h, d, a, b, c, m[4], 0x4bdecfa9, 11);
        step!(h, c, d, a, b, m[7], 0xf6bb4b60, 16);
        step!(h, b, c, d, a, m[10], 0xbebfbc70, 23);
        step!(h, a, b, c, d, m[13], 0x289b7ec6, 4);
        step!(h, d, a, b, c, m[0], 0xeaa127fa, 11);
        step!(h, c, d, a, b, m[3], 0xd4ef3085, 16);
        step!(h, b, c, d, a, m[6], 0x04881d05, 23);
        step!(h, a, b, c, d, m[9], 0xd9d4d039, 4);
        step!(h, d, a, b, c, m[12], 0xe6db99e5, 11);
        step!(h, c, d, a, b, m[15], 0x1fa27cf8, 16);
        step!(h, b, c, d, a, m[2], 0xc4ac5665, 23);
        step!(i, a, b, c, d, m[0], 0xf4292244, 6);
        step!(i, d, a, b, c, m[7], 0x432aff97, 10);
        step!(i, c, d, a, b, m[14], 0xab9423a7, 15);
        step!(i, b, c, d, a, m[5], 0xfc93a039, 21);
        step!(i, a, b, c, d, m[12], 0x655b59c3, 6);
        step!(i, d, a, b, c, m[3], 0x8f0ccc92, 10);
        step!(i, c, d, a, b, m[10], 0xffeff47d, 15);
        step!(i, b, c, d, a, m[1], 0x85845dd1, 21);
        step!(i, a, b, c, d, m[8], 0x6fa87e4f, 6);
        step!(i, d, a, b, c, m[15], 0xfe2ce6e0, 10);
        step!(i, c, d, a, b, m[6], 0xa3014314, 15);
        step!(i, b, c, d, a, m[13], 0x4e0811a1, 21);
        step!(i, a, b, c, d, m[4], 0xf7537e82, 6);
        step!(i, d, a, b, c, m[11], 0xbd3af235, 10);
        step!(i, c, d, a, b, m[2], 0x2ad7d2bb, 15);
        step!(i, b, c, d, a, m[9], 0xeb86d391, 21);
        self.state[0] = self.state[0].wrapping_add(a);
        self.state[1] = self.state[1].wrapping_add(b);
        self.state[2] = self.state[2].wrapping_add(c);
        self.state[3] = self.state[3].wrapping_add(d);
    }

    /// Feeds bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = (64 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len == 64 {
                let b = self.buf;
                self.block(&b);
                self.buf_len = 0;
            }
        }
        let mut chunks = data.chunks_exact(64);
        for c in &mut chunks {
            let mut b = [0u8; 64];
            b.copy_from_slice(c);
            self.block(&b);
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len += rest.len();
    }

    /// The 16-byte digest.
    pub fn finish(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        self.update(&[0x80]);
        while self.buf_len != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_le_bytes());
        let mut out = [0u8; 16];
        for (i, w) in self.state.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// MD5 of a byte string.
pub fn md5(data: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(data);
    h.finish()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Slicing-by-8 tables of a reflected CRC-32 polynomial: `t[0]` is the
/// classic byte table, `t[k][i]` the CRC of byte `i` followed by `k` zeros.
type Tables = [[u32; 256]; 8];

const fn tables(poly: u32) -> Tables {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { poly ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            k += 1;
        }
        i += 1;
    }
    t
}

static IEEE: Tables = tables(0xEDB8_8320);
static CASTAGNOLI: Tables = tables(0x82F6_3B78);

/// Reflected CRC-32 with a given polynomial, eight bytes per step.
#[derive(Clone)]
pub struct Crc32 {
    table: &'static Tables,
    crc: u32,
}

impl std::fmt::Debug for Crc32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crc32").finish()
    }
}

impl Crc32 {
    /// CRC-32 (ISO-HDLC, as zlib).
    pub fn ieee() -> Self {
        Crc32 {
            table: &IEEE,
            crc: 0xFFFF_FFFF,
        }
    }

    /// CRC-32C (Castagnoli).
    pub fn castagnoli() -> Self {
        Crc32 {
            table: &CASTAGNOLI,
            crc: 0xFFFF_FFFF,
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        let t = self.table;
        let mut c = self.crc;
        let mut chunks = data.chunks_exact(8);
        for b in &mut chunks {
            let lo = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let hi = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            c = t[7][(lo & 0xFF) as usize]
                ^ t[6][((lo >> 8) & 0xFF) as usize]
                ^ t[5][((lo >> 16) & 0xFF) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xFF) as usize]
                ^ t[2][((hi >> 8) & 0xFF) as usize]
                ^ t[1][((hi >> 16) & 0xFF) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &b in chunks.remainder() {
            c = t[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.crc = c;
    }

    /// The checksum, big-endian bytes (as S3 base64-encodes it).
    pub fn finish(&self) -> [u8; 4] {
        (self.crc ^ 0xFFFF_FFFF).to_be_bytes()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn part_crcs_combine_into_the_whole_objects_crc() {
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for algo in ["CRC32", "CRC32C", "CRC64NVME"] {
            let crc = |b: &[u8]| {
                let mut c = super::Checksum::for_algorithm(algo).unwrap();
                c.update(b);
                c.finish()
            };
            for cuts in [
                vec![0, 300_000],
                vec![0, 1, 300_000],
                vec![0, 131_072, 262_144, 300_000],
                vec![0, 5, 5, 299_999, 300_000],
            ] {
                let parts: Vec<(Vec<u8>, u64)> = cuts
                    .windows(2)
                    .map(|w| (crc(&data[w[0]..w[1]]), (w[1] - w[0]) as u64))
                    .collect();
                assert_eq!(
                    super::full_object_crc(algo, &parts).unwrap(),
                    crc(&data),
                    "{algo} {cuts:?}"
                );
            }
        }
        assert!(super::full_object_crc("SHA256", &[]).is_none());
    }

    #[test]
    fn composite_checksums_are_a_checksum_of_the_part_checksums() {
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let parts = vec![vec![1u8, 2, 3, 4], vec![5u8, 6, 7, 8]];
        let mut c = super::Checksum::for_algorithm("CRC32").unwrap();
        c.update(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let want = format!("{}-2", b64(&c.finish()));
        let got = super::composite("CRC32", &parts).unwrap();
        assert_eq!(got, want);
        assert_eq!(super::checksum_type(&got), "COMPOSITE");
        assert_eq!(super::checksum_type("AAAAAA=="), "FULL_OBJECT");
    }

    use super::*;

    #[test]
    fn every_checksum_algorithm_by_its_published_vectors() {
        let sum = |algo: &str, data: &[u8]| {
            let mut c = Checksum::for_algorithm(algo).unwrap();
            c.update(data);
            hex(&c.finish())
        };
        assert_eq!(sum("sha512", b"abc"), "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
        assert_eq!(sum("MD5", b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        // xxHash's reference values for the empty input, seed 0, in the
        // canonical (big-endian) form.
        assert_eq!(sum("XXHASH64", b""), "ef46db3751d8e999");
        assert_eq!(sum("XXHASH3", b""), "2d06800538d394c2");
        assert_eq!(sum("XXHASH128", b""), "99aa06d3014798d86001c324468d497f");
        // Fed in pieces, the same as at once.
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for &(_, algo) in CHECKSUM_MEMBERS {
            let mut c = Checksum::for_algorithm(algo).unwrap();
            for piece in data.chunks(777) {
                c.update(piece);
            }
            assert_eq!(hex(&c.finish()), sum(algo, &data), "{algo}");
        }
        assert!(Checksum::for_algorithm("SHA384").is_none());
    }

    #[test]
    fn md5_rfc_vectors() {
        assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            )),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
        // split feeding gives the same digest
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut h = Md5::new();
        for c in data.chunks(13) {
            h.update(c);
        }
        assert_eq!(h.finish(), md5(&data));
    }

    #[test]
    fn crc_vectors() {
        let mut c = Crc32::ieee();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xCBF4_3926u32.to_be_bytes());
        let mut c = Crc32::castagnoli();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xE306_9283u32.to_be_bytes());
        // Eight-at-a-time agrees with byte-at-a-time at every split.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 + 7) as u8).collect();
        for make in [Crc32::ieee, Crc32::castagnoli] {
            let mut bytewise = make();
            for b in &data {
                bytewise.update(std::slice::from_ref(b));
            }
            for split in [0, 1, 7, 8, 9, 500, 999] {
                let mut c = make();
                c.update(&data[..split]);
                c.update(&data[split..]);
                assert_eq!(c.finish(), bytewise.finish());
            }
        }
        // A long run of one-byte-at-a-time vs bulk over a known vector.
        let mut c = Crc32::ieee();
        c.update(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(c.finish(), 0x414F_A339u32.to_be_bytes());
    }
}

/// CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, all-ones init and
/// final xor), the default full-object checksum of newer AWS SDKs and the
/// one S3 adds to objects uploaded without a checksum. Computed with
/// carry-less multiplication where the CPU has it (`crc64fast-nvme`): it
/// runs on every upload, so it must cost next to nothing.
#[derive(Clone)]
pub struct Crc64Nvme {
    digest: crc64fast_nvme::Digest,
}

impl Crc64Nvme {
    /// A new checksum.
    pub fn new() -> Self {
        Crc64Nvme {
            digest: crc64fast_nvme::Digest::new(),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.digest.write(data);
    }

    /// The checksum, big-endian (as S3 encodes it).
    pub fn finish(&self) -> [u8; 8] {
        self.digest.sum64().to_be_bytes()
    }
}

impl Default for Crc64Nvme {
    fn default() -> Self {
        Self::new()
    }
}

/// The checksum S3 adds to an object uploaded without one.
pub const DEFAULT_ALGORITHM: &str = "CRC64NVME";

/// S3's checksum members (`Checksum<ALGORITHM>`, header
/// `x-amz-checksum-<algorithm>`) with their algorithms.
pub const CHECKSUM_MEMBERS: &[(&str, &str)] = &[
    ("ChecksumCRC32", "CRC32"),
    ("ChecksumCRC32C", "CRC32C"),
    ("ChecksumCRC64NVME", "CRC64NVME"),
    ("ChecksumSHA1", "SHA1"),
    ("ChecksumSHA256", "SHA256"),
    ("ChecksumSHA512", "SHA512"),
    ("ChecksumMD5", "MD5"),
    ("ChecksumXXHASH64", "XXHASH64"),
    ("ChecksumXXHASH3", "XXHASH3"),
    ("ChecksumXXHASH128", "XXHASH128"),
];

/// One of the checksum algorithms S3 accepts (`x-amz-checksum-*`).
pub enum Checksum {
    /// CRC32 or CRC32C.
    Crc32(Crc32),
    /// CRC64NVME.
    Crc64(Crc64Nvme),
    /// SHA1.
    Sha1(sha1::Sha1),
    /// SHA256.
    Sha256(sha2::Sha256),
    /// SHA512.
    Sha512(sha2::Sha512),
    /// MD5 (as a checksum, apart from the ETag).
    Md5(Md5),
    /// XXHASH64 (seed 0).
    Xxh64(xxhash_rust::xxh64::Xxh64),
    /// XXHASH3 (64-bit) or XXHASH128 (`true`), seed 0.
    Xxh3(Box<xxhash_rust::xxh3::Xxh3>, bool),
}

impl Checksum {
    /// The algorithm by its S3 name (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`,
    /// `SHA256`, `SHA512`, `MD5`, `XXHASH64`, `XXHASH3`, `XXHASH128`; any
    /// case).
    pub fn for_algorithm(name: &str) -> Option<Checksum> {
        use sha1::Digest;
        Some(match name.to_ascii_uppercase().as_str() {
            "CRC32" => Checksum::Crc32(Crc32::ieee()),
            "CRC32C" => Checksum::Crc32(Crc32::castagnoli()),
            "CRC64NVME" => Checksum::Crc64(Crc64Nvme::new()),
            "SHA1" => Checksum::Sha1(sha1::Sha1::new()),
            "SHA256" => Checksum::Sha256(sha2::Sha256::new()),
            "SHA512" => Checksum::Sha512(sha2::Sha512::new()),
            "MD5" => Checksum::Md5(Md5::new()),
            "XXHASH64" => Checksum::Xxh64(xxhash_rust::xxh64::Xxh64::new(0)),
            "XXHASH3" => Checksum::Xxh3(Box::default(), false),
            "XXHASH128" => Checksum::Xxh3(Box::default(), true),
            _ => return None,
        })
    }

    /// Whether the algorithm runs far faster than the disk (not worth a
    /// thread of its own).
    pub fn is_fast(&self) -> bool {
        matches!(
            self,
            Checksum::Crc64(_) | Checksum::Xxh64(_) | Checksum::Xxh3(..)
        )
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        use sha1::Digest;
        match self {
            Checksum::Crc32(c) => c.update(data),
            Checksum::Crc64(c) => c.update(data),
            Checksum::Sha1(h) => h.update(data),
            Checksum::Sha256(h) => h.update(data),
            Checksum::Sha512(h) => h.update(data),
            Checksum::Md5(h) => h.update(data),
            Checksum::Xxh64(h) => h.update(data),
            Checksum::Xxh3(h, _) => h.update(data),
        }
    }

    /// The raw checksum bytes (base64 them for the header).
    pub fn finish(self) -> Vec<u8> {
        use sha1::Digest;
        match self {
            Checksum::Crc32(c) => c.finish().to_vec(),
            Checksum::Crc64(c) => c.finish().to_vec(),
            Checksum::Sha1(h) => h.finalize().to_vec(),
            Checksum::Sha256(h) => h.finalize().to_vec(),
            Checksum::Sha512(h) => h.finalize().to_vec(),
            Checksum::Md5(h) => h.finish().to_vec(),
            // The xxHash digests in their canonical (big-endian) byte form.
            Checksum::Xxh64(h) => h.digest().to_be_bytes().to_vec(),
            Checksum::Xxh3(h, false) => h.digest().to_be_bytes().to_vec(),
            Checksum::Xxh3(h, true) => h.digest128().to_be_bytes().to_vec(),
        }
    }
}

/// The reflected polynomial and width of a CRC algorithm S3 can combine
/// into a full-object checksum (`None` for SHA-1/SHA-256).
fn crc_params(algorithm: &str) -> Option<(u64, u32)> {
    match algorithm.to_ascii_uppercase().as_str() {
        "CRC32" => Some((0xEDB8_8320, 32)),
        "CRC32C" => Some((0x82F6_3B78, 32)),
        "CRC64NVME" => Some((0x9A6C_9329_AC4B_C9B5, 64)),
        _ => None,
    }
}

/// Whether S3 can combine part checksums of `algorithm` into a checksum of
/// the whole object (the CRCs can; SHA-1/SHA-256 only make composites).
pub fn combinable(algorithm: &str) -> bool {
    crc_params(algorithm).is_some()
}

fn gf2_times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut row = mat.iter();
    while vec != 0 {
        let Some(m) = row.next() else { break };
        if vec & 1 != 0 {
            sum ^= m;
        }
        vec >>= 1;
    }
    sum
}

fn gf2_square(mat: &[u64; 64], width: usize) -> [u64; 64] {
    let mut sq = [0u64; 64];
    for (n, out) in sq.iter_mut().enumerate().take(width) {
        *out = gf2_times(mat, mat[n]);
    }
    sq
}

/// The CRC of `A ‖ B` from `crc(A)`, `crc(B)` and the length of `B` (final
/// values, all-ones init and xor-out, as every S3 CRC): the zero-padding
/// operator applied to `crc(A)` by repeated squaring in GF(2).
fn crc_combine(crc_a: u64, crc_b: u64, len_b: u64, poly: u64, width: u32) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    let w = width as usize;
    // The operator for one zero bit, then 2, then 4 …
    let mut one = [0u64; 64];
    one[0] = poly;
    for (n, slot) in one.iter_mut().enumerate().take(w).skip(1) {
        *slot = 1u64 << (n - 1);
    }
    // Four zero bits; each round squares it: one byte, two, four …
    let mut op = gf2_square(&gf2_square(&one, w), w);
    let mut crc = crc_a;
    let mut len = len_b;
    while len != 0 {
        op = gf2_square(&op, w);
        if len & 1 != 0 {
            crc = gf2_times(&op, crc);
        }
        len >>= 1;
    }
    crc ^ crc_b
}

/// A full-object CRC (`ChecksumType` `FULL_OBJECT`) from the parts' raw
/// big-endian CRCs and plaintext sizes, in order. `None` when the
/// algorithm is not a CRC or a part checksum has the wrong length.
pub fn full_object_crc(algorithm: &str, parts: &[(Vec<u8>, u64)]) -> Option<Vec<u8>> {
    let (poly, width) = crc_params(algorithm)?;
    let bytes = (width / 8) as usize;
    let mut acc: Option<u64> = None;
    for (raw, len) in parts {
        if raw.len() != bytes {
            return None;
        }
        let mut v = 0u64;
        for b in raw {
            v = (v << 8) | u64::from(*b);
        }
        acc = Some(match acc {
            None => v,
            Some(a) => crc_combine(a, v, *len, poly, width),
        });
    }
    // An object of no parts: the CRC of nothing.
    let v = acc.unwrap_or(0);
    Some(v.to_be_bytes()[8 - bytes..].to_vec())
}

/// A composite checksum (`ChecksumType` `COMPOSITE`): the algorithm over the
/// concatenated raw part checksums, base64, then `-<number of parts>`.
pub fn composite(algorithm: &str, parts: &[Vec<u8>]) -> Option<String> {
    use base64::Engine;
    let mut sum = Checksum::for_algorithm(algorithm)?;
    for p in parts {
        sum.update(p);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(sum.finish());
    Some(format!("{b64}-{}", parts.len()))
}

/// The `ChecksumType` of a stored checksum value: composites end in `-N`
/// (a character base64 never uses).
pub fn checksum_type(value: &str) -> &'static str {
    if value.contains('-') {
        "COMPOSITE"
    } else {
        "FULL_OBJECT"
    }
}

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Checksum::Crc32(_) => "Checksum::Crc32",
            Checksum::Crc64(_) => "Checksum::Crc64",
            Checksum::Sha1(_) => "Checksum::Sha1",
            Checksum::Sha256(_) => "Checksum::Sha256",
            Checksum::Sha512(_) => "Checksum::Sha512",
            Checksum::Md5(_) => "Checksum::Md5",
            Checksum::Xxh64(_) => "Checksum::Xxh64",
            Checksum::Xxh3(_, false) => "Checksum::Xxh3",
            Checksum::Xxh3(_, true) => "Checksum::Xxh128",
        })
    }
}
