//! The row codec on any stored text: `runs.state` and `reruns.detail` either decode or are
//! refused (never a panic), and whatever decodes encodes to text that decodes to the same
//! value and encodes the same again.

#![no_main]

use job_rerunner::store::codec::{self, RerunRow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = codec::run_key("octo-org/octo-repo", 30433642).expect("a valid key");
    if let Ok(state) = codec::decode_state(&key, text) {
        let json = codec::encode_state(&key, &state).expect("a decoded state encodes");
        let back = codec::decode_state(&key, &json).expect("an encoded state decodes");
        assert_eq!(back, state);
        assert_eq!(codec::encode_state(&key, &back).expect("encodes"), json);
    }
    let row = |detail: String, failed_jobs: String| RerunRow {
        repo: "octo-org/octo-repo".into(),
        run_id: 30433642,
        attempt: 1,
        detail,
        workflow: "CI".into(),
        branch: "master".into(),
        failed_jobs,
        finished_at: 1_700_000_000_000,
    };
    if let Ok((_, record)) = codec::decode_record(row(text.to_owned(), "[]".into())) {
        let (detail, failed_jobs) =
            codec::encode_record(&record).expect("a decoded record encodes");
        let (_, back) =
            codec::decode_record(row(detail, failed_jobs)).expect("an encoded record decodes");
        assert_eq!(back, record);
    }
});
