//! Text helpers: comparing posts across networks, stripping HTML, finding links and mentions.

use std::ops::Range;

/// Collapses every run of whitespace to one space and trims, so a post compares equal to what the
/// network echoes back after reformatting line breaks.
pub(crate) fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns Mastodon's status HTML back into the text that was posted: paragraphs and `<br>` become
/// line breaks, tags go, entities are decoded. Link text hidden in `invisible` spans is kept, so a
/// shortened URL comes back whole.
pub(crate) fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let Some(gt) = rest[lt..].find('>') else {
            out.push_str(&decode_entities(&rest[lt..]));
            return out;
        };
        let tag = rest[lt + 1..lt + gt].trim().to_ascii_lowercase();
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        match name {
            "br" => out.push('\n'),
            "p" if tag.starts_with('/') => out.push_str("\n\n"),
            _ => {}
        }
        rest = &rest[lt + gt + 1..];
    }
    out.push_str(&decode_entities(rest));
    out.trim_end().to_owned()
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let entity = &after[..semi];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Byte ranges of `http://` and `https://` links, without trailing punctuation.
pub(crate) fn links(text: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = next_scheme(&text[from..]) {
        let start = from + pos;
        let boundary_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "([<\"'".contains(c));
        let len = text[start..]
            .find(|c: char| c.is_whitespace() || c == '<' || c == '>')
            .unwrap_or(text.len() - start);
        let mut end = start + len;
        end = start
            + text[start..end]
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\''])
                .len();
        let has_host = text[start..end]
            .split_once("://")
            .is_some_and(|(_, host)| !host.is_empty());
        if boundary_ok && has_host {
            found.push(start..end);
        }
        from = start + len.max(1);
    }
    found
}

fn next_scheme(s: &str) -> Option<usize> {
    match (s.find("https://"), s.find("http://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Byte ranges of `@handle.domain` mentions (the `@` included) and the handle they name.
pub(crate) fn mentions(text: &str) -> Vec<(Range<usize>, String)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        let boundary_ok = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "([\"'".contains(c));
        if !boundary_ok {
            continue;
        }
        let rest = &text[at + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        let handle = rest[..len].trim_end_matches(['.', '-']);
        let labels: Vec<&str> = handle.split('.').collect();
        if labels.len() >= 2 && labels.iter().all(|l| !l.is_empty()) {
            found.push((at..at + 1 + handle.len(), handle.to_ascii_lowercase()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_html_comes_back_as_the_posted_text() {
        let html = "<p>Flu shots Saturday &amp; Sunday</p><p>Book: <a href=\"https://example.org/flu-clinic-2024\" rel=\"nofollow noopener\" target=\"_blank\"><span class=\"invisible\">https://</span><span class=\"ellipsis\">example.org/flu-clin</span><span class=\"invisible\">ic-2024</span></a><br />Questions? &lt;ask&gt; &#39;us&#39; &#x1F600;</p>";
        assert_eq!(
            strip_html(html),
            "Flu shots Saturday & Sunday\n\nBook: https://example.org/flu-clinic-2024\nQuestions? <ask> 'us' 😀"
        );
        assert_eq!(strip_html("a &bogus; & b"), "a &bogus; & b");
        assert_eq!(strip_html("unclosed <b"), "unclosed <b");
    }

    #[test]
    fn whitespace_is_normalized() {
        assert_eq!(normalize_ws("  a\n\nb \t c "), "a b c");
    }

    #[test]
    fn links_are_found_by_byte_offset() {
        let text =
            "Café news: https://example.org/a?b=1. Also (http://x.test/y) and https:// nothing";
        let found: Vec<&str> = links(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(found, ["https://example.org/a?b=1", "http://x.test/y"]);
        assert_eq!(
            links("café https://é.test").first().map(|r| r.start),
            Some(6)
        );
        assert!(links("xhttps://example.org").is_empty());
    }

    #[test]
    fn mentions_need_a_domain() {
        let text = "Thanks @alice.test and @bob, mail me@example.org (@carol.bsky.social).";
        let found: Vec<(&str, String)> = mentions(text)
            .into_iter()
            .map(|(r, h)| (&text[r], h))
            .collect();
        assert_eq!(
            found,
            [
                ("@alice.test", "alice.test".to_owned()),
                ("@carol.bsky.social", "carol.bsky.social".to_owned())
            ]
        );
    }
}
