//! PHI number windows on long text whose words are mostly non-ASCII.

use screen::{Message, Policy, SafeHarbor, Screener};

/// A long paste of CJK words holds no byte that a number pattern counts, so a window walk that
/// does not stop at the neighbouring digit-like runs walks the rest of the text from every word:
/// 140 KB took 19 s in a release build before the walks were bounded.
#[test]
fn numbers_in_a_long_cjk_text_are_found_in_linear_time() {
    let words = [
        "你好",
        "医院",
        "医生",
        "病人",
        "治疗",
        "世界",
        "日本語",
        "東京",
    ];
    let mut text = String::from("call 555-201-3344 bed 4 ");
    for k in 0..6000 {
        text.push_str(words[k % words.len()]);
        text.push(' ');
    }
    text.push_str("12");
    let screener =
        Screener::new(Policy::default()).unwrap_or_else(|e| panic!("default policy compiles: {e}"));
    let started = std::time::Instant::now();
    let report = screener
        .screen(&Message::incoming(text.as_str()))
        .expect("screens");
    let phones: Vec<&str> = report
        .phi
        .iter()
        .filter(|p| p.category == SafeHarbor::D)
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(phones, vec!["555-201-3344"]);
    // Generous for a debug build on a loaded machine; the quadratic walk took minutes here.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "screening took {:?}",
        started.elapsed()
    );
}
