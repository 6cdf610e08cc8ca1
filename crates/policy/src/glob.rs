//! Wildcard (`*`, `?`) matching as used by IAM for actions, resources and
//! `StringLike`/`ArnLike` condition values.
//!
//! Patterns are classified once at parse time so that the common shapes
//! (`*`, exact strings, `prefix*`) never run the general matcher.

/// A precompiled wildcard pattern. Matching is byte-exact (case-sensitive);
/// callers lower-case both sides for case-insensitive uses (actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `*`: matches everything.
    Any,
    /// No wildcard characters.
    Exact(Box<str>),
    /// `literal*` with no other wildcard.
    Prefix(Box<str>),
    /// General pattern.
    Glob(Box<str>),
}

impl Pattern {
    pub(crate) fn new(p: &str) -> Pattern {
        if p == "*" {
            return Pattern::Any;
        }
        let wild = |c: char| c == '*' || c == '?';
        match p.find(wild) {
            None => Pattern::Exact(p.into()),
            Some(i) if i + 1 == p.len() && p.ends_with('*') => Pattern::Prefix(p[..i].into()),
            Some(_) => Pattern::Glob(p.into()),
        }
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => &**e == s,
            Pattern::Prefix(p) => s.starts_with(&**p),
            Pattern::Glob(g) => glob_match(g, s),
        }
    }
}

fn utf8_len(b: u8) -> usize {
    if b < 0x80 {
        1
    } else if b < 0xE0 {
        2
    } else if b < 0xF0 {
        3
    } else {
        4
    }
}

/// General wildcard match: `*` matches any sequence of characters
/// (including none), `?` exactly one character. Linear-time two-pointer
/// algorithm with single backtrack point; character-aware for UTF-8.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p = pattern.as_bytes();
    let s = s.as_bytes();
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star = Some((pi + 1, si));
                    pi += 1;
                    continue;
                }
                b'?' => {
                    si = (si + utf8_len(s[si])).min(s.len());
                    pi += 1;
                    continue;
                }
                c if c == s[si] => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, ss)) => {
                let ns = (ss + utf8_len(s[ss])).min(s.len());
                star = Some((sp, ns));
                pi = sp;
                si = ns;
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// A resource pattern from a `Resource`/`NotResource` element (or an
/// `ArnLike` value). ARN patterns are matched segment by segment for the
/// first five colon-separated segments (partition, service, region,
/// account); the sixth (resource) segment matches the remainder, so `*`
/// there spans `/` and `:`. A pattern with fewer than six segments lets its
/// last segment absorb the remainder (`arn:aws:ecr:*` matches every ECR ARN,
/// as AWS accepts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    Any,
    /// `prefix` holds the wildcard-free leading segments (with their
    /// trailing colons); `segs` the remaining segment patterns.
    Segments {
        prefix: Box<str>,
        segs: Vec<Pattern>,
    },
    Plain(Pattern),
}

impl ArnPattern {
    pub(crate) fn new(p: &str) -> ArnPattern {
        if p == "*" {
            return ArnPattern::Any;
        }
        if p.starts_with("arn:") {
            let parts: Vec<&str> = p.splitn(6, ':').collect();
            let wild = |x: &str| x.contains(['*', '?']);
            let first_wild = parts.iter().position(|x| wild(x));
            match first_wild {
                // Wildcards only in the last (absorbing) segment: a plain
                // whole-string pattern is equivalent and faster.
                None => ArnPattern::Plain(Pattern::new(p)),
                Some(i) if i + 1 == parts.len() => ArnPattern::Plain(Pattern::new(p)),
                Some(i) => {
                    let mut prefix = String::new();
                    for part in &parts[..i] {
                        prefix.push_str(part);
                        prefix.push(':');
                    }
                    ArnPattern::Segments {
                        prefix: prefix.into(),
                        segs: parts[i..].iter().map(|x| Pattern::new(x)).collect(),
                    }
                }
            }
        } else {
            ArnPattern::Plain(Pattern::new(p))
        }
    }

    pub(crate) fn matches(&self, r: &str) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Plain(p) => p.matches(r),
            ArnPattern::Segments { prefix, segs } => {
                if !r.starts_with("arn:") {
                    return false;
                }
                match r.strip_prefix(&**prefix) {
                    Some(rest) => match_segments(segs, rest),
                    None => false,
                }
            }
        }
    }
}

fn match_segments(segs: &[Pattern], r: &str) -> bool {
    let mut rest = r;
    for (i, seg) in segs.iter().enumerate() {
        if i + 1 == segs.len() {
            return seg.matches(rest);
        }
        match rest.find(':') {
            Some(pos) => {
                if !seg.matches(&rest[..pos]) {
                    return false;
                }
                rest = &rest[pos + 1..];
            }
            None => return false,
        }
    }
    false
}

/// Match an ARN pattern that is only known at evaluation time (after policy
/// variable substitution).
pub(crate) fn arn_match_dynamic(pattern: &str, r: &str) -> bool {
    ArnPattern::new(pattern).matches(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "aéc"));
        assert!(!glob_match("abc", "abd"));
        assert!(glob_match("*x*y*", "aaxbby"));
    }

    #[test]
    fn arn_segments() {
        let p = ArnPattern::new("arn:*:iam::*:role/*StackSetExecutionRole*");
        assert!(p.matches("arn:aws:iam::123456789012:role/path/MyStackSetExecutionRole1"));
        assert!(!p.matches("arn:aws:iam::123456789012:user/MyStackSetExecutionRole1"));
        let p = ArnPattern::new("arn:aws:ecr:*");
        assert!(p.matches("arn:aws:ecr:us-east-1:123456789012:repository/x"));
        let p = ArnPattern::new("arn:aws:s3:::b/*");
        assert!(p.matches("arn:aws:s3:::b/a/b:c"));
        assert!(!p.matches("arn:aws:s3:::c/a"));
        assert!(!p.matches("*"));
    }
}
