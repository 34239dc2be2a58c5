//! A fake GitHub API inside the load generator: every run is completed as a failure at
//! attempt 1, every re-run is accepted (201), and re-run POSTs are counted per path so
//! the lifecycle phase can check that each failed run was re-run exactly once.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// Re-run POSTs received, by request path.
type Posts = Arc<Mutex<HashMap<String, u32>>>;

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
                            .route(
                                "/repos/{owner}/{repo}/actions/runs/{run_id}",
                                web::get().to(show_run),
                            )
                            .route(
                                "/repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs",
                                web::post().to(accept_rerun),
                            )
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
