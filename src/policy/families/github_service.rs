//! `@github_service`: one of GitHub's own services failed the step.
//!
//! The Actions cache and artifact services, the download of an action, git over
//! HTTPS to github.com, the tool downloads behind the `setup-*` actions, and the REST
//! API answering 5xx or a secondary rate limit. These fail during GitHub's incidents
//! and pass on a re-run. A `Failed to save` or `Failed to restore` of the cache is
//! usually only a warning (the job goes on); as a warning it never decides a job.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "github_service",
    class: Class::Transient,
    doc: "GitHub's own services failed: the Actions cache, artifacts, action downloads, git over HTTPS, tool downloads for setup-* actions, the API answering 5xx or a secondary rate limit",
    patterns: &[
        Pattern {
            name: "cache_service",
            regex: r#"(?i)Cache service responded with (?:5\d\d|429)|(?i)\b(?:reserveCache|getCacheEntry) failed: (?:Cache service responded with (?:5\d\d|429)|Request timeout)|(?i)Our services aren't available right now"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "uploadChunk (start: 67108864, end: 100663295) failed: Cache service responded with 503",
                    source: "https://github.com/actions/cache/issues/440",
                },
                Example {
                    text: "getCacheEntry failed: Request timeout: /JNaOfbZKyvCPCQ3yeg44JpXs8Z4PzKL6A6l2M67Wio6zbZtx5q/_apis/artifactcache/cache?keys=setup-java-Linux-maven-c379361358a7fc670e80e158f4a881bf3edf105977651a1aa73bb99632425669%2Csetup-java-Linux-maven&version=3d88543681947283edf8997cb89a71c1522b2e39bc75c36ae780bd628eb8559d",
                    source: "https://github.com/actions/cache/issues/698",
                },
            ],
        },
        Pattern {
            name: "artifact_service",
            regex: r#"(?i)Failed to (?:Create|Finalize|Upload|List|Get)Artifacts?: (?:Unable to make request|Received non-retryable error: Failed request: \((?:5\d\d|429)\))|(?i)Unable to (?:upload chunk|get ContainersItems) .*|(?i)Unable to create a container for the artifact\b|(?i)Create Artifact Container failed: .*(?:5\d\d|ECONNRESET|ETIMEDOUT|timed out)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Unexpected response. Unable to upload chunk to https://pipelines.actions.githubusercontent.com/5VR8pVAJWOch570pQRgQ7EctEDmSm2LFZLvggBFEZdahLnzvWU/_apis/resources/Containers/6955550?itemPath=build-artifacts%2Fproxy%2Fonefuzz-proxy-manager",
                    source: "https://github.com/actions/upload-artifact/issues/171",
                },
                Example {
                    text: "Failed to CreateArtifact: Unable to make request: ECONNRESET",
                    source: "https://github.com/matrixorigin/matrixone/issues/27490",
                },
            ],
        },
        Pattern {
            name: "action_download",
            regex: r#"(?i)Failed to (?:download action|resolve action download info)\b.*(?:\b5\d\d\b|Service Unavailable|Internal Server Error|Bad Gateway|timed out|timeout)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Failed to download action 'https://api.github.com/repos/actions/checkout/tarball/ee0669bd1cc54295c223e0bb666b733df41de1c5'. Error: Response status code does not indicate success: 503 (Service Unavailable).",
                    source: "https://github.com/actions/checkout/issues/1457",
                },
                Example {
                    text: "Failed to download action 'https://api.github.com/repos/actions/checkout/tarball/7884fcad6b5d53d10323aee724dc68d8b9096a2e'. Error: Response status code does not indicate success: 503 (Service Unavailable).",
                    source: "https://github.com/actions/checkout/issues/814",
                },
            ],
        },
        Pattern {
            name: "git_service",
            regex: r#"(?i)remote: (?:Internal Server Error|Service Unavailable|fatal error in commit_refs)|(?i)\(remote failed to report status\)|(?i)fatal: unable to access 'https://github\.com/[^']*': The requested URL returned error: (?:5\d\d|429)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "remote: Internal Server Error.",
                    source: "https://github.com/actions/checkout/issues/505",
                },
                Example {
                    text: "remote: Internal Server Error",
                    source: "https://github.com/spdk/spdk/issues/3825",
                },
            ],
        },
        Pattern {
            name: "tool_download",
            regex: r#"(?i)Unexpected HTTP response: (?:5\d\d|429)|(?i)HTTP status server error \(5\d\d [^)]*\) for url"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Unexpected HTTP response: 500",
                    source: "https://github.com/actions/setup-node/issues/133",
                },
                Example {
                    text: "Unexpected HTTP response: 520",
                    source: "https://github.com/actions/setup-java/issues/1011",
                },
            ],
        },
        Pattern {
            name: "github_api",
            regex: r#"(?i)\bexceeded a secondary rate limit\b|(?i)API rate limit exceeded for installation\b|(?i)\bServer Error \(HTTP 5\d\d\)|Unicorn! · GitHub|(?i)HttpError: (?:Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out|Something went wrong)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "init action failed: HttpError: API rate limit exceeded for installation ID 7125406",
                    source: "https://github.com/github/codeql/issues/5106",
                },
                Example {
                    text: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                    source: "https://github.com/zephyrproject-rtos/zephyr/issues/57644",
                },
            ],
        },
    ],
};
