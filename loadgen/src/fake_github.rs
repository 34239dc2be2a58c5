//! A fake GitHub API inside the load generator: every run is completed as a failure at
//! attempt 1, every re-run is accepted (201), and re-run POSTs are counted per path so
//! the lifecycle phase can check that each failed run was re-run exactly once.
//!
//! It also serves a failed job's evidence, as a failure policy with patterns reads it:
//! the job's check-run annotations (none), and its log the way GitHub serves one, a
//! redirect from the API to a pre-signed URL on a blob store (here `/blobs/` of the same
//! server) that wants no credential. The log's text is [`crate::fake_log`]'s.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// Re-run POSTs received, by request path.
type Posts = Arc<Mutex<HashMap<String, u32>>>;

/// The fake's own base URL, for the log redirects.
struct BaseUrl(String);

/// The running fake; it lives on its own thread until the process ends.
pub struct FakeGitHub {
    /// Base URL for `GITHUB_API_URL`.
    pub url: String,
    posts: Posts,
}

impl FakeGitHub {
    /// Starts the fake on a free port of 127.0.0.1, on a thread of its own (one worker:
    /// it sees a few hundred calls a second at most).
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let posts = Posts::default();
        let served = Arc::clone(&posts);
        let base = web::Data::new(BaseUrl(url.clone()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("fake-github".into())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                let result = system.block_on(async move {
                    let posts = web::Data::from(served);
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(posts.clone())
                            .app_data(base.clone())
                            .route(
                                "/repos/{owner}/{repo}/actions/runs/{run_id}",
                                web::get().to(show_run),
                            )
                            .route(
                                "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs",
                                web::post().to(accept_rerun),
                            )
                            .route(
                                "/repos/{owner}/{repo}/check-runs/{job}/annotations",
                                web::get().to(no_annotations),
                            )
                            .route(
                                "/repos/{owner}/{repo}/actions/jobs/{job}/logs",
                                web::get().to(locate_log),
                            )
                            .route("/blobs/{blob}", web::get().to(blob))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen(listener)?
                    .run();
                    let _ = ready_tx.send(Ok(()));
                    server.await
                });
                if let Err(err) = result {
                    eprintln!("loadgen: the fake GitHub stopped: {err}");
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the fake GitHub did not start"))?
            .map(|()| Self { url, posts })
    }

    /// Forgets the POSTs counted so far.
    pub fn reset(&self) {
        self.posts.lock().expect("post counts").clear();
    }

    /// The POSTs counted so far, by path.
    pub fn posts(&self) -> HashMap<String, u32> {
        self.posts.lock().expect("post counts").clone()
    }

    /// The path of the re-run POST of `run_id` in `owner/name`.
    pub fn rerun_path(full_name: &str, run_id: u64) -> String {
        format!("/repos/{full_name}/actions/runs/{run_id}/rerun-failed-jobs")
    }
}

/// `GET /repos/{o}/{r}/actions/runs/{id}`: completed, failed, still at attempt 1.
async fn show_run(path: web::Path<(String, String, u64)>) -> HttpResponse {
    let (_, _, run_id) = path.into_inner();
    HttpResponse::Ok().json(serde_json::json!({
        "id": run_id, "status": "completed", "conclusion": "failure", "run_attempt": 1,
    }))
}

/// `POST .../rerun-failed-jobs`: counted, then accepted.
async fn accept_rerun(
    request: HttpRequest,
    posts: web::Data<Mutex<HashMap<String, u32>>>,
) -> HttpResponse {
    *posts
        .lock()
        .expect("post counts")
        .entry(request.path().to_owned())
        .or_default() += 1;
    HttpResponse::Created().json(serde_json::json!({}))
}

/// `GET …/check-runs/{job}/annotations`: none (the log alone decides).
async fn no_annotations() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!([]))
}

/// `GET …/actions/jobs/{job}/logs`: as GitHub does, a redirect to the log's pre-signed
/// URL on the blob store.
async fn locate_log(
    path: web::Path<(String, String, u64)>,
    base: web::Data<BaseUrl>,
) -> HttpResponse {
    let (_, _, job) = path.into_inner();
    HttpResponse::Found()
        .insert_header(("Location", format!("{}/blobs/{job}.txt?sig=x", base.0)))
        .finish()
}

/// `GET /blobs/{job}.txt`: the job's log, whatever the credential (the service sends
/// none here). `Range` is not honoured: the whole log is smaller than the tail the
/// service keeps by default, so a 206 would carry the same bytes.
async fn blob(path: web::Path<String>) -> HttpResponse {
    match path.strip_suffix(".txt").and_then(|job| job.parse().ok()) {
        Some(job) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(crate::fake_log::text(job)),
        None => HttpResponse::NotFound().finish(),
    }
}
