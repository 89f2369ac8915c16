//! Promotion: outgoing posts that break the FDA rules for prescription-drug promotion (21 CFR 202.1
//! and OPDP's guidance on social media and character-limited platforms) or the FTC's disclosure
//! rules for paid posts.
//!
//! Most checks are about the organization's own products, which the policy lists with their generic
//! name, approved indications and risk-information URL: a benefit claim needs risk information in
//! the same post (fair balance), a use must be an approved indication (off-label), comparisons need
//! head-to-head evidence (superiority), and the brand name needs its generic name. Absolute claims
//! ("100% safe", "painless surgery") and missing paid-post disclosures apply to every organization.
//!
//! One automaton holds every cue (product names, conditions, claim, risk, comparison and disclosure
//! words); a post with no cue costs one pass and no allocation.

use crate::ScreenError;
use crate::message::Direction;
use crate::policy::{Policy, Product};
use crate::report::{Action, Category, Severity, Span};
use crate::rules::RuleInfo;
use crate::text::Scan;

use super::{Ctx, Hit, Lexeme, Sink};

/// The promotion rules.
pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "promotion.fair_balance",
        category: Category::Promotion,
        severity: Severity::High,
        incoming: None,
        outgoing: Some(Action::Block),
        summary: "A benefit claim about a product with no risk information or link to it in the same post.",
    },
    RuleInfo {
        id: "promotion.absolute_claim",
        category: Category::Promotion,
        severity: Severity::High,
        incoming: None,
        outgoing: Some(Action::Block),
        summary: "An absolute claim no treatment can support (\"100% safe\", \"no side effects\", \"cures\", \"painless surgery\").",
    },
    RuleInfo {
        id: "promotion.off_label",
        category: Category::Promotion,
        severity: Severity::High,
        incoming: None,
        outgoing: Some(Action::Block),
        summary: "A product presented for a condition or use that is not among its approved indications.",
    },
    RuleInfo {
        id: "promotion.superiority",
        category: Category::Promotion,
        severity: Severity::Medium,
        incoming: None,
        outgoing: Some(Action::Review),
        summary: "A comparative claim about a product (\"better than\", \"#1\", \"outperforms\") without cited head-to-head evidence.",
    },
    RuleInfo {
        id: "promotion.missing_generic",
        category: Category::Promotion,
        severity: Severity::Medium,
        incoming: None,
        outgoing: Some(Action::Review),
        summary: "A product's brand name appears without its generic (established) name.",
    },
    RuleInfo {
        id: "promotion.missing_disclosure",
        category: Category::Promotion,
        severity: Severity::High,
        incoming: None,
        outgoing: Some(Action::Block),
        summary: "A paid or sponsored post without a disclosure such as #ad, Sponsored or Paid partnership.",
    },
];

const FAIR_BALANCE: &RuleInfo = &RULES[0];
const ABSOLUTE: &RuleInfo = &RULES[1];
const OFF_LABEL: &RuleInfo = &RULES[2];
const SUPERIORITY: &RuleInfo = &RULES[3];
const MISSING_GENERIC: &RuleInfo = &RULES[4];
const MISSING_DISCLOSURE: &RuleInfo = &RULES[5];

/// Common conditions and uses, grouped by meaning (see the file's header).
const CONDITIONS: &str = include_str!("../../lexicons/en/promotion/conditions.tsv");

/// Words that claim a benefit.
const BENEFIT: &[&str] = &[
    "works",
    "worked",
    "effective",
    "effectively",
    "efficacy",
    "reduce",
    "reduces",
    "reduced",
    "reducing",
    "reduction",
    "relief",
    "relieve",
    "relieves",
    "relieving",
    "help",
    "helps",
    "helped",
    "helping",
    "lower",
    "lowers",
    "lowered",
    "lowering",
    "improve",
    "improves",
    "improved",
    "improvement",
    "improving",
    "prevent",
    "prevents",
    "prevention",
    "protect",
    "protects",
    "protection",
    "control",
    "controls",
    "fight",
    "fights",
    "boost",
    "boosts",
    "ease",
    "eases",
    "heal",
    "heals",
    "clears",
    "clearer",
    "treat",
    "treats",
    "feel better",
    "get back to",
    "fewer",
    "proven",
    "clinically proven",
    "shown to",
    "significantly",
    "powerful",
    "fast-acting",
    "fast acting",
    "long-lasting",
    "all-day",
    "freedom from",
];

/// Risk information that satisfies fair balance on its own.
const RISK: &[&str] = &[
    "side effects",
    "side effect",
    "risks",
    "serious risks",
    "warning",
    "warnings",
    "boxed warning",
    "contraindicated",
    "contraindications",
    "adverse reactions",
    "adverse events",
    "may cause",
    "can cause",
    "could cause",
    "allergic reaction",
    "allergic reactions",
    "do not take",
    "don't take",
    "do not use",
    "should not take",
    "should not use",
    "precautions",
    "increased risk",
    "full prescribing information",
    "prescribing information",
    "important safety information",
    "important risk information",
    "isi",
    "medication guide",
];

/// References to risk information that count only when the post also carries a link.
const RISK_REFERENCE: &[&str] = &[
    "safety information",
    "safety info",
    "risk information",
    "risk info",
];

/// Link markers.
const LINK: &[&str] = &["http://", "https://", "www."];

/// Claims no medicine or procedure can make.
const ABSOLUTE_CLAIMS: &[&str] = &[
    "100% safe",
    "100 % safe",
    "100 percent safe",
    "completely safe",
    "totally safe",
    "perfectly safe",
    "absolutely safe",
    "entirely safe",
    "no side effects",
    "zero side effects",
    "without side effects",
    "without any side effects",
    "free of side effects",
    "side-effect-free",
    "side effect free",
    "no risks",
    "zero risk",
    "risk-free",
    "risk free",
    "without risk",
    "without any risk",
    "guaranteed results",
    "results guaranteed",
    "guaranteed relief",
    "guaranteed to work",
    "guaranteed to cure",
    "guaranteed to help",
    "guaranteed to heal",
    "guaranteed to relieve",
    "guaranteed success",
    "success guaranteed",
    "we guarantee",
    "miracle drug",
    "miracle cure",
    "miracle pill",
    "miracle treatment",
    "miracle medicine",
    "miracle worker",
    "miracle product",
    "miracle results",
    "miracle surgery",
    "painless surgery",
    "painless surgeries",
    "painless procedure",
    "painless procedures",
    "painless treatment",
    "painless treatments",
    "pain-free surgery",
    "pain-free procedure",
    "pain-free procedures",
    "pain free surgery",
    "100% effective",
    "100 percent effective",
    "100% success",
    "works for everyone",
    "works every time",
    "always works",
    "never fails",
    "permanent cure",
    "instant cure",
];

/// Words that put children in a post: next to a product approved only in adults they present an
/// unapproved population, as an unlisted condition presents an unapproved use.
const CHILDREN: &[&str] = &[
    "kids",
    "kid",
    "child",
    "children",
    "your child",
    "pediatric",
    "paediatric",
    "teens",
    "teenagers",
    "adolescents",
    "toddlers",
    "infants",
    "babies",
    "whole family",
];

/// How a label speaks of children without presenting a use in them ("keep out of reach of
/// children", "safety and effectiveness in children have not been established").
const CHILDREN_FRAMING: &[&str] = &["out of reach", "not been established", "not recommended"];

/// Forms of "cure", which are claims only when something is said to cure.
const CURE: &[&str] = &["cure", "cures", "cured", "curing"];

/// What can be said to cure ("this pill cures …") when no product is named.
const CURE_SUBJECTS: &[&str] = &[
    "it",
    "this",
    "treatment",
    "therapy",
    "drug",
    "medication",
    "medicine",
    "procedure",
    "surgery",
    "pill",
    "pills",
    "formula",
    "product",
    "supplement",
    "remedy",
    "cream",
    "injection",
    "shot",
];

/// Comparative and superlative claims.
const SUPERIORITY_CLAIMS: &[&str] = &[
    "better than",
    "superior to",
    "superior",
    "the best",
    "#1",
    "# 1",
    "number one",
    "no. 1",
    "no.1",
    "beats",
    "outperforms",
    "outperformed",
    "outperform",
    "more effective than",
    "works better",
    "stronger than",
    "safer than",
    "faster than",
    "better results than",
    "unlike other",
    "best-in-class",
    "best in class",
];

/// Citations of comparative evidence.
const SUBSTANTIATION: &[&str] = &[
    "head-to-head",
    "head to head",
    "randomized",
    "clinical trial",
    "clinical trials",
    "clinical study",
    "clinical studies",
    "in a study",
    "study showed",
    "studies show",
    "trial showed",
    "[1]",
];

/// Paid-post disclosures recognised by the FTC Endorsement Guides and the networks.
const DISCLOSURE: &[&str] = &[
    "#ad",
    "#ads",
    "#sponsored",
    "sponsored",
    "#paid",
    "paid partnership",
    "paid partner",
    "#paidpartnership",
    "#partner",
    "paid promotion",
    "paid post",
    "advertisement",
    "#advertisement",
    "#spon",
    "in partnership with",
];

/// Words that negate a claim just after them ("no medicine is 100% safe").
const NEGATORS: &[&str] = &[
    "no", "not", "never", "isn't", "aren't", "wasn't", "can't", "cannot", "don't", "doesn't",
    "nothing", "none", "nor",
];

/// Phrases that make a condition next to a product a warning rather than a use.
const RISK_FRAMING: &[&str] = &[
    "not approved",
    "not indicated",
    "not for ",
    "isn't approved",
    "is not",
    "do not",
    "don't",
    "should not",
    "if you have",
    "history of",
    "may cause",
    "can cause",
    "side effect",
    "risk of",
    "warning",
    "allerg",
    "tell your doctor",
    "patients with",
];

/// Which of a product's names a cue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Brand,
    Generic,
}

/// What a matched pattern means; one pattern can mean several things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    Product(usize, NameKind),
    Indication(usize),
    Condition(usize),
    Children,
    RiskUrl(usize),
    Benefit,
    Risk,
    RiskReference,
    Link,
    Absolute,
    Cure,
    Superiority,
    Substantiation,
    Disclosure,
}

impl Cue {
    /// Cues that may touch letters on either side (links, URLs, hashtags after text).
    fn needs_boundaries(self) -> bool {
        !matches!(self, Cue::Link | Cue::RiskUrl(_))
    }
}

/// One cue found in a message, in `norm` bytes.
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    cue: Cue,
}

/// A product as the detector needs it.
struct ProductInfo {
    name: String,
    generic: String,
    indications: String,
    risk_info_url: Option<String>,
    /// Condition groups covered by the approved indications.
    approved: Vec<usize>,
    /// Whether the policy lists indications at all (without them off-label cannot be judged).
    has_indications: bool,
    /// Every indication is "in adults": a post that presents it for children is off-label.
    adults_only: bool,
    /// The generic name differs from the brand, so it must appear.
    needs_generic: bool,
}

/// The compiled promotion detector.
pub(crate) struct Detector {
    /// Cues searched in the shared lexicon pass ([`super::Lexicons`]).
    pub patterns: Vec<String>,
    /// `meanings[pattern id]`.
    meanings: Vec<Vec<Cue>>,
    products: Vec<ProductInfo>,
    condition_names: Vec<&'static str>,
}

/// Adds `pattern` with meaning `cue`, merging duplicates. Patterns are normalized like message
/// text, so a policy's "Zelvöra" matches a post's "ZELVORA".
fn add(patterns: &mut Vec<String>, meanings: &mut Vec<Vec<Cue>>, pattern: &str, cue: Cue) {
    let pattern = Scan::new(pattern.trim()).norm;
    if pattern.is_empty() {
        return;
    }
    match patterns.iter().position(|p| *p == pattern) {
        Some(i) => {
            if let Some(m) = meanings.get_mut(i)
                && !m.contains(&cue)
            {
                m.push(cue);
            }
        }
        None => {
            patterns.push(pattern);
            meanings.push(vec![cue]);
        }
    }
}

/// True when `needle` occurs in `hay` with no letter or digit on either side.
fn contains_word(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay.get(..i).and_then(|s| s.chars().next_back());
        let after = hay.get(i + needle.len()..).and_then(|s| s.chars().next());
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// A risk-information URL as it appears in text: no scheme, no `www.`, no trailing slash.
fn bare_url(url: &str) -> String {
    let u = url.trim().to_lowercase();
    let u = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .unwrap_or(&u);
    let u = u.strip_prefix("www.").unwrap_or(u);
    u.trim_end_matches('/').to_owned()
}

impl Detector {
    /// Compile the cue automaton for the policy's products.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        let mut patterns = Vec::new();
        let mut meanings = Vec::new();
        let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for line in CONDITIONS.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((group, variants)) = line.split_once('\t') else {
                continue;
            };
            groups.push((
                group,
                variants
                    .split('|')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .collect(),
            ));
        }

        let products: Vec<ProductInfo> = policy
            .products
            .iter()
            .map(|p| product_info(p, &groups))
            .collect();
        if !products.is_empty() {
            for (g, (_, variants)) in groups.iter().enumerate() {
                for v in variants {
                    add(&mut patterns, &mut meanings, v, Cue::Condition(g));
                }
            }
            for (i, p) in policy.products.iter().enumerate() {
                add(
                    &mut patterns,
                    &mut meanings,
                    &p.name,
                    Cue::Product(i, NameKind::Brand),
                );
                for a in &p.aliases {
                    add(
                        &mut patterns,
                        &mut meanings,
                        a,
                        Cue::Product(i, NameKind::Brand),
                    );
                }
                add(
                    &mut patterns,
                    &mut meanings,
                    &p.generic,
                    Cue::Product(i, NameKind::Generic),
                );
                for ind in &p.indications {
                    add(&mut patterns, &mut meanings, ind, Cue::Indication(i));
                }
                if let Some(url) = &p.risk_info_url {
                    add(
                        &mut patterns,
                        &mut meanings,
                        &bare_url(url),
                        Cue::RiskUrl(i),
                    );
                }
            }
            let lists: [(&[&str], Cue); 8] = [
                (CHILDREN, Cue::Children),
                (BENEFIT, Cue::Benefit),
                (RISK, Cue::Risk),
                (RISK_REFERENCE, Cue::RiskReference),
                (LINK, Cue::Link),
                (SUPERIORITY_CLAIMS, Cue::Superiority),
                (SUBSTANTIATION, Cue::Substantiation),
                (CURE, Cue::Cure),
            ];
            for (list, cue) in lists {
                for w in list {
                    add(&mut patterns, &mut meanings, w, cue);
                }
            }
        } else {
            for w in CURE {
                add(&mut patterns, &mut meanings, w, Cue::Cure);
            }
        }
        for w in ABSOLUTE_CLAIMS {
            add(&mut patterns, &mut meanings, w, Cue::Absolute);
        }
        for w in DISCLOSURE {
            add(&mut patterns, &mut meanings, w, Cue::Disclosure);
        }
        let condition_names = groups.iter().map(|(g, _)| *g).collect();
        Ok(Detector {
            patterns,
            meanings,
            products,
            condition_names,
        })
    }

    /// Append hits for one outgoing message.
    /// `cues` holds the leftmost-longest matches of `patterns`.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink, cues: &[Lexeme]) {
        if cx.msg.direction != Direction::Outgoing {
            return;
        }
        let scan = cx.scan;
        let mut found: Vec<Found> = Vec::new();
        for m in cues {
            let Some(meanings) = self.meanings.get(m.pattern) else {
                continue;
            };
            let boundaries = scan.at_word_boundaries(m.range.clone());
            for &cue in meanings {
                if boundaries || !cue.needs_boundaries() {
                    found.push(Found {
                        start: m.range.start,
                        end: m.range.end,
                        cue,
                    });
                }
            }
        }
        // Without a cue that needs word boundaries only links were found, and links alone raise
        // nothing but the missing disclosure of a paid post.
        if !found.iter().any(|f| f.cue.needs_boundaries()) {
            if cx.msg.paid {
                missing_disclosure(scan, sink);
            }
            return;
        }
        if cx.msg.paid && !found.iter().any(|f| f.cue == Cue::Disclosure) {
            missing_disclosure(cx.scan, sink);
        }
        if found.is_empty() {
            return;
        }
        let mentions: Vec<Found> = found
            .iter()
            .copied()
            .filter(|f| matches!(f.cue, Cue::Product(..)))
            .collect();
        for f in &found {
            match f.cue {
                Cue::Absolute if !negated(scan, f.start) => sink.hits.push(absolute_hit(scan, f)),
                Cue::Cure if self.cure_is_claim(scan, f, &mentions) => {
                    sink.hits.push(absolute_hit(scan, f))
                }
                _ => {}
            }
        }
        if mentions.is_empty() {
            return;
        }
        sink.health_context = true;
        self.check_products(scan, &found, &mentions, sink);
    }

    /// The product checks, for a post that names at least one product.
    fn check_products(
        &self,
        scan: &Scan<'_>,
        found: &[Found],
        mentions: &[Found],
        sink: &mut Sink,
    ) {
        let any = |c: Cue| found.iter().any(|f| f.cue == c);
        let general_risk = any(Cue::Risk) || (any(Cue::RiskReference) && any(Cue::Link));
        let substantiated = any(Cue::Substantiation);
        let mut claimed = vec![false; self.products.len()];
        for f in found {
            if !matches!(
                f.cue,
                Cue::Benefit | Cue::Indication(_) | Cue::Superiority | Cue::Condition(_)
            ) {
                continue;
            }
            let Some(m) = nearest_mention(scan, mentions, f, true) else {
                continue;
            };
            let Cue::Product(p, _) = m.cue else { continue };
            let Some(info) = self.products.get(p) else {
                continue;
            };
            // Naming the product with its indication is a product claim; unapproved uses are off_label's.
            if let Cue::Condition(g) = f.cue
                && !info.approved.contains(&g)
            {
                continue;
            }
            if claimed.get(p).copied().unwrap_or(true) || general_risk || any(Cue::RiskUrl(p)) {
                continue;
            }
            if let Some(c) = claimed.get_mut(p) {
                *c = true;
            }
            // Highlight from the product's first mention in the claim's sentence when it leads the claim.
            let sentence = scan.sentence_at(f.start);
            let lead = mentions.iter().find(|x| {
                matches!(x.cue, Cue::Product(q, _) if q == p)
                    && x.start >= sentence.start
                    && x.end <= f.start
            });
            let range = lead.map_or(f.start, |x| x.start)..f.end;
            let said = scan.orig_text(range.clone());
            let fix = match &info.risk_info_url {
                Some(url) => format!(
                    "Add the most important risks, or \"See Important Safety Information: {url}\"."
                ),
                None => {
                    "Add the most important risks and a link to the full prescribing information."
                        .to_owned()
                }
            };
            sink.hits.push(
                Hit::new(
                    FAIR_BALANCE,
                    scan.orig(range),
                    format!(
                        "\"{said}\" claims a benefit of {} but the post has no risk information or link to it; \
                         FDA requires fair balance of benefits and risks in the same post (21 CFR 202.1(e)(5)).",
                        info.name
                    ),
                )
                .suggest(fix),
            );
        }

        for f in found {
            match f.cue {
                Cue::Condition(g) => self.check_off_label(scan, mentions, f, g, sink),
                Cue::Children => self.check_children(scan, mentions, f, sink),
                Cue::Superiority if !substantiated && !negated(scan, f.start) => {
                    let Some(info) = self.nearest_product(scan, mentions, f) else {
                        continue;
                    };
                    let said = scan.orig_text(f.start..f.end);
                    sink.hits.push(
                        Hit::new(
                            SUPERIORITY,
                            scan.orig(f.start..f.end),
                            format!(
                                "\"{said}\" makes a comparative claim about {}, which needs substantial evidence from \
                                 head-to-head trials (21 CFR 202.1(e)(6)(ii)) and the post cites none.",
                                info.name
                            ),
                        )
                        .suggest("Remove the comparison, or state it exactly as the approved labeling or a cited head-to-head study supports it."),
                    );
                }
                _ => {}
            }
        }

        for (p, info) in self.products.iter().enumerate() {
            if !info.needs_generic
                || mentions
                    .iter()
                    .any(|m| m.cue == Cue::Product(p, NameKind::Generic))
            {
                continue;
            }
            let Some(first) = mentions
                .iter()
                .find(|m| m.cue == Cue::Product(p, NameKind::Brand))
            else {
                continue;
            };
            let said = scan.orig_text(first.start..first.end);
            sink.hits.push(
                Hit::new(
                    MISSING_GENERIC,
                    scan.orig(first.start..first.end),
                    format!(
                        "\"{said}\" appears without its generic name ({}); the established name must accompany the brand \
                         name (21 CFR 202.1(b)(1)).",
                        info.generic
                    ),
                )
                .suggest(format!("Write \"{} ({})\" at least once.", info.name, info.generic)),
            );
        }
    }

    /// Off-label: a condition presented next to a product whose indications do not cover it.
    fn check_off_label(
        &self,
        scan: &Scan<'_>,
        mentions: &[Found],
        f: &Found,
        group: usize,
        sink: &mut Sink,
    ) {
        let Some(info) = self.nearest_product(scan, mentions, f) else {
            return;
        };
        let said = scan.orig_text(f.start..f.end);
        let said_norm = scan.norm.get(f.start..f.end).unwrap_or_default();
        if !info.has_indications
            || info.approved.contains(&group)
            || contains_word(&info.indications, said_norm)
        {
            return;
        }
        if framed_as_warning(scan, f, &[]) {
            return;
        }
        let group_name = self
            .condition_names
            .get(group)
            .copied()
            .unwrap_or_default()
            .replace('_', " ");
        let use_name = if group_name.is_empty() || group_name == said_norm {
            String::new()
        } else {
            format!(" ({group_name})")
        };
        sink.hits.push(
            Hit::new(
                OFF_LABEL,
                scan.orig(f.start..f.end),
                format!(
                    "\"{said}\"{use_name} is presented as a use of {}, which is approved only for {}; promoting an \
                     unapproved use is off-label promotion (21 CFR 202.1(e)(4)).",
                    info.name, info.indications
                ),
            )
            .suggest("Remove the unapproved use; questions about other uses go to Medical Information, not a post."),
        );
    }

    /// The product mentioned nearest to `f` in its sentence.
    fn nearest_product(
        &self,
        scan: &Scan<'_>,
        mentions: &[Found],
        f: &Found,
    ) -> Option<&ProductInfo> {
        match nearest_mention(scan, mentions, f, false)?.cue {
            Cue::Product(p, _) => self.products.get(p),
            _ => None,
        }
    }

    /// Off-label by population: children named in the same sentence as a product approved only in
    /// adults, unless the sentence warns about them.
    fn check_children(&self, scan: &Scan<'_>, mentions: &[Found], f: &Found, sink: &mut Sink) {
        let Some(info) = self
            .nearest_product(scan, mentions, f)
            .filter(|i| i.adults_only)
        else {
            return;
        };
        if framed_as_warning(scan, f, CHILDREN_FRAMING) {
            return;
        }
        let said = scan.orig_text(f.start..f.end);
        sink.hits.push(
            Hit::new(
                OFF_LABEL,
                scan.orig(f.start..f.end),
                format!(
                    "\"{said}\" presents {} for children, which is approved only for {}; promoting use in an \
                     unapproved population is off-label promotion (21 CFR 202.1(e)(4)).",
                    info.name, info.indications
                ),
            )
            .suggest("Remove the reference to children; questions about use in children go to Medical Information, not a post."),
        );
    }

    /// "Cure" is a claim when a product in the same sentence or a treatment word before it is
    /// said to cure, and nothing negates it ("there is no cure", "we hope to find a cure").
    fn cure_is_claim(&self, scan: &Scan<'_>, f: &Found, mentions: &[Found]) -> bool {
        if negated(scan, f.start) {
            return false;
        }
        if nearest_mention(scan, mentions, f, false).is_some() {
            let word = scan.norm.get(f.start..f.end).unwrap_or_default();
            let before = scan
                .words_before(f.start, 1, scan.sentence_at(f.start).start)
                .next();
            return word != "cure" || !matches!(before, Some("a" | "the" | "for" | "find" | "no"));
        }
        let sentence = scan.sentence_at(f.start);
        matches!(scan.norm.get(f.start..f.end), Some("cures" | "cured"))
            && scan
                .words_before(f.start, 1, sentence.start)
                .next()
                .is_some_and(|w| CURE_SUBJECTS.contains(&w))
    }
}

/// The product facts the checks need, with indications resolved to condition groups.
fn product_info(p: &Product, groups: &[(&'static str, Vec<&'static str>)]) -> ProductInfo {
    let indications: Vec<String> = p
        .indications
        .iter()
        .map(|i| Scan::new(i.trim()).norm)
        .filter(|i| !i.is_empty())
        .collect();
    let approved = groups
        .iter()
        .enumerate()
        .filter(|(_, (_, variants))| {
            variants
                .iter()
                .any(|v| indications.iter().any(|i| contains_word(i, v)))
        })
        .map(|(g, _)| g)
        .collect();
    let generic = p.generic.trim().to_owned();
    ProductInfo {
        name: p.name.trim().to_owned(),
        needs_generic: !generic.is_empty() && !generic.eq_ignore_ascii_case(p.name.trim()),
        generic,
        has_indications: !indications.is_empty(),
        adults_only: !indications.is_empty()
            && indications
                .iter()
                .all(|i| contains_word(i, "adults") || contains_word(i, "adult")),
        indications: indications.join("; "),
        risk_info_url: p.risk_info_url.clone(),
        approved,
    }
}

/// True when the sentence of `f` frames it as a warning or limitation ([`RISK_FRAMING`] or
/// `more`), or a negator precedes it.
fn framed_as_warning(scan: &Scan<'_>, f: &Found, more: &[&str]) -> bool {
    let text = scan.norm.get(scan.sentence_at(f.start)).unwrap_or_default();
    RISK_FRAMING.iter().chain(more).any(|r| text.contains(r)) || negated(scan, f.start)
}

/// The paid-post check, spanning the whole post: the missing disclosure belongs to no single word.
fn missing_disclosure(scan: &Scan<'_>, sink: &mut Sink) {
    let text = scan.text;
    let start = text.len() - text.trim_start().len();
    let end = text.trim_end().len();
    if start >= end {
        return;
    }
    sink.hits.push(
        Hit::new(
            MISSING_DISCLOSURE,
            Span::new(start, end),
            "This post is marked as paid but has no disclosure such as \"#ad\", \"Sponsored\" or \"Paid partnership\"; \
             the FTC Endorsement Guides (16 CFR 255) require a clear one.",
        )
        .suggest("Start the post with \"#ad\" or \"Sponsored\", or use the network's paid-partnership label."),
    );
}

/// An absolute-claim hit.
fn absolute_hit(scan: &Scan<'_>, f: &Found) -> Hit {
    let said = scan.orig_text(f.start..f.end);
    Hit::new(
        ABSOLUTE,
        scan.orig(f.start..f.end),
        format!(
            "\"{said}\" is an absolute claim that no medicine or procedure can support; FDA and FTC treat it as false \
             or misleading."
        ),
    )
    .suggest("Describe the benefit with its limits and say that risks exist.")
}

/// True when one of the three words before `pos` in its sentence negates what follows.
fn negated(scan: &Scan<'_>, pos: usize) -> bool {
    let sentence = scan.sentence_at(pos);
    scan.words_before(pos, 3, sentence.start)
        .any(|w| NEGATORS.contains(&w))
}

/// The product mention closest to `f` in its sentence or, with `neighbours`, also in the sentences
/// just before and after it ("Meet Zelvora. It lowers …", "Living with psoriasis? Ask about Zelvora.").
fn nearest_mention<'m>(
    scan: &Scan<'_>,
    mentions: &'m [Found],
    f: &Found,
    neighbours: bool,
) -> Option<&'m Found> {
    let sentence = scan.sentence_at(f.start);
    let (mut from, mut to) = (sentence.start, sentence.end);
    if neighbours {
        if from > 0 {
            from = scan.sentence_at(from.saturating_sub(2)).start;
        }
        if to < scan.norm.len() {
            to = scan.sentence_at(to.saturating_add(1)).end.max(to);
        }
    }
    let first = mentions.partition_point(|m| m.start < from);
    mentions
        .get(first..)
        .unwrap_or_default()
        .iter()
        .take_while(|m| m.end <= to)
        .min_by_key(|m| m.start.abs_diff(f.start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn pharma() -> Policy {
        Policy {
            products: vec![
                Product {
                    name: "Zelvora".into(),
                    generic: "zelvumab".into(),
                    indications: vec!["moderate to severe plaque psoriasis".into()],
                    risk_info_url: Some("https://zelvora-example.com/isi".into()),
                    aliases: vec!["Zelvora Pen".into()],
                },
                Product {
                    name: "Cardiquil".into(),
                    generic: "examplatan".into(),
                    indications: vec!["hypertension in adults".into()],
                    risk_info_url: None,
                    aliases: vec![],
                },
            ],
            ..Policy::default()
        }
    }

    fn run(policy: &Policy, msg: &Message) -> Vec<(&'static str, String)> {
        let det = Detector::new(policy).unwrap_or_else(|e| panic!("{e}"));
        let scan = Scan::new(&msg.text);
        let mut sink = Sink::default();
        det.run(
            &Ctx { msg, scan: &scan },
            &mut sink,
            &super::super::lexemes(&det.patterns, &scan.norm),
        );
        sink.hits
            .iter()
            .map(|h| (h.rule.id, msg.text[h.span.start..h.span.end].to_owned()))
            .collect()
    }

    fn fires(text: &str, rule: &str, matched: &str) {
        let got = run(&pharma(), &Message::outgoing(text));
        assert!(
            got.iter().any(|(r, m)| *r == rule && m == matched),
            "{text}: {got:?}"
        );
    }

    fn silent(text: &str, rule: &str) {
        let got = run(&pharma(), &Message::outgoing(text));
        assert!(!got.iter().any(|(r, _)| *r == rule), "{text}: {got:?}");
    }

    #[test]
    fn fair_balance() {
        fires(
            "Zelvora (zelvumab) helps clear plaque psoriasis.",
            "promotion.fair_balance",
            "Zelvora (zelvumab) helps",
        );
        fires(
            "Meet Cardiquil (examplatan). It lowers blood pressure.",
            "promotion.fair_balance",
            "lowers",
        );
        fires(
            "Cardiquil (examplatan) for hypertension in adults.",
            "promotion.fair_balance",
            "Cardiquil (examplatan) for hypertension in adults",
        );
        silent(
            "Zelvora (zelvumab) helps clear psoriasis. Serious side effects can occur.",
            "promotion.fair_balance",
        );
        silent(
            "Zelvora (zelvumab) helps clear psoriasis. See zelvora-example.com/isi",
            "promotion.fair_balance",
        );
        silent(
            "Cardiquil (examplatan) lowers blood pressure. Safety information: https://ex.com/c",
            "promotion.fair_balance",
        );
        silent(
            "Cardiquil (examplatan) works. See Full Prescribing Information incl. Boxed Warning.",
            "promotion.fair_balance",
        );
        silent(
            "Our team helps patients every day.",
            "promotion.fair_balance",
        );
        fires(
            "Living with plaque psoriasis? Ask your doctor about Zelvora.",
            "promotion.fair_balance",
            "plaque psoriasis",
        );
        silent(
            "Zelvora (zelvumab) is now available in a pen. See Important Safety Information.",
            "promotion.fair_balance",
        );
    }

    #[test]
    fn absolute_claims() {
        fires(
            "Zelvora is 100% safe!",
            "promotion.absolute_claim",
            "100% safe",
        );
        fires(
            "No side effects, ever.",
            "promotion.absolute_claim",
            "No side effects",
        );
        fires(
            "Zelvora cures psoriasis.",
            "promotion.absolute_claim",
            "cures",
        );
        fires(
            "This pill cured my back pain",
            "promotion.absolute_claim",
            "cured",
        );
        fires(
            "A risk-free way to feel better",
            "promotion.absolute_claim",
            "risk-free",
        );
        let hospital = Policy::default();
        let got = run(
            &hospital,
            &Message::outgoing("Painless surgery with guaranteed results at our clinic."),
        );
        assert!(
            got.contains(&("promotion.absolute_claim", "Painless surgery".to_owned())),
            "{got:?}"
        );
        assert!(
            got.contains(&("promotion.absolute_claim", "guaranteed results".to_owned())),
            "{got:?}"
        );
        for text in [
            "No medicine is 100% safe.",
            "There is no cure for psoriasis yet, but research continues.",
            "Join our walk to find a cure!",
            "Our NICU miracle babies are home!",
            "Parking is guaranteed for patients.",
        ] {
            let got = run(&hospital, &Message::outgoing(text));
            assert!(got.is_empty(), "{text}: {got:?}");
            silent(text, "promotion.absolute_claim");
        }
    }

    #[test]
    fn off_label() {
        fires(
            "Use Zelvora (zelvumab) for weight loss too!",
            "promotion.off_label",
            "weight loss",
        );
        fires(
            "Cardiquil (examplatan) may also help your migraines.",
            "promotion.off_label",
            "migraines",
        );
        silent(
            "Zelvora (zelvumab) for plaque psoriasis. Side effects include infections.",
            "promotion.off_label",
        );
        silent(
            "Cardiquil (examplatan) lowers high blood pressure. Risks: dizziness.",
            "promotion.off_label",
        );
        silent("Zelvora is not approved for eczema.", "promotion.off_label");
        silent(
            "Do not take Cardiquil (examplatan) if you have kidney disease.",
            "promotion.off_label",
        );
        silent("Weight loss tips for the new year!", "promotion.off_label");
    }

    #[test]
    fn children_next_to_a_product_approved_in_adults_are_off_label() {
        fires(
            "Cardiquil (examplatan) is safe and effective for the whole family, even kids!",
            "promotion.off_label",
            "whole family",
        );
        fires(
            "Healthy blood pressure for teens with Cardiquil (examplatan).",
            "promotion.off_label",
            "teens",
        );
        for text in [
            "Cardiquil (examplatan) is not approved for children.",
            "Keep Cardiquil (examplatan) out of reach of children.",
            "Safety and effectiveness of Cardiquil (examplatan) in children have not been established.",
            "Our pediatric clinic opens Monday.",
            // Zelvora's indication names no population.
            "Zelvora (zelvumab) for plaque psoriasis in teens. See Important Safety Information.",
        ] {
            silent(text, "promotion.off_label");
        }
    }

    #[test]
    fn explanations_name_the_product_and_its_indications() {
        let msg = Message::outgoing("Use Zelvora (zelvumab) for weight loss too!");
        let det = Detector::new(&pharma()).unwrap_or_else(|e| panic!("{e}"));
        let scan = Scan::new(&msg.text);
        let mut sink = Sink::default();
        det.run(
            &Ctx {
                msg: &msg,
                scan: &scan,
            },
            &mut sink,
            &super::super::lexemes(&det.patterns, &scan.norm),
        );
        let off = sink
            .hits
            .iter()
            .find(|h| h.rule.id == "promotion.off_label")
            .map(|h| &*h.explanation);
        assert_eq!(
            off,
            Some(
                "\"weight loss\" is presented as a use of Zelvora, which is approved only for moderate to severe plaque \
                 psoriasis; promoting an unapproved use is off-label promotion (21 CFR 202.1(e)(4))."
            )
        );
    }

    #[test]
    fn superiority() {
        fires(
            "Zelvora (zelvumab) works better than other biologics.",
            "promotion.superiority",
            "works better",
        );
        fires(
            "Cardiquil: the #1 choice of cardiologists",
            "promotion.superiority",
            "#1",
        );
        silent(
            "In a head-to-head trial, Zelvora beats placebo-adjusted rates of X.",
            "promotion.superiority",
        );
        silent("The best care is close to home.", "promotion.superiority");
    }

    #[test]
    fn missing_generic() {
        fires(
            "Ask about Zelvora today.",
            "promotion.missing_generic",
            "Zelvora",
        );
        fires(
            "The ZELVORA PEN is here.",
            "promotion.missing_generic",
            "ZELVORA PEN",
        );
        fires(
            "Ask about Ｚｅｌｖｏｒａ today.",
            "promotion.missing_generic",
            "Ｚｅｌｖｏｒａ",
        );
        silent(
            "Ask about Zelvora (zelvumab) today.",
            "promotion.missing_generic",
        );
        silent(
            "Zelvumab is studied in new trials.",
            "promotion.missing_generic",
        );
    }

    #[test]
    fn missing_disclosure() {
        let paid = |t: &str| Message {
            paid: true,
            ..Message::outgoing(t)
        };
        let got = run(&Policy::default(), &paid("Loving my new routine!"));
        assert_eq!(
            got,
            vec![(
                "promotion.missing_disclosure",
                "Loving my new routine!".to_owned()
            )]
        );
        for t in [
            "#ad Loving my new routine",
            "Sponsored: my routine",
            "Paid partnership with Example",
            "routine #partner",
        ] {
            assert!(run(&Policy::default(), &paid(t)).is_empty(), "{t}");
        }
        assert!(
            run(
                &Policy::default(),
                &Message::outgoing("Loving my new routine!")
            )
            .is_empty()
        );
        assert_eq!(run(&Policy::default(), &paid("my #adhd journey")).len(), 1);
    }

    #[test]
    fn incoming_is_ignored() {
        let msg = Message {
            paid: true,
            ..Message::incoming("Zelvora is 100% safe and better than anything")
        };
        assert!(run(&pharma(), &msg).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}", cue in "(Zelvora |zelvumab |cures |100% safe |weight loss |better than )*", paid: bool) {
            let msg = Message { paid, ..Message::outgoing(format!("{cue}{text}{cue}")) };
            static DETECTOR: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
            let det = DETECTOR.get_or_init(|| Detector::new(&pharma()).unwrap_or_else(|e| panic!("{e}")));
            let scan = Scan::new(&msg.text);
            let mut sink = Sink::default();
            det.run(
                &Ctx { msg: &msg, scan: &scan },
                &mut sink,
                &super::super::lexemes(&det.patterns, &scan.norm),
            );
            for h in &sink.hits {
                proptest::prop_assert!(msg.text.get(h.span.start..h.span.end).is_some());
            }
        }
    }
}
