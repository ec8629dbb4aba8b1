//! The pages every visitor sees before signing in (`/login`, `/register`) are the same for all
//! of them, so each is rendered once and served from memory, with a fresh nonce swapped into
//! its script tags and its Content-Security-Policy on every response. A page is rendered again
//! when the practice's settings (its name and contact, in every page) change.
//!
//! It stands in front of all the other middleware (`middleware::around`): a page is kept with
//! every header they gave it, so a kept page is answered without running them again.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, RwLock},
    task::{Context, Poll},
};

use crate::middleware::RouteName;
use app::portal::{Portal, PracticeSettings};
use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::future::BoxFuture;

/// The pages served from memory to visitors without a session.
const ANONYMOUS_PAGES: [&str; 2] = ["/login", "/register"];
/// Query strings make variants (`?timeout=1`); this many at most are kept at once.
const MAX_VARIANTS: usize = 16;
/// The largest page we would ever keep.
const MAX_PAGE: usize = 1024 * 1024;

/// Text with a nonce to put in at known places: the pieces between them.
struct WithNonce(Vec<String>);

impl WithNonce {
    fn new(text: &str, nonce: &str) -> Self {
        Self(text.split(nonce).map(str::to_string).collect())
    }

    fn with(&self, nonce: &str) -> String {
        let length = self.0.iter().map(String::len).sum::<usize>() + nonce.len() * self.0.len();
        let mut text = String::with_capacity(length);
        for (n, piece) in self.0.iter().enumerate() {
            if n > 0 {
                text.push_str(nonce);
            }
            text.push_str(piece);
        }
        text
    }
}

struct Cached {
    /// The settings it was rendered with.
    practice: PracticeSettings,
    status: StatusCode,
    headers: HeaderMap,
    body: WithNonce,
    /// The Content-Security-Policy.
    policy: WithNonce,
}

#[derive(Clone)]
pub struct PageCache {
    portal: Portal,
    pages: Arc<RwLock<HashMap<String, Arc<Cached>>>>,
}

impl PageCache {
    pub fn new(portal: Portal) -> Self {
        Self {
            portal,
            pages: Arc::default(),
        }
    }

    fn get(&self, key: &str) -> Option<Arc<Cached>> {
        let pages = self.pages.read().ok()?;
        let cached = pages.get(key)?;
        (cached.practice == *self.portal.practice()).then(|| cached.clone())
    }

    fn keep(&self, key: String, cached: Cached) {
        if let Ok(mut pages) = self.pages.write() {
            keep_variant(&mut pages, key, Arc::new(cached));
        }
    }
}

/// Keeps `page` under `key`, making room if all the places are taken: a burst of made-up query
/// strings must not leave the real variants (`?timeout=1`) rendered each time from then on.
fn keep_variant<P>(pages: &mut HashMap<String, P>, key: String, page: P) {
    if pages.len() >= MAX_VARIANTS && !pages.contains_key(&key) {
        if let Some(other) = pages.keys().next().cloned() {
            pages.remove(&other);
        }
    }
    pages.insert(key, page);
}

/// Whether the request carries any cookie of the portal's: a session of either kind, or a
/// refused form to show again.
/// The header the islands router sends with the pages it fetches.
const ISLANDS_ROUTER: &str = "islands-router";

fn has_portal_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| {
            c.contains("portal_session=")
                || c.contains("portal_staff=")
                || c.contains("portal_form=")
        })
}

/// The nonce a rendered page's policy names.
fn nonce_of(policy: &str) -> Option<&str> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let end = policy[start..].find('\'')? + start;
    Some(&policy[start..end])
}

/// A nonce as Leptos makes them: 128 random bits, URL-safe base64.
fn new_nonce() -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn serve(cached: &Cached) -> Response {
    let nonce = new_nonce();
    let mut response = Response::new(Body::from(cached.body.with(&nonce)));
    *response.status_mut() = cached.status;
    *response.headers_mut() = cached.headers.clone();
    if let Ok(policy) = HeaderValue::from_str(&cached.policy.with(&nonce)) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// Serves the anonymous pages from memory. A tower layer rather than a `from_fn` middleware:
/// every request passes through it, and most only need the quick look at their path.
#[derive(Clone)]
pub struct PageCacheLayer(pub PageCache);

impl<S> tower::Layer<S> for PageCacheLayer {
    type Service = PageCacheService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PageCacheService {
            inner,
            cache: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct PageCacheService<S> {
    inner: S,
    cache: PageCache,
}

impl<S> tower::Service<Request> for PageCacheService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let cacheable = request.method() == Method::GET
            && ANONYMOUS_PAGES.contains(&request.uri().path())
            && !has_portal_cookie(request.headers());
        if !cacheable {
            return Box::pin(self.inner.call(request));
        }
        // A page fetched by the islands router comes without the hydration scripts, which the
        // browser has already: the two are kept apart.
        let by_router = request.headers().contains_key(ISLANDS_ROUTER);
        let key = format!(
            "{}{}",
            if by_router { "router " } else { "" },
            request.uri().path_and_query().map_or("", |p| p.as_str())
        );
        if let Some(cached) = self.cache.get(&key) {
            metrics::counter!("portal_page_cache_total", "result" => "hit").increment(1);
            let route = RouteName(request.uri().path().into());
            return Box::pin(async move {
                let mut response = serve(&cached);
                response.extensions_mut().insert(route);
                Ok(response)
            });
        }
        metrics::counter!("portal_page_cache_total", "result" => "miss").increment(1);
        let cache = self.cache.clone();
        // The settings it is rendered with: read before, so that a change made during the
        // render is not taken for the one the page shows.
        let practice = (*cache.portal.practice()).clone();
        let response = self.inner.call(request);
        Box::pin(async move { Ok(render_and_keep(cache, key, practice, response.await?).await) })
    }
}

/// Keeps a page just rendered, if it is one to keep, and passes it on.
async fn render_and_keep(
    cache: PageCache,
    key: String,
    practice: PracticeSettings,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let policy = parts
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let page = std::str::from_utf8(&bytes).ok();
    // Only a whole, successful page that names its nonce, and sets no cookie, is kept.
    if let (Some(policy), Some(page), true, false) = (
        policy,
        page,
        parts.status == StatusCode::OK,
        parts.headers.contains_key(header::SET_COOKIE),
    ) {
        if let Some(nonce) = nonce_of(&policy).filter(|n| n.len() >= 16) {
            let mut headers = parts.headers.clone();
            headers.remove(header::CONTENT_SECURITY_POLICY);
            headers.remove(header::CONTENT_LENGTH);
            cache.keep(
                key,
                Cached {
                    practice,
                    status: parts.status,
                    headers,
                    body: WithNonce::new(page, nonce),
                    policy: WithNonce::new(&policy, nonce),
                },
            );
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_nonce_goes_wherever_the_old_one_was() {
        let page = WithNonce::new("<a n=\"OLD\">x</a><b n=\"OLD\">", "OLD");
        assert_eq!(page.with("NEW"), "<a n=\"NEW\">x</a><b n=\"NEW\">");
        assert_eq!(WithNonce::new("none here", "OLD").with("NEW"), "none here");
        assert_ne!(new_nonce(), new_nonce());
        assert_eq!(new_nonce().len(), 22);
    }

    #[test]
    fn a_new_variant_is_kept_even_after_many_made_up_ones() {
        let mut pages = HashMap::new();
        for n in 0..3 * MAX_VARIANTS {
            keep_variant(&mut pages, format!("/login?junk={n}"), n);
        }
        keep_variant(&mut pages, "/login?timeout=1".into(), 0);
        assert_eq!(pages.len(), MAX_VARIANTS);
        assert!(pages.contains_key("/login?timeout=1"));
        // A page kept again takes its own place.
        keep_variant(&mut pages, "/login?timeout=1".into(), 1);
        assert_eq!(pages.len(), MAX_VARIANTS);
        assert_eq!(pages["/login?timeout=1"], 1);
    }

    /// A portal on a scratch database, with its practice settings loaded.
    async fn scratch_portal(dir: &std::path::Path) -> Portal {
        use app::{portal::Settings, secret::ServerSecret, sms::ConsoleSms, store::Store};
        let url = app::store::testing::scratch_database(dir).await;
        let store = Store::open(&url).await.unwrap();
        let clock: Arc<dyn app::clock::Clock> =
            Arc::new(app::clock::ManualClock::new(1_800_000_000_000));
        let portal = Portal::new(
            Settings::default(),
            store.clone(),
            clock.clone(),
            ServerSecret::random(),
            Arc::new(ConsoleSms::new(store, clock)),
        );
        portal.load_practice().await.unwrap();
        portal
    }

    /// The body of the answer to a visitor's `GET /login`.
    async fn body_of_next<S>(pages: &mut S) -> String
    where
        S: tower::Service<Request, Response = Response, Error = Infallible>,
    {
        use tower::ServiceExt;
        let request = Request::get("/login").body(Body::empty()).unwrap();
        let response = pages.ready().await.unwrap().call(request).await.unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_PAGE).await;
        String::from_utf8(bytes.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_page_rendered_while_the_settings_change_is_rendered_again() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let portal = scratch_portal(dir.path()).await;
        let renders = Arc::new(AtomicUsize::new(0));
        // A render during which an admin renames the practice; it shows the name it read
        // when it began, the old one.
        let inner = {
            let (portal, renders) = (portal.clone(), renders.clone());
            tower::service_fn(move |_: Request| {
                let (portal, renders) = (portal.clone(), renders.clone());
                async move {
                    let shown = portal.practice().practice_name.clone();
                    if renders.fetch_add(1, Ordering::SeqCst) == 0 {
                        let mut renamed = (*portal.practice()).clone();
                        renamed.practice_name = "Harbour Health".into();
                        let saved = portal.save_practice(renamed).await.unwrap();
                        assert!(matches!(saved, app::store::PracticeSave::Saved { .. }));
                    }
                    let nonce = "abcdefghijklmnopqrstuv";
                    let mut page = Response::new(Body::from(format!(
                        "<script nonce=\"{nonce}\"></script>{shown}"
                    )));
                    page.headers_mut().insert(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_str(&format!("script-src 'nonce-{nonce}'")).unwrap(),
                    );
                    Ok::<_, Infallible>(page)
                }
            })
        };
        let mut pages = tower::Layer::layer(&PageCacheLayer(PageCache::new(portal)), inner);
        assert!(!body_of_next(&mut pages).await.contains("Harbour Health"));
        // The old page isn't kept as if it showed the new name.
        assert!(body_of_next(&mut pages).await.contains("Harbour Health"));
        assert_eq!(renders.load(Ordering::SeqCst), 2);
        // That one is kept.
        assert!(body_of_next(&mut pages).await.contains("Harbour Health"));
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_nonce_is_read_from_the_policy() {
        let policy =
            "default-src 'self'; script-src 'self' 'nonce-abcDEF123_-xyz456789' 'wasm-unsafe-eval'";
        assert_eq!(nonce_of(policy), Some("abcDEF123_-xyz456789"));
        assert_eq!(nonce_of("default-src 'self'"), None);
    }

    #[test]
    fn only_the_portals_own_cookies_count() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark"));
        assert!(!has_portal_cookie(&headers));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; portal_session=x"),
        );
        assert!(has_portal_cookie(&headers));
        headers.insert(header::COOKIE, HeaderValue::from_static("portal_form=x"));
        assert!(has_portal_cookie(&headers));
    }
}
