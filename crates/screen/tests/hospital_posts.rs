//! Everyday posts of a hospital's social team: which are held for review, and which only carry a
//! flag. A name that may be a patient's holds a post; staff, office holders, departments, events
//! and venues do not, or the review queue fills with posts that never needed it. An age given
//! after a name between commas is read as one.

use screen::{Action, Decision, Message, Policy, Screener};

fn screener(policy: Policy) -> Screener {
    Screener::new(policy).unwrap_or_else(|e| panic!("policy compiles: {e}"))
}

/// The decision on an outgoing post and its findings as (rule, matched text, action).
fn outgoing(s: &Screener, text: &str) -> (Decision, Vec<(String, String, Action)>) {
    let report = s
        .screen(&Message::outgoing(text))
        .unwrap_or_else(|e| panic!("screens: {e}"));
    let found = report
        .findings
        .into_iter()
        .map(|f| (f.rule_id.into_owned(), f.matched, f.action))
        .collect();
    (report.decision, found)
}

fn found(rule: &str, matched: &str, action: Action) -> (String, String, Action) {
    (rule.to_owned(), matched.to_owned(), action)
}

#[test]
fn departments_events_and_meeting_rooms_are_not_identifiers() {
    let s = screener(Policy::default());
    for text in [
        "Grand Rounds this week: Pain Management in Older Adults.",
        "Shoutout to Housekeeping for keeping our units spotless during flu season!",
        "Kudos to Respiratory Therapy for their hard work this winter.",
        "The new Mercy building opens to patients on Monday.",
        "The Women's Board raised $250,000 at the Holiday Gala for our Neonatal Intensive Care Unit.",
        "Our Oncology Nurse Navigators walk with patients from diagnosis through survivorship.",
        "Join the Diabetes Support Group on the first Tuesday of every month in Conference Room 2.",
        "Patient Experience Week: thank you to our Patient Advocates and Interpreter Services team.",
    ] {
        assert_eq!(outgoing(&s, text), (Decision::Allow, vec![]), "{text}");
    }
}

#[test]
fn a_name_holds_a_post_only_when_it_may_be_a_patients() {
    let s = screener(Policy::default());
    let (flag, review) = (Action::Flag, Action::Review);
    for (text, name, action) in [
        (
            "Join us Thursday for Grand Rounds: Dr. Priya Patel on advances in heart failure care.",
            "Priya Patel",
            flag,
        ),
        (
            "Please welcome Sarah Thompson, RN, our new Director of Nursing Quality.",
            "Sarah Thompson, RN",
            flag,
        ),
        (
            "Congratulations to Nurse Manager Tamika Brooks on the DAISY Award!",
            "Tamika Brooks",
            flag,
        ),
        (
            "Our CEO, Jane Whitfield, will speak at the cancer survivors' breakfast.",
            "Jane Whitfield",
            flag,
        ),
        (
            "Sen. Warren joined our volunteers at the winter coat drive today.",
            "Warren",
            flag,
        ),
        (
            "Thank you to Mayor Johnson and the City Council for the new bus line to our campus.",
            "Mayor Johnson",
            flag,
        ),
        // An office holder's stay is as private as anyone's: with health talk, a reviewer looks.
        (
            "Sen. Warren visited our Cancer Center today to talk about research funding.",
            "Warren",
            review,
        ),
        (
            "So proud of our patient Marcus Reed, who rang the bell today after his last round of chemo.",
            "Marcus Reed",
            review,
        ),
        (
            "Volunteer Spotlight: Margaret has given 2,500 hours to our gift shop since 2009.",
            "Margaret",
            review,
        ),
    ] {
        let decision = if action == flag {
            Decision::Allow
        } else {
            Decision::HoldForReview
        };
        assert_eq!(
            outgoing(&s, text),
            (decision, vec![found("phi.name", name, action)]),
            "{text}"
        );
    }
}

#[test]
fn a_town_holds_the_post_only_with_a_person_or_health() {
    let s = screener(Policy::default());
    let (flag, review) = (Action::Flag, Action::Review);
    for (text, decision, expected) in [
        (
            "Our food truck tour stops in Boston on Friday.",
            Decision::Allow,
            vec![found("phi.location", "Boston", flag)],
        ),
        (
            "Our food truck tour stops in Boston on Friday with Margaret.",
            Decision::HoldForReview,
            vec![
                found("phi.location", "Boston", review),
                found("phi.name", "Margaret", review),
            ],
        ),
        (
            "A stroke patient from Boston went home today.",
            Decision::HoldForReview,
            vec![found("phi.location", "Boston", review)],
        ),
        // A country is not a Safe Harbor identifier: flagged, even next to health.
        (
            "Proud to be one of America's best hospitals for cancer care.",
            Decision::Allow,
            vec![found("phi.location", "America", flag)],
        ),
    ] {
        assert_eq!(outgoing(&s, text), (decision, expected), "{text}");
    }
}

#[test]
fn an_action_set_by_the_policy_holds_every_name() {
    let policy = Policy::from_toml("[rules.\"phi.name\"]\naction = \"review\"\n")
        .unwrap_or_else(|e| panic!("policy parses: {e}"));
    let s = screener(policy);
    assert_eq!(
        outgoing(&s, "Meet Dr. Priya Patel, our new cardiologist."),
        (
            Decision::HoldForReview,
            vec![found("phi.name", "Priya Patel", Action::Review)]
        )
    );
}

#[test]
fn incoming_comments_keep_their_actions() {
    let s = screener(Policy::default());
    let report = s
        .screen(&Message::incoming("Dr. Priya Patel saved my dad in Boston"))
        .unwrap_or_else(|e| panic!("screens: {e}"));
    let actions: Vec<Action> = report.findings.iter().map(|f| f.action).collect();
    assert_eq!(
        actions,
        [Action::Flag, Action::Flag],
        "{:?}",
        report.findings
    );
}

#[test]
fn a_patients_age_between_commas_makes_the_name_identifying() {
    let s = screener(Policy::default());
    // A town has no age: "Tyler" is a child in a story about their care.
    for (post, name, age) in [
        (
            "John Doe, 45, was admitted last night with chest pain and is in stable condition.",
            "John Doe",
            "45",
        ),
        (
            "Tyler, 7, is heading home after three weeks in our PICU. Thank you, team!",
            "Tyler",
            "7",
        ),
    ] {
        assert_eq!(
            outgoing(&s, post),
            (
                Decision::Block,
                vec![
                    found("phi.identified_patient", name, Action::Block),
                    found("phi.name", name, Action::Review),
                    found("phi.age", age, Action::Flag),
                ]
            ),
            "{post}"
        );
    }
    assert_eq!(
        outgoing(
            &s,
            "Happy birthday to Rose Miller, 102, our oldest volunteer!"
        )
        .1,
        vec![
            found("phi.name", "Rose Miller", Action::Review),
            found("phi.age_over_89", "102", Action::Block),
        ]
    );
    // A family word that is someone's names the person after it, listed name or not.
    assert_eq!(
        outgoing(
            &s,
            "So proud of my son Jayden, who rang the bell on his last day of chemo!"
        ),
        (
            Decision::HoldForReview,
            vec![found("phi.name", "Jayden", Action::Review)]
        )
    );
    // A house number is no age: no comma closes it.
    assert_eq!(
        outgoing(&s, "Drop off donations with Jane Ross, 45 Elm Street.").1,
        vec![
            found("phi.name", "Jane Ross", Action::Review),
            found("phi.address", "45 Elm Street", Action::Review),
        ]
    );
}

#[test]
fn the_organizations_own_sites_are_no_places_or_names() {
    let post = "The Emergency Department at our Lakeside campus will be closed for renovation \
                until January 15. Visit the Harbor Pavilion entrance instead.";
    let plain = outgoing(&screener(Policy::default()), post);
    assert!(
        plain.1.iter().any(|(_, matched, _)| matched == "Lakeside"),
        "{plain:?}"
    );
    let policy =
        Policy::from_toml("[organization]\nsites = [\"Lakeside Campus\", \"Harbor Pavilion\"]\n")
            .unwrap_or_else(|e| panic!("policy parses: {e}"));
    assert_eq!(
        outgoing(&screener(policy), post),
        (
            Decision::Allow,
            vec![found("phi.date", "January 15", Action::Flag)]
        )
    );
}
