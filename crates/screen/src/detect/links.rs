//! Dangerous or suspicious links: shorteners, IP-literal hosts, look-alikes of the organization's
//! own domains, direct downloads of executables and archives, and domains the policy blocks.
//!
//! URLs are found with or without a scheme ("bit.ly/x", "www.x.com", "http://…") by a small
//! hand-written scanner that only starts at a '.' followed by an alphanumeric, so ordinary
//! sentences cost one `memchr` pass. Links to the organization's own domains and to the policy's
//! allowed domains are never flagged.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

use crate::ScreenError;
use crate::policy::Policy;
use crate::report::{Action, Category, Severity};
use crate::rules::RuleInfo;
use crate::text::Scan;

use super::{Ctx, Hit, Sink, abuse};

/// The link rules.
pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "link.shortener",
        category: Category::Link,
        severity: Severity::Medium,
        incoming: Some(Action::Flag),
        outgoing: Some(Action::Review),
        summary: "A URL shortener (bit.ly, tinyurl.com, …) that hides where the link goes.",
    },
    RuleInfo {
        id: "link.ip_literal",
        category: Category::Link,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Review),
        summary: "A link to a bare IP address instead of a domain name (http://192.0.2.7/login).",
    },
    RuleInfo {
        id: "link.lookalike",
        category: Category::Link,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Block),
        summary: "A host that imitates one of the organization's domains (examp1ehealth.org, punycode).",
    },
    RuleInfo {
        id: "link.download",
        category: Category::Link,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Review),
        summary: "A link straight to an executable, installer, script or archive (.exe, .apk, .zip, …).",
    },
    RuleInfo {
        id: "link.blocked_domain",
        category: Category::Link,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Block),
        summary: "A link to a domain (or subdomain of one) listed in the policy's blocked domains.",
    },
    RuleInfo {
        id: "link.phishing",
        category: Category::Link,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Review),
        summary: "A link to another site in a message that asks readers to log in or verify an account or password.",
    },
];

const SHORTENER: &RuleInfo = &RULES[0];
const IP_LITERAL: &RuleInfo = &RULES[1];
const LOOKALIKE: &RuleInfo = &RULES[2];
const DOWNLOAD: &RuleInfo = &RULES[3];
const BLOCKED: &RuleInfo = &RULES[4];
const PHISHING: &RuleInfo = &RULES[5];

/// What credential phishing asks of its reader: to sign in, or to verify, update or unlock an
/// account, password or payment details, or that an account is suspended or locked.
const CREDENTIAL_ASK: &str = r"\b(?:(?:log\s*in|sign\s*in|verify|confirm|update|validate|reset|unlock|restore|reactivate)\s+(?:to\s+|now\s+)?(?:your\s+)?(?:\w+\s+){0,2}(?:accounts?|password|credentials|login|identity|payment\s+(?:details|info|information))|(?:account|password)\s+(?:has\s+been\s+|was\s+|will\s+be\s+|is\s+)?(?:suspended|locked|disabled|compromised|expired|expiring))\b";

/// Public URL-shortening services, hand-compiled from the services' own sites; platform short
/// links that show their platform (youtu.be, amzn.to) are left out because the target is visible.
const SHORTENERS: &[&str] = &[
    "bit.ly",
    "bitly.com",
    "bit.do",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "v.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "tiny.cc",
    "tiny.one",
    "shorturl.at",
    "rb.gy",
    "t.ly",
    "s.id",
    "bl.ink",
    "soo.gd",
    "clck.ru",
    "qr.ae",
    "adf.ly",
    "shorte.st",
    "mcaf.ee",
    "x.co",
    "snip.ly",
    "short.io",
    "lnkd.in",
    "dlvr.it",
    "ift.tt",
    "trib.al",
    "urlz.fr",
    "zpr.io",
    "shorturl.com",
    "tr.im",
    "cli.gs",
    "2.gy",
    "u.to",
    "lnk.to",
];

/// Top-level domains accepted for links written without a scheme or "www.": the common generic
/// ones and country codes used as words in links. File extensions that are also TLDs (.zip,
/// .mov) and English words (.is, .at, .it, .me, .in, .to, .so, .no) are left out so "file.zip"
/// or "ok.so" do not read as links.
const BARE_TLDS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "ly", "gl", "gd",
    "cc", "tv", "us", "uk", "ca", "au", "nz", "de", "fr", "es", "nl", "be", "ch", "se", "dk", "fi",
    "pl", "ru", "cn", "jp", "kr", "br", "mx", "ar", "za", "ng", "ke", "tk", "ml", "ga", "cf", "gq",
    "top", "xyz", "online", "site", "club", "shop", "store", "app", "dev", "ai", "gg", "health",
    "care", "clinic", "hospital", "pharmacy", "doctor", "link", "click", "live", "news", "blog",
    "page", "icu", "buzz", "win", "bid", "loan", "work", "pro", "ws", "su", "cloud", "tech",
    "website", "space", "fun", "life", "world", "today", "email",
];

/// File extensions that run code or hide it in an archive.
const DOWNLOAD_EXTS: &[&str] = &[
    "exe", "scr", "zip", "rar", "7z", "apk", "xapk", "msi", "js", "jse", "vbs", "iso", "img",
    "dmg", "bat", "cmd", "ps1", "jar", "hta", "lnk", "pkg", "deb", "rpm", "com", "pif", "cab",
    "gz", "tgz", "docm", "xlsm",
];

/// Second-level labels under which country codes register names (example.co.uk).
const SECOND_LEVEL: &[&str] = &[
    "co", "com", "org", "net", "gov", "edu", "ac", "nhs", "or", "ne",
];

/// One URL found in normalized text.
#[derive(Debug, Clone)]
pub(crate) struct Url {
    /// Byte range of the whole URL in `Scan::norm`.
    pub range: Range<usize>,
    /// Byte range of the host in `Scan::norm`.
    pub host: Range<usize>,
    /// Byte range of the path (from the first '/' after the host) in `Scan::norm`; may be empty.
    pub path: Range<usize>,
    /// The host is a dotted IPv4 address.
    pub ip: bool,
    /// Written with a scheme or "www.", or with a well-known TLD: surely meant as a link. Other
    /// dotted words ("file.zip") only count when the policy names their domain.
    pub known: bool,
}

fn is_url_byte(b: u8) -> bool {
    b.is_ascii_graphic()
        && !matches!(
            b,
            b'<' | b'>' | b'"' | b'`' | b'|' | b'{' | b'}' | b'\\' | b'^'
        )
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// Iterator over the URLs of a normalized text, in order; allocates nothing.
pub(crate) struct Urls<'t> {
    norm: &'t str,
    pos: usize,
}

/// The URLs in `norm` (a `Scan::norm`), with or without a scheme.
pub(crate) fn urls(norm: &str) -> Urls<'_> {
    Urls { norm, pos: 0 }
}

impl Iterator for Urls<'_> {
    type Item = Url;

    fn next(&mut self) -> Option<Url> {
        let b = self.norm.as_bytes();
        loop {
            let dot = self.pos + memchr::memchr(b'.', b.get(self.pos..)?)?;
            self.pos = dot + 1;
            let after = b.get(dot + 1).copied().unwrap_or(b' ');
            let before = if dot == 0 { b' ' } else { b[dot - 1] };
            if !after.is_ascii_alphanumeric() || !before.is_ascii_alphanumeric() {
                continue;
            }
            let mut start = dot;
            while start > 0 && is_url_byte(b[start - 1]) {
                start -= 1;
            }
            let mut end = dot + 1;
            while end < b.len() && is_url_byte(b[end]) {
                end += 1;
            }
            self.pos = end;
            if let Some(url) = parse(b, start, end) {
                return Some(url);
            }
        }
    }
}

/// Parse the chunk `b[start..end]` as a URL, trimming surrounding punctuation.
fn parse(b: &[u8], mut start: usize, mut end: usize) -> Option<Url> {
    while start < end
        && matches!(
            b[start],
            b'(' | b'[' | b'\'' | b'*' | b'_' | b',' | b';' | b':' | b'.' | b'!' | b'?'
        )
    {
        start += 1;
    }
    while end > start
        && matches!(
            b[end - 1],
            b'.' | b',' | b')' | b']' | b'!' | b'?' | b';' | b':' | b'\'' | b'*' | b'_'
        )
    {
        end -= 1;
    }
    let chunk = b.get(start..end)?;
    // Candidates are short and few carry a ':', so one memchr beats building a substring finder.
    let scheme_end =
        memchr::memchr_iter(b':', chunk).find(|&i| chunk.get(i + 1..i + 3) == Some(b"//"));
    let (scheme, mut host_start) = match scheme_end {
        Some(i) if i > 0 && chunk[..i].iter().all(u8::is_ascii_alphabetic) => (true, start + i + 3),
        Some(_) => return None,
        None => (false, start),
    };
    let auth_end = b[host_start..end]
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#'))
        .map_or(end, |i| host_start + i);
    if let Some(at) = b[host_start..auth_end].iter().rposition(|&c| c == b'@') {
        if !scheme {
            // "name@example.org" is an e-mail address, which the PHI rules own.
            return None;
        }
        host_start += at + 1;
    }
    let mut host_end = host_start;
    while host_end < auth_end && is_host_byte(b[host_end]) {
        host_end += 1;
    }
    if host_end < auth_end && b[host_end] != b':' {
        return None;
    }
    let host = std::str::from_utf8(b.get(host_start..host_end)?).ok()?;
    let ip = is_ipv4(host);
    if !ip && !valid_host(host) {
        return None;
    }
    let tld = host.rsplit('.').next().unwrap_or_default();
    let known = ip
        || scheme
        || host.starts_with("www.")
        || BARE_TLDS.contains(&tld)
        || SHORTENERS.contains(&host);
    Some(Url {
        range: start..end,
        host: host_start..host_end,
        path: auth_end..end,
        ip,
        known,
    })
}

fn is_ipv4(host: &str) -> bool {
    let mut n = 0;
    for part in host.split('.') {
        n += 1;
        if part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|c| c.is_ascii_digit())
            || part.parse::<u16>().map_or(true, |v| v > 255)
        {
            return false;
        }
    }
    n == 4
}

fn valid_host(host: &str) -> bool {
    let mut labels = 0;
    for l in host.split('.') {
        labels += 1;
        if l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-') {
            return false;
        }
    }
    let tld = host.rsplit('.').next().unwrap_or_default();
    labels >= 2 && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
}

/// The name a host is registered under: `a.b.example.org` → `example.org`, `x.nhs.uk` kept whole.
pub(crate) fn registrable(host: &str) -> &str {
    let mut dots = host.rmatch_indices('.');
    let Some((last, _)) = dots.next() else {
        return host;
    };
    let Some((second, _)) = dots.next() else {
        return host;
    };
    let sld = &host[second + 1..last];
    let tld = &host[last + 1..];
    if tld.len() == 2 && SECOND_LEVEL.contains(&sld) {
        return dots.next().map_or(host, |(third, _)| &host[third + 1..]);
    }
    &host[second + 1..]
}

/// The registered label without its public suffix: `examplehealth.co.uk` → `examplehealth`.
fn name_label(domain: &str) -> &str {
    let reg = registrable(domain);
    reg.split('.').next().unwrap_or(reg)
}

/// Fold characters people swap to imitate a name: digits for letters, "rn" for "m", dashes.
fn skeleton(label: &str) -> String {
    let folded: String = label
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' | '|' => 'l',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            '8' => 'b',
            '9' => 'g',
            c => c,
        })
        .collect();
    folded.replace("rn", "m").replace("vv", "w")
}

/// Levenshtein distance, giving up (returning `limit + 1`) once it must exceed `limit`.
fn edit_distance(a: &str, b: &str, limit: usize) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > limit {
            return limit + 1;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// One of the organization's domains, prepared for look-alike checks.
struct OwnDomain {
    domain: String,
    label: String,
    skeleton: String,
}

/// True when `host` is `domain` or one of its subdomains.
fn within(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

fn clean_domain(d: &str) -> Option<String> {
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    let d = d.strip_prefix("www.").map(str::to_owned).unwrap_or(d);
    (!d.is_empty()).then_some(d)
}

/// The compiled links detector.
pub(crate) struct Detector {
    own: Vec<OwnDomain>,
    allowed: Vec<String>,
    blocked: Vec<String>,
    credential_ask: regex::Regex,
}

impl Detector {
    /// Compile for `policy`.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        let own = policy
            .organization
            .domains
            .iter()
            .filter_map(|d| clean_domain(d))
            .map(|domain| {
                let label = name_label(&domain).to_owned();
                let skeleton = skeleton(&label);
                OwnDomain {
                    domain,
                    label,
                    skeleton,
                }
            })
            .collect();
        let allowed = policy
            .links
            .allowed_domains
            .iter()
            .filter_map(|d| clean_domain(d))
            .collect();
        let blocked = policy
            .links
            .blocked_domains
            .iter()
            .filter_map(|d| clean_domain(d))
            .collect();
        Ok(Detector {
            own,
            allowed,
            blocked,
            credential_ask: super::ascii_regex("credential phishing pattern", CREDENTIAL_ASK)?,
        })
    }

    /// Append hits for one message.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink) {
        let scan = cx.scan;
        // The abuse detector's link spam rules read the same links, so this pass serves both.
        let mut tally = abuse::LinkTally::default();
        // The first link to a site that is neither the organization's nor allowed, and that no
        // other link rule has explained (a look-alike already says phishing).
        let mut foreign: Option<Range<usize>> = None;
        for url in urls(&scan.norm) {
            let before = sink.hits.len();
            if self.check(scan, &url, sink) && sink.hits.len() == before && foreign.is_none() {
                foreign = Some(url.range.clone());
            }
            tally.add(scan, &url);
        }
        tally.report(scan, sink);
        if let Some(link) = foreign
            && let Some(ask) = self.credential_ask.find(&scan.norm)
        {
            let shown = scan.orig_text(link.clone());
            let asked = scan.orig_text(ask.range());
            sink.push(
                Hit::new(PHISHING, scan.orig(link), format!("\"{asked}\" asks readers to hand over account details, and \"{shown}\" is not one of the organization's sites: the shape of credential phishing."))
                    .suggest("Do not follow the link; patients and staff sign in only on the organization's own domains."),
            );
        }
    }

    /// Check one link; true when it goes to a site that is neither the organization's nor allowed.
    fn check(&self, scan: &Scan<'_>, url: &Url, sink: &mut Sink) -> bool {
        let Some(host) = scan.norm.get(url.host.clone()) else {
            return false;
        };
        let host = host.strip_prefix("www.").unwrap_or(host);
        // A host typed with look-alike Unicode folds to the real name in `norm`; it is not trusted.
        let homograph = foreign_letters(scan.orig_text(url.host.clone()));
        if !homograph
            && (self.own.iter().any(|o| within(host, &o.domain))
                || self.allowed.iter().any(|d| within(host, d)))
        {
            return false;
        }
        let blocked = self.blocked.iter().find(|d| within(host, d));
        if !url.known && blocked.is_none() {
            return false;
        }
        let span = scan.orig(url.range.clone());
        let shown = scan.orig_text(url.range.clone());
        if let Some(d) = blocked {
            sink.push(
                Hit::new(BLOCKED, span, format!("Link to \"{host}\", which is under the blocked domain \"{d}\" in the organization's policy."))
                    .suggest("Remove the link or replace it with an approved source."),
            );
        }
        if url.ip {
            sink.push(Hit::new(
                IP_LITERAL,
                span,
                format!("Link \"{shown}\" points at a bare IP address, which hides who runs the site and is typical of phishing and malware."),
            ));
        } else if SHORTENERS.contains(&host) {
            sink.push(
                Hit::new(SHORTENER, span, format!("\"{host}\" is a URL shortener, so readers cannot see where \"{shown}\" really leads."))
                    .suggest("Post the full destination URL instead of a shortened one."),
            );
        } else if let Some(why) = self.lookalike(host, homograph) {
            sink.push(
                Hit::new(LOOKALIKE, span, format!("Link to \"{host}\", which {why}; look-alike domains are a common phishing trick."))
                    .suggest("Do not follow the link; link only to the organization's real domain."),
            );
        }
        if let Some(ext) = download_ext(scan.norm.get(url.path.clone()).unwrap_or_default()) {
            sink.push(Hit::new(
                DOWNLOAD,
                span,
                format!("Link \"{shown}\" downloads a .{ext} file directly, a common way to deliver malware."),
            ));
        }
        true
    }

    /// Why `host` imitates one of the organization's domains, if it does.
    fn lookalike(&self, host: &str, homograph: bool) -> Option<String> {
        if host.split('.').any(|l| l.starts_with("xn--")) {
            return Some(
                "uses a punycode (xn--) name that can display as letters from another alphabet"
                    .to_owned(),
            );
        }
        if self.own.is_empty() {
            return homograph.then(|| "is written with look-alike Unicode characters".to_owned());
        }
        let label = name_label(host);
        for o in &self.own {
            if homograph && (host == o.domain || label == o.label) {
                return Some(format!(
                    "spells \"{}\" with look-alike Unicode characters",
                    o.domain
                ));
            }
            if label == o.label {
                return Some(format!(
                    "uses the name of \"{}\" under a different domain",
                    o.domain
                ));
            }
            if o.label.len() >= 5 && label.contains(o.label.as_str()) {
                return Some(format!(
                    "wraps the name of \"{}\" in a different domain",
                    o.domain
                ));
            }
            if host.split('.').any(|l| l == o.label) {
                return Some(format!(
                    "puts \"{}\" in front of a different domain",
                    o.domain
                ));
            }
            if skeleton(label) == o.skeleton {
                return Some(format!("swaps look-alike characters into \"{}\"", o.domain));
            }
            let limit = if o.label.len() >= 10 { 2 } else { 1 };
            if o.label.len() >= 5 && edit_distance(label, &o.label, limit) <= limit {
                return Some(format!("differs from \"{}\" by a typo", o.domain));
            }
        }
        homograph.then(|| "is written with look-alike Unicode characters".to_owned())
    }
}

/// True when `host` has letters from another script (Cyrillic "а", Greek "ο"); accented Latin
/// letters ("ü") are ordinary internationalized names, not look-alikes.
fn foreign_letters(host: &str) -> bool {
    !host.is_ascii()
        && host.chars().any(|c| {
            c.is_alphabetic()
                && std::iter::once(c)
                    .nfkd()
                    .next()
                    .is_some_and(|d| !d.is_ascii())
        })
}

/// The risky extension of the last path segment, if any.
fn download_ext(path: &str) -> Option<&str> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let (stem, ext) = last.rsplit_once('.')?;
    (!stem.is_empty() && DOWNLOAD_EXTS.contains(&ext)).then_some(ext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Screener};

    fn screener() -> Screener {
        let mut p = Policy::default();
        p.organization.domains = vec!["examplehealth.org".to_owned()];
        p.links.blocked_domains = vec!["badpharma.example".to_owned(), "spam.net".to_owned()];
        p.links.allowed_domains = vec!["cdc.gov".to_owned()];
        Screener::new(p).unwrap_or_else(|e| panic!("{e}"))
    }

    fn link_hits(text: &str) -> Vec<(String, String)> {
        let r = screener()
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{e}"));
        r.findings
            .into_iter()
            .filter(|f| f.rule_id.starts_with("link."))
            .map(|f| (f.rule_id.into_owned(), f.matched))
            .collect()
    }

    fn fires(text: &str, rule: &str, matched: &str) {
        let got = link_hits(text);
        assert!(
            got.iter().any(|(r, m)| r == rule && m == matched),
            "{text:?}: want {rule} on {matched:?}, got {got:?}"
        );
    }

    #[test]
    fn finds_urls_with_and_without_scheme() {
        let found: Vec<String> =
            urls("see bit.ly/x, www.a.com and (http://b.org/p?q=1). e.g. file.zip me@x.org")
                .filter(|u| u.known)
                .map(|u| {
                    "see bit.ly/x, www.a.com and (http://b.org/p?q=1). e.g. file.zip me@x.org"
                        [u.range]
                        .to_owned()
                })
                .collect();
        assert_eq!(found, ["bit.ly/x", "www.a.com", "http://b.org/p?q=1"]);
    }

    #[test]
    fn shorteners_ips_and_downloads() {
        fires("Free meds at bit.ly/3xYz!", "link.shortener", "bit.ly/3xYz");
        fires(
            "login at http://192.0.2.7/login now",
            "link.ip_literal",
            "http://192.0.2.7/login",
        );
        fires(
            "get it: https://files.example.net/setup.exe",
            "link.download",
            "https://files.example.net/setup.exe",
        );
        fires(
            "APK here www.getapp.xyz/app.apk?v=2",
            "link.download",
            "www.getapp.xyz/app.apk?v=2",
        );
    }

    #[test]
    fn lookalikes_of_own_domain() {
        fires(
            "Verify at examp1ehealth.org/login",
            "link.lookalike",
            "examp1ehealth.org/login",
        );
        fires(
            "go to https://examplehealth-login.com",
            "link.lookalike",
            "https://examplehealth-login.com",
        );
        fires(
            "go to examplehealth.org.verify.io now",
            "link.lookalike",
            "examplehealth.org.verify.io",
        );
        fires(
            "see https://xn--exmplehealth-abc.org",
            "link.lookalike",
            "https://xn--exmplehealth-abc.org",
        );
        fires(
            "see https://exаmplehealth.org/pay",
            "link.lookalike",
            "https://exаmplehealth.org/pay",
        );
        fires(
            "see examplehealht.org",
            "link.lookalike",
            "examplehealht.org",
        );
        assert!(link_hits("Buch: https://bücher.de/x").is_empty());
    }

    #[test]
    fn blocked_and_allowed() {
        fires(
            "buy at shop.badpharma.example/x",
            "link.blocked_domain",
            "shop.badpharma.example/x",
        );
        for text in [
            "Book at https://www.examplehealth.org/appointments",
            "portal.examplehealth.org is down",
            "Guidance: https://www.cdc.gov/flu/index.html",
            "Dr. Smith said e.g. the U.S. rates rose.",
            "Our report.pdf and setup.exe are attached",
            "Email me at nurse@examplehealth.org",
            "See https://en.wikipedia.org/wiki/Influenza",
        ] {
            assert!(
                link_hits(text).is_empty(),
                "{text:?}: {:?}",
                link_hits(text)
            );
        }
    }

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable("a.b.example.org"), "example.org");
        assert_eq!(registrable("www.example.co.uk"), "example.co.uk");
        assert_eq!(edit_distance("examplehealth", "examplehealht", 2), 2);
    }
}
