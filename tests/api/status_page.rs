//! The status page says what the metrics say, in the same words (issue 21 point 3),
//! and reads on a phone: a real headless Chromium lays it out 390 px wide and
//! measures that nothing runs off the screen.

use std::path::Path;

use crate::helpers::{Job, TestApp, eventually, get_page, github_expects_rerun, spawn_app, unique};
use crate::observe::{chromium, sample};

const STATUS_TOKEN: &str = "status-token-for-tests";
const REPO: &str = "org/repo";
/// A step whose name, quoted as the skip's evidence, has no space to wrap at: only a
/// layout that breaks anywhere keeps it on a phone's screen.
const LONG_STEP: &str =
    "deploy-production-environment-credentials-refused-by-the-cloud-provider-for-this-repository";

/// A skipped attempt (with a long line of evidence), a re-run GitHub started, and a
/// run still going: three runs in the store, one of them unfinished.
async fn a_skip_a_rerun_and_a_run_going(app: &TestApp) {
    let skipped = Job::new(REPO, unique(), 1).name("deploy").step(LONG_STEP);
    app.send(&skipped.queued()).await;
    let answer = app.send(&skipped.completed("failure")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("(step_skipped)"), "{}", answer.body);

    let rerun = unique();
    github_expects_rerun(&app.github, REPO, rerun).await;
    let flaky = Job::new(REPO, rerun, 2).name("test");
    app.send(&flaky.queued()).await;
    assert_eq!(app.send(&flaky.completed("failure")).await.status, 201);
    app.outcome_becomes(REPO, rerun, 1, "started").await;

    let going = Job::new("org/private-repo", unique(), 3);
    app.send(&going.queued()).await;
}

async fn spawn() -> TestApp {
    spawn_app(&[
        ("STATUS_TOKEN", STATUS_TOKEN),
        ("SUMMARY_EVERY", "0.05"),
        ("RULES", "[defaults]\nskip_steps = [\"*credentials*\"]\n"),
    ])
    .await
}

#[actix_web::test]
async fn the_status_page_counts_runs_as_the_metrics_do_and_skips_apart_from_reruns() {
    let app = spawn().await;
    a_skip_a_rerun_and_a_run_going(&app).await;
    let tracked = eventually("the summary to count the three runs", || async {
        let metrics = get_page(&app.address, "/metrics", None).await.body;
        let tracked = sample(&metrics, "job_rerunner_runs_tracked");
        (tracked == 3.0).then_some(tracked)
    })
    .await;
    let json: serde_json::Value = serde_json::from_str(
        &get_page(&app.address, "/api/status", Some(STATUS_TOKEN))
            .await
            .body,
    )
    .expect("JSON");
    assert_eq!(json["runs_tracked"], tracked as u64, "{json}");
    let page = get_page(&app.address, "/status", Some(STATUS_TOKEN))
        .await
        .body;
    for words in [
        "3 runs tracked (1 unfinished)",
        "1 re-run started in the last 24 h",
        "1 attempt not re-run in the last 24 h",
    ] {
        assert!(page.contains(words), "{words:?} not in the page:\n{page}");
    }
}

/// The measuring script, run inside the page: writes into the frame's parent the
/// page's width and every element whose box ends right of it.
const MEASURE: &str = r#"<script>
(function () {
  var width = document.documentElement.clientWidth;
  var over = [];
  document.querySelectorAll("body *").forEach(function (e) {
    var box = e.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1) {
      over.push(e.tagName + " ends at " + Math.round(box.right) + ": " + (e.textContent || "").slice(0, 60));
    }
  });
  parent.document.getElementById("layout").textContent = "width " + width + "\n" + over.join("\n");
})();
</script>"#;

/// A page holding `page` in a frame `width` px wide: headless Chromium makes no window
/// narrower than 500 px, a frame it lays out at any width.
fn framed(page: &str, width: u32) -> String {
    let measured = page.replace("</body>", &format!("{MEASURE}</body>"));
    let attribute = measured.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        r#"<!doctype html><html><body style="margin:0"><pre id="layout">not measured</pre><iframe style="width:{width}px;height:1200px;border:0" srcdoc="{attribute}"></iframe></body></html>"#
    )
}

#[actix_web::test]
#[ignore = "needs chromium (Debian's chromium), with --include-ignored"]
async fn the_status_page_fits_a_390_px_phone_in_a_real_browser() {
    let app = spawn().await;
    a_skip_a_rerun_and_a_run_going(&app).await;
    let page = get_page(&app.address, "/status", Some(STATUS_TOKEN))
        .await
        .body;
    assert!(page.contains(LONG_STEP), "the why-not line is on the page");
    // The page needs nothing from the service once served: no script, no style sheet,
    // no image. A copy with the measuring script lays out as the page does.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("status.html");
    std::fs::write(&file, &page).expect("write");
    let measured = dir.path().join("measured.html");
    std::fs::write(&measured, framed(&page, 390)).expect("write");
    let url = format!("file://{}", measured.display());
    let profile = tempfile::tempdir().expect("profile dir");
    let laid_out = actix_web::rt::task::spawn_blocking(move || {
        chromium(
            &[
                "--window-size=500,1300",
                "--hide-scrollbars",
                "--virtual-time-budget=3000",
                "--dump-dom",
                &url,
            ],
            profile.path(),
        )
    })
    .await
    .expect("browser task");
    let dom = String::from_utf8_lossy(&laid_out.stdout);
    let layout = dom
        .split_once(r#"<pre id="layout">"#)
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(layout, _)| layout.to_owned())
        .unwrap_or_else(|| panic!("the browser did not measure: {dom}"));
    let mut lines = layout.lines();
    let width: u32 = lines
        .next()
        .and_then(|first| first.strip_prefix("width "))
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no width in {layout}"));
    assert!((375..=390).contains(&width), "not a phone's width: {width}");
    let over: Vec<&str> = lines.collect();
    assert!(
        over.is_empty(),
        "off-screen at {width} px:\n{}",
        over.join("\n")
    );

    // A phone-sized screenshot (the narrowest window headless Chromium makes):
    // docs/operate.md shows it (UPDATE_SCREENSHOT=1 refreshes it).
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let target = format!("--screenshot={}", shot.display());
    let url = format!("file://{}", file.display());
    let profile = tempfile::tempdir().expect("profile dir");
    let taken = actix_web::rt::task::spawn_blocking(move || {
        chromium(
            &["--window-size=500,2000", "--hide-scrollbars", &target, &url],
            profile.path(),
        )
    })
    .await
    .expect("browser task");
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&taken.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "not a real screenshot"
    );
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::write(docs.join("status-page.png"), &png).expect("save screenshot");
    }
}
