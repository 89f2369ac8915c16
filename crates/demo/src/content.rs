//! The sample content of the demo sandbox, kept as data so it can be read and edited as a whole.
//!
//! Everything here is fictional. Several texts are deliberately wrong (PHI in a patient story, an
//! absolute claim, a paid post without a disclosure, an adverse event in a comment) because the
//! sandbox exists to show what the screening engine catches.

use rounds_domain::Role;
use rounds_store::PostStatus;

/// Name of the sandbox organization.
pub const ORG_NAME: &str = "Mercy Valley Health (demo)";

/// Domain of the demo sign-in emails (`.test` is reserved and never delivers mail).
pub const EMAIL_DOMAIN: &str = "demo.rounds.test";

/// The fictional hospital's own web domain, which the phishing comment imitates; a screening
/// policy for the sandbox lists it under `organization.domains`.
pub const WEB_DOMAIN: &str = "mercyvalleyhealth.org";

/// One demo account per role: the role, the part of the email before `@`, and the display name.
pub const STAFF: &[(Role, &str, &str)] = &[
    (Role::Admin, "admin", "Dana Whitfield"),
    (Role::SocialManager, "social", "Priya Raman"),
    (Role::Responder, "responder", "Marcus Bell"),
    (Role::LegalReviewer, "legal", "Helen Okafor"),
    (Role::MedicalReviewer, "medical", "Dr. Samuel Ortiz"),
    (Role::PrivacyOfficer, "privacy", "Grace Lindqvist"),
    (Role::SecurityOfficer, "security", "Tom Nguyen"),
    (Role::Viewer, "viewer", "Alex Moreno"),
];

/// A social account of the sandbox.
pub struct DemoChannel {
    /// The network identifier the store uses.
    pub network: &'static str,
    /// The account's handle.
    pub handle: &'static str,
    /// The name shown in Rounds.
    pub display_name: &'static str,
}

/// The sandbox's social accounts.
pub const CHANNELS: &[DemoChannel] = &[
    DemoChannel {
        network: "bluesky",
        handle: "@mercyvalley.bsky.social",
        display_name: "Mercy Valley on Bluesky",
    },
    DemoChannel {
        network: "facebook",
        handle: "MercyValleyHealth",
        display_name: "Mercy Valley Health (Facebook page)",
    },
    DemoChannel {
        network: "mastodon",
        handle: "@mercyvalley@mastodon.social",
        display_name: "Mercy Valley on Mastodon",
    },
];

/// A sample post.
pub struct DemoPost {
    /// Who wrote it.
    pub author: Role,
    /// Where it is in its life.
    pub status: PostStatus,
    /// The networks it goes to (see [`CHANNELS`]).
    pub networks: &'static [&'static str],
    /// For scheduled posts: hours from seeding until it goes out.
    pub hours_ahead: Option<i64>,
    /// Whether it is paid or partnership content.
    pub paid: bool,
    /// The written reason its author gave to submit despite a blocking screening finding.
    pub override_reason: Option<&'static str>,
    /// The reviewer's comment, for a post sent back.
    pub review_note: Option<&'static str>,
    /// For a post in review: how many steps of [`CHAIN`] signed off already.
    pub approved_steps: usize,
    /// The text.
    pub body: &'static str,
}

/// The sandbox's approval chain for every post: Privacy, then Legal/Regulatory (any one of each).
pub const CHAIN: &[Role] = &[Role::PrivacyOfficer, Role::LegalReviewer];

/// The sample posts, taken through the real workflow: drafts, posts waiting at each step of
/// [`CHAIN`], approved and scheduled posts (with their publishing jobs), and a rejected one.
pub const POSTS: &[DemoPost] = &[
    DemoPost {
        author: Role::Responder,
        status: PostStatus::Draft,
        networks: &["facebook", "bluesky"],
        hours_ahead: None,
        paid: false,
        override_reason: None,
        review_note: None,
        approved_steps: 0,
        body: "Flu season is here 🍂 Our free walk-in flu shot clinic runs this Saturday, 9am–1pm, in the \
               lobby of the Mercy Valley Community Health Center. No appointment needed, and bring your \
               insurance card if you have one. Kids 6 months and up welcome! #FluShot #MercyValley",
    },
    DemoPost {
        author: Role::SocialManager,
        status: PostStatus::InReview,
        networks: &["facebook"],
        hours_ahead: None,
        paid: false,
        override_reason: None,
        review_note: None,
        approved_steps: 1,
        body: "Our nurses worked 14,000 shifts this year. They held hands at 3am, caught mistakes before \
               they happened and still remembered everyone's birthday cake. To every nurse at Mercy \
               Valley: thank you. 💙 #NursesWeek",
    },
    DemoPost {
        author: Role::SocialManager,
        status: PostStatus::InReview,
        networks: &["facebook"],
        hours_ahead: None,
        paid: false,
        override_reason: Some(
            "Maria and her daughter asked us to share her story and signed the patient authorization form; it is on file with Patient Relations.",
        ),
        review_note: None,
        approved_steps: 0,
        body: "Miracle on the 4th floor! 🎉 Maria Delgado (born 03/14/1961) walked out of room 412 \
               yesterday after three weeks with us recovering from sepsis. Her family brought cupcakes \
               for the whole ICU team. We're so proud of you, Maria!",
    },
    DemoPost {
        author: Role::SocialManager,
        status: PostStatus::Draft,
        networks: &["facebook", "bluesky", "mastodon"],
        hours_ahead: None,
        paid: false,
        override_reason: None,
        review_note: None,
        approved_steps: 0,
        body: "Knee pain holding you back? Our new robotic knee replacement is 100% safe and cures \
               arthritis pain for good. Most patients are back on the golf course in a week! Book a \
               consult at mercyvalleyhealth.org/ortho",
    },
    DemoPost {
        author: Role::SocialManager,
        status: PostStatus::Draft,
        networks: &["facebook", "mastodon"],
        hours_ahead: None,
        paid: true,
        override_reason: None,
        review_note: None,
        approved_steps: 0,
        body: "We've teamed up with StrideBand to get our cardiac rehab patients moving! 🏃 Grab your \
               own StrideBand tracker with code MERCY20 for 20% off and join our 30-day step challenge.",
    },
    DemoPost {
        author: Role::SocialManager,
        status: PostStatus::Scheduled,
        networks: &["facebook", "bluesky", "mastodon"],
        hours_ahead: Some(98),
        paid: false,
        override_reason: None,
        review_note: None,
        approved_steps: 0,
        body: "The new Heart & Vascular Pavilion opens to patients on Monday. 64 private rooms, two \
               hybrid cath labs and a rooftop garden for families. Thank you to the 2,300 donors who \
               made it possible. Tour photos: mercyvalleyhealth.org/heart",
    },
    DemoPost {
        author: Role::SocialManager,
        status: PostStatus::Scheduled,
        networks: &["facebook", "bluesky"],
        hours_ahead: Some(26),
        paid: false,
        override_reason: None,
        review_note: None,
        approved_steps: 0,
        body: "Blood supplies in our region are low. Our community blood drive is back next Thursday, \
               10am–6pm, in the Pavilion conference center. Every donor gets a cookie and our eternal \
               gratitude 🩸 #DonateBlood",
    },
    DemoPost {
        author: Role::SocialManager,
        status: PostStatus::Scheduled,
        networks: &["facebook"],
        hours_ahead: Some(74),
        paid: false,
        override_reason: None,
        review_note: None,
        approved_steps: 0,
        body: "We're hiring night-shift RNs for Med/Surg and the ICU: sign-on bonus, tuition support and \
               self-scheduling. Come work with a team that has your back. Apply at \
               mercyvalleyhealth.org/careers #NursingJobs",
    },
    DemoPost {
        author: Role::SocialManager,
        status: PostStatus::Scheduled,
        networks: &["facebook", "bluesky", "mastodon"],
        hours_ahead: Some(50),
        paid: false,
        override_reason: None,
        review_note: None,
        approved_steps: 0,
        body: "Reminder: visiting hours change on Monday. General floors are open 8am–9pm; the ICU \
               allows two visitors at a time around the clock. Masks are available at every entrance.",
    },
    DemoPost {
        author: Role::Responder,
        status: PostStatus::Rejected,
        networks: &["facebook"],
        hours_ahead: None,
        paid: false,
        override_reason: None,
        review_note: Some(
            "We never diagnose or suggest medicines over social media. Point people to the 24/7 nurse line or, in an emergency, to 911.",
        ),
        approved_steps: 0,
        body: "Don't want to wait in the ER? Just DM us your symptoms and one of our doctors will tell \
               you what you have and which meds to take, in minutes!",
    },
];

/// A sample comment, mention or message.
pub struct DemoInboxItem {
    /// The network it arrived on (see [`CHANNELS`]).
    pub network: &'static str,
    /// `comment`, `mention` or `message`.
    pub kind: &'static str,
    /// The sender's handle.
    pub author_handle: &'static str,
    /// The sender's display name.
    pub author_name: &'static str,
    /// Minutes before seeding that it arrived (spread over the last three days).
    pub minutes_ago: i64,
    /// The text.
    pub body: &'static str,
}

const fn item(
    network: &'static str,
    kind: &'static str,
    author_handle: &'static str,
    author_name: &'static str,
    minutes_ago: i64,
    body: &'static str,
) -> DemoInboxItem {
    DemoInboxItem {
        network,
        kind,
        author_handle,
        author_name,
        minutes_ago,
        body,
    }
}

/// The sample inbox: praise, questions and complaints, with the cases the engine must catch among
/// them (adverse event, PHI, crisis, spam, abuse, medical advice, phishing).
pub const INBOX: &[DemoInboxItem] = &[
    item(
        "facebook",
        "comment",
        "linda.whitaker.5",
        "Linda Whitaker",
        12,
        "The nurses on 3 West were angels to my dad last week. thank you thank you 🙏❤️",
    ),
    item(
        "bluesky",
        "mention",
        "@jfortier.bsky.social",
        "Jake Fortier",
        25,
        "@mercyvalley.bsky.social sat in your ER waiting room for 7 HOURS last night with a kid running a fever of 103. 7 hours. nobody even checked on us. unacceptable",
    ),
    item(
        "facebook",
        "comment",
        "kevin.tran.77",
        "Kevin Tran",
        41,
        "I started taking Lipitor last month and now I have terrible muscle pain in my legs, can barely climb stairs. is that normal??",
    ),
    item(
        "bluesky",
        "comment",
        "@sunny-days-88.bsky.social",
        "sunny",
        58,
        "omg the new garden looks amazing 😍😍",
    ),
    item(
        "facebook",
        "message",
        "rosa.mendez.31",
        "Rosa Mendez",
        73,
        "hi i need to reschedule my moms mammogram, my number is 555-201-8834 and her DOB is 04/22/1957, MRN 00482913. pls call me back",
    ),
    item(
        "mastodon",
        "mention",
        "@quietriver@mastodon.social",
        "quiet river",
        96,
        "@mercyvalley@mastodon.social i dont think i can do this anymore. i want to kill myself. i have the pills right here",
    ),
    item(
        "bluesky",
        "comment",
        "@deals4u.bsky.social",
        "Deals 4 U",
        110,
        "🔥🔥 Lose 30 lbs in 30 days with this one weird trick doctors HATE!!! Click now ➡️ bit.ly/3xSlim99 🔥🔥",
    ),
    item(
        "facebook",
        "comment",
        "mike.d.1984",
        "Mike Dorsey",
        134,
        "you people are a bunch of useless idiots. my bill is wrong AGAIN. go to hell",
    ),
    item(
        "bluesky",
        "message",
        "@jen-k-runs.bsky.social",
        "Jen K",
        150,
        "quick q, i'm on metformin and my doc is out till monday. can i take ibuprofen for a sprained ankle or will it mess with my kidneys? how much should i take?",
    ),
    item(
        "facebook",
        "comment",
        "mercy.valley.billing",
        "Mercy Valley Billing Dept",
        171,
        "Attention patients: your account has an outstanding balance. Verify your payment details within 24h to avoid collections: https://mercyvalley-health.org/billing/verify",
    ),
    item(
        "facebook",
        "comment",
        "sarah-chen-rn",
        "Sarah Chen, RN",
        205,
        "So proud to have started my career on the Mercy Valley med/surg unit. Congrats on the new pavilion!",
    ),
    item(
        "facebook",
        "comment",
        "barb.s.kowalski",
        "Barbara Kowalski",
        240,
        "Do you take Blue Shield? Trying to find a new cardiologist near Orchard Ave",
    ),
    item(
        "bluesky",
        "comment",
        "@tay-lor-made.bsky.social",
        "Taylor",
        262,
        "is the flu shot clinic for adults too or just kids?",
    ),
    item(
        "bluesky",
        "comment",
        "@docwatson.bsky.social",
        "Em Watson",
        300,
        "great thread on sepsis warning signs, sharing with my students 👏",
    ),
    item(
        "facebook",
        "message",
        "gary.pruitt.9",
        "Gary Pruitt",
        355,
        "how do i get a copy of my xrays sent to my new orthopedist? the portal keeps timing out",
    ),
    item(
        "mastodon",
        "comment",
        "@n8@fosstodon.org",
        "Nate",
        410,
        "is parking free for the blood drive or do i need to validate?",
    ),
    item(
        "facebook",
        "comment",
        "angela.ruiz.22",
        "Angela Ruiz",
        480,
        "Dr. Patel delivered both my babies at Mercy Valley. Best OB in the valley hands down 💕",
    ),
    item(
        "bluesky",
        "comment",
        "@fitmom-kara.bsky.social",
        "Kara",
        560,
        "the lactation consultants here are SO good. saved my sanity at 2am lol",
    ),
    item(
        "facebook",
        "comment",
        "tom.brandt.50",
        "Tom Brandt",
        640,
        "Waited 45 min past my appt time at the Orchard clinic today. nobody told us why. not ok",
    ),
    item(
        "bluesky",
        "comment",
        "@crypto-king-22.bsky.social",
        "CryptoKing",
        720,
        "DM me to earn $8,500 a week trading crypto like I do with @fastcashpro 💰💰 limited spots!! tinyurl.com/fastcash8k",
    ),
    item(
        "facebook",
        "comment",
        "mark-ellison-healthit",
        "Mark Ellison",
        810,
        "Impressive rollout of the new patient portal. Would love to hear what EHR integration looked like behind the scenes.",
    ),
    item(
        "facebook",
        "comment",
        "deb.hollis",
        "Debbie Hollis",
        905,
        "My husband was in 4B last week and the food was cold every single day. otherwise staff was great",
    ),
    item(
        "bluesky",
        "message",
        "@chloe-b-art.bsky.social",
        "Chloe B",
        1020,
        "hi! my grandma is in your hospital, can you tell me what room she's in? her name is Eleanor Briggs",
    ),
    item(
        "facebook",
        "comment",
        "ron.jessup",
        "Ron Jessup",
        1150,
        "Ever since my second dose of the shingles vaccine I've had a rash and fever for 5 days. should I be worried?",
    ),
    item(
        "bluesky",
        "comment",
        "@hanna.b.bsky.social",
        "Hanna B",
        1300,
        "thank u to the ER team who stitched up my son's chin on sat, he was so brave and yall made him laugh 😭",
    ),
    item(
        "mastodon",
        "comment",
        "@localnews@journa.host",
        "Valley Local News",
        1480,
        "Is the hospital planning a statement on the proposed nurses' contract? Our newsroom would like a comment.",
    ),
    item(
        "facebook",
        "comment",
        "jimmy.r.oakes",
        "Jimmy Oakes",
        1620,
        "whats the wait time at the ER right now? im having chest pains since this morning, debating driving over or just waiting it out",
    ),
    item(
        "bluesky",
        "comment",
        "@wellness-with-jo.bsky.social",
        "Jo | Wellness Coach",
        1800,
        "Love this! ✨ Check my bio for natural detox teas that replace your meds 🌿 link in bio",
    ),
    item(
        "facebook",
        "comment",
        "patricia.nolan.3",
        "Patricia Nolan",
        2000,
        "why is my bill $4,200 for a 2 hour visit?? nobody can explain it to me",
    ),
    item(
        "facebook",
        "message",
        "recruiter-ashley-m",
        "Ashley Moore",
        2250,
        "Hi team, I'd love to discuss travel nurse staffing partnerships for Q1. Who is the best contact?",
    ),
    item(
        "bluesky",
        "comment",
        "@mtnbiker.bsky.social",
        "Drew",
        2500,
        "shoutout to the PT folks at the Orchard clinic, back on my bike 3 months after ACL surgery 🚵",
    ),
    item(
        "facebook",
        "comment",
        "karen.w.lee",
        "Karen Lee",
        2800,
        "Are visitors allowed in the ICU overnight now? my sister is there",
    ),
    item(
        "facebook",
        "message",
        "dwayne.h.1970",
        "Dwayne Harris",
        3300,
        "been on your new blood pressure pill amlodipine for 2 wks and my ankles are so swollen i cant get my shoes on",
    ),
    item(
        "bluesky",
        "comment",
        "@rachel-runs-far.bsky.social",
        "Rachel",
        3900,
        "happy nurses week!!! my mom has worked in your NICU for 22 years 💙",
    ),
];
