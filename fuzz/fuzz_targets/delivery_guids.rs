//! The App's deliveries listing (`GET /app/hook/deliveries`, one page's body) on any
//! bytes: it answers (deliveries, or a one-line reason), never panics, and every
//! delivery it keeps has a plain guid (1 to 64 bytes of `[A-Za-z0-9._-]`, the rule the
//! webhook path applies to `X-GitHub-Delivery`), so that nothing longer reaches the
//! plan, the store or a log line. The same bytes as a header value are shown plain
//! exactly when they are such an id, and otherwise cut short.

#![no_main]

use std::borrow::Cow;

use job_rerunner::http::headers::{MAX_SHOWN, Shape, TRUNCATED, is_plain, shown};
use job_rerunner::recovery::deliveries::read_page;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    match read_page(body) {
        Ok(page) => {
            for delivery in &page.deliveries {
                assert!(is_plain(delivery.guid.as_bytes(), Shape::Id), "{:?}", delivery.guid);
            }
        }
        Err(why) => assert!(!why.contains('\n'), "{why}"),
    }
    match shown(body, Shape::Id) {
        Cow::Borrowed(value) => {
            assert!(is_plain(body, Shape::Id));
            assert_eq!(value.as_bytes(), body);
        }
        Cow::Owned(cut) => {
            assert!(!is_plain(body, Shape::Id));
            assert!(cut.contains(TRUNCATED));
            assert!(cut.len() <= MAX_SHOWN + TRUNCATED.len() + 17, "{cut}");
        }
    }
});
