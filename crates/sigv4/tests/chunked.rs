//! aws-chunked decoding: AWS's published examples, random splits, tampering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test-only code

use http::{HeaderMap, HeaderValue};
use ironsage_sigv4::*;
use rand::{Rng, SeedableRng};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

/// "Example: PUT Object" from the S3 sigv4-streaming docs (seed + chunk signatures).
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const SIGS: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];
/// The trailer example from the S3 sigv4-streaming-trailers docs.
const T_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
const T_SIGS: [&str; 3] = [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
];
const T_SIG: &str = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

fn key() -> SigningKey {
    derive_signing_key(SECRET, "20130524", "us-east-1", "s3")
}

fn doc_body(sigs: [&str; 3], trailer: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(format!("10000;chunk-signature={}\r\n", sigs[0]).as_bytes());
    b.extend_from_slice(&[b'a'; 65536]);
    b.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).as_bytes());
    b.extend_from_slice(&[b'a'; 1024]);
    b.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n", sigs[2]).as_bytes());
    b.extend_from_slice(trailer.as_bytes());
    b.extend_from_slice(b"\r\n");
    b
}

fn signed_body() -> Vec<u8> {
    doc_body(SIGS, "")
}

fn trailer_body() -> Vec<u8> {
    doc_body(
        T_SIGS,
        &format!("x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:{T_SIG}\r\n"),
    )
}

type Decoded = (Vec<u8>, Vec<(String, String)>);

fn decode(
    mode: PayloadHash,
    seed: &str,
    body: &[u8],
    splits: &[usize],
) -> Result<Decoded, SigError> {
    let mut dec = ChunkedDecoder::new(mode, Some(key()), seed, DATE, SCOPE)
        .with_decoded_content_length(Some(66560));
    let mut out = Vec::new();
    let mut pos = 0;
    for &s in splits {
        let end = s.min(body.len());
        if end > pos {
            dec.feed(&body[pos..end], &mut out)?;
            pos = end;
        }
    }
    dec.feed(&body[pos..], &mut out)?;
    let trailers = dec.finish()?;
    Ok((out, trailers))
}

#[test]
fn aws_doc_seed_signature_verifies() {
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", DATE),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("content-encoding", "aws-chunked"),
        ("content-length", "66824"),
        ("x-amz-content-sha256", STREAMING_SIGNED),
        ("x-amz-decoded-content-length", "66560"),
    ] {
        headers.insert(k, HeaderValue::from_static(v));
    }
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/{SCOPE},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}"
        ))
        .unwrap(),
    );
    let req = SignedRequest {
        method: "PUT",
        raw_path: "/examplebucket/chunkObject.txt",
        raw_query: "",
        headers: &headers,
    };
    let auth = parse_auth(&req).unwrap().unwrap();
    assert_eq!(auth.payload, PayloadHash::StreamingSigned);
    let now = parse_amz_date(DATE).unwrap();
    let k = verify(&req, &auth, SECRET, STREAMING_SIGNED, now, UriEncoding::S3).unwrap();
    assert_eq!(k, key());
    assert_eq!(signed_body().len(), 66824);
    let mut dec = ChunkedDecoder::new(
        auth.payload.clone(),
        Some(k),
        &auth.signature,
        &auth.amz_date,
        &auth.scope(),
    );
    let mut out = Vec::new();
    dec.feed(&signed_body(), &mut out).unwrap();
    assert!(dec.finish().unwrap().is_empty());
    assert_eq!(out, vec![b'a'; 66560]);
}

#[test]
fn aws_doc_signed_chunks_any_split() {
    let body = signed_body();
    let (out, trailers) = decode(PayloadHash::StreamingSigned, SEED, &body, &[]).unwrap();
    assert_eq!(out, vec![b'a'; 66560]);
    assert!(trailers.is_empty());
    // byte by byte
    let all: Vec<usize> = (1..body.len()).collect();
    assert_eq!(
        decode(PayloadHash::StreamingSigned, SEED, &body, &all)
            .unwrap()
            .0
            .len(),
        66560
    );
    // random splits
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..200 {
        let mut splits: Vec<usize> = (0..rng.gen_range(1..20))
            .map(|_| rng.gen_range(0..body.len()))
            .collect();
        splits.sort_unstable();
        assert_eq!(
            decode(PayloadHash::StreamingSigned, SEED, &body, &splits)
                .unwrap()
                .0
                .len(),
            66560
        );
    }
}

#[test]
fn aws_doc_signed_trailer() {
    let body = trailer_body();
    let (out, trailers) = decode(PayloadHash::StreamingSignedTrailer, T_SEED, &body, &[]).unwrap();
    assert_eq!(out, vec![b'a'; 66560]);
    assert_eq!(
        trailers,
        vec![("x-amz-checksum-crc32c".to_string(), "sOO8/Q==".to_string())]
    );
    let all: Vec<usize> = (1..body.len()).collect();
    assert!(decode(PayloadHash::StreamingSignedTrailer, T_SEED, &body, &all).is_ok());
    // tampered trailer value
    let bad = String::from_utf8_lossy(&body)
        .replace("sOO8/Q==", "sOO8/Q=A")
        .into_bytes();
    assert_eq!(
        decode(PayloadHash::StreamingSignedTrailer, T_SEED, &bad, &[]).unwrap_err(),
        SigError::ChunkSignatureDoesNotMatch
    );
    // missing trailer signature
    let bad = doc_body(T_SIGS, "x-amz-checksum-crc32c:sOO8/Q==\r\n");
    assert!(matches!(
        decode(PayloadHash::StreamingSignedTrailer, T_SEED, &bad, &[]),
        Err(SigError::MalformedChunk(_))
    ));
}

#[test]
fn tampering_is_detected() {
    let body = signed_body();
    // flip one data byte in each chunk
    for pos in [100usize, 65712 + 10] {
        let mut b = body.clone();
        b[pos] = b'b';
        assert_eq!(
            decode(PayloadHash::StreamingSigned, SEED, &b, &[]).unwrap_err(),
            SigError::ChunkSignatureDoesNotMatch,
            "pos {pos}"
        );
    }
    // wrong seed
    assert_eq!(
        decode(PayloadHash::StreamingSigned, T_SEED, &body, &[]).unwrap_err(),
        SigError::ChunkSignatureDoesNotMatch
    );
    // chunks reordered: chunk 2 signature on chunk 1
    let swapped = doc_body([SIGS[1], SIGS[0], SIGS[2]], "");
    assert!(decode(PayloadHash::StreamingSigned, SEED, &swapped, &[]).is_err());
    // truncated before the final chunk
    let cut = &body[..body.len() - 90];
    assert_eq!(
        decode(PayloadHash::StreamingSigned, SEED, cut, &[]).unwrap_err(),
        SigError::IncompleteBody
    );
    // trailing garbage
    let mut extra = body.clone();
    extra.extend_from_slice(b"x");
    assert!(matches!(
        decode(PayloadHash::StreamingSigned, SEED, &extra, &[]),
        Err(SigError::MalformedChunk(_))
    ));
    // missing chunk signature
    let nosig = String::from_utf8_lossy(&body)
        .replacen(&format!(";chunk-signature={}", SIGS[0]), "", 1)
        .into_bytes();
    assert!(matches!(
        decode(PayloadHash::StreamingSigned, SEED, &nosig, &[]),
        Err(SigError::MalformedChunk(_))
    ));
    // error is sticky
    let mut dec = ChunkedDecoder::new(
        PayloadHash::StreamingSigned,
        Some(key()),
        T_SEED,
        DATE,
        SCOPE,
    );
    let mut out = Vec::new();
    assert!(dec.feed(&body, &mut out).is_err());
    assert!(dec.feed(b"", &mut out).is_err());
    assert!(dec.finish().is_err());
}

#[test]
fn decoded_length_enforced() {
    let body = signed_body();
    for declared in [66559u64, 66561, 0] {
        let mut dec =
            ChunkedDecoder::new(PayloadHash::StreamingSigned, Some(key()), SEED, DATE, SCOPE)
                .with_decoded_content_length(Some(declared));
        let mut out = Vec::new();
        let r = dec
            .feed(&body, &mut out)
            .and_then(|()| dec.finish().map(|_| ()));
        assert!(
            matches!(r, Err(SigError::DecodedLengthMismatch { .. })),
            "{declared}"
        );
    }
}

fn unsigned_body(data: &[u8], chunk: usize, trailer: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for c in data.chunks(chunk) {
        b.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        b.extend_from_slice(c);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
    b
}

#[test]
fn unsigned_trailer_random_splits() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for round in 0..50 {
        let len = rng.gen_range(0..20000);
        let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let crc = crc32fast::hash(&data).to_be_bytes();
        use base64::Engine;
        let crc_b64 = base64::engine::general_purpose::STANDARD.encode(crc);
        let body = unsigned_body(
            &data,
            rng.gen_range(1..9000),
            &format!("x-amz-checksum-crc32:{crc_b64}\r\n"),
        );
        let mut dec =
            ChunkedDecoder::new(PayloadHash::StreamingUnsignedTrailer, None, "", DATE, SCOPE)
                .with_decoded_content_length(Some(len as u64));
        let mut out = Vec::new();
        let mut rest = &body[..];
        while !rest.is_empty() {
            let n = rng.gen_range(1..=rest.len().min(if round % 2 == 0 { 3 } else { 5000 }));
            dec.feed(&rest[..n], &mut out).unwrap();
            rest = &rest[n..];
        }
        assert!(dec.is_done());
        let trailers = dec.finish().unwrap();
        assert_eq!(out, data);
        assert_eq!(
            trailers,
            vec![("x-amz-checksum-crc32".to_string(), crc_b64)]
        );
    }
}

#[test]
fn unsigned_trailer_without_trailers_and_bad_framing() {
    let body = b"3\r\nabc\r\n0\r\n\r\n";
    let mut dec = ChunkedDecoder::new(PayloadHash::StreamingUnsignedTrailer, None, "", DATE, SCOPE);
    let mut out = Vec::new();
    dec.feed(body, &mut out).unwrap();
    assert!(dec.finish().unwrap().is_empty());
    assert_eq!(out, b"abc");
    for bad in [
        &b"3\r\nabcd\r\n0\r\n\r\n"[..],
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabc\r\n0\r\nno-colon\r\n\r\n",
        b"11111111111111111\r\n",
    ] {
        let mut dec =
            ChunkedDecoder::new(PayloadHash::StreamingUnsignedTrailer, None, "", DATE, SCOPE);
        let r = dec
            .feed(bad, &mut Vec::new())
            .and_then(|()| dec.finish().map(|_| ()));
        assert!(r.is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
    // an endless chunk header line is rejected without buffering it all
    let mut dec = ChunkedDecoder::new(PayloadHash::StreamingUnsignedTrailer, None, "", DATE, SCOPE);
    let junk = vec![b'1'; 10_000];
    assert!(dec.feed(&junk, &mut Vec::new()).is_err());
    // signed mode without a key, and a non-streaming mode
    let mut dec = ChunkedDecoder::new(PayloadHash::StreamingSigned, None, "", DATE, SCOPE);
    assert_eq!(
        dec.feed(b"0", &mut Vec::new()).unwrap_err(),
        SigError::MissingSigningKey
    );
    let mut dec = ChunkedDecoder::new(PayloadHash::Unsigned, None, "", DATE, SCOPE);
    assert!(dec.feed(b"0", &mut Vec::new()).is_err());
}
