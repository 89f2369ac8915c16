//! Where the connectors may connect: channel addresses are typed by users, so a PDS or instance URL
//! could point the server at its own network (`http://169.254.169.254/`, an intranet host). The check
//! runs when a channel is connected ([`check_destination`]) and again on every connection the shared
//! client opens ([`Reach::PublicInternet`]): a name that resolved to a public address on Monday and to
//! `10.0.0.5` on Tuesday (DNS rebinding), or a redirect to a private address, is refused.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Url, redirect};

/// Which hosts the HTTP client may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Only addresses on the public internet, over any redirect; what a production server uses.
    PublicInternet,
    /// Loopback and private addresses too: a test network on this machine.
    AnyHost,
}

impl Reach {
    /// The reach a `publishing.allow_private_hosts` setting asks for.
    pub fn allowing_private(allow_private_hosts: bool) -> Reach {
        if allow_private_hosts {
            Reach::AnyHost
        } else {
            Reach::PublicInternet
        }
    }
}

/// A connection refused because its address is not on the public internet.
#[derive(Debug)]
pub(crate) struct PrivateDestination(pub(crate) String);

impl fmt::Display for PrivateDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PrivateDestination {}

fn private_address(host: &str, ip: IpAddr) -> String {
    format!(
        "{host} points to a private or local address ({ip}); Rounds connects only to channels on the public internet."
    )
}

/// Checks a channel address before anything is sent to it: https, and every address the name
/// resolves to on the public internet, unless `reach` is [`Reach::AnyHost`].
pub async fn check_destination(url: &str, reach: Reach) -> Result<(), String> {
    let parsed =
        Url::parse(url.trim()).map_err(|e| format!("{url:?} is not a web address ({e})."))?;
    if reach == Reach::AnyHost {
        return Ok(());
    }
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if parsed.scheme() != "https" || host.is_empty() {
        return Err(format!("Use an https:// address, not {url:?}."));
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("{host} cannot be found ({e})."))?;
    for address in addresses {
        if !is_public(address.ip()) {
            return Err(private_address(&host, address.ip()));
        }
    }
    Ok(())
}

/// An address on the public internet: not loopback, private, link-local, shared (CGNAT),
/// unique-local, multicast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (b & 0xC0) == 64))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let [first, second, ..] = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && second == 0x0db8))
        }
    }
}

/// The system resolver, keeping only public addresses: the address checked is the one connected to.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let mut refused = None;
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| {
                    let keep = is_public(a.ip());
                    if !keep {
                        refused.get_or_insert(a.ip());
                    }
                    keep
                })
                .collect();
            match refused {
                Some(ip) if public.is_empty() => {
                    Err(Box::new(PrivateDestination(private_address(&host, ip))) as _)
                }
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}

/// Why a redirect target may not be followed from a public-only client, if it may not: names are
/// checked by the resolver when connecting, but an address literal never reaches it.
fn refuse_redirect(url: &Url) -> Option<String> {
    if url.scheme() != "https" {
        return Some(format!(
            "the network redirected to a non-https address ({})",
            url.scheme()
        ));
    }
    let ip: IpAddr = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    (!is_public(ip)).then(|| private_address(&ip.to_string(), ip))
}

/// Configures `builder` for `reach`.
pub(crate) fn restrict(builder: reqwest::ClientBuilder, reach: Reach) -> reqwest::ClientBuilder {
    match reach {
        Reach::AnyHost => builder,
        Reach::PublicInternet => {
            builder
                .dns_resolver(PublicOnly)
                .redirect(redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 10 {
                        return attempt.error("too many redirects");
                    }
                    match refuse_redirect(attempt.url()) {
                        Some(why) => attempt.error(PrivateDestination(why)),
                        None => attempt.follow(),
                    }
                }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn channel_addresses_must_be_public_https() {
        for url in [
            "http://bsky.social",
            "https://127.0.0.1:2583",
            "https://localhost/",
            "https://10.0.0.5/",
            "https://192.168.1.20/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "not a url",
        ] {
            let refused = check_destination(url, Reach::PublicInternet).await;
            assert!(refused.is_err(), "{url} was allowed");
        }
        let message = check_destination("https://169.254.169.254/", Reach::PublicInternet)
            .await
            .unwrap_err();
        assert!(
            message.contains("private or local address (169.254.169.254)"),
            "{message}"
        );
        assert_eq!(
            check_destination("https://93.184.215.14/", Reach::PublicInternet).await,
            Ok(())
        );
        assert_eq!(
            check_destination("https://[2606:4700::6810:84e5]/", Reach::PublicInternet).await,
            Ok(())
        );
        assert_eq!(
            check_destination("http://127.0.0.1:2583", Reach::AnyHost).await,
            Ok(()),
            "a test network on this machine when allowed"
        );
    }

    #[test]
    fn redirects_to_private_literals_or_plain_http_are_refused() {
        let refused = |u: &str| refuse_redirect(&Url::parse(u).unwrap());
        assert!(
            refused("https://169.254.169.254/latest/meta-data/")
                .unwrap()
                .contains("private or local address")
        );
        assert!(refused("https://[::1]/").is_some());
        assert!(
            refused("http://bsky.social/")
                .unwrap()
                .contains("non-https")
        );
        assert_eq!(refused("https://93.184.215.14/"), None);
        assert_eq!(
            refused("https://bsky.social/xrpc/x"),
            None,
            "names are checked by the resolver on connect"
        );
    }

    /// A name that resolves only to loopback is refused when the connection is made, not only when
    /// the channel was connected: the DNS-rebinding case.
    #[tokio::test]
    async fn the_public_client_refuses_a_name_that_resolves_to_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut socket in listener.incoming().flatten() {
                use std::io::{Read, Write};
                let _ = socket.read(&mut [0; 1024]);
                let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
            }
        });
        let url = format!("http://localhost:{port}/");
        let allowed = crate::http_client(Reach::AnyHost)
            .get(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 204, "the server is there");
        let err = crate::http_client(Reach::PublicInternet)
            .get(&url)
            .send()
            .await
            .unwrap_err();
        let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(|e| e.to_string())
            .collect::<Vec<_>>();
        assert!(
            chain
                .iter()
                .any(|m| m.contains("localhost points to a private or local address")),
            "{chain:?}"
        );
    }
}
