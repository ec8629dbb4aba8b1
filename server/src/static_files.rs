//! The app's script, wasm and styles (`/pkg/…`), compressed once, at start-up, rather than on
//! every first download: a background task reads each file, compresses it with brotli and gzip
//! (at their best settings in a release build), and from then on they are served from memory,
//! with an ETag. Until it is done (a second or two), they are served from disk and compressed
//! as they go. With content-hashed names (cargo-leptos `hash-files`), they may be kept for a
//! year: `immutable`.

use std::{
    collections::HashMap,
    convert::Infallible,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
    task::{Context, Poll},
};

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    response::Response,
};
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};

/// One file, ready in every encoding.
struct Prepared {
    content_type: HeaderValue,
    etag: HeaderValue,
    /// When the file was written, to the second: a browser that got it from disk before it was
    /// ready here asks with this.
    modified: Option<std::time::SystemTime>,
    identity: bytes::Bytes,
    gzip: bytes::Bytes,
    brotli: bytes::Bytes,
}

/// The prepared files by their path under `/pkg` (`portal.css`), once the task has made them.
#[derive(Clone, Default)]
pub struct StaticFiles {
    files: Arc<OnceLock<HashMap<String, Prepared>>>,
    /// Names carry a hash of their content: browsers may keep them for good.
    hashed: bool,
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// A release build starts rarely and its files are small: the best compression, about two
/// seconds. A development build restarts on every change with a 10 MB unoptimised wasm: quick.
const BEST: bool = !cfg!(debug_assertions);

fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let level = if BEST {
        flate2::Compression::best()
    } else {
        flate2::Compression::fast()
    };
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    encoder.write_all(raw)?;
    encoder.finish()
}

fn brotli(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let quality = if BEST { 11 } else { 4 };
        let mut encoder = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, 22);
        encoder.write_all(raw)?;
    }
    Ok(out)
}

fn prepare(dir: &Path) -> HashMap<String, Prepared> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    let mut files = HashMap::new();
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        let wanted = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("js" | "wasm" | "css")
        );
        let (Some(name), true) = (path.file_name().and_then(|n| n.to_str()), wanted) else {
            continue;
        };
        let Ok(raw) = std::fs::read(&path) else {
            continue;
        };
        let (Ok(gzip), Ok(brotli)) = (gzip(&raw), brotli(&raw)) else {
            continue;
        };
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&raw)[..12]));
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| httpdate::parse_http_date(&httpdate::fmt_http_date(t)).ok());
        files.insert(
            name.to_string(),
            Prepared {
                content_type: HeaderValue::from_static(content_type(&path)),
                etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
                modified,
                identity: raw.into(),
                gzip: gzip.into(),
                brotli: brotli.into(),
            },
        );
    }
    files
}

impl StaticFiles {
    /// Starts preparing the files in `dir` in the background.
    pub fn prepare_in_background(dir: PathBuf, hashed: bool) -> Self {
        let files = Self {
            files: Arc::default(),
            hashed,
        };
        let cell = files.files.clone();
        std::thread::Builder::new()
            .name("static-files".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                let prepared = prepare(&dir);
                tracing::debug!(
                    files = prepared.len(),
                    took = ?started.elapsed(),
                    "static files compressed"
                );
                let _ = cell.set(prepared);
            })
            .ok();
        files
    }

    /// Prepares the files in `dir` now.
    #[cfg(test)]
    fn prepare_now(dir: &Path, hashed: bool) -> Self {
        let files = Self {
            files: Arc::default(),
            hashed,
        };
        let _ = files.files.set(prepare(dir));
        files
    }

    fn cache_control(&self) -> HeaderValue {
        if self.hashed {
            HeaderValue::from_static("public, max-age=31536000, immutable")
        } else {
            // Same names across releases: check again on each use (a 304 when unchanged).
            HeaderValue::from_static("no-cache")
        }
    }

    /// The prepared answer for `request`, if its file is prepared.
    fn answer(&self, request: &Request) -> Option<Response> {
        let name = request.uri().path().trim_start_matches('/');
        let file = self.files.get()?.get(name)?;
        let accepts = |coding: &str| {
            request
                .headers()
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|c| {
                    let mut parts = c.split(';').map(str::trim);
                    // `br;q=0` is a refusal.
                    parts.next() == Some(coding)
                        && !parts.any(|p| {
                            p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0)
                        })
                })
        };
        // The tag decides when there is one (RFC 9110); otherwise the date.
        let unchanged = match request.headers().get(header::IF_NONE_MATCH) {
            Some(tag) => tag == file.etag,
            None => request
                .headers()
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|since| httpdate::parse_http_date(since.to_str().ok()?).ok())
                .zip(file.modified)
                .is_some_and(|(since, modified)| modified <= since),
        };
        let (body, encoding) = if unchanged {
            (bytes::Bytes::new(), None)
        } else if accepts("br") {
            (file.brotli.clone(), Some("br"))
        } else if accepts("gzip") {
            (file.gzip.clone(), Some("gzip"))
        } else {
            (file.identity.clone(), None)
        };
        let mut response = Response::new(Body::from(body));
        if unchanged {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
        }
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, file.content_type.clone());
        headers.insert(header::ETAG, file.etag.clone());
        if let Some(modified) = file.modified {
            if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
                headers.insert(header::LAST_MODIFIED, date);
            }
        }
        headers.insert(header::CACHE_CONTROL, self.cache_control());
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        Some(response)
    }
}

/// Serves prepared files from memory, and anything else (or everything, until they are
/// ready) through `inner`.
#[derive(Clone)]
pub struct StaticService<S> {
    pub files: StaticFiles,
    pub inner: S,
}

impl<S> tower::Service<Request> for StaticService<S>
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
        match self.files.answer(&request) {
            Some(response) => Box::pin(async move { Ok(response) }),
            None => Box::pin(self.inner.call(request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_compressed_once_and_served_in_the_best_encoding_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let css = "body { color: #1c2530; }\n".repeat(100);
        std::fs::write(dir.path().join("portal.css"), &css).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not an app file").unwrap();
        let files = StaticFiles::prepare_now(dir.path(), true);
        let request = |encodings: &str| {
            Request::get("/portal.css")
                .header(header::ACCEPT_ENCODING, encodings)
                .body(Body::empty())
                .unwrap()
        };
        let br = files.answer(&request("gzip, deflate, br")).unwrap();
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(br.headers()[header::CONTENT_TYPE], "text/css");
        assert!(br.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable"));
        let gz = files.answer(&request("gzip")).unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let refused = files.answer(&request("br;q=0, gzip")).unwrap();
        assert_eq!(refused.headers()[header::CONTENT_ENCODING], "gzip");
        let plain = files.answer(&request("identity")).unwrap();
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        // Unchanged since the browser's copy: 304.
        let etag = plain.headers()[header::ETAG].clone();
        let again = Request::get("/portal.css")
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            files.answer(&again).unwrap().status(),
            StatusCode::NOT_MODIFIED
        );
        // A copy first served from disk, before the files were ready here, comes back with its
        // date instead of a tag: unchanged too, and changed if older than the file.
        let modified = plain.headers()[header::LAST_MODIFIED].clone();
        let dated = |since: HeaderValue| {
            let request = Request::get("/portal.css")
                .header(header::IF_MODIFIED_SINCE, since)
                .body(Body::empty())
                .unwrap();
            files.answer(&request).unwrap().status()
        };
        assert_eq!(dated(modified), StatusCode::NOT_MODIFIED);
        let long_ago = HeaderValue::from_static("Mon, 01 Jan 2001 00:00:00 GMT");
        assert_eq!(dated(long_ago), StatusCode::OK);
        let other = Request::get("/notes.txt").body(Body::empty()).unwrap();
        assert!(files.answer(&other).is_none());
        // Names without a hash are checked again on each use.
        let unhashed = StaticFiles::prepare_now(dir.path(), false);
        let answer = unhashed.answer(&request("br")).unwrap();
        assert_eq!(answer.headers()[header::CACHE_CONTROL], "no-cache");
    }
}
