//! S3 tests over temp dirs, through `call_stream` as the gateway calls it.

use std::io::Read;

use base64::Engine;
use serde_json::{json, Value};

use super::hash::{hex, md5, Md5};
use super::S3;
use crate::{AwsError, Caller, Ctx, PrincipalKind, Reply, Service};

const ACCT: &str = "111122223333";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Env {
    dir: tempfile::TempDir,
    store: std::sync::Arc<ironsage_store::Store>,
    s3: S3,
    kms: std::sync::Arc<crate::kms::Kms>,
    caller: Caller,
}

fn caller(account: &str) -> Caller {
    Caller {
        account: account.into(),
        kind: PrincipalKind::Root,
        access_key_id: "AKIAEXAMPLE".into(),
        session: None,
    }
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = ironsage_store::Store::open(
        &dir.path().join("state.db"),
        ironsage_store::Durability::Normal,
    )
    .unwrap();
    let kms = std::sync::Arc::new(crate::kms::Kms::open(&store, dir.path()).unwrap());
    let s3 = S3::open(&store, dir.path(), std::sync::Arc::clone(&kms)).unwrap();
    Env {
        dir,
        store,
        s3,
        kms,
        caller: caller(ACCT),
    }
}

impl Env {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            caller: &self.caller,
            region: "us-east-1",
            request_id: "req",
            now: time::OffsetDateTime::now_utc(),
        }
    }
    fn call(&self, op: &str, input: Value) -> Result<Value, AwsError> {
        self.s3.call(&self.ctx(), op, input)
    }
    fn stream(&self, op: &str, input: Value, body: &[u8]) -> Result<Reply, AwsError> {
        self.s3.call_stream(
            &self.ctx(),
            op,
            input,
            Some(Box::new(std::io::Cursor::new(body.to_vec()))),
        )
    }
    fn put(&self, bucket: &str, key: &str, body: &[u8]) -> Value {
        self.stream("PutObject", json!({"Bucket": bucket, "Key": key}), body)
            .unwrap()
            .output
    }
    fn get(&self, input: Value) -> Result<(Value, Vec<u8>), AwsError> {
        let r = self.s3.call_stream(&self.ctx(), "GetObject", input, None)?;
        let mut out = Vec::new();
        let body = r.body.unwrap();
        let len = body.length;
        body.reader.take(u64::MAX).read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, len);
        Ok((r.output, out))
    }
    fn mk(&self, bucket: &str) {
        self.call("CreateBucket", json!({"Bucket": bucket}))
            .unwrap();
    }
    /// Blob files on disk (excluding temporaries).
    fn blob_files(&self) -> usize {
        let mut n = 0;
        for a in std::fs::read_dir(self.dir.path().join("blobs")).unwrap() {
            let a = a.unwrap();
            if a.file_name() == "tmp" {
                continue;
            }
            for b in std::fs::read_dir(a.path()).unwrap() {
                n += std::fs::read_dir(b.unwrap().path()).unwrap().count();
            }
        }
        n
    }
    fn tmp_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("blobs/tmp"))
            .unwrap()
            .count()
    }
}

fn code(r: Result<impl std::fmt::Debug, AwsError>) -> (String, u16) {
    let e = r.unwrap_err();
    (e.code, e.status)
}

/// A deterministic byte stream handed out in small reads.
struct Gen {
    left: u64,
    i: u64,
    chunk: usize,
}

impl Read for Gen {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.left.min(self.chunk as u64) as usize).min(buf.len());
        for b in &mut buf[..n] {
            *b = (self.i.wrapping_mul(2_654_435_761) >> 13) as u8;
            self.i += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn md5_and_crc_known_values() {
    assert_eq!(hex(&md5(b"hello")), "5d41402abc4b2a76b9719d911017c592");
}

#[test]
fn put_get_byte_exact_with_metadata() {
    let e = env();
    e.mk("bkt");
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "bkt", "Key": "dir/a b.txt", "ContentType": "text/plain",
                   "Metadata": {"Color": "red"}, "Tagging": "a=1&b=x%20y"}),
            b"hello",
        )
        .unwrap()
        .output;
    assert_eq!(out["ETag"], "\"5d41402abc4b2a76b9719d911017c592\"");
    assert!(out.get("VersionId").is_none());
    let (o, body) = e
        .get(json!({"Bucket": "bkt", "Key": "dir/a b.txt"}))
        .unwrap();
    assert_eq!(body, b"hello");
    assert_eq!(o["ContentType"], "text/plain");
    assert_eq!(o["Metadata"], json!({"color": "red"}));
    assert_eq!(o["ContentLength"], 5);
    assert_eq!(o["TagCount"], 2);
    assert_eq!(o["ETag"], out["ETag"]);
    let h =
        e.s3.call_stream(
            &e.ctx(),
            "HeadObject",
            json!({"Bucket": "bkt", "Key": "dir/a b.txt"}),
            None,
        )
        .unwrap();
    assert!(h.body.is_none());
    assert_eq!(h.output["ContentLength"], 5);
    let t = e
        .call(
            "GetObjectTagging",
            json!({"Bucket": "bkt", "Key": "dir/a b.txt"}),
        )
        .unwrap();
    assert_eq!(
        t["TagSet"],
        json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "x y"}])
    );
    assert_eq!(
        code(e.get(json!({"Bucket": "bkt", "Key": "nope"}))),
        ("NoSuchKey".into(), 404)
    );
    assert_eq!(
        code(e.get(json!({"Bucket": "nobkt", "Key": "nope"}))),
        ("NoSuchBucket".into(), 404)
    );
    // overwrite in an unversioned bucket leaves one blob
    e.put("bkt", "dir/a b.txt", b"second");
    assert_eq!(e.blob_files(), 1);
    assert_eq!(
        e.get(json!({"Bucket": "bkt", "Key": "dir/a b.txt"}))
            .unwrap()
            .1,
        b"second"
    );
}

#[test]
fn twenty_mib_streamed_in_small_reads() {
    let e = env();
    e.mk("big");
    let size = 20 * 1024 * 1024u64;
    let mut want = Md5::new();
    let mut g = Gen {
        left: size,
        i: 0,
        chunk: 4096,
    };
    let mut buf = vec![0u8; 4096];
    loop {
        let n = g.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        want.update(&buf[..n]);
    }
    let want = hex(&want.finish());
    let r =
        e.s3.call_stream(
            &e.ctx(),
            "PutObject",
            json!({"Bucket": "big", "Key": "k", "ContentLength": size}),
            Some(Box::new(Gen {
                left: size,
                i: 0,
                chunk: 1000,
            })),
        )
        .unwrap();
    assert_eq!(r.output["ETag"], format!("\"{want}\""));
    let g =
        e.s3.call_stream(
            &e.ctx(),
            "GetObject",
            json!({"Bucket": "big", "Key": "k"}),
            None,
        )
        .unwrap();
    let body = g.body.unwrap();
    assert_eq!(body.length, size);
    let mut reader = body.reader;
    let mut got = Md5::new();
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
        got.update(&buf[..n]);
    }
    assert_eq!(total, size);
    assert_eq!(hex(&got.finish()), want);
}

#[test]
fn ranges_and_conditions() {
    let e = env();
    e.mk("b-bkt");
    let etag = e.put("b-bkt", "k", b"0123456789")["ETag"]
        .as_str()
        .unwrap()
        .to_string();
    let rng = |r: &str| e.get(json!({"Bucket": "b-bkt", "Key": "k", "Range": r}));
    let (o, b) = rng("bytes=2-4").unwrap();
    assert_eq!(b, b"234");
    assert_eq!(o["ContentRange"], "bytes 2-4/10");
    assert_eq!(rng("bytes=-3").unwrap().1, b"789");
    assert_eq!(rng("bytes=7-").unwrap().1, b"789");
    assert_eq!(rng("bytes=8-100").unwrap().1, b"89");
    assert_eq!(code(rng("bytes=10-12")), ("InvalidRange".into(), 416));
    // unparsable ranges are ignored, as S3 does
    let (o, b) = rng("bytes=x-y").unwrap();
    assert_eq!(b.len(), 10);
    assert!(o.get("ContentRange").is_none());
    let c = |m: &str, v: &str| e.get(json!({"Bucket": "b-bkt", "Key": "k", m: v}));
    assert_eq!(code(c("IfNoneMatch", &etag)), ("NotModified".into(), 304));
    assert!(c("IfMatch", &etag).is_ok());
    assert_eq!(
        code(c("IfMatch", "\"nope\"")),
        ("PreconditionFailed".into(), 412)
    );
    assert_eq!(
        code(c("IfModifiedSince", "2999-01-01T00:00:00Z")),
        ("NotModified".into(), 304)
    );
    assert!(c("IfModifiedSince", "2000-01-01T00:00:00Z").is_ok());
    assert_eq!(
        code(c("IfUnmodifiedSince", "2000-01-01T00:00:00Z")),
        ("PreconditionFailed".into(), 412)
    );
}

/// Bodies of 8 MiB and more are hashed on a helper thread: the ETag,
/// Content-MD5 and checksum checks come out as for small ones, and a
/// mismatch still stores nothing.
#[test]
fn large_bodies_are_hashed_alongside_the_write() {
    let e = env();
    e.mk("big-bkt");
    let body: Vec<u8> = (0..9 * 1024 * 1024 + 13)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let sum = |algo: &str| {
        let mut c = crate::s3::hash::Checksum::for_algorithm(algo).unwrap();
        c.update(&body);
        B64.encode(c.finish())
    };
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "big-bkt", "Key": "k", "ContentLength": body.len(),
                   "ContentMD5": B64.encode(md5(&body)), "ChecksumSHA256": sum("SHA256")}),
            &body,
        )
        .unwrap()
        .output;
    assert_eq!(out["ETag"], format!("\"{}\"", hex(&md5(&body))));
    assert_eq!(out["ChecksumSHA256"], sum("SHA256"));
    let (_, got) = e.get(json!({"Bucket": "big-bkt", "Key": "k"})).unwrap();
    assert!(got == body);
    // Of unknown length, with the checksum computed here.
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "big-bkt", "Key": "k2", "ChecksumAlgorithm": "CRC32C"}),
            &body,
        )
        .unwrap()
        .output;
    assert_eq!(out["ChecksumCRC32C"], sum("CRC32C"));
    let files = e.blob_files();
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "big-bkt", "Key": "k3", "ContentLength": body.len(),
               "ContentMD5": B64.encode(md5(b"other"))}),
        &body,
    );
    assert_eq!(code(r), ("BadDigest".into(), 400));
    assert!(e.s3.obj("big-bkt", "k3").unwrap().is_none());
    assert_eq!((e.blob_files(), e.tmp_files()), (files, 0));
}

#[test]
fn bad_digest_leaves_no_row_and_no_blob() {
    let e = env();
    e.mk("b-bkt");
    let wrong = B64.encode(md5(b"other"));
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "b-bkt", "Key": "k", "ContentMD5": wrong}),
        b"payload",
    );
    assert_eq!(code(r), ("BadDigest".into(), 400));
    assert_eq!(
        code(e.stream(
            "PutObject",
            json!({"Bucket": "b-bkt", "Key": "k", "ContentMD5": "zz"}),
            b"x"
        )),
        ("InvalidDigest".into(), 400)
    );
    assert!(e.s3.obj("b-bkt", "k").unwrap().is_none());
    assert_eq!(e.blob_files(), 0);
    assert_eq!(e.tmp_files(), 0);
    let ok = B64.encode(md5(b"payload"));
    e.stream(
        "PutObject",
        json!({"Bucket": "b-bkt", "Key": "k", "ContentMD5": ok}),
        b"payload",
    )
    .unwrap();
    assert_eq!(e.blob_files(), 1);
    // a body that fails mid-stream (tampered aws-chunked) stores nothing
    struct Broken(u8);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("bad chunk signature"));
            }
            self.0 -= 1;
            buf[0] = b'x';
            Ok(1)
        }
    }
    let r = e.s3.call_stream(
        &e.ctx(),
        "PutObject",
        json!({"Bucket": "b-bkt", "Key": "k2"}),
        Some(Box::new(Broken(3))),
    );
    assert_eq!(code(r), ("IncompleteBody".into(), 400));
    assert_eq!(e.blob_files(), 1);
    assert_eq!(e.tmp_files(), 0);
}

#[test]
fn checksum_crc32() {
    let e = env();
    e.mk("b-bkt");
    let o = e
        .stream(
            "PutObject",
            json!({"Bucket": "b-bkt", "Key": "k", "ChecksumAlgorithm": "CRC32"}),
            b"123456789",
        )
        .unwrap()
        .output;
    assert_eq!(o["ChecksumCRC32"], B64.encode(0xCBF4_3926u32.to_be_bytes()));
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "b-bkt", "Key": "k", "ChecksumCRC32": "AAAAAA=="}),
        b"123456789",
    );
    assert_eq!(code(r), ("BadDigest".into(), 400));
}

#[test]
fn listing_2500_keys() {
    let e = env();
    e.mk("l-bkt");
    let mut keys = Vec::new();
    for i in 0..2500 {
        let k = match i % 3 {
            0 => format!("a/{i:05}"),
            1 => format!("b/c/{i:05}"),
            _ => format!("top{i:05}"),
        };
        keys.push(k);
    }
    // write rows directly through the API (one small object each)
    for k in &keys {
        e.put("l-bkt", k, b"x");
    }
    keys.sort();
    let mut got = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut input = json!({"Bucket": "l-bkt"});
        if let Some(t) = &token {
            input["ContinuationToken"] = json!(t);
        }
        let o = e.call("ListObjectsV2", input).unwrap();
        pages += 1;
        for c in o["Contents"].as_array().unwrap() {
            got.push(c["Key"].as_str().unwrap().to_string());
        }
        assert_eq!(
            o["KeyCount"].as_u64().unwrap() as usize,
            o["Contents"].as_array().unwrap().len()
        );
        if o["IsTruncated"] == json!(true) {
            token = Some(o["NextContinuationToken"].as_str().unwrap().to_string());
        } else {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(got, keys);
    // delimiter: two common prefixes, the top-level keys
    let o = e
        .call(
            "ListObjectsV2",
            json!({"Bucket": "l-bkt", "Delimiter": "/", "MaxKeys": 3}),
        )
        .unwrap();
    assert_eq!(
        o["CommonPrefixes"],
        json!([{"Prefix": "a/"}, {"Prefix": "b/"}])
    );
    assert_eq!(o["Contents"][0]["Key"], "top00002");
    assert_eq!(o["KeyCount"], 3);
    let t = o["NextContinuationToken"].as_str().unwrap();
    let o2 = e
        .call(
            "ListObjectsV2",
            json!({"Bucket": "l-bkt", "Delimiter": "/", "MaxKeys": 1, "ContinuationToken": t}),
        )
        .unwrap();
    assert_eq!(o2["Contents"][0]["Key"], "top00005");
    let o = e
        .call(
            "ListObjectsV2",
            json!({"Bucket": "l-bkt", "Prefix": "b/", "Delimiter": "/"}),
        )
        .unwrap();
    assert_eq!(o["CommonPrefixes"], json!([{"Prefix": "b/c/"}]));
    assert!(o.get("Contents").is_none());
    let o = e
        .call(
            "ListObjectsV2",
            json!({"Bucket": "l-bkt", "StartAfter": "top02497", "FetchOwner": true}),
        )
        .unwrap();
    assert_eq!(o["Contents"].as_array().unwrap().len(), 1);
    assert_eq!(o["Contents"][0]["Owner"]["DisplayName"], ACCT);
    // v1 with Marker / NextMarker
    let o = e
        .call(
            "ListObjects",
            json!({"Bucket": "l-bkt", "Delimiter": "/", "MaxKeys": 2}),
        )
        .unwrap();
    assert_eq!(o["NextMarker"], "b/");
    let o = e
        .call(
            "ListObjects",
            json!({"Bucket": "l-bkt", "Delimiter": "/", "Marker": "b/", "MaxKeys": 1}),
        )
        .unwrap();
    assert_eq!(o["Contents"][0]["Key"], "top00002");
    assert_eq!(
        code(e.call(
            "ListObjectsV2",
            json!({"Bucket": "l-bkt", "ContinuationToken": "!!"})
        )),
        ("InvalidArgument".into(), 400)
    );
}

#[test]
fn url_encoding_type() {
    let e = env();
    e.mk("u-bkt");
    e.put("u-bkt", "a b/ü", b"1");
    let o = e
        .call(
            "ListObjectsV2",
            json!({"Bucket": "u-bkt", "EncodingType": "url"}),
        )
        .unwrap();
    assert_eq!(o["Contents"][0]["Key"], "a%20b/%C3%BC");
    assert_eq!(o["EncodingType"], "url");
    // Versions too: clients decode only when the answer says it is encoded.
    let v = e
        .call(
            "ListObjectVersions",
            json!({"Bucket": "u-bkt", "EncodingType": "url"}),
        )
        .unwrap();
    assert_eq!(v["Versions"][0]["Key"], "a%20b/%C3%BC");
    assert_eq!(v["EncodingType"], "url");
    let plain = e
        .call("ListObjectVersions", json!({"Bucket": "u-bkt"}))
        .unwrap();
    assert_eq!(plain["Versions"][0]["Key"], "a b/ü");
    assert!(plain.get("EncodingType").is_none());
    // Multipart uploads: delimiter roll-up and encoding.
    for k in ["a b/1", "a b/2", "top+level", "z/9"] {
        e.call(
            "CreateMultipartUpload",
            json!({"Bucket": "u-bkt", "Key": k}),
        )
        .unwrap();
    }
    let u = e
        .call(
            "ListMultipartUploads",
            json!({"Bucket": "u-bkt", "Delimiter": "/", "EncodingType": "url"}),
        )
        .unwrap();
    assert_eq!(
        u["CommonPrefixes"],
        json!([{"Prefix": "a%20b/"}, {"Prefix": "z/"}])
    );
    assert_eq!(u["Uploads"].as_array().map(Vec::len), Some(1));
    assert_eq!(u["Uploads"][0]["Key"], "top%2Blevel");
    assert_eq!(
        (u["EncodingType"].as_str(), u["Delimiter"].as_str()),
        (Some("url"), Some("/"))
    );
    let page = e
        .call(
            "ListMultipartUploads",
            json!({"Bucket": "u-bkt", "Delimiter": "/", "MaxUploads": 1}),
        )
        .unwrap();
    assert_eq!(page["CommonPrefixes"], json!([{"Prefix": "a b/"}]));
    assert_eq!(
        (
            page["IsTruncated"].as_bool(),
            page["NextKeyMarker"].as_str()
        ),
        (Some(true), Some("a b/"))
    );
    let rest = e
        .call(
            "ListMultipartUploads",
            json!({"Bucket": "u-bkt", "Delimiter": "/", "KeyMarker": "a b/"}),
        )
        .unwrap();
    assert_eq!(rest["Uploads"][0]["Key"], "top+level");
    assert_eq!(rest["CommonPrefixes"], json!([{"Prefix": "z/"}]));
}

#[test]
fn bucket_lifecycle_and_errors() {
    let e = env();
    assert_eq!(
        code(e.call("CreateBucket", json!({"Bucket": "Bad_Name"}))),
        ("InvalidBucketName".into(), 400)
    );
    assert_eq!(
        code(e.call("CreateBucket", json!({"Bucket": "192.168.1.1"}))),
        ("InvalidBucketName".into(), 400)
    );
    e.mk("mine");
    // us-east-1 answers 200 to the owner
    e.call("CreateBucket", json!({"Bucket": "mine"})).unwrap();
    let other = caller("444455556666");
    let octx = Ctx {
        caller: &other,
        ..e.ctx()
    };
    assert_eq!(
        code(e.s3.call(&octx, "CreateBucket", json!({"Bucket": "mine"}))),
        ("BucketAlreadyExists".into(), 409)
    );
    let eu = Ctx {
        region: "eu-west-1",
        ..e.ctx()
    };
    let cfg = json!({"Bucket": "eu-bkt", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}});
    e.s3.call(&eu, "CreateBucket", cfg.clone()).unwrap();
    assert_eq!(
        code(e.s3.call(&eu, "CreateBucket", cfg)),
        ("BucketAlreadyOwnedByYou".into(), 409)
    );
    assert_eq!(
        code(e.s3.call(&eu, "CreateBucket", json!({"Bucket": "eu-2"}))),
        ("IllegalLocationConstraintException".into(), 400)
    );
    let loc = e
        .call("GetBucketLocation", json!({"Bucket": "eu-bkt"}))
        .unwrap();
    assert_eq!(loc["LocationConstraint"], "eu-west-1");
    assert_eq!(
        e.call("HeadBucket", json!({"Bucket": "eu-bkt"})).unwrap()["BucketRegion"],
        "eu-west-1"
    );
    let l = e.call("ListBuckets", json!({})).unwrap();
    let names: Vec<&str> = l["Buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eu-bkt", "mine"]);
    assert_eq!(
        e.s3.call(&octx, "ListBuckets", json!({})).unwrap()["Buckets"],
        json!([])
    );
    e.put("mine", "k", b"1");
    let err = e
        .call("DeleteBucket", json!({"Bucket": "mine"}))
        .unwrap_err();
    assert_eq!((err.code.as_str(), err.status), ("BucketNotEmpty", 409));
    assert!(err.extra.contains(&("BucketName".into(), "mine".into())));
    e.call("DeleteObject", json!({"Bucket": "mine", "Key": "k"}))
        .unwrap();
    e.call("DeleteBucket", json!({"Bucket": "mine"})).unwrap();
    assert_eq!(
        code(e.call("HeadBucket", json!({"Bucket": "mine"}))),
        ("NoSuchBucket".into(), 404)
    );
    assert_eq!(e.blob_files(), 0);
}

#[test]
fn multipart_complete_and_errors() {
    let e = env();
    e.mk("mp-bkt");
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "mp-bkt", "Key": "obj", "ContentType": "x/y"}),
        )
        .unwrap();
    let id = up["UploadId"].as_str().unwrap().to_string();
    let p1: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let p2: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 241) as u8).collect();
    let p3 = b"tail".to_vec();
    let mut etags = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2), (3, &p3)] {
        let o = e
            .stream(
                "UploadPart",
                json!({"Bucket": "mp-bkt", "Key": "obj", "UploadId": id, "PartNumber": n}),
                p,
            )
            .unwrap()
            .output;
        assert_eq!(o["ETag"], format!("\"{}\"", hex(&md5(p))));
        etags.push(o["ETag"].as_str().unwrap().to_string());
    }
    let lp = e
        .call(
            "ListParts",
            json!({"Bucket": "mp-bkt", "Key": "obj", "UploadId": id}),
        )
        .unwrap();
    assert_eq!(lp["Parts"].as_array().unwrap().len(), 3);
    assert_eq!(lp["Parts"][2]["Size"], 4);
    let lu = e
        .call("ListMultipartUploads", json!({"Bucket": "mp-bkt"}))
        .unwrap();
    assert_eq!(lu["Uploads"][0]["UploadId"], json!(id));
    assert_eq!(
        code(e.call("DeleteBucket", json!({"Bucket": "mp-bkt"}))),
        ("BucketNotEmpty".into(), 409)
    );
    let complete = |parts: Value| {
        e.call(
            "CompleteMultipartUpload",
            json!({"Bucket": "mp-bkt", "Key": "obj", "UploadId": id, "MultipartUpload": {"Parts": parts}}),
        )
    };
    assert_eq!(
        code(complete(
            json!([{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}])
        )),
        ("InvalidPartOrder".into(), 400)
    );
    assert_eq!(
        code(complete(json!([{"PartNumber": 1, "ETag": "\"00\""}]))),
        ("InvalidPart".into(), 400)
    );
    assert_eq!(
        code(complete(
            json!([{"PartNumber": 3, "ETag": etags[2]}, {"PartNumber": 4, "ETag": etags[2]}])
        )),
        ("InvalidPart".into(), 400)
    );
    // a small part before the last one
    let small = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "mp-bkt", "Key": "s"}),
        )
        .unwrap()["UploadId"]
        .as_str()
        .unwrap()
        .to_string();
    let t1 = e
        .stream(
            "UploadPart",
            json!({"Bucket": "mp-bkt", "Key": "s", "UploadId": small, "PartNumber": 1}),
            b"ab",
        )
        .unwrap()
        .output["ETag"]
        .clone();
    let t2 = e
        .stream(
            "UploadPart",
            json!({"Bucket": "mp-bkt", "Key": "s", "UploadId": small, "PartNumber": 2}),
            b"cd",
        )
        .unwrap()
        .output["ETag"]
        .clone();
    let r = e.call(
        "CompleteMultipartUpload",
        json!({"Bucket": "mp-bkt", "Key": "s", "UploadId": small, "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": t1}, {"PartNumber": 2, "ETag": t2}]}}),
    );
    assert_eq!(code(r), ("EntityTooSmall".into(), 400));
    e.call(
        "AbortMultipartUpload",
        json!({"Bucket": "mp-bkt", "Key": "s", "UploadId": small}),
    )
    .unwrap();
    assert_eq!(
        code(e.call(
            "AbortMultipartUpload",
            json!({"Bucket": "mp-bkt", "Key": "s", "UploadId": small})
        )),
        ("NoSuchUpload".into(), 404)
    );
    let o = complete(json!([
        {"PartNumber": 1, "ETag": etags[0]},
        {"PartNumber": 2, "ETag": etags[1]},
        {"PartNumber": 3, "ETag": etags[2]}
    ]))
    .unwrap();
    let mut cat = Vec::new();
    for p in [&p1, &p2, &p3] {
        cat.extend_from_slice(&md5(p));
    }
    assert_eq!(o["ETag"], format!("\"{}-3\"", hex(&md5(&cat))));
    let (g, body) = e.get(json!({"Bucket": "mp-bkt", "Key": "obj"})).unwrap();
    let mut all = p1.clone();
    all.extend_from_slice(&p2);
    all.extend_from_slice(&p3);
    assert_eq!(body.len(), all.len());
    assert!(body == all);
    assert_eq!(g["ContentType"], "x/y");
    // a range across the part boundary
    let start = 5 * 1024 * 1024 - 3;
    let (_, b) = e
        .get(json!({"Bucket": "mp-bkt", "Key": "obj", "Range": format!("bytes={start}-{}", start + 9)}))
        .unwrap();
    assert_eq!(b, &all[start..start + 10]);
    let (_, b) = e
        .get(json!({"Bucket": "mp-bkt", "Key": "obj", "Range": "bytes=-6"}))
        .unwrap();
    assert_eq!(b, &all[all.len() - 6..]);
    assert_eq!(
        code(e.call(
            "ListParts",
            json!({"Bucket": "mp-bkt", "Key": "obj", "UploadId": id})
        )),
        ("NoSuchUpload".into(), 404)
    );
    // parts blobs are the object's blobs: 3 files, nothing else
    assert_eq!(e.blob_files(), 3);
    // UploadPartCopy from the completed object
    let up2 = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "mp-bkt", "Key": "copy"}),
        )
        .unwrap()["UploadId"]
        .as_str()
        .unwrap()
        .to_string();
    let c = e
        .call(
            "UploadPartCopy",
            json!({"Bucket": "mp-bkt", "Key": "copy", "UploadId": up2, "PartNumber": 1, "CopySource": "mp-bkt/obj", "CopySourceRange": "bytes=0-9"}),
        )
        .unwrap();
    assert_eq!(
        c["CopyPartResult"]["ETag"],
        format!("\"{}\"", hex(&md5(&all[..10])))
    );
}

#[test]
fn versioning_and_delete_markers() {
    let e = env();
    e.mk("v-bkt");
    assert_eq!(
        e.call("GetBucketVersioning", json!({"Bucket": "v-bkt"}))
            .unwrap(),
        json!({})
    );
    e.call(
        "PutBucketVersioning",
        json!({"Bucket": "v-bkt", "VersioningConfiguration": {"Status": "Enabled"}}),
    )
    .unwrap();
    assert_eq!(
        e.call("GetBucketVersioning", json!({"Bucket": "v-bkt"}))
            .unwrap()["Status"],
        "Enabled"
    );
    let v1 = e.put("v-bkt", "k", b"one")["VersionId"]
        .as_str()
        .unwrap()
        .to_string();
    let v2 = e.put("v-bkt", "k", b"two")["VersionId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(v1, v2);
    assert_eq!(
        e.get(json!({"Bucket": "v-bkt", "Key": "k"})).unwrap().1,
        b"two"
    );
    assert_eq!(
        e.get(json!({"Bucket": "v-bkt", "Key": "k", "VersionId": v1}))
            .unwrap()
            .1,
        b"one"
    );
    let d = e
        .call("DeleteObject", json!({"Bucket": "v-bkt", "Key": "k"}))
        .unwrap();
    assert_eq!(d["DeleteMarker"], true);
    let marker = d["VersionId"].as_str().unwrap().to_string();
    assert_eq!(
        code(e.get(json!({"Bucket": "v-bkt", "Key": "k"}))),
        ("NoSuchKey".into(), 404)
    );
    assert_eq!(
        code(e.get(json!({"Bucket": "v-bkt", "Key": "k", "VersionId": marker}))),
        ("MethodNotAllowed".into(), 405)
    );
    assert_eq!(
        code(e.get(json!({"Bucket": "v-bkt", "Key": "k", "VersionId": "nope"}))),
        ("NoSuchVersion".into(), 404)
    );
    let lv = e
        .call("ListObjectVersions", json!({"Bucket": "v-bkt"}))
        .unwrap();
    assert_eq!(lv["Versions"].as_array().unwrap().len(), 2);
    assert_eq!(lv["DeleteMarkers"][0]["IsLatest"], true);
    assert_eq!(lv["Versions"][0]["VersionId"], json!(v2));
    // pagination with KeyMarker / VersionIdMarker
    let p1 = e
        .call(
            "ListObjectVersions",
            json!({"Bucket": "v-bkt", "MaxKeys": 2}),
        )
        .unwrap();
    assert_eq!(p1["IsTruncated"], true);
    let p2 = e
        .call(
            "ListObjectVersions",
            json!({"Bucket": "v-bkt", "KeyMarker": p1["NextKeyMarker"], "VersionIdMarker": p1["NextVersionIdMarker"]}),
        )
        .unwrap();
    assert_eq!(p2["Versions"][0]["VersionId"], json!(v1));
    // the key is hidden from listings but the bucket is not empty
    assert!(e
        .call("ListObjectsV2", json!({"Bucket": "v-bkt"}))
        .unwrap()
        .get("Contents")
        .is_none());
    assert_eq!(
        code(e.call("DeleteBucket", json!({"Bucket": "v-bkt"}))),
        ("BucketNotEmpty".into(), 409)
    );
    // removing the marker restores the object
    let d = e
        .call(
            "DeleteObject",
            json!({"Bucket": "v-bkt", "Key": "k", "VersionId": marker}),
        )
        .unwrap();
    assert_eq!(d["DeleteMarker"], true);
    assert_eq!(
        e.get(json!({"Bucket": "v-bkt", "Key": "k"})).unwrap().1,
        b"two"
    );
    // suspended: puts write the null version, replacing it
    e.call(
        "PutBucketVersioning",
        json!({"Bucket": "v-bkt", "VersioningConfiguration": {"Status": "Suspended"}}),
    )
    .unwrap();
    assert_eq!(e.put("v-bkt", "k", b"n1")["VersionId"], "null");
    assert_eq!(e.put("v-bkt", "k", b"n2")["VersionId"], "null");
    let lv = e
        .call("ListObjectVersions", json!({"Bucket": "v-bkt"}))
        .unwrap();
    assert_eq!(lv["Versions"].as_array().unwrap().len(), 3);
    assert_eq!(
        e.get(json!({"Bucket": "v-bkt", "Key": "k", "VersionId": "null"}))
            .unwrap()
            .1,
        b"n2"
    );
    for v in [&v1, &v2, &"null".to_string()] {
        e.call(
            "DeleteObject",
            json!({"Bucket": "v-bkt", "Key": "k", "VersionId": v}),
        )
        .unwrap();
    }
    assert_eq!(e.blob_files(), 0);
    e.call("DeleteBucket", json!({"Bucket": "v-bkt"})).unwrap();
}

#[test]
fn delete_objects_and_copy() {
    let e = env();
    e.mk("d-bkt");
    e.put("d-bkt", "a", b"A");
    e.put("d-bkt", "b", b"B");
    let o = e
        .call(
            "DeleteObjects",
            json!({"Bucket": "d-bkt", "Delete": {"Objects": [{"Key": "a"}, {"Key": "zz"}]}}),
        )
        .unwrap();
    assert_eq!(o["Deleted"], json!([{"Key": "a"}, {"Key": "zz"}]));
    let o = e
        .call(
            "DeleteObjects",
            json!({"Bucket": "d-bkt", "Delete": {"Objects": [{"Key": "a"}], "Quiet": true}}),
        )
        .unwrap();
    assert_eq!(o, json!({}));
    let c = e
        .call(
            "CopyObject",
            json!({"Bucket": "d-bkt", "Key": "c", "CopySource": "/d-bkt/b"}),
        )
        .unwrap();
    assert_eq!(
        c["CopyObjectResult"]["ETag"],
        format!("\"{}\"", hex(&md5(b"B")))
    );
    assert_eq!(
        e.get(json!({"Bucket": "d-bkt", "Key": "c"})).unwrap().1,
        b"B"
    );
    e.call(
        "CopyObject",
        json!({"Bucket": "d-bkt", "Key": "c", "CopySource": "d-bkt/c", "MetadataDirective": "REPLACE", "Metadata": {"m": "1"}}),
    )
    .unwrap();
    assert_eq!(
        e.get(json!({"Bucket": "d-bkt", "Key": "c"})).unwrap().0["Metadata"],
        json!({"m": "1"})
    );
    assert_eq!(
        code(e.call(
            "CopyObject",
            json!({"Bucket": "d-bkt", "Key": "c", "CopySource": "d-bkt/c"})
        )),
        ("InvalidRequest".into(), 400)
    );
    assert_eq!(
        code(e.call(
            "CopyObject",
            json!({"Bucket": "d-bkt", "Key": "x", "CopySource": "d-bkt/nope"})
        )),
        ("NoSuchKey".into(), 404)
    );
}

#[test]
fn tagging_and_bucket_config() {
    let e = env();
    e.mk("t-bkt");
    e.put("t-bkt", "k", b"1");
    e.call(
        "PutObjectTagging",
        json!({"Bucket": "t-bkt", "Key": "k", "Tagging": {"TagSet": [{"Key": "x", "Value": "y"}]}}),
    )
    .unwrap();
    assert_eq!(
        e.call("GetObjectTagging", json!({"Bucket": "t-bkt", "Key": "k"}))
            .unwrap()["TagSet"],
        json!([{"Key": "x", "Value": "y"}])
    );
    e.call(
        "DeleteObjectTagging",
        json!({"Bucket": "t-bkt", "Key": "k"}),
    )
    .unwrap();
    assert_eq!(
        e.call("GetObjectTagging", json!({"Bucket": "t-bkt", "Key": "k"}))
            .unwrap()["TagSet"],
        json!([])
    );
    assert_eq!(
        code(e.call("GetBucketTagging", json!({"Bucket": "t-bkt"}))),
        ("NoSuchTagSet".into(), 404)
    );
    e.call(
        "PutBucketTagging",
        json!({"Bucket": "t-bkt", "Tagging": {"TagSet": [{"Key": "env", "Value": "dev"}]}}),
    )
    .unwrap();
    assert_eq!(
        e.call("GetBucketTagging", json!({"Bucket": "t-bkt"}))
            .unwrap()["TagSet"],
        json!([{"Key": "env", "Value": "dev"}])
    );
    assert_eq!(
        code(e.call("PutBucketTagging", json!({"Bucket": "t-bkt", "Tagging": {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}}))),
        ("InvalidTag".into(), 400)
    );
    e.call("DeleteBucketTagging", json!({"Bucket": "t-bkt"}))
        .unwrap();
    assert_eq!(
        code(e.call("GetBucketTagging", json!({"Bucket": "t-bkt"}))),
        ("NoSuchTagSet".into(), 404)
    );
    // stored configurations
    let cases = [
        (
            "PutPublicAccessBlock",
            "GetPublicAccessBlock",
            "DeletePublicAccessBlock",
            "PublicAccessBlockConfiguration",
            json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": false}),
            "NoSuchPublicAccessBlockConfiguration",
        ),
        (
            "PutBucketOwnershipControls",
            "GetBucketOwnershipControls",
            "DeleteBucketOwnershipControls",
            "OwnershipControls",
            json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}),
            "OwnershipControlsNotFoundError",
        ),
        (
            "PutBucketEncryption",
            "GetBucketEncryption",
            "DeleteBucketEncryption",
            "ServerSideEncryptionConfiguration",
            json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/k"}, "BucketKeyEnabled": true}]}),
            "ServerSideEncryptionConfigurationNotFoundError",
        ),
    ];
    // Encryption is never "not found": unconfigured, every bucket has
    // SSE-S3 (AWS since January 2023).
    let absent = |get: &str, member: &str, missing: &str| {
        if member == "ServerSideEncryptionConfiguration" {
            assert_eq!(
                e.call(get, json!({"Bucket": "t-bkt"})).unwrap()[member],
                json!({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": false}]})
            );
        } else {
            assert_eq!(
                code(e.call(get, json!({"Bucket": "t-bkt"}))),
                (missing.to_string(), 404)
            );
        }
    };
    // New buckets have a public access block and ownership controls
    // (tested in new_buckets_block_public_policies_until_allowed): start
    // from none.
    e.call("DeletePublicAccessBlock", json!({"Bucket": "t-bkt"}))
        .unwrap();
    e.call("DeleteBucketOwnershipControls", json!({"Bucket": "t-bkt"}))
        .unwrap();
    for (put, get, del, member, v, missing) in cases {
        absent(get, member, missing);
        e.call(put, json!({"Bucket": "t-bkt", member: v})).unwrap();
        assert_eq!(e.call(get, json!({"Bucket": "t-bkt"})).unwrap()[member], v);
        if member == "ServerSideEncryptionConfiguration" {
            // the default names a KMS alias that does not exist: the PUT
            // fails with S3's KMS error and stores nothing
            let r = e.stream(
                "PutObject",
                json!({"Bucket": "t-bkt", "Key": "enc"}),
                b"secret",
            );
            assert_eq!(code(r), ("KMS.NotFoundException".into(), 400));
            assert!(e.s3.obj("t-bkt", "enc").unwrap().is_none());
        }
        e.call(del, json!({"Bucket": "t-bkt"})).unwrap();
        absent(get, member, missing);
    }
    let lc = json!({"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}}]});
    assert_eq!(
        code(e.call(
            "GetBucketLifecycleConfiguration",
            json!({"Bucket": "t-bkt"})
        )),
        ("NoSuchLifecycleConfiguration".into(), 404)
    );
    e.call(
        "PutBucketLifecycleConfiguration",
        json!({"Bucket": "t-bkt", "LifecycleConfiguration": lc}),
    )
    .unwrap();
    assert_eq!(
        e.call(
            "GetBucketLifecycleConfiguration",
            json!({"Bucket": "t-bkt"})
        )
        .unwrap()["Rules"],
        lc["Rules"]
    );
    let cors = json!({"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]});
    assert_eq!(
        code(e.call("GetBucketCors", json!({"Bucket": "t-bkt"}))),
        ("NoSuchCORSConfiguration".into(), 404)
    );
    e.call(
        "PutBucketCors",
        json!({"Bucket": "t-bkt", "CORSConfiguration": cors}),
    )
    .unwrap();
    assert_eq!(
        e.call("GetBucketCors", json!({"Bucket": "t-bkt"})).unwrap()["CORSRules"],
        cors["CORSRules"]
    );
}

#[test]
fn bucket_policy_round_trip_and_targets() {
    let e = env();
    e.mk("p-bkt");
    assert_eq!(
        code(e.call("GetBucketPolicy", json!({"Bucket": "p-bkt"}))),
        ("NoSuchBucketPolicy".into(), 404)
    );
    let r = e.call(
        "PutBucketPolicy",
        json!({"Bucket": "p-bkt", "Policy": "not json"}),
    );
    assert_eq!(code(r), ("MalformedPolicy".into(), 400));
    let r = e.call("PutBucketPolicy", json!({"Bucket": "p-bkt", "Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::p-bkt/*\"}]}"}));
    let err = r.unwrap_err();
    assert_eq!(err.code, "MalformedPolicy");
    assert!(!err.message.is_empty());
    let pol = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::p-bkt/*"}]}"#;
    e.call("PutBucketPolicy", json!({"Bucket": "p-bkt", "Policy": pol}))
        .unwrap();
    assert_eq!(
        e.call("GetBucketPolicy", json!({"Bucket": "p-bkt"}))
            .unwrap()["Policy"],
        pol
    );
    let t =
        e.s3.targets(
            &e.ctx(),
            "GetObject",
            &json!({"Bucket": "p-bkt", "Key": "a/b"}),
        )
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].action, "s3:GetObject");
    assert_eq!(t[0].resource, "arn:aws:s3:::p-bkt/a/b");
    assert_eq!(t[0].resource_account.as_deref(), Some(ACCT));
    assert_eq!(
        t[0].resource_policy.as_ref().unwrap().0,
        "arn:aws:s3:::p-bkt (bucket policy)"
    );
    let t =
        e.s3.targets(
            &e.ctx(),
            "GetObject",
            &json!({"Bucket": "p-bkt", "Key": "k", "VersionId": "v"}),
        )
        .unwrap();
    assert_eq!(t[0].action, "s3:GetObjectVersion");
    let t =
        e.s3.targets(
            &e.ctx(),
            "ListObjectsV2",
            &json!({"Bucket": "p-bkt", "Prefix": "x/", "MaxKeys": 5}),
        )
        .unwrap();
    assert_eq!(t[0].action, "s3:ListBucket");
    assert_eq!(t[0].resource, "arn:aws:s3:::p-bkt");
    assert!(t[0]
        .context
        .contains(&("s3:prefix".into(), vec!["x/".into()])));
    assert!(t[0]
        .context
        .contains(&("s3:max-keys".into(), vec!["5".into()])));
    let t = e.s3.targets(&e.ctx(), "ListBuckets", &json!({})).unwrap();
    assert_eq!(
        (t[0].action.as_str(), t[0].resource.as_str()),
        ("s3:ListAllMyBuckets", "*")
    );
    let t = e
        .s3
        .targets(&e.ctx(), "DeleteObjects", &json!({"Bucket": "p-bkt", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "1"}]}}))
        .unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].action, "s3:DeleteObjectVersion");
    let t =
        e.s3.targets(
            &e.ctx(),
            "CopyObject",
            &json!({"Bucket": "p-bkt", "Key": "dst", "CopySource": "p-bkt/src"}),
        )
        .unwrap();
    assert_eq!(
        t.iter().map(|t| t.action.as_str()).collect::<Vec<_>>(),
        ["s3:PutObject", "s3:GetObject"]
    );
    assert_eq!(
        super::authz::action_for("PutBucketEncryption", false),
        Some("s3:PutEncryptionConfiguration")
    );
    e.call("DeleteBucketPolicy", json!({"Bucket": "p-bkt"}))
        .unwrap();
    let t =
        e.s3.targets(
            &e.ctx(),
            "GetObject",
            &json!({"Bucket": "p-bkt", "Key": "k"}),
        )
        .unwrap();
    assert!(t[0].resource_policy.is_none());
}

#[test]
fn reopen_sweeps_orphans_and_keeps_objects() {
    let e = env();
    e.mk("r-bkt");
    e.put("r-bkt", "k", b"kept");
    // an orphan blob (crash after the blob was durable, before the row)
    let orphan = e
        .dir
        .path()
        .join("blobs/ff/ee/ffee0000000000000000000000000000");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphan").unwrap();
    std::fs::write(e.dir.path().join("blobs/tmp/partial"), b"p").unwrap();
    assert_eq!(e.blob_files(), 2);
    let s3 = S3::open(&e.store, e.dir.path(), std::sync::Arc::clone(&e.kms)).unwrap();
    assert!(!orphan.exists());
    assert_eq!(e.blob_files(), 1);
    assert_eq!(e.tmp_files(), 0);
    let r = s3
        .call_stream(
            &e.ctx(),
            "GetObject",
            json!({"Bucket": "r-bkt", "Key": "k"}),
            None,
        )
        .unwrap();
    let mut b = Vec::new();
    r.body.unwrap().reader.read_to_end(&mut b).unwrap();
    assert_eq!(b, b"kept");
}

#[test]
fn outputs_serialize_with_the_s3_model() {
    let e = env();
    e.mk("w-bkt");
    e.put("w-bkt", "k", b"abc");
    let m = ironsage_model::model("s3").unwrap();
    let op = m.operation("ListObjectsV2").unwrap();
    let out = e.call("ListObjectsV2", json!({"Bucket": "w-bkt"})).unwrap();
    let r = ironsage_wire::serialize_output(m, op, &out, "rid");
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.contains("<Key>k</Key>"), "{body}");
    assert!(
        body.contains("<ETag>&quot;900150983cd24fb0d6963f7d28e17f72&quot;</ETag>")
            || body.contains("<ETag>\"900150983cd24fb0d6963f7d28e17f72\"</ETag>"),
        "{body}"
    );
    let op = m.operation("GetObject").unwrap();
    let g =
        e.s3.call_stream(
            &e.ctx(),
            "GetObject",
            json!({"Bucket": "w-bkt", "Key": "k", "Range": "bytes=0-1"}),
            None,
        )
        .unwrap();
    let r = ironsage_wire::serialize_output(m, op, &g.output, "rid");
    assert_eq!(r.header("Content-Range"), Some("bytes 0-1/3"));
    assert_eq!(r.header("Content-Length"), Some("2"));
    assert_eq!(
        r.header("ETag"),
        Some("\"900150983cd24fb0d6963f7d28e17f72\"")
    );
    assert!(r.header("Last-Modified").is_some());
}

// ---------------------------------------------------------------- server-side encryption

/// The byte `Gen` produces at offset `i`.
fn gen_byte(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

fn gen_bytes(from: u64, len: u64) -> Vec<u8> {
    (from..from + len).map(gen_byte).collect()
}

impl Env {
    /// A new symmetric KMS key (with `alias`); returns its ARN.
    fn kms_key(&self, alias: &str) -> String {
        let md = self.kms.call(&self.ctx(), "CreateKey", json!({})).unwrap();
        let arn = md["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
        self.kms
            .call(
                &self.ctx(),
                "CreateAlias",
                json!({"AliasName": alias, "TargetKeyId": arn}),
            )
            .unwrap();
        arn
    }
    fn head(&self, bucket: &str, key: &str) -> Result<Value, AwsError> {
        self.s3
            .call_stream(
                &self.ctx(),
                "HeadObject",
                json!({"Bucket": bucket, "Key": key}),
                None,
            )
            .map(|r| r.output)
    }
    /// Every blob file under the data dir, with its bytes.
    fn blob_bytes(&self) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.path().join("blobs")];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let b = std::fs::read(&p).unwrap();
                    out.push((p, b));
                }
            }
        }
        out
    }
    /// Whether `needle` occurs in any file under the data dir (blobs,
    /// database, WAL).
    fn on_disk(&self, needle: &[u8]) -> bool {
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    // The store's flusher removes journal files it has
                    // applied: one may vanish between listing and reading.
                    let bytes = match std::fs::read(&p) {
                        Ok(b) => b,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => panic!("{}: {e}", p.display()),
                    };
                    if bytes.windows(needle.len()).any(|w| w == needle) {
                        return true;
                    }
                }
            }
        }
        false
    }
    fn blob_path(&self, id: &str) -> std::path::PathBuf {
        self.s3.blobs.path(id).unwrap()
    }
    fn version(&self, bucket: &str, key: &str) -> super::Version {
        self.s3.obj(bucket, key).unwrap().unwrap().versions[0].clone()
    }
}

fn put_gen(e: &Env, input: Value, size: u64) -> Value {
    e.s3.call_stream(
        &e.ctx(),
        "PutObject",
        input,
        Some(Box::new(Gen {
            left: size,
            i: 0,
            chunk: 1000,
        })),
    )
    .unwrap()
    .output
}

/// Reads a whole GET body in 4 KiB reads, checking it against `Gen`.
fn check_gen_get(e: &Env, bucket: &str, key: &str, size: u64) {
    let g =
        e.s3.call_stream(
            &e.ctx(),
            "GetObject",
            json!({"Bucket": bucket, "Key": key}),
            None,
        )
        .unwrap();
    let body = g.body.unwrap();
    assert_eq!(body.length, size);
    let mut reader = body.reader;
    let mut buf = vec![0u8; 4096];
    let mut pos = 0u64;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert_eq!(&buf[..n], &gen_bytes(pos, n as u64)[..], "at {pos}");
        pos += n as u64;
    }
    assert_eq!(pos, size);
}

fn check_ranges(e: &Env, bucket: &str, key: &str, size: u64, ranges: &[(u64, u64)]) {
    for &(a, b) in ranges {
        let (out, got) = e
            .get(json!({"Bucket": bucket, "Key": key, "Range": format!("bytes={a}-{b}")}))
            .unwrap();
        assert_eq!(out["ContentRange"], format!("bytes {a}-{b}/{size}"));
        assert_eq!(got, gen_bytes(a, b - a + 1), "range {a}-{b}");
    }
}

#[test]
fn sse_s3_twenty_mib_streamed_round_trip_and_ranges() {
    let e = env();
    e.mk("enc");
    let size = 20 * 1024 * 1024u64 + 77;
    let out = put_gen(
        &e,
        json!({"Bucket": "enc", "Key": "big", "ServerSideEncryption": "AES256", "ContentLength": size}),
        size,
    );
    assert_eq!(out["ServerSideEncryption"], "AES256");
    assert!(out.get("SSEKMSKeyId").is_none());
    // ETag is the MD5 of the plaintext.
    let mut h = Md5::new();
    h.update(&gen_bytes(0, size));
    assert_eq!(out["ETag"], format!("\"{}\"", hex(&h.finish())));
    let v = e.version("enc", "big");
    assert_eq!(v.size, size);
    let sse = v.sse.clone().unwrap();
    assert_eq!(sse.algorithm, "AES256");
    // On disk: the framed ciphertext, exactly encrypted_len(size) bytes.
    let disk = std::fs::read(e.blob_path(&v.blobs[0].id)).unwrap();
    assert_eq!(disk.len() as u64, ironsage_crypto::encrypted_len(size));
    assert_ne!(&disk[8..4104], &gen_bytes(0, 4096)[..]);
    check_gen_get(&e, "enc", "big", size);
    let f = 65536u64;
    check_ranges(
        &e,
        "enc",
        "big",
        size,
        &[
            (0, 0),
            (f - 1, f),
            (f - 3, 3 * f + 5),
            (10 * f, 10 * f),
            (size - 100, size - 1),
            (5_000_000, 9_000_000),
        ],
    );
    let (out, got) = e
        .get(json!({"Bucket": "enc", "Key": "big", "Range": "bytes=-10"}))
        .unwrap();
    assert_eq!(got, gen_bytes(size - 10, 10));
    assert_eq!(out["ServerSideEncryption"], "AES256");
    let h = e.head("enc", "big").unwrap();
    assert_eq!(h["ServerSideEncryption"], "AES256");
    assert_eq!(h["ContentLength"], size);
    // Still readable after a restart (the master key persists).
    let s3 = S3::open(&e.store, e.dir.path(), std::sync::Arc::clone(&e.kms)).unwrap();
    let r = s3
        .call_stream(
            &e.ctx(),
            "GetObject",
            json!({"Bucket": "enc", "Key": "big", "Range": "bytes=100-199"}),
            None,
        )
        .unwrap();
    let mut b = Vec::new();
    r.body.unwrap().reader.read_to_end(&mut b).unwrap();
    assert_eq!(b, gen_bytes(100, 100));
}

#[test]
fn plaintext_marker_never_reaches_disk() {
    let e = env();
    e.mk("plain");
    e.mk("secret");
    let marker = b"IRONSAGE-PLAINTEXT-MARKER-5d1c";
    let mut body = Vec::new();
    for i in 0..5000 {
        body.extend_from_slice(marker);
        body.extend_from_slice(format!("#{i};").as_bytes());
    }
    // Control: the scan sees what is stored unencrypted (user metadata,
    // which S3 does not encrypt either) wherever it lands: journal,
    // database or blob files.
    let meta_marker = "IRONSAGE-METADATA-MARKER-77e1";
    e.stream(
        "PutObject",
        json!({"Bucket": "plain", "Key": "meta", "Metadata": {"note": meta_marker}}),
        b"x",
    )
    .unwrap();
    assert!(e.on_disk(meta_marker.as_bytes()));
    // No encryption asked for and no bucket configuration: SSE-S3 all the
    // same (every bucket's base level).
    let out = e.put("plain", "k", &body);
    assert_eq!(out["ServerSideEncryption"], "AES256");
    let arn = e.kms_key("alias/ml");
    e.stream(
        "PutObject",
        json!({"Bucket": "secret", "Key": "s3", "ServerSideEncryption": "AES256"}),
        &body,
    )
    .unwrap();
    e.stream(
        "PutObject",
        json!({"Bucket": "secret", "Key": "kms", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn}),
        &body,
    )
    .unwrap();
    e.call(
        "CopyObject",
        json!({"Bucket": "secret", "Key": "copy", "CopySource": "secret/kms", "ServerSideEncryption": "AES256"}),
    )
    .unwrap();
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "secret", "Key": "mp", "ServerSideEncryption": "aws:kms"}),
        )
        .unwrap();
    let id = up["UploadId"].as_str().unwrap();
    let p = e
        .stream(
            "UploadPart",
            json!({"Bucket": "secret", "Key": "mp", "UploadId": id, "PartNumber": 1}),
            &body,
        )
        .unwrap();
    e.call(
        "CompleteMultipartUpload",
        json!({"Bucket": "secret", "Key": "mp", "UploadId": id,
               "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": p.output["ETag"]}]}}),
    )
    .unwrap();
    assert_eq!(e.blob_bytes().len(), 6);
    for (path, bytes) in e.blob_bytes() {
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker),
            "plaintext in {}",
            path.display()
        );
    }
    assert!(!e.on_disk(marker));
    for k in ["s3", "kms", "copy", "mp"] {
        assert_eq!(
            e.get(json!({"Bucket": "secret", "Key": k})).unwrap().1,
            body,
            "{k}"
        );
    }
    assert_eq!(
        e.get(json!({"Bucket": "plain", "Key": "k"})).unwrap().1,
        body
    );
    // Deleting removes the blob and the row with its wrapped key.
    e.call("DeleteObject", json!({"Bucket": "secret", "Key": "s3"}))
        .unwrap();
    assert!(e.s3.obj("secret", "s3").unwrap().is_none());
    assert_eq!(e.blob_files(), 5);
}

#[test]
fn sse_kms_round_trip_reports_key_and_authorizes_kms() {
    let e = env();
    e.mk("kkb");
    let arn = e.kms_key("alias/ml-data");
    let body = gen_bytes(0, 300_000);
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "kkb", "Key": "model.bin", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/ml-data"}),
            &body,
        )
        .unwrap()
        .output;
    assert_eq!(out["ServerSideEncryption"], "aws:kms");
    assert_eq!(out["SSEKMSKeyId"], arn);
    // As on AWS, the ETag of an SSE-KMS object is 32 hex digits but not the
    // MD5 of its data.
    let etag = out["ETag"].as_str().unwrap();
    assert_eq!(etag.len(), 34);
    assert!(etag
        .trim_matches('"')
        .bytes()
        .all(|b| b.is_ascii_hexdigit()));
    assert_ne!(etag, format!("\"{}\"", hex(&md5(&body))));
    // A Content-MD5 that was sent is still verified.
    let bad = e.stream(
        "PutObject",
        json!({"Bucket": "kkb", "Key": "md5", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/ml-data", "ContentMD5": B64.encode(md5(b"other"))}),
        &body,
    );
    assert_eq!(code(bad), ("BadDigest".into(), 400));
    let good = e.stream(
        "PutObject",
        json!({"Bucket": "kkb", "Key": "md5", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/ml-data", "ContentMD5": B64.encode(md5(&body))}),
        &body,
    );
    assert!(good.is_ok());
    let v = e.version("kkb", "model.bin");
    let sse = v.sse.clone().unwrap();
    assert_eq!(sse.key_arn.as_deref(), Some(arn.as_str()));
    assert_eq!(
        sse.context,
        vec![(
            "aws:s3:arn".to_string(),
            "arn:aws:s3:::kkb/model.bin".to_string()
        )]
    );
    let (g, got) = e.get(json!({"Bucket": "kkb", "Key": "model.bin"})).unwrap();
    assert_eq!(got, body);
    assert_eq!(g["ServerSideEncryption"], "aws:kms");
    assert_eq!(g["SSEKMSKeyId"], arn);
    check_ranges(
        &e,
        "kkb",
        "model.bin",
        300_000,
        &[(65530, 65540), (131_071, 131_072), (299_990, 299_999)],
    );
    let h = e.head("kkb", "model.bin").unwrap();
    assert_eq!(h["ServerSideEncryption"], "aws:kms");
    assert_eq!(h["SSEKMSKeyId"], arn);
    // The data key blob is a KMS ciphertext under that key.
    let blob = B64.decode(&sse.wrapped).unwrap();
    assert_eq!(
        e.kms.key_for_blob(ACCT, "us-east-1", &blob).unwrap().arn,
        arn
    );

    // PutObject: s3:PutObject with the SSE condition keys, plus
    // kms:GenerateDataKey on the key with its policy and kms:ViaService.
    let ts = e
        .s3
        .targets(
            &e.ctx(),
            "PutObject",
            &json!({"Bucket": "kkb", "Key": "x", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/ml-data"}),
        )
        .unwrap();
    let ctx_of =
        |t: &crate::Target, k: &str| t.context.iter().find(|c| c.0 == k).map(|c| c.1.clone());
    assert_eq!(ts[0].action, "s3:PutObject");
    assert_eq!(
        ctx_of(&ts[0], "s3:x-amz-server-side-encryption"),
        Some(vec!["aws:kms".to_string()])
    );
    assert_eq!(
        ctx_of(&ts[0], "s3:x-amz-server-side-encryption-aws-kms-key-id"),
        Some(vec!["alias/ml-data".to_string()])
    );
    let k = ts
        .iter()
        .find(|t| t.action == "kms:GenerateDataKey")
        .expect("kms:GenerateDataKey target");
    assert_eq!(k.resource, arn);
    assert!(k.resource_policy.as_ref().unwrap().0.contains("key policy"));
    assert_eq!(k.resource_account.as_deref(), Some(ACCT));
    assert_eq!(
        ctx_of(k, "kms:ViaService"),
        Some(vec!["s3.us-east-1.amazonaws.com".to_string()])
    );
    assert_eq!(
        ctx_of(k, "kms:EncryptionContext:aws:s3:arn"),
        Some(vec!["arn:aws:s3:::kkb/x".to_string()])
    );
    // An unencrypted PutObject needs no KMS permission.
    let ts =
        e.s3.targets(&e.ctx(), "PutObject", &json!({"Bucket": "kkb", "Key": "x"}))
            .unwrap();
    assert!(ts.iter().all(|t| !t.action.starts_with("kms:")));
    // HeadObject reads metadata only: s3:GetObject, no KMS permission (as
    // AWS documents it).
    let ts =
        e.s3.targets(
            &e.ctx(),
            "HeadObject",
            &json!({"Bucket": "kkb", "Key": "model.bin"}),
        )
        .unwrap();
    assert!(ts.iter().all(|t| !t.action.starts_with("kms:")));
    // GetObject: kms:Decrypt on the object's key.
    {
        let ts =
            e.s3.targets(
                &e.ctx(),
                "GetObject",
                &json!({"Bucket": "kkb", "Key": "model.bin"}),
            )
            .unwrap();
        let d = ts
            .iter()
            .find(|t| t.action == "kms:Decrypt")
            .expect("kms:Decrypt target");
        assert_eq!(d.resource, arn);
        assert!(d.resource_policy.is_some());
        assert_eq!(
            ctx_of(d, "kms:ViaService"),
            Some(vec!["s3.us-east-1.amazonaws.com".to_string()])
        );
    }
    // CopyObject: Decrypt on the source's key, GenerateDataKey on the
    // destination's (here the AWS-managed aws/s3 key).
    let ts = e
        .s3
        .targets(
            &e.ctx(),
            "CopyObject",
            &json!({"Bucket": "kkb", "Key": "c", "CopySource": "kkb/model.bin", "ServerSideEncryption": "aws:kms"}),
        )
        .unwrap();
    let managed = e
        .kms
        .resolve_key(ACCT, "us-east-1", "alias/aws/s3")
        .unwrap();
    assert!(ts
        .iter()
        .any(|t| t.action == "kms:Decrypt" && t.resource == arn));
    assert!(ts
        .iter()
        .any(|t| t.action == "kms:GenerateDataKey" && t.resource == managed.arn));
    // No key id: the AWS-managed alias/aws/s3 key.
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "kkb", "Key": "managed", "ServerSideEncryption": "aws:kms"}),
            b"managed",
        )
        .unwrap()
        .output;
    assert_eq!(out["SSEKMSKeyId"], managed.arn);
    assert_eq!(
        e.get(json!({"Bucket": "kkb", "Key": "managed"})).unwrap().1,
        b"managed"
    );
    // An unknown key fails as S3 reports KMS errors, storing nothing.
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "kkb", "Key": "nokey", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/missing"}),
        b"x",
    );
    assert_eq!(code(r), ("KMS.NotFoundException".into(), 400));
    assert!(e.s3.obj("kkb", "nokey").unwrap().is_none());
    // A user-supplied encryption context is used and echoed.
    let ctx = B64.encode(r#"{"project":"fraud"}"#);
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "kkb", "Key": "ctx", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn, "SSEKMSEncryptionContext": ctx}),
            b"ctx body",
        )
        .unwrap()
        .output;
    assert_eq!(out["SSEKMSEncryptionContext"], ctx);
    assert_eq!(
        e.get(json!({"Bucket": "kkb", "Key": "ctx"})).unwrap().1,
        b"ctx body"
    );
}

#[test]
fn bucket_default_encryption_applies() {
    let e = env();
    e.mk("dd3");
    e.call(
        "PutBucketEncryption",
        json!({"Bucket": "dd3", "ServerSideEncryptionConfiguration":
            {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}),
    )
    .unwrap();
    let out = e.put("dd3", "k", b"default sse-s3");
    assert_eq!(out["ServerSideEncryption"], "AES256");
    assert_eq!(e.version("dd3", "k").sse.unwrap().algorithm, "AES256");
    assert_eq!(
        e.head("dd3", "k").unwrap()["ServerSideEncryption"],
        "AES256"
    );
    assert_eq!(
        e.get(json!({"Bucket": "dd3", "Key": "k"})).unwrap().1,
        b"default sse-s3"
    );
    // An explicit header overrides the default.
    let arn = e.kms_key("alias/bk");
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "dd3", "Key": "k2", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn}),
            b"x",
        )
        .unwrap()
        .output;
    assert_eq!(out["ServerSideEncryption"], "aws:kms");

    e.mk("ddk");
    e.call(
        "PutBucketEncryption",
        json!({"Bucket": "ddk", "ServerSideEncryptionConfiguration":
            {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/bk"}, "BucketKeyEnabled": true}]}}),
    )
    .unwrap();
    let out = e.put("ddk", "k", b"default kms");
    assert_eq!(out["ServerSideEncryption"], "aws:kms");
    assert_eq!(out["SSEKMSKeyId"], arn);
    assert_eq!(out["BucketKeyEnabled"], true);
    let v = e.version("ddk", "k");
    // With a bucket key, S3's context is the bucket ARN.
    assert_eq!(
        v.sse.unwrap().context,
        vec![("aws:s3:arn".to_string(), "arn:aws:s3:::ddk".to_string())]
    );
    let (g, got) = e.get(json!({"Bucket": "ddk", "Key": "k"})).unwrap();
    assert_eq!(got, b"default kms");
    assert_eq!(g["SSEKMSKeyId"], arn);
    assert_eq!(g["BucketKeyEnabled"], true);
    // The default also applies to multipart uploads and copies into it.
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "ddk", "Key": "mp"}),
        )
        .unwrap();
    assert_eq!(up["ServerSideEncryption"], "aws:kms");
    assert_eq!(up["SSEKMSKeyId"], arn);
}

#[test]
fn disabled_kms_key_fails_get_with_the_kms_error() {
    let e = env();
    e.mk("dis");
    let arn = e.kms_key("alias/dis");
    e.stream(
        "PutObject",
        json!({"Bucket": "dis", "Key": "k", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn}),
        b"locked",
    )
    .unwrap();
    e.kms
        .call(&e.ctx(), "DisableKey", json!({"KeyId": arn}))
        .unwrap();
    let r = e.get(json!({"Bucket": "dis", "Key": "k"}));
    assert_eq!(code(r), ("KMS.DisabledException".into(), 400));
    // Writes under the disabled key fail too, storing nothing.
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "dis", "Key": "k2", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn}),
        b"x",
    );
    assert_eq!(code(r), ("KMS.DisabledException".into(), 400));
    assert!(e.s3.obj("dis", "k2").unwrap().is_none());
    e.kms
        .call(&e.ctx(), "EnableKey", json!({"KeyId": arn}))
        .unwrap();
    assert_eq!(
        e.get(json!({"Bucket": "dis", "Key": "k"})).unwrap().1,
        b"locked"
    );
}

#[test]
fn tampered_ciphertext_is_detected_never_served() {
    let e = env();
    e.mk("ttb");
    let size = 5 * 65536 + 10;
    put_gen(
        &e,
        json!({"Bucket": "ttb", "Key": "k", "ServerSideEncryption": "AES256"}),
        size,
    );
    let v = e.version("ttb", "k");
    let path = e.blob_path(&v.blobs[0].id);
    let good = std::fs::read(&path).unwrap();
    let frame = 65536 + 16;
    // A flipped byte in frame 0: the GET fails before any byte is sent.
    let mut bad = good.clone();
    bad[8 + 100] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    assert_eq!(
        code(e.get(json!({"Bucket": "ttb", "Key": "k"}))),
        ("InternalError".into(), 500)
    );
    // A flipped byte in frame 3: a range inside it fails up front; a full
    // read fails when it reaches the frame, after only authentic bytes.
    let mut bad = good.clone();
    bad[8 + 3 * frame + 5] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let r = e.get(json!({"Bucket": "ttb", "Key": "k", "Range": format!("bytes={}-{}", 3 * 65536, 3 * 65536 + 10)}));
    assert_eq!(code(r), ("InternalError".into(), 500));
    let g =
        e.s3.call_stream(
            &e.ctx(),
            "GetObject",
            json!({"Bucket": "ttb", "Key": "k"}),
            None,
        )
        .unwrap();
    let mut reader = g.body.unwrap().reader;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    let failed = loop {
        match reader.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break true,
        }
    };
    assert!(failed, "tampering went unnoticed");
    assert_eq!(got.len(), 3 * 65536);
    assert_eq!(got, gen_bytes(0, got.len() as u64));
    // Frames swapped within the file, or the file truncated: refused.
    let mut swapped = good.clone();
    let (a, b) = (8..8 + frame, 8 + frame..8 + 2 * frame);
    let fa = good[a.clone()].to_vec();
    swapped[a].copy_from_slice(&good[b.clone()]);
    swapped[b].copy_from_slice(&fa);
    std::fs::write(&path, &swapped).unwrap();
    assert!(e.get(json!({"Bucket": "ttb", "Key": "k"})).is_err());
    std::fs::write(&path, &good[..good.len() - 1]).unwrap();
    assert!(e.get(json!({"Bucket": "ttb", "Key": "k"})).is_err());
    // Another object's ciphertext moved into place: refused (frames are
    // bound to the blob id and key).
    put_gen(
        &e,
        json!({"Bucket": "ttb", "Key": "other", "ServerSideEncryption": "AES256"}),
        size,
    );
    let other = std::fs::read(e.blob_path(&e.version("ttb", "other").blobs[0].id)).unwrap();
    std::fs::write(&path, &other).unwrap();
    assert!(e.get(json!({"Bucket": "ttb", "Key": "k"})).is_err());
    // Restored: served again.
    std::fs::write(&path, &good).unwrap();
    check_gen_get(&e, "ttb", "k", size);
}

#[test]
fn multipart_sse_kms_ranges_across_parts_and_part_copy() {
    let e = env();
    e.mk("mpb");
    let arn = e.kms_key("alias/mp");
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "mpb", "Key": "obj", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/mp"}),
        )
        .unwrap();
    assert_eq!(up["ServerSideEncryption"], "aws:kms");
    assert_eq!(up["SSEKMSKeyId"], arn);
    let id = up["UploadId"].as_str().unwrap().to_string();
    let p1len = 5 * 1024 * 1024 + 1000u64;
    let all = gen_bytes(0, p1len + 200_000);
    let p1 = e
        .stream(
            "UploadPart",
            json!({"Bucket": "mpb", "Key": "obj", "UploadId": id, "PartNumber": 1}),
            &all[..p1len as usize],
        )
        .unwrap()
        .output;
    assert_eq!(p1["ServerSideEncryption"], "aws:kms");
    assert_eq!(
        p1["ETag"],
        format!("\"{}\"", hex(&md5(&all[..p1len as usize])))
    );
    let p2 = e
        .stream(
            "UploadPart",
            json!({"Bucket": "mpb", "Key": "obj", "UploadId": id, "PartNumber": 2}),
            &all[p1len as usize..],
        )
        .unwrap()
        .output;
    // UploadPart is authorized against the upload's key.
    let ts =
        e.s3.targets(
            &e.ctx(),
            "UploadPart",
            &json!({"Bucket": "mpb", "Key": "obj", "UploadId": id, "PartNumber": 3}),
        )
        .unwrap();
    assert!(ts
        .iter()
        .any(|t| t.action == "kms:GenerateDataKey" && t.resource == arn));
    let done = e
        .call(
            "CompleteMultipartUpload",
            json!({"Bucket": "mpb", "Key": "obj", "UploadId": id,
                   "MultipartUpload": {"Parts": [
                       {"PartNumber": 1, "ETag": p1["ETag"]},
                       {"PartNumber": 2, "ETag": p2["ETag"]}]}}),
        )
        .unwrap();
    assert_eq!(done["ServerSideEncryption"], "aws:kms");
    assert!(done["ETag"].as_str().unwrap().ends_with("-2\""));
    let v = e.version("mpb", "obj");
    assert_eq!(v.blobs.len(), 2);
    assert_ne!(v.blobs[0].id, v.blobs[1].id);
    assert_eq!(
        v.sse.as_ref().unwrap().key_arn.as_deref(),
        Some(arn.as_str())
    );
    let size = all.len() as u64;
    check_gen_get(&e, "mpb", "obj", size);
    check_ranges(
        &e,
        "mpb",
        "obj",
        size,
        &[
            (p1len - 10, p1len + 10),
            (p1len - 1, p1len),
            (65530, p1len + 65540),
            (size - 5, size - 1),
        ],
    );
    // The parts' frames are bound to their blobs: swapping the part files
    // is detected.
    let (a, b) = (e.blob_path(&v.blobs[0].id), e.blob_path(&v.blobs[1].id));
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    std::fs::write(&a, &bb[..]).unwrap();
    std::fs::write(&b, &ba[..]).unwrap();
    assert!(e.get(json!({"Bucket": "mpb", "Key": "obj"})).is_err());
    std::fs::write(&a, &ba[..]).unwrap();
    std::fs::write(&b, &bb[..]).unwrap();

    // UploadPartCopy from an SSE-KMS source into an SSE-S3 upload.
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "mpb", "Key": "copy", "ServerSideEncryption": "AES256"}),
        )
        .unwrap();
    let id2 = up["UploadId"].as_str().unwrap().to_string();
    let pc = e
        .call(
            "UploadPartCopy",
            json!({"Bucket": "mpb", "Key": "copy", "UploadId": id2, "PartNumber": 1,
                   "CopySource": "mpb/obj", "CopySourceRange": format!("bytes={}-{}", p1len - 100, p1len + 99)}),
        )
        .unwrap();
    let ts = e
        .s3
        .targets(
            &e.ctx(),
            "UploadPartCopy",
            &json!({"Bucket": "mpb", "Key": "copy", "UploadId": id2, "PartNumber": 1, "CopySource": "mpb/obj"}),
        )
        .unwrap();
    assert!(ts
        .iter()
        .any(|t| t.action == "kms:Decrypt" && t.resource == arn));
    e.call(
        "CompleteMultipartUpload",
        json!({"Bucket": "mpb", "Key": "copy", "UploadId": id2,
               "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": pc["CopyPartResult"]["ETag"]}]}}),
    )
    .unwrap();
    let (g, got) = e.get(json!({"Bucket": "mpb", "Key": "copy"})).unwrap();
    assert_eq!(g["ServerSideEncryption"], "AES256");
    assert_eq!(got, gen_bytes(p1len - 100, 200));
}

#[test]
fn copy_reencrypts_per_destination() {
    let e = env();
    e.mk("src");
    e.mk("dst");
    let arn = e.kms_key("alias/dst");
    e.stream(
        "PutObject",
        json!({"Bucket": "src", "Key": "a", "ServerSideEncryption": "AES256"}),
        b"copy me",
    )
    .unwrap();
    // To SSE-KMS.
    let out = e
        .call(
            "CopyObject",
            json!({"Bucket": "dst", "Key": "b", "CopySource": "src/a", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn}),
        )
        .unwrap();
    assert_eq!(out["ServerSideEncryption"], "aws:kms");
    assert_eq!(out["SSEKMSKeyId"], arn);
    assert_eq!(
        e.get(json!({"Bucket": "dst", "Key": "b"})).unwrap().1,
        b"copy me"
    );
    // Without headers into a bucket without a configuration of its own:
    // SSE-S3, the base level of every bucket.
    let out = e
        .call(
            "CopyObject",
            json!({"Bucket": "dst", "Key": "c", "CopySource": "dst/b"}),
        )
        .unwrap();
    assert_eq!(out["ServerSideEncryption"], "AES256");
    let (g, got) = e.get(json!({"Bucket": "dst", "Key": "c"})).unwrap();
    assert_eq!(got, b"copy me");
    assert_eq!(g["ServerSideEncryption"], "AES256");
    assert_eq!(
        e.version("dst", "c").sse.map(|s| s.algorithm),
        Some("AES256".to_string())
    );
    // Onto itself, changing only the encryption: allowed (as on AWS).
    let out = e
        .call(
            "CopyObject",
            json!({"Bucket": "dst", "Key": "c", "CopySource": "dst/c", "ServerSideEncryption": "AES256"}),
        )
        .unwrap();
    assert_eq!(out["ServerSideEncryption"], "AES256");
    assert_eq!(
        e.get(json!({"Bucket": "dst", "Key": "c"})).unwrap().1,
        b"copy me"
    );
}

#[test]
fn sse_c_and_bad_algorithms_are_refused() {
    let e = env();
    e.mk("ccb");
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "ccb", "Key": "k", "SSECustomerAlgorithm": "AES256",
               "SSECustomerKey": B64.encode([7u8; 32]), "SSECustomerKeyMD5": B64.encode(md5(&[7u8; 32]))}),
        b"x",
    );
    let err = r.unwrap_err();
    assert_eq!((err.code.as_str(), err.status), ("NotImplemented", 501));
    assert!(err.message.contains("SSE-C"), "{}", err.message);
    assert!(e.s3.obj("ccb", "k").unwrap().is_none());
    assert_eq!(e.blob_files(), 0);
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "ccb", "Key": "k", "ServerSideEncryption": "DES"}),
        b"x",
    );
    assert_eq!(code(r), ("InvalidArgument".into(), 400));
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "ccb", "Key": "k", "SSEKMSKeyId": "alias/x"}),
        b"x",
    );
    assert_eq!(code(r), ("InvalidArgument".into(), 400));
    e.put("ccb", "plain", b"p");
    let r = e.get(json!({"Bucket": "ccb", "Key": "plain", "SSECustomerAlgorithm": "AES256"}));
    assert_eq!(code(r), ("NotImplemented".into(), 501));
}

/// PutObject with its ContentLength declared, as the gateway passes it.
fn put_sized(e: &Env, bucket: &str, key: &str, body: &[u8], extra: Value) -> Value {
    let mut input = json!({"Bucket": bucket, "Key": key, "ContentLength": body.len()});
    if let (Some(i), Some(x)) = (input.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            i.insert(k.clone(), v.clone());
        }
    }
    e.stream("PutObject", input, body).unwrap().output
}

#[test]
fn small_objects_live_inline_in_their_row() {
    let e = env();
    e.mk("inl");
    // At the threshold: inline, no file; one byte more: a blob file.
    let small: Vec<u8> = (0..super::INLINE_MAX).map(|i| (i % 251) as u8).collect();
    let out = put_sized(&e, "inl", "small", &small, json!({}));
    assert_eq!(out["ETag"], json!(format!("\"{}\"", hex(&md5(&small)))));
    assert_eq!(e.blob_files(), 0);
    let v = e.version("inl", "small");
    assert_eq!(v.size, super::INLINE_MAX);
    assert!(v.blobs[0].inline.is_some());
    let big: Vec<u8> = (0..=super::INLINE_MAX).map(|i| (i % 13) as u8).collect();
    put_sized(&e, "inl", "big", &big, json!({}));
    assert_eq!(e.blob_files(), 1);
    assert!(e.version("inl", "big").blobs[0].inline.is_none());
    // Byte-exact reads, whole and ranged.
    assert_eq!(
        e.get(json!({"Bucket": "inl", "Key": "small"})).unwrap().1,
        small
    );
    let (out, part) = e
        .get(json!({"Bucket": "inl", "Key": "small", "Range": "bytes=100-199"}))
        .unwrap();
    assert_eq!(part, small[100..200].to_vec());
    assert_eq!(out["ContentRange"], json!("bytes 100-199/4096"));
    // A declared length the body does not match stores nothing.
    let lie = e.stream(
        "PutObject",
        json!({"Bucket": "inl", "Key": "lie", "ContentLength": 10}),
        b"0123456789AB",
    );
    assert_eq!(code(lie).0, "IncompleteBody");
    assert!(e.s3.obj("inl", "lie").unwrap().is_none());
    // Overwriting a file-backed object with a small one removes its file;
    // deleting an inline one leaves nothing behind.
    put_sized(&e, "inl", "big", b"now small", json!({}));
    assert_eq!(e.blob_files(), 0);
    assert_eq!(
        e.get(json!({"Bucket": "inl", "Key": "big"})).unwrap().1,
        b"now small"
    );
    e.call("DeleteObject", json!({"Bucket": "inl", "Key": "small"}))
        .unwrap();
    assert_eq!(
        code(e.get(json!({"Bucket": "inl", "Key": "small"}))).0,
        "NoSuchKey"
    );
    // Copies of small objects are inline too.
    e.call(
        "CopyObject",
        json!({"Bucket": "inl", "Key": "copy", "CopySource": "inl/big"}),
    )
    .unwrap();
    assert!(e.version("inl", "copy").blobs[0].inline.is_some());
    assert_eq!(e.blob_files(), 0);
    // Survives reopening the service (a restart).
    let s3 = S3::open(&e.store, e.dir.path(), std::sync::Arc::clone(&e.kms)).unwrap();
    let r = s3
        .call_stream(
            &e.ctx(),
            "GetObject",
            json!({"Bucket": "inl", "Key": "copy"}),
            None,
        )
        .unwrap();
    let mut b = Vec::new();
    r.body.unwrap().reader.read_to_end(&mut b).unwrap();
    assert_eq!(b, b"now small");
}

#[test]
fn small_encrypted_objects_keep_no_plaintext_inline() {
    let e = env();
    e.mk("inl-sse");
    let marker = b"INLINE-PLAINTEXT-MARKER-77ab";
    let mut body = marker.to_vec();
    body.extend_from_slice(&[b'.'; 500]);
    let arn = e.kms_key("alias/inl");
    put_sized(
        &e,
        "inl-sse",
        "s3",
        &body,
        json!({"ServerSideEncryption": "AES256"}),
    );
    put_sized(
        &e,
        "inl-sse",
        "kms",
        &body,
        json!({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn}),
    );
    for key in ["s3", "kms"] {
        let v = e.version("inl-sse", key);
        let stored = B64.decode(v.blobs[0].inline.as_ref().unwrap()).unwrap();
        assert!(!stored.windows(marker.len()).any(|w| w == marker));
        assert_eq!(
            e.get(json!({"Bucket": "inl-sse", "Key": key})).unwrap().1,
            body
        );
        let (_, part) = e
            .get(json!({"Bucket": "inl-sse", "Key": key, "Range": "bytes=2-9"}))
            .unwrap();
        assert_eq!(part, body[2..10].to_vec());
    }
    // Neither the marker nor its base64 is anywhere in the data dir.
    assert!(!e.on_disk(marker));
    let b64 = B64.encode(&body);
    assert!(!e.on_disk(&b64.as_bytes()[..24]));
    assert_eq!(e.blob_files(), 0);
}

#[test]
fn object_row_cache_never_outlives_a_committed_write() {
    let e = std::sync::Arc::new(env());
    e.mk("cache");
    put_sized(&e, "cache", "k", b"v0", json!({}));
    // Writers overwrite one key and tag another while readers fill the
    // cache; afterwards every cached row equals the committed one.
    std::thread::scope(|s| {
        for w in 0..3 {
            let e = &e;
            s.spawn(move || {
                for i in 0..40 {
                    put_sized(e, "cache", "k", format!("w{w}-{i}").as_bytes(), json!({}));
                    if i % 10 == 0 {
                        e.call(
                            "PutObjectTagging",
                            json!({"Bucket": "cache", "Key": "k",
                                   "Tagging": {"TagSet": [{"Key": "i", "Value": format!("{i}")}]}}),
                        )
                        .unwrap();
                    }
                }
            });
        }
        for _ in 0..2 {
            let e = &e;
            s.spawn(move || {
                for _ in 0..200 {
                    let _ = e.get(json!({"Bucket": "cache", "Key": "k"})).unwrap();
                }
            });
        }
    });
    let cached = e.s3.obj("cache", "k").unwrap().unwrap();
    let row = e
        .store
        .service("s3")
        .get("obj", "cache", "k")
        .unwrap()
        .unwrap();
    let committed: super::ObjDoc = serde_json::from_value(row.doc).unwrap();
    assert_eq!(
        serde_json::to_value(&*cached).unwrap(),
        serde_json::to_value(&committed).unwrap()
    );
    // A deleted key reads as absent at once.
    e.call("DeleteObject", json!({"Bucket": "cache", "Key": "k"}))
        .unwrap();
    assert!(e.s3.obj("cache", "k").unwrap().is_none());
}

/// S3's "meaning of public" for bucket policies, one case per rule.
#[test]
fn bucket_policies_are_classified_public_as_s3_documents() {
    use super::public::policy_is_public;
    let st = |s: Value| json!({"Version": "2012-10-17", "Statement": [s]});
    let public = [
        // Everyone may read.
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}),
        json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}),
        json!({"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "*"]}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}),
        // A wildcard account in the principal.
        json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}),
        // Everyone but one.
        json!({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}),
        // Conditions that do not pin a fixed value of an accepted key.
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringLike": {"aws:SourceVpce": "vpce-*"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "ml"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}),
        // Bad actions reached through wildcards.
        json!({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:*Object", "Resource": "*"}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:Ge?Object", "Resource": "*"}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:restoreobject", "Resource": "*"}),
        json!({"Effect": "Allow", "Principal": "*", "NotAction": "s3:DeleteBucket", "Resource": "*"}),
    ];
    for s in public {
        assert!(policy_is_public(&st(s.clone())), "public: {s}");
    }
    let private = [
        json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}),
        json!({"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "s3:*", "Resource": "*"}),
        // Denies never make a policy public (the guide's DenyNoVPC).
        json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}),
        // Fixed values of accepted keys.
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": ["vpce-1", "vpce-2"]}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*", "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sagemaker:us-east-1:111122223333:domain/d-1"}}}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*", "Condition": {"stringequals": {"AWS:SOURCEACCOUNT": "111122223333"}}}),
        // No bad action.
        json!({"Effect": "Allow", "Principal": "*", "Action": ["s3:CreateBucket", "s3:ReplicateObject"], "Resource": "*"}),
        json!({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}),
    ];
    for s in private {
        assert!(!policy_is_public(&st(s.clone())), "not public: {s}");
    }
    // One public statement among private ones makes the policy public.
    let mixed = json!({"Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    ]});
    assert!(policy_is_public(&mixed));
    assert!(!policy_is_public(
        &json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:*", "Resource": "*"}})
    ));
}

/// New buckets block public access and disable ACLs (S3 since April
/// 2023); a public policy is refused with S3's message until the bucket
/// allows it; GetBucketPolicyStatus tells; RestrictPublicBuckets keeps a
/// public policy's grants from other accounts.
#[test]
fn new_buckets_block_public_policies_until_allowed() {
    let e = env();
    e.call("CreateBucket", json!({"Bucket": "pub-bkt"}))
        .unwrap();
    assert_eq!(
        e.call("GetPublicAccessBlock", json!({"Bucket": "pub-bkt"}))
            .unwrap()["PublicAccessBlockConfiguration"],
        json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true})
    );
    assert_eq!(
        e.call("GetBucketOwnershipControls", json!({"Bucket": "pub-bkt"}))
            .unwrap()["OwnershipControls"],
        json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    );
    e.call(
        "CreateBucket",
        json!({"Bucket": "writer-bkt", "ObjectOwnership": "ObjectWriter"}),
    )
    .unwrap();
    assert_eq!(
        e.call(
            "GetBucketOwnershipControls",
            json!({"Bucket": "writer-bkt"})
        )
        .unwrap()["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "ObjectWriter"
    );
    let public = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub-bkt/*"}]}"#;
    let r = e.call(
        "PutBucketPolicy",
        json!({"Bucket": "pub-bkt", "Policy": public}),
    );
    let denied = r.unwrap_err();
    assert_eq!((denied.code.as_str(), denied.status), ("AccessDenied", 403));
    assert_eq!(
        denied.message,
        "User: arn:aws:iam::111122223333:root is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::pub-bkt\" because public policies are blocked by the BlockPublicPolicy block public access setting."
    );
    assert_eq!(
        code(e.call("GetBucketPolicy", json!({"Bucket": "pub-bkt"}))),
        ("NoSuchBucketPolicy".into(), 404),
        "nothing stored"
    );
    // A non-public policy is accepted under the defaults.
    let private = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub-bkt/*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-0123"}}}]}"#;
    e.call(
        "PutBucketPolicy",
        json!({"Bucket": "pub-bkt", "Policy": private}),
    )
    .unwrap();
    assert_eq!(
        e.call("GetBucketPolicyStatus", json!({"Bucket": "pub-bkt"}))
            .unwrap(),
        json!({"PolicyStatus": {"IsPublic": false}})
    );
    // Allowing public policies (but still restricting public buckets).
    e.call(
        "PutPublicAccessBlock",
        json!({"Bucket": "pub-bkt", "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": false, "RestrictPublicBuckets": true}}),
    )
    .unwrap();
    e.call(
        "PutBucketPolicy",
        json!({"Bucket": "pub-bkt", "Policy": public}),
    )
    .unwrap();
    assert_eq!(
        e.call("GetBucketPolicyStatus", json!({"Bucket": "pub-bkt"}))
            .unwrap(),
        json!({"PolicyStatus": {"IsPublic": true}})
    );
    let input = json!({"Bucket": "pub-bkt", "Key": "k"});
    let own = e.s3.targets(&e.ctx(), "GetObject", &input).unwrap();
    assert_eq!(
        own[0].resource_policy.as_ref().unwrap().0,
        "arn:aws:s3:::pub-bkt (bucket policy)"
    );
    let other = caller("444455556666");
    let octx = Ctx {
        caller: &other,
        ..e.ctx()
    };
    let theirs = e.s3.targets(&octx, "GetObject", &input).unwrap();
    assert!(
        theirs[0].resource_policy.is_none(),
        "no grant reaches another account"
    );
    // Without RestrictPublicBuckets the public grant applies to everyone.
    e.call("DeletePublicAccessBlock", json!({"Bucket": "pub-bkt"}))
        .unwrap();
    let theirs = e.s3.targets(&octx, "GetObject", &input).unwrap();
    assert_eq!(
        theirs[0].resource_policy.as_ref().unwrap().0,
        "arn:aws:s3:::pub-bkt (bucket policy)"
    );
    assert_eq!(
        code(e.call("GetBucketPolicyStatus", json!({"Bucket": "writer-bkt"}))),
        ("NoSuchBucketPolicy".into(), 404)
    );
}

/// ACLs are disabled on new buckets: reads answer the owner's full control,
/// writes of any other ACL fail as S3 fails them; on a bucket with ACLs
/// enabled, public ACLs meet Block Public Access and other grants are
/// refused as not implemented (never stored unenforced).
#[test]
fn acls_are_disabled_by_default_and_never_faked() {
    let e = env();
    e.call("CreateBucket", json!({"Bucket": "acl-bkt"}))
        .unwrap();
    let owner = super::canonical_id(ACCT);
    let full = json!({"Owner": {"ID": owner}, "Grants": [{"Grantee": {"ID": owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]});
    assert_eq!(
        e.call("GetBucketAcl", json!({"Bucket": "acl-bkt"}))
            .unwrap(),
        full
    );
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "acl-bkt", "Key": "k", "ACL": "public-read"}),
        b"x",
    );
    assert_eq!(code(r), ("AccessControlListNotSupported".into(), 400));
    assert!(
        e.s3.obj("acl-bkt", "k").unwrap().is_none(),
        "nothing stored"
    );
    e.stream(
        "PutObject",
        json!({"Bucket": "acl-bkt", "Key": "k", "ACL": "bucket-owner-full-control"}),
        b"x",
    )
    .unwrap();
    assert_eq!(
        e.call("GetObjectAcl", json!({"Bucket": "acl-bkt", "Key": "k"}))
            .unwrap(),
        full
    );
    assert_eq!(
        code(e.call("GetObjectAcl", json!({"Bucket": "acl-bkt", "Key": "nope"}))),
        ("NoSuchKey".into(), 404)
    );
    let spelt_out =
        json!({"Bucket": "acl-bkt", "Key": "k", "GrantFullControl": format!("id=\"{owner}\"")});
    e.call("PutObjectAcl", spelt_out).unwrap();
    let r = e.call(
        "PutObjectAcl",
        json!({"Bucket": "acl-bkt", "Key": "k", "GrantRead": "id=\"0123456789abcdef\""}),
    );
    assert_eq!(code(r), ("AccessControlListNotSupported".into(), 400));
    e.call(
        "PutBucketAcl",
        json!({"Bucket": "acl-bkt", "ACL": "private"}),
    )
    .unwrap();
    let r = e.call(
        "PutBucketAcl",
        json!({"Bucket": "acl-bkt", "ACL": "public-read"}),
    );
    assert_eq!(code(r), ("AccessControlListNotSupported".into(), 400));
    let r = e.call(
        "CreateMultipartUpload",
        json!({"Bucket": "acl-bkt", "Key": "m", "ACL": "authenticated-read"}),
    );
    assert_eq!(code(r), ("AccessControlListNotSupported".into(), 400));
    // CreateBucket: an ACL that grants others clashes with the default ownership,
    // a public one with the default public access block.
    let r = e.call(
        "CreateBucket",
        json!({"Bucket": "acl-two", "ACL": "public-read"}),
    );
    assert_eq!(code(r), ("InvalidBucketAclWithObjectOwnership".into(), 400));
    let r = e.call(
        "CreateBucket",
        json!({"Bucket": "acl-two", "ACL": "public-read", "ObjectOwnership": "ObjectWriter"}),
    );
    assert_eq!(
        code(r),
        ("InvalidBucketAclWithBlockPublicAccessError".into(), 400)
    );
    assert_eq!(
        code(e.call("HeadBucket", json!({"Bucket": "acl-two"}))).1,
        404
    );
    // ACLs enabled: public ones are blocked, other grants are not implemented.
    e.call(
        "CreateBucket",
        json!({"Bucket": "acl-two", "ObjectOwnership": "ObjectWriter", "ACL": "private"}),
    )
    .unwrap();
    let public = json!({"Bucket": "acl-two", "Key": "k", "ACL": "public-read"});
    assert_eq!(
        code(e.stream("PutObject", public.clone(), b"x")),
        ("AccessDenied".into(), 403)
    );
    e.call("DeletePublicAccessBlock", json!({"Bucket": "acl-two"}))
        .unwrap();
    let r = e.stream("PutObject", public, b"x");
    let refused = r.unwrap_err();
    assert_eq!(
        (refused.code.as_str(), refused.status),
        ("NotImplemented", 501)
    );
    assert!(
        refused.message.starts_with("PutObject: ACL grants"),
        "{}",
        refused.message
    );
    assert!(e.s3.obj("acl-two", "k").unwrap().is_none());
}

/// Every checksum algorithm S3 accepts, against published check values.
#[test]
fn checksum_algorithms_match_their_check_values() {
    use super::hash::{Checksum, Crc64Nvme};
    let mut c = Crc64Nvme::new();
    c.update(b"1234");
    c.update(b"56789");
    assert_eq!(u64::from_be_bytes(c.finish()), 0xAE8B_1486_0A79_9888);
    let sum = |algo: &str, data: &[u8]| {
        let mut c = Checksum::for_algorithm(algo).unwrap();
        c.update(data);
        hex(&c.finish())
    };
    assert_eq!(sum("crc32", b"123456789"), "cbf43926");
    assert_eq!(sum("CRC32C", b"123456789"), "e3069283");
    assert_eq!(sum("CRC64NVME", b"123456789"), "ae8b14860a799888");
    assert_eq!(
        sum("SHA1", b"abc"),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        sum("SHA256", b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(Checksum::for_algorithm("SHA384").is_none());
    // Through PutObject: stored, returned with ChecksumMode, a wrong one refused.
    let e = env();
    e.mk("sum-bkt");
    let sha = B64.encode(sha256_raw(b"hello"));
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "sum-bkt", "Key": "k", "ChecksumSHA256": sha}),
            b"hello",
        )
        .unwrap()
        .output;
    assert_eq!(out["ChecksumSHA256"], sha);
    let (head, _) = e
        .get(json!({"Bucket": "sum-bkt", "Key": "k", "ChecksumMode": "ENABLED"}))
        .unwrap();
    assert_eq!(head["ChecksumSHA256"], sha);
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "sum-bkt", "Key": "k2", "ChecksumSHA1": B64.encode([0u8; 20])}),
        b"hello",
    );
    assert_eq!(code(r), ("BadDigest".into(), 400));
    let r = e.stream(
        "PutObject",
        json!({"Bucket": "sum-bkt", "Key": "k3", "ChecksumAlgorithm": "SHA384"}),
        b"hello",
    );
    assert_eq!(code(r), ("InvalidRequest".into(), 400));
    // The algorithms newer models list: computed when asked for.
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "sum-bkt", "Key": "k4", "ChecksumAlgorithm": "XXHASH128"}),
            b"",
        )
        .unwrap()
        .output;
    assert_eq!(
        out["ChecksumXXHASH128"],
        B64.encode(0x99aa_06d3_0147_98d8_6001_c324_468d_497f_u128.to_be_bytes())
    );
}

fn sha256_raw(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

/// Features ironsage does not offer read as S3 reads them on a bucket that
/// never had them; configuring them is refused, never stored unenforced.
#[test]
fn unconfigured_features_read_as_absent_and_are_not_faked() {
    let e = env();
    e.mk("feat-bkt");
    let b = json!({"Bucket": "feat-bkt"});
    for (op, want) in [
        ("GetBucketNotificationConfiguration", json!({})),
        ("GetBucketLogging", json!({})),
        ("GetBucketAccelerateConfiguration", json!({})),
        ("GetBucketRequestPayment", json!({"Payer": "BucketOwner"})),
        (
            "ListBucketAnalyticsConfigurations",
            json!({"IsTruncated": false}),
        ),
        (
            "ListBucketIntelligentTieringConfigurations",
            json!({"IsTruncated": false}),
        ),
        (
            "ListBucketInventoryConfigurations",
            json!({"IsTruncated": false}),
        ),
        (
            "ListBucketMetricsConfigurations",
            json!({"IsTruncated": false}),
        ),
    ] {
        assert_eq!(e.call(op, b.clone()).unwrap(), want, "{op}");
        assert_eq!(
            code(e.call(op, json!({"Bucket": "no-such-bkt"}))),
            ("NoSuchBucket".into(), 404),
            "{op}"
        );
    }
    for (op, missing) in [
        ("GetBucketWebsite", "NoSuchWebsiteConfiguration"),
        (
            "GetObjectLockConfiguration",
            "ObjectLockConfigurationNotFoundError",
        ),
        (
            "GetBucketReplication",
            "ReplicationConfigurationNotFoundError",
        ),
    ] {
        assert_eq!(code(e.call(op, b.clone())), (missing.into(), 404), "{op}");
    }
    e.call(
        "PutBucketNotificationConfiguration",
        json!({"Bucket": "feat-bkt", "NotificationConfiguration": {}}),
    )
    .unwrap();
    let r = e.call(
        "PutBucketNotificationConfiguration",
        json!({"Bucket": "feat-bkt", "NotificationConfiguration": {"QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:111122223333:q", "Events": ["s3:ObjectCreated:*"]}]}}),
    );
    assert_eq!(code(r), ("NotImplemented".into(), 501));
}

#[test]
fn object_attributes_come_from_the_version_row() {
    let e = env();
    e.mk("attr-bkt");
    e.put("attr-bkt", "k", b"0123456789");
    let a = e
        .call(
            "GetObjectAttributes",
            json!({"Bucket": "attr-bkt", "Key": "k", "ObjectAttributes": ["ETag", "ObjectSize", "StorageClass", "ObjectParts"]}),
        )
        .unwrap();
    assert_eq!(a["ETag"], hex(&md5(b"0123456789")), "no quotes, as S3");
    assert_eq!(
        (a["ObjectSize"].as_u64(), a["StorageClass"].as_str()),
        (Some(10), Some("STANDARD"))
    );
    assert!(
        a.get("ObjectParts").is_none(),
        "a single-part object has no parts"
    );
    let r = e.call(
        "GetObjectAttributes",
        json!({"Bucket": "attr-bkt", "Key": "k", "ObjectAttributes": ["Colour"]}),
    );
    assert_eq!(code(r), ("InvalidArgument".into(), 400));
    let r = e.call(
        "GetObjectAttributes",
        json!({"Bucket": "attr-bkt", "Key": "nope", "ObjectAttributes": ["ETag"]}),
    );
    assert_eq!(code(r), ("NoSuchKey".into(), 404));
}

#[test]
fn multipart_checksums_composite_and_full_object() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let sum = |algo: &str, b: &[u8]| {
        let mut c = crate::s3::hash::Checksum::for_algorithm(algo).unwrap();
        c.update(b);
        c.finish()
    };
    let e = env();
    e.mk("ck-bkt");
    let p1: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let p2 = b"the tail".to_vec();
    let whole: Vec<u8> = p1.iter().chain(p2.iter()).copied().collect();
    // (algorithm, asked type, expected type)
    for (algo, asked, want_type) in [
        ("CRC32", None, "COMPOSITE"),
        ("SHA256", Some("COMPOSITE"), "COMPOSITE"),
        ("CRC32C", Some("FULL_OBJECT"), "FULL_OBJECT"),
        ("CRC64NVME", None, "FULL_OBJECT"),
    ] {
        let key = format!("obj-{algo}");
        let mut create = json!({"Bucket": "ck-bkt", "Key": key, "ChecksumAlgorithm": algo});
        if let Some(t) = asked {
            create["ChecksumType"] = json!(t);
        }
        let up = e.call("CreateMultipartUpload", create).unwrap();
        assert_eq!(up["ChecksumType"], want_type);
        let id = up["UploadId"].as_str().unwrap().to_string();
        let mut parts = Vec::new();
        for (n, p) in [(1, &p1), (2, &p2)] {
            // Part 1 sends its checksum, part 2 none: the server computes it.
            let mut input =
                json!({"Bucket": "ck-bkt", "Key": key, "UploadId": id, "PartNumber": n});
            if n == 1 {
                input[format!("Checksum{algo}")] = json!(b64(&sum(algo, p)));
            }
            let o = e.stream("UploadPart", input, p).unwrap().output;
            let part_sum = o[format!("Checksum{algo}")].as_str().unwrap().to_string();
            assert_eq!(part_sum, b64(&sum(algo, p)), "{algo} part {n}");
            parts.push(
                json!({"PartNumber": n, "ETag": o["ETag"], format!("Checksum{algo}"): part_sum}),
            );
        }
        let lp = e
            .call(
                "ListParts",
                json!({"Bucket": "ck-bkt", "Key": key, "UploadId": id}),
            )
            .unwrap();
        assert_eq!(
            lp["Parts"][1][format!("Checksum{algo}")],
            parts[1][format!("Checksum{algo}")]
        );
        assert_eq!(lp["ChecksumType"], want_type);
        // A part checksum that is not the part's: the part does not match.
        let mut wrong = parts.clone();
        wrong[1][format!("Checksum{algo}")] = json!(b64(&sum(algo, b"other")));
        assert_eq!(
            code(e.call(
                "CompleteMultipartUpload",
                json!({"Bucket": "ck-bkt", "Key": key, "UploadId": id, "MultipartUpload": {"Parts": wrong}}),
            )),
            ("InvalidPart".into(), 400)
        );
        let done = e
            .call(
                "CompleteMultipartUpload",
                json!({"Bucket": "ck-bkt", "Key": key, "UploadId": id, "MultipartUpload": {"Parts": parts}}),
            )
            .unwrap();
        let want = if want_type == "COMPOSITE" {
            let cat: Vec<u8> = [sum(algo, &p1), sum(algo, &p2)].concat();
            format!("{}-2", b64(&sum(algo, &cat)))
        } else {
            b64(&sum(algo, &whole))
        };
        assert_eq!(done[format!("Checksum{algo}")], want, "{algo}");
        assert_eq!(done["ChecksumType"], want_type);
        let (head, body) = e
            .get(json!({"Bucket": "ck-bkt", "Key": key, "ChecksumMode": "ENABLED"}))
            .unwrap();
        assert_eq!(body, whole);
        assert_eq!(head[format!("Checksum{algo}")], want);
        assert_eq!(head["ChecksumType"], want_type);
    }
    // SHA checksums cannot be combined into a full-object one; CRC64NVME
    // makes no composites.
    for (algo, t) in [("SHA1", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")] {
        assert_eq!(
            code(e.call(
                "CreateMultipartUpload",
                json!({"Bucket": "ck-bkt", "Key": "x", "ChecksumAlgorithm": algo, "ChecksumType": t}),
            )),
            ("InvalidRequest".into(), 400)
        );
    }
    // A full-object checksum sent with the completion must match.
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "ck-bkt", "Key": "f", "ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"}),
        )
        .unwrap();
    let id = up["UploadId"].as_str().unwrap().to_string();
    let o = e
        .stream(
            "UploadPart",
            json!({"Bucket": "ck-bkt", "Key": "f", "UploadId": id, "PartNumber": 1}),
            b"abc",
        )
        .unwrap()
        .output;
    let parts = json!([{"PartNumber": 1, "ETag": o["ETag"]}]);
    assert_eq!(
        code(e.call(
            "CompleteMultipartUpload",
            json!({"Bucket": "ck-bkt", "Key": "f", "UploadId": id, "ChecksumCRC32": b64(&sum("CRC32", b"abd")), "MultipartUpload": {"Parts": parts}}),
        )),
        ("BadDigest".into(), 400)
    );
    // A part checksummed with another algorithm than its upload's is
    // refused, as are two checksums at once; an upload created without an
    // algorithm takes a part's (SDKs send CRC32 on every part by default).
    let part = |key: &str, id: &str, extra: Value| {
        let mut input = json!({"Bucket": "ck-bkt", "Key": key, "UploadId": id, "PartNumber": 2});
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        e.stream("UploadPart", input, b"xyz")
    };
    let mismatch = part(
        "f",
        &id,
        json!({"ChecksumSHA256": b64(&sum("SHA256", b"xyz"))}),
    )
    .err()
    .unwrap();
    assert_eq!(
        (mismatch.code.as_str(), mismatch.status),
        ("InvalidRequest", 400)
    );
    assert_eq!(
        mismatch.message,
        "Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: sha256"
    );
    let two = part(
        "f",
        &id,
        json!({"ChecksumCRC32": b64(&sum("CRC32", b"xyz")), "ChecksumSHA1": b64(&sum("SHA1", b"xyz"))}),
    )
    .err()
    .unwrap();
    assert_eq!(
        two.message,
        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
    );
    let plain = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "ck-bkt", "Key": "p"}),
        )
        .unwrap();
    let pid = plain["UploadId"].as_str().unwrap().to_string();
    let o = part(
        "p",
        &pid,
        json!({"ChecksumCRC32": b64(&sum("CRC32", b"xyz"))}),
    )
    .unwrap()
    .output;
    assert_eq!(o["ChecksumCRC32"], b64(&sum("CRC32", b"xyz")));
    let done = e
        .call(
            "CompleteMultipartUpload",
            json!({"Bucket": "ck-bkt", "Key": "f", "UploadId": id, "ChecksumCRC32": b64(&sum("CRC32", b"abc")), "MultipartUpload": {"Parts": parts}}),
        )
        .unwrap();
    assert_eq!(done["ChecksumCRC32"], b64(&sum("CRC32", b"abc")));
}

/// As S3 does since 2025, an object uploaded without a checksum gets the
/// default CRC64NVME, single PUT or multipart (full-object, combined from
/// the parts').
#[test]
fn uploads_without_a_checksum_get_the_default_crc64nvme() {
    let e = env();
    e.mk("dflt-bkt");
    let crc = |b: &[u8]| {
        let mut c = crate::s3::hash::Crc64Nvme::new();
        c.update(b);
        B64.encode(c.finish())
    };
    let out = e.put("dflt-bkt", "one", b"plain bytes");
    assert_eq!(out["ChecksumCRC64NVME"], crc(b"plain bytes"));
    assert_eq!(out["ChecksumType"], "FULL_OBJECT");
    let (head, _) = e
        .get(json!({"Bucket": "dflt-bkt", "Key": "one", "ChecksumMode": "ENABLED"}))
        .unwrap();
    assert_eq!(head["ChecksumCRC64NVME"], crc(b"plain bytes"));
    // A checksum the client chose replaces the default.
    let out = e
        .stream(
            "PutObject",
            json!({"Bucket": "dflt-bkt", "Key": "two", "ChecksumAlgorithm": "CRC32"}),
            b"x",
        )
        .unwrap()
        .output;
    assert!(out.get("ChecksumCRC64NVME").is_none() && out.get("ChecksumCRC32").is_some());
    // Multipart without an algorithm.
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "dflt-bkt", "Key": "mp"}),
        )
        .unwrap();
    let id = up["UploadId"].as_str().unwrap().to_string();
    let p1: Vec<u8> = (0..5 * 1024 * 1024).map(|i: u32| (i % 253) as u8).collect();
    let mut parts = Vec::new();
    for (n, p) in [(1, p1.as_slice()), (2, b"end".as_slice())] {
        let o = e
            .stream(
                "UploadPart",
                json!({"Bucket": "dflt-bkt", "Key": "mp", "UploadId": id, "PartNumber": n}),
                p,
            )
            .unwrap()
            .output;
        assert_eq!(o["ChecksumCRC64NVME"], crc(p));
        parts.push(json!({"PartNumber": n, "ETag": o["ETag"]}));
    }
    let done = e
        .call(
            "CompleteMultipartUpload",
            json!({"Bucket": "dflt-bkt", "Key": "mp", "UploadId": id, "MultipartUpload": {"Parts": parts}}),
        )
        .unwrap();
    let whole: Vec<u8> = p1.iter().chain(b"end").copied().collect();
    assert_eq!(done["ChecksumCRC64NVME"], crc(&whole));
    assert_eq!(done["ChecksumType"], "FULL_OBJECT");
}

#[test]
fn copies_recompute_the_checksum_asked_for_or_the_sources() {
    let e = env();
    e.mk("cpy-bkt");
    let sum = |algo: &str, b: &[u8]| {
        let mut c = crate::s3::hash::Checksum::for_algorithm(algo).unwrap();
        c.update(b);
        B64.encode(c.finish())
    };
    e.stream(
        "PutObject",
        json!({"Bucket": "cpy-bkt", "Key": "src", "ChecksumAlgorithm": "SHA256"}),
        b"copied bytes",
    )
    .unwrap();
    let copy = |dst: &str, extra: Value| {
        let mut input = json!({"Bucket": "cpy-bkt", "Key": dst, "CopySource": "cpy-bkt/src"});
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        e.call("CopyObject", input)
    };
    let same = copy("a", json!({})).unwrap();
    assert_eq!(
        same["CopyObjectResult"]["ChecksumSHA256"],
        sum("SHA256", b"copied bytes")
    );
    let other = copy("b", json!({"ChecksumAlgorithm": "CRC32C"})).unwrap();
    assert_eq!(
        other["CopyObjectResult"]["ChecksumCRC32C"],
        sum("CRC32C", b"copied bytes")
    );
    assert_eq!(other["CopyObjectResult"]["ChecksumType"], "FULL_OBJECT");
    let (head, _) = e
        .get(json!({"Bucket": "cpy-bkt", "Key": "b", "ChecksumMode": "ENABLED"}))
        .unwrap();
    assert_eq!(head["ChecksumCRC32C"], sum("CRC32C", b"copied bytes"));
    assert!(head.get("ChecksumSHA256").is_none());
    assert_eq!(
        code(copy("c", json!({"ChecksumAlgorithm": "SHA384"}))),
        ("InvalidRequest".into(), 400)
    );
}

/// GetObject / HeadObject with `partNumber`: a multipart object's part by
/// its own byte range (206, with the part count), any other object as its
/// one part.
#[test]
fn parts_of_an_object_are_read_by_number() {
    let e = env();
    e.mk("pn-bkt");
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "pn-bkt", "Key": "mp"}),
        )
        .unwrap();
    let id = up["UploadId"].as_str().unwrap().to_string();
    let p1: Vec<u8> = (0..5 * 1024 * 1024).map(|i: u32| (i % 249) as u8).collect();
    let p2 = b"second part".to_vec();
    let mut parts = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let o = e
            .stream(
                "UploadPart",
                json!({"Bucket": "pn-bkt", "Key": "mp", "UploadId": id, "PartNumber": n}),
                p,
            )
            .unwrap()
            .output;
        parts.push(json!({"PartNumber": n, "ETag": o["ETag"]}));
    }
    e.call(
        "CompleteMultipartUpload",
        json!({"Bucket": "pn-bkt", "Key": "mp", "UploadId": id, "MultipartUpload": {"Parts": parts}}),
    )
    .unwrap();
    let (out, body) = e
        .get(json!({"Bucket": "pn-bkt", "Key": "mp", "PartNumber": 2}))
        .unwrap();
    assert_eq!(body, p2);
    let first = p1.len();
    assert_eq!(
        out["ContentRange"],
        format!(
            "bytes {first}-{}/{}",
            first + p2.len() - 1,
            first + p2.len()
        )
    );
    assert_eq!(
        (out["PartsCount"].clone(), out["ContentLength"].clone()),
        (json!(2), json!(p2.len()))
    );
    let (_, body) = e
        .get(json!({"Bucket": "pn-bkt", "Key": "mp", "PartNumber": 1}))
        .unwrap();
    assert!(body == p1);
    let bad = e.get(json!({"Bucket": "pn-bkt", "Key": "mp", "PartNumber": 3}));
    assert_eq!(code(bad.map(|x| x.0)), ("InvalidPartNumber".into(), 416));
    let both =
        e.get(json!({"Bucket": "pn-bkt", "Key": "mp", "PartNumber": 1, "Range": "bytes=0-1"}));
    assert_eq!(code(both.map(|x| x.0)), ("InvalidRequest".into(), 400));
    // A single PUT is its one part.
    e.put("pn-bkt", "one", b"whole");
    let (out, body) = e
        .get(json!({"Bucket": "pn-bkt", "Key": "one", "PartNumber": 1}))
        .unwrap();
    assert_eq!(
        (body.as_slice(), out.get("PartsCount")),
        (b"whole".as_slice(), None)
    );
    let bad = e.get(json!({"Bucket": "pn-bkt", "Key": "one", "PartNumber": 2}));
    assert_eq!(code(bad.map(|x| x.0)), ("InvalidPartNumber".into(), 416));
}

/// Request members that guard a request are honoured, never ignored: the
/// expected bucket owner (and source bucket owner), the multipart object
/// size; Object Lock and appends, which no bucket here has, are refused.
#[test]
fn guarding_members_are_honoured_and_absent_features_refused() {
    let e = env();
    e.mk("own-bkt");
    let denied = |r: Result<Value, AwsError>| code(r) == ("AccessDenied".into(), 403);
    let put = |extra: Value| {
        let mut input = json!({"Bucket": "own-bkt", "Key": "k"});
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        e.stream("PutObject", input, b"x").map(|r| r.output)
    };
    assert!(denied(put(json!({"ExpectedBucketOwner": "999988887777"}))));
    put(json!({"ExpectedBucketOwner": ACCT})).unwrap();
    assert!(denied(e.call(
        "CopyObject",
        json!({"Bucket": "own-bkt", "Key": "c", "CopySource": "own-bkt/k", "ExpectedSourceBucketOwner": "999988887777"})
    )));
    e.call(
        "CopyObject",
        json!({"Bucket": "own-bkt", "Key": "c", "CopySource": "own-bkt/k", "ExpectedSourceBucketOwner": ACCT, "ExpectedBucketOwner": ACCT}),
    )
    .unwrap();
    assert_eq!(
        code(put(
            json!({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2030-01-01T00:00:00Z"})
        )),
        ("InvalidRequest".into(), 400)
    );
    assert_eq!(
        code(e.call(
            "CreateBucket",
            json!({"Bucket": "locked-bkt", "ObjectLockEnabledForBucket": true})
        ))
        .1,
        501
    );
    assert!(e
        .call("HeadBucket", json!({"Bucket": "locked-bkt"}))
        .is_err());
    // MpuObjectSize must be the parts' total.
    let up = e
        .call(
            "CreateMultipartUpload",
            json!({"Bucket": "own-bkt", "Key": "mp"}),
        )
        .unwrap();
    let id = up["UploadId"].as_str().unwrap().to_string();
    let o = e
        .stream(
            "UploadPart",
            json!({"Bucket": "own-bkt", "Key": "mp", "UploadId": id, "PartNumber": 1}),
            b"12345",
        )
        .unwrap()
        .output;
    let complete = |size: i64| {
        e.call(
            "CompleteMultipartUpload",
            json!({"Bucket": "own-bkt", "Key": "mp", "UploadId": id, "MpuObjectSize": size,
                   "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": o["ETag"]}]}}),
        )
    };
    assert_eq!(code(complete(6)), ("InvalidRequest".into(), 400));
    assert_eq!(complete(5).unwrap()["Key"], "mp");
}
