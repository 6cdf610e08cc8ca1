//! `multipart/form-data` (RFC 7578) as S3's browser-based uploads send it:
//! the form's fields come first and are read whole ([`parse_head`]); the
//! `file` field, last, is streamed ([`PartReader`]) without holding it.

use std::io::{self, Read};

/// The fields before the file, and where the file's bytes start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormHead {
    /// The fields in order: (name, value).
    pub fields: Vec<(String, String)>,
    /// The file part's `filename` parameter, when given.
    pub file_name: Option<String>,
    /// Offset in the buffer of the file's first byte.
    pub body_start: usize,
}

/// Why a form cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The framing is broken.
    #[error("malformed multipart form: {0}")]
    Malformed(&'static str),
    /// The form ended without a `file` field.
    #[error("the form has no file field")]
    NoFile,
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .unwrap_or(v);
        (!v.is_empty() && v.len() <= 70).then_some(v)
    })
}

/// One `name="value"` parameter of a Content-Disposition header (quoted or
/// not; backslash escapes as browsers send them).
fn disposition_param(header: &str, param: &str) -> Option<String> {
    let mut rest = header;
    while let Some(i) = rest.find(';') {
        rest = rest[i + 1..].trim_start();
        let Some((k, v)) = rest.split_once('=') else {
            break;
        };
        if k.trim().eq_ignore_ascii_case(param) {
            let v = v.trim_start();
            if let Some(q) = v.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = q.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => return Some(out),
                        '\\' => out.extend(chars.next()),
                        c => out.push(c),
                    }
                }
                return None;
            }
            return Some(v.split(';').next().unwrap_or("").trim().to_string());
        }
    }
    None
}

/// Parses the fields of a form up to its `file` field's headers.
/// `Ok(None)`: `buf` does not reach that far yet (read more, then call
/// again with the longer buffer).
pub fn parse_head(buf: &[u8], boundary: &str) -> Result<Option<FormHead>, FormError> {
    let dash = format!("--{boundary}");
    let delim = format!("\r\n--{boundary}");
    // The first delimiter may follow a preamble.
    let Some(first) = memchr::memmem::find(buf, dash.as_bytes()) else {
        return Ok(None);
    };
    let mut pos = first + dash.len();
    let mut fields = Vec::new();
    loop {
        match buf.get(pos..pos + 2) {
            None => return Ok(None),
            Some(b"--") => return Err(FormError::NoFile),
            Some(b"\r\n") => pos += 2,
            Some(_) => return Err(FormError::Malformed("a boundary is not followed by CRLF")),
        }
        let Some(end) = memchr::memmem::find(&buf[pos..], b"\r\n\r\n") else {
            return Ok(None);
        };
        let headers = std::str::from_utf8(&buf[pos..pos + end])
            .map_err(|_| FormError::Malformed("part headers are not UTF-8"))?;
        let disposition = headers
            .split("\r\n")
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then_some(v.trim())
            })
            .ok_or(FormError::Malformed("a part has no Content-Disposition"))?;
        let name = disposition_param(disposition, "name")
            .ok_or(FormError::Malformed("a part has no name"))?;
        let start = pos + end + 4;
        if name.eq_ignore_ascii_case("file") {
            return Ok(Some(FormHead {
                fields,
                file_name: disposition_param(disposition, "filename"),
                body_start: start,
            }));
        }
        let Some(len) = memchr::memmem::find(&buf[start..], delim.as_bytes()) else {
            return Ok(None);
        };
        let value = std::str::from_utf8(&buf[start..start + len])
            .map_err(|_| FormError::Malformed("a field value is not UTF-8"))?;
        fields.push((name, value.to_string()));
        pos = start + len + delim.len();
    }
}

/// Reads a part's bytes from `inner` up to the next delimiter
/// (`CRLF--boundary`), then ends; what follows is not read. A stream that
/// ends before the delimiter is an error.
pub struct PartReader<R> {
    inner: R,
    delim: Vec<u8>,
    buf: Vec<u8>,
    start: usize,
    scratch: Box<[u8]>,
    done: bool,
    eof: bool,
}

impl<R: Read> PartReader<R> {
    /// The part whose first bytes are `inner`'s.
    pub fn new(inner: R, boundary: &str) -> Self {
        PartReader {
            inner,
            delim: format!("\r\n--{boundary}").into_bytes(),
            buf: Vec::new(),
            start: 0,
            scratch: vec![0; 64 * 1024].into_boxed_slice(),
            done: false,
            eof: false,
        }
    }
}

impl<R: Read> Read for PartReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let avail = &self.buf[self.start..];
            // Bytes that cannot begin the delimiter can go out now.
            let safe = match memchr::memmem::find(avail, &self.delim) {
                Some(0) => {
                    self.done = true;
                    return Ok(0);
                }
                Some(p) => p,
                None => avail.len().saturating_sub(self.delim.len() - 1),
            };
            if safe > 0 {
                let n = safe.min(out.len());
                out[..n].copy_from_slice(&avail[..n]);
                self.start += n;
                return Ok(n);
            }
            if self.eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the form ended before its closing boundary",
                ));
            }
            self.buf.drain(..self.start);
            self.start = 0;
            let n = loop {
                match self.inner.read(&mut self.scratch) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            self.buf.extend_from_slice(&self.scratch[..n]);
            if n == 0 {
                self.eof = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

    fn form(file: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(format!("--{B}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/${{filename}}\r\n").as_bytes());
        f.extend_from_slice(format!("--{B}\r\nContent-Disposition: form-data; name=\"Content-Type\"\r\n\r\ntext/plain\r\n").as_bytes());
        f.extend_from_slice(format!("--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".txt\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes());
        f.extend_from_slice(file);
        f.extend_from_slice(format!("\r\n--{B}--\r\n").as_bytes());
        f
    }

    #[test]
    fn boundaries_from_content_types() {
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={B}")),
            Some(B)
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=x; boundary=\"a b\""),
            Some("a b")
        );
        assert_eq!(boundary("multipart/mixed; boundary=x"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn fields_then_the_file_streamed_in_any_read_sizes() {
        // Bytes that look like the delimiter's start stay in the file.
        let file: Vec<u8> = (0..200_000u32)
            .map(|i| if i % 997 == 0 { b'\r' } else { (i % 251) as u8 })
            .chain(format!("\r\n--{}", &B[..10]).bytes())
            .collect();
        let body = form(&file);
        let head = parse_head(&body, B).unwrap().unwrap();
        // Any shorter prefix asks for more.
        for cut in 0..head.body_start {
            assert_eq!(parse_head(&body[..cut], B), Ok(None), "{cut}");
        }
        assert_eq!(
            head.fields,
            [
                ("key".to_string(), "uploads/${filename}".to_string()),
                ("Content-Type".to_string(), "text/plain".to_string())
            ]
        );
        assert_eq!(head.file_name.as_deref(), Some("a \"b\".txt"));
        for step in [1usize, 7, 4096, 1 << 20] {
            struct Trickle<'a>(&'a [u8], usize);
            impl Read for Trickle<'_> {
                fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                    let n = self.1.min(out.len()).min(self.0.len());
                    out[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut r = PartReader::new(Trickle(&body[head.body_start..], step), B);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert!(got == file, "read size {step}");
        }
    }

    #[test]
    fn broken_forms_are_refused() {
        let body = form(b"data");
        // Cut before the closing boundary: the file never ends.
        let head = parse_head(&body, B).unwrap().unwrap();
        let mut r = PartReader::new(&body[head.body_start..body.len() - 12 - B.len()], B);
        assert!(r.read_to_end(&mut Vec::new()).is_err());
        let no_file = format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--{B}--\r\n"
        );
        assert_eq!(parse_head(no_file.as_bytes(), B), Err(FormError::NoFile));
        let nameless = format!("--{B}\r\nContent-Disposition: form-data\r\n\r\nk\r\n--{B}--\r\n");
        assert!(matches!(
            parse_head(nameless.as_bytes(), B),
            Err(FormError::Malformed(_))
        ));
    }
}
