//! How a request reached the server, as a trusted reverse proxy reports it.
//!
//! Behind a proxy that terminates TLS, every request reaches the app over
//! plain HTTP, so the scheme of the connection says nothing. The proxy tells
//! the original scheme in `Forwarded: proto=…` (RFC 7239) or
//! `X-Forwarded-Proto: …`. Those headers are only believed when the layer is
//! told to trust the proxy: otherwise any client could write them.

use http::header::{HeaderMap, FORWARDED};

/// The header most proxies send (nginx, HAProxy, AWS load balancers).
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// What a trusted proxy said about the scheme the client used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// The proxy said nothing usable: no header, or an unknown scheme.
    Unknown,
    /// The client used TLS (`https` or `wss`).
    Https,
    /// The client used plain HTTP (`http` or `ws`).
    Http,
}

/// Reads the original scheme from `Forwarded` (preferred) or
/// `X-Forwarded-Proto`. Each proxy appends its own element, so with several
/// proxies the *last* one (the rightmost element of the last header line) is
/// the one the proxy nearest to the app wrote: the only one a client cannot
/// forge through a proxy that appends. The leftmost, which express and
/// others read, is whatever the client sent. Never panics.
pub(crate) fn forwarded_scheme(headers: &HeaderMap) -> Scheme {
    if let Some(last) = last_element(headers, FORWARDED.as_str()) {
        if let Some(proto) = forwarded_proto(last) {
            return classify(proto);
        }
    }
    last_element(headers, X_FORWARDED_PROTO).map_or(Scheme::Unknown, classify)
}

/// The client address the nearest proxy wrote in `X-Forwarded-For` (the
/// last element, for the reason [`forwarded_scheme`] reads the last), if it
/// is an IP address. Never panics.
pub(crate) fn forwarded_for(headers: &HeaderMap) -> Option<std::net::IpAddr> {
    last_element(headers, "x-forwarded-for")?
        .trim()
        .parse()
        .ok()
}

/// The last comma-separated element of the last line of a header.
fn last_element<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let line = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    line.rsplit(',').next()
}

/// The `proto` parameter of one element of a `Forwarded` value.
fn forwarded_proto(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("proto")
            .then(|| value.trim().trim_matches('"'))
    })
}

fn classify(proto: &str) -> Scheme {
    let proto = proto.trim();
    if proto.eq_ignore_ascii_case("https") || proto.eq_ignore_ascii_case("wss") {
        Scheme::Https
    } else if proto.eq_ignore_ascii_case("http") || proto.eq_ignore_ascii_case("ws") {
        Scheme::Http
    } else {
        Scheme::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn scheme(pairs: &[(&'static str, &'static str)]) -> Scheme {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        forwarded_scheme(&headers)
    }

    #[test]
    fn forwarded_and_x_forwarded_proto_are_read() {
        assert_eq!(scheme(&[]), Scheme::Unknown);
        assert_eq!(scheme(&[("x-forwarded-proto", "https")]), Scheme::Https);
        assert_eq!(scheme(&[("x-forwarded-proto", " HTTP ")]), Scheme::Http);
        assert_eq!(
            scheme(&[("x-forwarded-proto", "http, https")]),
            Scheme::Https,
            "the nearest proxy's value is the last"
        );
        assert_eq!(scheme(&[("forwarded", "proto=https")]), Scheme::Https);
        assert_eq!(
            scheme(&[("forwarded", "proto=https, for=1.2.3.4;Proto=\"http\";by=x")]),
            Scheme::Http
        );
        assert_eq!(
            scheme(&[("forwarded", "proto=https"), ("x-forwarded-proto", "http")]),
            Scheme::Https,
            "the standard header wins"
        );
        assert_eq!(
            scheme(&[("forwarded", "for=1.2.3.4"), ("x-forwarded-proto", "http")]),
            Scheme::Http
        );
    }

    #[test]
    fn a_client_cannot_forge_the_scheme_through_a_proxy_that_appends() {
        // The client sent `https`; the proxy, which saw plain HTTP, appended
        // `http`, on the same line or on a line of its own.
        assert_eq!(
            scheme(&[("x-forwarded-proto", "https, http")]),
            Scheme::Http
        );
        assert_eq!(
            scheme(&[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-proto", "http")
            ]),
            Scheme::Http
        );
        assert_eq!(
            scheme(&[
                ("forwarded", "proto=https"),
                ("forwarded", "for=10.0.0.1;proto=http")
            ]),
            Scheme::Http
        );
    }

    #[test]
    fn garbage_in_the_proxy_headers_is_unknown() {
        for bad in ["", ";;;", "=", "proto", "proto=", "proto=gopher", ",,,"] {
            assert_eq!(scheme(&[("forwarded", bad)]), Scheme::Unknown, "{bad}");
            assert_eq!(
                scheme(&[("x-forwarded-proto", bad)]),
                Scheme::Unknown,
                "{bad}"
            );
        }
    }
}
