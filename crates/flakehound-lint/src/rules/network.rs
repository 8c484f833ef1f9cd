//! Network: `real-network`, a call to an HTTP client, socket or mail/FTP client with a literal
//! address outside the machine. Calls to `localhost` (a local server fixture) are fine, and a
//! test that mocks HTTP (responses, requests-mock, respx, VCR cassettes...) is not reported (see
//! the project pass).

use super::REAL_NETWORK;
use crate::python::{Cx, kwarg, positional, string_prefix};
use tree_sitter::Node;

const CLIENTS: &[&str] = &[
    "requests.get",
    "requests.post",
    "requests.put",
    "requests.patch",
    "requests.delete",
    "requests.head",
    "requests.options",
    "requests.request",
    "httpx.get",
    "httpx.post",
    "httpx.put",
    "httpx.patch",
    "httpx.delete",
    "httpx.head",
    "httpx.request",
    "httpx.stream",
    "urllib.request.urlopen",
    "urllib.request.urlretrieve",
    "urllib.urlopen",
    "urllib2.urlopen",
    "http.client.HTTPConnection",
    "http.client.HTTPSConnection",
    "httplib.HTTPConnection",
    "httplib.HTTPSConnection",
    "socket.create_connection",
    "socket.gethostbyname",
    "socket.getaddrinfo",
    "smtplib.SMTP",
    "smtplib.SMTP_SSL",
    "ftplib.FTP",
    "urllib3.request",
];

/// The schemes the clients above connect with. Another (`file://`, or httpx's own test of
/// `invalid://example.org`, which raises `UnsupportedProtocol` before any connection) never
/// reaches a host.
const NETWORK_SCHEMES: &[&str] = &["http", "https", "ws", "wss", "ftp", "ftps", "smtp", "smtps"];

/// The host of a URL or address literal, lower-cased; none for a URL whose scheme the clients
/// do not connect with.
fn host(addr: &str) -> Option<String> {
    let rest = match addr.split_once("://") {
        Some((scheme, rest)) if NETWORK_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) => {
            rest
        }
        Some(_) => return None,
        None => addr,
    };
    let hostport = rest.split(['/', '?', '#']).next()?;
    let hostport = hostport.rsplit('@').next()?;
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        hostport.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn external(host: &str) -> bool {
    !(host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "0.0.0.0"
        || host == "::1"
        || host == "testserver"
        || host.ends_with(".test")
        || host.ends_with(".invalid")
        || host.ends_with(".local")
        || !host.contains('.') && !host.contains(':'))
}

pub(crate) fn call(cx: &mut Cx, node: Node) {
    let Some(func) = node.child_by_field_name("function") else {
        return;
    };
    let Some(q) = cx.qname(func) else { return };
    if !CLIENTS.contains(&q.as_str()) {
        return;
    }
    let first = positional(node)
        .first()
        .copied()
        .or_else(|| kwarg(node, "url", cx.src))
        .or_else(|| kwarg(node, "host", cx.src));
    let Some(first) = first else { return };
    // `socket.create_connection(("example.com", 80))`
    let literal = if first.kind() == "tuple" {
        first.named_child(0).and_then(|h| string_prefix(h, cx.src))
    } else {
        string_prefix(first, cx.src)
    };
    let Some(addr) = literal else { return };
    // Resolving a numeric address (`getaddrinfo("1.2.3.4", 0)`, trio's socket tests) asks no
    // name server: only a name is looked up.
    let resolves = matches!(q.as_str(), "socket.getaddrinfo" | "socket.gethostbyname");
    if let Some(h) = host(&addr)
        && external(&h)
        && !(resolves && h.parse::<std::net::IpAddr>().is_ok())
        && !in_mocked_function(cx, node)
    {
        let shown = format!("`{}` to {h}", cx.text(func));
        cx.hit(&REAL_NETWORK, node, shown);
    }
}

/// Whether a function around `node` (the innermost or one enclosing it) is decorated by an
/// HTTP mock (`@httpretty.httprettified`, `@responses.activate`), or a `with` around it
/// enters one (`with responses.RequestsMock() as rsps:`, `with requests_mock.Mocker() as m:`):
/// httpretty's generated tests define their `@httprettified` bodies inside a factory method
/// that no test is; responses' own tests mock inside a nested `run()`.
fn in_mocked_function(cx: &Cx, node: Node) -> bool {
    let mocks = |n: Node| {
        cx.text(n)
            .to_ascii_lowercase()
            .split(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
            .any(crate::project::mocks_network)
    };
    let mut cur = node.parent();
    while let Some(n) = cur {
        let mut c = n.walk();
        let mocked = match n.kind() {
            "decorated_definition" => n
                .named_children(&mut c)
                .any(|d| d.kind() == "decorator" && mocks(d)),
            "with_statement" => n
                .named_children(&mut c)
                .any(|w| w.kind() == "with_clause" && mocks(w)),
            _ => false,
        };
        if mocked {
            return true;
        }
        cur = n.parent();
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts() {
        assert_eq!(
            super::host("https://api.github.com/x").as_deref(),
            Some("api.github.com")
        );
        assert_eq!(super::host("http://[::1]:8000/").as_deref(), Some("::1"));
        assert_eq!(super::host("example.com").as_deref(), Some("example.com"));
        assert_eq!(
            super::host("HTTPS://Example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(super::host("invalid://example.org"), None);
        assert_eq!(super::host("file://example.org/x"), None);
        assert!(!super::external("localhost"));
        assert!(!super::external("127.0.0.1"));
        assert!(super::external("example.com"));
    }
}
