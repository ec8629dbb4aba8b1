//! What every request passes through: the client's address, the same-origin rule for changes,
//! a time limit, error statuses for server functions, and the security headers. The anonymous
//! pages kept in memory are answered in front of it all, with the headers it gave them.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use app::{
    error::{ErrorKind, PortalError},
    portal::Portal,
    request::ClientIp,
    ui::plain_forms::ssr as plain_forms,
};
use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::{from_fn, from_fn_with_state, Next},
    response::{IntoResponse, Response},
    Json, Router,
};
use ipnet::IpNet;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;
use tower_http::{
    compression::{predicate::SizeAbove, CompressionLayer, CompressionLevel, Predicate},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
};

use crate::config::HttpLimits;

/// Error bodies are small; anything larger is not one of ours.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// The largest page we would ever render.
const MAX_PAGE: usize = 4 * 1024 * 1024;

pub fn around(
    router: Router,
    portal: &Portal,
    trusted_proxies: Vec<IpNet>,
    http: HttpLimits,
    reload: String,
) -> Router {
    // Pages set their own policy with the hydration script's nonce; this covers everything else.
    let csp = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
               form-action 'self'";
    // Over https, browsers must never try the portal over plain http again.
    let hsts = portal
        .settings
        .secure_cookies()
        .then(|| HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    let proxies = Arc::new(trusted_proxies);
    let layered = router
        .route_layer(from_fn(name_the_route))
        .layer(from_fn_with_state(portal.clone(), plain_form_posts))
        .layer(from_fn(error_status))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            http.request_timeout,
        ))
        .layer(from_fn(no_store_for_pages_and_data))
        .layer(compress_static_files())
        .layer(from_fn_with_state(Arc::new(reload), whole_pages))
        .layer(from_fn_with_state(portal.clone(), same_origin_only))
        .layer(from_fn_with_state(proxies.clone(), client_ip))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            http::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &Response| hsts.clone(),
        ));
    // The anonymous pages are answered before everything else: a kept page already carries
    // every header the layers above gave it, and needs nothing else from them.
    let pages = crate::page_cache::PageCache::new(portal.clone());
    // Each request's ID is given outside the kept pages, so that a kept page never carries the
    // ID of the request that first rendered it.
    Router::new()
        .fallback_service(tower::Layer::layer(
            &crate::page_cache::PageCacheLayer(pages),
            layered,
        ))
        .layer(from_fn(count_requests))
        .layer(from_fn(in_its_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(ReadableIds))
        .layer(from_fn_with_state(
            proxies,
            request_ids_from_trusted_proxies,
        ))
}

const REQUEST_ID: &str = "x-request-id";

/// Request IDs that a patient can read to the practice over the phone: twelve letters and
/// digits from Crockford's alphabet (no I, L, O or U), in fours. 60 random bits.
#[derive(Clone, Copy)]
struct ReadableIds;

impl MakeRequestId for ReadableIds {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut bits: u64 = rand::random();
        let mut id = String::with_capacity(14);
        for i in 0..12 {
            if i > 0 && i % 4 == 0 {
                id.push('-');
            }
            id.push(ALPHABET[(bits & 31) as usize] as char);
            bits >>= 5;
        }
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// An `X-Request-Id` is kept only from a trusted proxy (which ties its own logs to ours), and
/// only if it is short and plain; anyone else's is replaced, so a client can't put words of its
/// choosing in our logs and audit trail, or make two requests look like one.
async fn request_ids_from_trusted_proxies(
    State(trusted): State<Arc<Vec<IpNet>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let from_proxy = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| {
            let peer = peer.ip().to_canonical();
            trusted.iter().any(|net| net.contains(&peer))
        });
    let plain = |value: &HeaderValue| {
        (1..=64).contains(&value.len())
            && value
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    };
    let keep = from_proxy && request.headers().get(REQUEST_ID).is_some_and(plain);
    if !keep {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

/// The route template a request matched (`/staff/patients/{id}`, never the ID itself), passed
/// out with the answer for the metrics' `route` label.
#[derive(Clone)]
pub struct RouteName(pub Arc<str>);

async fn name_the_route(request: Request, next: Next) -> Response {
    let name = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|matched| RouteName(matched.as_str().into()));
    let mut response = next.run(request).await;
    if let Some(name) = name {
        response.extensions_mut().insert(name);
    }
    response
}

/// Each answer counted by route and status, and timed to its headers (`portal_http_…`).
async fn count_requests(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let static_file = request.uri().path().starts_with("/pkg/");
    let response = next.run(request).await;
    let route = match response.extensions().get::<RouteName>() {
        _ if static_file => "/pkg/{file}".into(),
        Some(RouteName(name)) => name.to_string(),
        // Nothing matched: a 404, however many made-up paths are asked for.
        None => "unmatched".into(),
    };
    let status = response.status().as_u16().to_string();
    metrics::counter!("portal_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("portal_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Every log line written while answering a request carries its ID.
async fn in_its_span(request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let span = tracing::info_span!("request", id = %id);
    next.run(request).instrument(span).await
}

/// Server functions answer every error with 500; the error's kind knows the real status. This
/// also covers requests whose fields could not be decoded, which never reach our code.
/// A fault of ours (5xx) also carries the request's ID, as the reference the patient is shown.
async fn error_status(request: Request, next: Next) -> Response {
    let reference = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    if let Ok(mut error) = serde_json::from_slice::<PortalError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(seconds) = error.retry_after_seconds {
            parts.headers.insert(header::RETRY_AFTER, seconds.into());
        }
        if parts.status.is_server_error() && error.reference.is_none() {
            error.reference = reference;
            if let Ok(json) = serde_json::to_vec(&error) {
                parts.headers.remove(header::CONTENT_LENGTH);
                bytes = json.into();
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The largest form a page of ours posts.
const MAX_FORM: usize = 64 * 1024;

/// A form posted without scripts (the browser asks for a page back) is answered with a redirect
/// to a page of the portal. One that a server function refused goes back to its page with the
/// error and what was typed in a cookie of its own (`app::ui::plain_forms`), not in the address.
async fn plain_form_posts(State(portal): State<Portal>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let header_has = |name: header::HeaderName, text: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains(text))
    };
    let plain_post = request.method() == Method::POST
        && request.uri().path().starts_with("/api/")
        && header_has(header::ACCEPT, "text/html")
        && header_has(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if !plain_post {
        // An error in the address would be shown as if the portal had said it: a link made to
        // put words in the portal's mouth. Errors never travel there, so such a link is
        // answered with the page without it.
        if request.method() == Method::GET {
            let uri = request.uri();
            if plain_forms::carries_refusal(uri.query()) {
                let clean = plain_forms::without_refusal(uri.path(), uri.query());
                return axum::response::Redirect::to(&clean).into_response();
            }
        }
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(form) = axum::body::to_bytes(body, MAX_FORM).await else {
        let error = PortalError::new(ErrorKind::BadRequest, "That form was too large to send.");
        return (StatusCode::PAYLOAD_TOO_LARGE, Json(error)).into_response();
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(form.clone())))
        .await;
    // The refusal shown is the one the server function answered this post with (its path in
    // a header, its error in the body), never one found in the client's `Referer`.
    let (parts, body) = response.into_parts();
    let refused_by = parts
        .headers
        .get(SERVER_FN_ERROR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match refused_by {
        Some(_) => axum::body::to_bytes(body, MAX_ERROR_BODY)
            .await
            .unwrap_or_default(),
        None => axum::body::Bytes::new(),
    };
    let refusal = refused_by.as_deref().map(|path| (path, &body[..]));
    let answer = parts
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|_| parts.status.is_redirection())
        .and_then(|location| plain_forms::back_to(&portal, location, &form, refusal));
    let mut response = Response::from_parts(parts, Body::from(body.clone()));
    let Some((back, refused)) = answer else {
        return response;
    };
    if let Ok(back) = HeaderValue::from_str(&back) {
        response.headers_mut().insert(header::LOCATION, back);
    }
    if let Some(Ok(cookie)) = refused.map(|c| HeaderValue::from_str(&c)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Our pages are a few kilobytes and ready at once: sent whole, they take one write instead of
/// one per streamed fragment (hundreds of system calls, and most of a page's cost).
async fn whole_pages(State(reload): State<Arc<String>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if !is_page {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_PAGE).await {
        Ok(bytes) => {
            policy_for_its_nonce(&mut parts.headers, &bytes, &reload, &path);
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(err) => {
            tracing::error!(%err, "rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A page whose scripts carry a nonce gets the policy that names it, if its render left none:
/// without it, the strict policy for everything else would block the page's own hydration and
/// it would never wake. Said in the log, as the render should have set it.
fn policy_for_its_nonce(headers: &mut http::HeaderMap, page: &[u8], reload: &str, path: &str) {
    if headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        return;
    }
    let Some(nonce) = nonce_in(page) else {
        return;
    };
    tracing::warn!(
        path,
        "a page came without its policy: set from its scripts' nonce"
    );
    if let Ok(policy) = HeaderValue::from_str(&app::page_policy::for_nonce(nonce, reload)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
}

/// The nonce a page's first script with one carries.
fn nonce_in(page: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(page).ok()?;
    let start = text.find(" nonce=\"")? + " nonce=\"".len();
    let end = text[start..].find('"')? + start;
    let nonce = &text[start..end];
    // Leptos's nonces are URL-safe base64; anything else is not one.
    (!nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(nonce)
}

fn is_page_or_data(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/json"))
}

/// Pages and API answers can carry patient data: no cache may keep them. Static files without
/// a cache policy of their own are kept but checked again on each use (a 304 when unchanged),
/// so a new release is never mixed with an old one's script; the app's content-named files say
/// `immutable` themselves (a new release has new names).
async fn no_store_for_pages_and_data(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let page_or_data = is_page_or_data(response.headers());
    let headers = response.headers_mut();
    if page_or_data {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
    }
    response
}

/// The app's script, wasm and styles travel compressed: on a slow phone connection the wasm
/// is most of the wait. Pages and API answers are not compressed, so that a secret in them can
/// never be guessed from their compressed length (BREACH).
fn compress_static_files() -> CompressionLayer<impl Predicate> {
    let static_file =
        |_: http::StatusCode, _: http::Version, headers: &http::HeaderMap, _: &http::Extensions| {
            !is_page_or_data(headers) && !headers.contains_key(header::CONTENT_ENCODING)
        };
    CompressionLayer::new()
        // Fast enough to compress the wasm on each first visit, and close to the best size.
        .quality(CompressionLevel::Precise(5))
        .compress_when(SizeAbove::new(1024).and(static_file))
}

/// Whether a state-changing request came from somewhere other than the portal's own pages: an
/// `Origin` that isn't `PORTAL_PUBLIC_URL`'s, or a browser's `Sec-Fetch-Site` saying so.
/// Requests with neither header (API clients, tests) are not a browser's cross-site requests.
fn from_elsewhere(headers: &http::HeaderMap, own_origin: &str) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or("?"));
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("?"));
    let other_site = fetch_site.is_some_and(|site| !matches!(site, "same-origin" | "none"));
    let other_origin = origin.is_some_and(|origin| origin != own_origin);
    other_site || other_origin
}

/// Refuses state-changing requests from other sites.
async fn same_origin_only(State(portal): State<Portal>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe {
        return next.run(request).await;
    }
    let own_origin = portal.settings.public_url.origin().ascii_serialization();
    if from_elsewhere(request.headers(), &own_origin) {
        let error = PortalError::new(
            ErrorKind::Forbidden,
            "This request came from another website, so it was refused.",
        );
        return (StatusCode::FORBIDDEN, Json(error)).into_response();
    }
    next.run(request).await
}

/// Records the client's address for limits and the audit trail. `X-Forwarded-For` is believed
/// only from a trusted proxy, and only up to the first hop that isn't one.
async fn client_ip(
    State(trusted): State<Arc<Vec<IpNet>>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let peer = addr.ip();
        // Proxies may add a header of their own rather than extend the first: read them all.
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let forwarded = forwarded.join(",");
        let ip = ClientIp(client_address(
            peer,
            Some(forwarded.as_str()).filter(|f| !f.is_empty()),
            &trusted,
        ));
        request.extensions_mut().insert(ip);
    }
    next.run(request).await
}

/// The client behind a chain of proxies: reading `X-Forwarded-For` from the right (the hop our
/// own proxy added), the first address that isn't a trusted proxy. Only trusted proxies'
/// entries are believed: an entry that doesn't read as an address (or carries a port) ends the
/// walk at the last trusted hop, so a client can never put a name of its choosing there.
/// Every address is read in its canonical form: a server bound to `[::]` sees IPv4 peers as
/// `::ffff:a.b.c.d`, which IPv4 proxy entries, limits and the audit trail must see as IPv4.
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    let hops = forwarded_for.unwrap_or_default().split(',').rev();
    for hop in hops.map(str::trim).filter(|hop| !hop.is_empty()) {
        match hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_without_its_policy_gets_the_one_its_nonce_names() {
        let page = br#"<html><head><script nonce="AbC-123_x">go()</script></head></html>"#;
        let mut headers = http::HeaderMap::new();
        policy_for_its_nonce(&mut headers, page, "", "/staff/enrol");
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(policy.contains("'nonce-AbC-123_x'"), "{policy}");
        assert!(policy.contains("object-src 'none'"));
        // One the page set stays; a page with no nonce, or a made-up one, gets none from here.
        let mut set = http::HeaderMap::new();
        set.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("the page's"),
        );
        policy_for_its_nonce(&mut set, page, "", "/");
        assert_eq!(set[header::CONTENT_SECURITY_POLICY], "the page's");
        for page in [
            &b"<p>no scripts</p>"[..],
            br#"<script nonce="x' 'unsafe-inline">"#,
        ] {
            let mut headers = http::HeaderMap::new();
            policy_for_its_nonce(&mut headers, page, "", "/");
            assert!(!headers.contains_key(header::CONTENT_SECURITY_POLICY));
        }
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let forged = Some("198.51.100.1, 203.0.113.7");
        assert_eq!(client_address(proxy, forged, &trusted), client);
        // A client talking to us directly can't claim another address.
        assert_eq!(
            client_address(client, Some("198.51.100.1"), &trusted),
            client
        );
        assert_eq!(client_address(proxy, Some("203.0.113.7"), &[]), proxy);
        assert_eq!(client_address(proxy, None, &trusted), proxy);
        assert_eq!(
            client_address(proxy, Some("10.0.0.9"), &trusted),
            "10.0.0.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_read_as_ipv4() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mapped_proxy: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(
            client_address(mapped_proxy, Some("203.0.113.7"), &trusted),
            client
        );
        assert_eq!(
            client_address(mapped_proxy, Some("::ffff:203.0.113.7"), &trusted),
            client
        );
        assert_eq!(
            client_address("::ffff:203.0.113.7".parse().unwrap(), None, &trusted),
            client
        );
    }

    #[test]
    fn a_forwarded_entry_that_isnt_an_address_never_lets_the_client_choose() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client sends "198.51.100.1, junk"; the proxy appends the real client.
        let real: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(
            client_address(proxy, Some("198.51.100.1, junk, 203.0.113.7"), &trusted),
            real
        );
        // The rightmost entry carries a port, or is junk: the proxy is all we know.
        for odd in [
            "198.51.100.1, 203.0.113.7:4711",
            "198.51.100.1, unknown",
            "198.51.100.1, [::1]:80",
        ] {
            assert_eq!(client_address(proxy, Some(odd), &trusted), proxy, "{odd}");
        }
        // Behind two trusted proxies, junk between them stops at the inner one.
        let inner: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(
            client_address(proxy, Some("198.51.100.1, junk, 10.0.0.9"), &trusted),
            inner
        );
    }

    #[test]
    fn a_request_from_another_origin_is_from_elsewhere_whatever_sec_fetch_site_says() {
        let own = "https://portal.example.org";
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = http::HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        assert!(!from_elsewhere(&headers(&[]), own));
        assert!(!from_elsewhere(
            &headers(&[
                ("origin", "https://portal.example.org"),
                ("sec-fetch-site", "same-origin")
            ]),
            own
        ));
        assert!(from_elsewhere(
            &headers(&[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "same-origin")
            ]),
            own
        ));
        assert!(from_elsewhere(
            &headers(&[("origin", "https://evil.example")]),
            own
        ));
        assert!(from_elsewhere(
            &headers(&[("sec-fetch-site", "cross-site")]),
            own
        ));
        assert!(from_elsewhere(
            &headers(&[("sec-fetch-site", "same-site")]),
            own
        ));
        assert!(from_elsewhere(&headers(&[("origin", "null")]), own));
    }
}
