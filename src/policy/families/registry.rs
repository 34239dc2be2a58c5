//! `@registry`: a package or container registry failed the download.
//!
//! Each package manager words a registry that answered 5xx or 429, timed out or served
//! a file that does not match its index in its own way; these are those words. A
//! version that does not exist (npm `E404`/`ETARGET`, pip `No matching distribution`,
//! Maven `Could not find artifact`) is not here but in `@dependency`: a re-run
//! finds it missing again.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "registry",
    class: Class::Transient,
    doc: "a package or container registry failed: npm, yarn, pnpm, PyPI, conda, crates.io, Maven, Gradle, the Go proxy, RubyGems, NuGet, Packagist, apt mirrors, Homebrew, Docker Hub and other container registries answering 5xx or 429, timing out or serving a broken file",
    patterns: &[
        Pattern {
            name: "npm_network",
            regex: r#"npm (?:ERR!|error) (?:code (?:ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|ESOCKETTIMEDOUT|ERR_SOCKET_TIMEOUT|EPIPE|E5\d\d|E429)\b|network\b)|(?i)\brequest to https?://\S+ failed, reason:|Invalid response body while trying to fetch https?://|npm (?:ERR!|error) fetch failed https?://"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "npm ERR! code ECONNRESET",
                    source: "https://github.com/actions/runner-images/issues/3737",
                },
                Example {
                    text: "npm ERR! network Invalid response body while trying to fetch https://registry.npmjs.org/@types%2fnode: aborted",
                    source: "https://github.com/npm/cli/issues/8015",
                },
            ],
        },
        Pattern {
            name: "yarn_network",
            regex: r#"(?i)An unexpected error occurred: "https?://[^"]*: (?:[^"]*(?:TIMEDOUT|ECONNRESET|EAI_AGAIN|ENOTFOUND|socket hang up|tunneling socket|Socket timeout)|Request failed \\?"(?:5\d\d|429))|YN0001: .*(?:ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "error An unexpected error occurred: \"https://registry.yarnpkg.com/@material-ui/icons/-/icons-4.11.2.tgz: ESOCKETTIMEDOUT\".",
                    source: "https://github.com/opstrace/opstrace/issues/873",
                },
                Example {
                    text: "error An unexpected error occurred: \"https://registry.yarnpkg.com/rxjs/-/rxjs-5.5.12.tgz: ESOCKETTIMEDOUT\".",
                    source: "https://github.com/microsoft/react-native-test-app/issues/157",
                },
            ],
        },
        Pattern {
            name: "pnpm_network",
            regex: r#"ERR_PNPM_(?:META_FETCH_FAIL|FETCH_(?:5\d\d|429)|ECONNRESET|ETIMEDOUT|EAI_AGAIN|SOCKET_TIMEOUT)\b|ERR_PNPM_\w+.*(?:ECONNRESET|ETIMEDOUT|socket hang up|Socket timeout)"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "ERR_PNPM_META_FETCH_FAIL GET https://registry.npmjs.org/@graphql-tools%2Fschema: request to https://registry.npmjs.org/@graphql-tools%2Fschema failed, reason: Socket timeout",
                source: "https://github.com/overengineeringstudio/effect-utils/issues/562",
            }],
        },
        Pattern {
            name: "pip_network",
            regex: r#"(?i)Could not install packages due to an (?:OSError|EnvironmentError):.*(?:HTTPSConnectionPool|timed out|Connection|Errno 104)|(?i)\bHTTP error 5\d\d while getting\b|CondaHTTPError: HTTP (?:000 CONNECTION FAILED|5\d\d)"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "CondaHTTPError: HTTP 000 CONNECTION FAILED for url <https://conda.anaconda.org/conda-forge/win-64/repodata.json>",
                source: "https://github.com/ContinuumIO/anaconda-issues/issues/6884",
            }],
        },
        Pattern {
            name: "cargo_network",
            regex: r#"(?i)failed to get 200 response from `?https?://\S+`?, got (?:50[02-9]|429)|(?i)\bfailed to download from `?https?://|^\s*\[(?:6|7|16|18|28|35|52|55|56|92)\] [A-Z]"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "warning: spurious network error (2 tries remaining): failed to get 200 response from `https://crates.io/api/v1/crates/futures-task/0.3.5/download`, got 502",
                    source: "https://github.com/vectordotdev/vector/issues/3253",
                },
                Example {
                    text: "failed to get 200 response from `https://crates.io/api/v1/crates/utf8-ranges/0.1.3/download`, got 500",
                    source: "https://github.com/rust-lang/rust/issues/41545",
                },
            ],
        },
        Pattern {
            name: "jvm_network",
            regex: r#"Could not transfer artifact .* (?:from/to|from) |(?i)\bCould not (?:GET|HEAD) '?https?://|Received status code (?:50[02-9]|5[1-9]\d|429) from server|Return code is: (?:50[02-9]|429)|(?i)status code: (?:50[02-9]|429), reason phrase|(?i)Downloading from https?://\S+ failed: timeout"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Failed to execute goal on project spoon-core: Could not resolve dependencies for project fr.inria.gforge.spoon:spoon-core:jar:8.4.0-SNAPSHOT: Could not transfer artifact com.martiansoftware:jsap:jar:2.1 from/to central (https://repo.maven.apache.org/maven2): Transfer failed for https://repo.maven.apache.org/maven2/com/martiansoftware/jsap/2.1/jsap-2.1.jar: Connection reset -> [Help 1]",
                    source: "https://github.com/INRIA/spoon/issues/3745",
                },
                Example {
                    text: "> Could not GET 'https://plugins.gradle.org/m2/gradle/plugin/com/github/ksoichiro/gradle-console-reporter/0.4.0/gradle-console-reporter-0.4.0.pom'. Received status code 502 from server: Bad Gateway",
                    source: "https://github.com/d2iq-archive/dcos-commons/pull/596",
                },
            ],
        },
        Pattern {
            name: "go_network",
            regex: r#"unexpected status \([^)]*\): (?:5\d\d|429)|(?i)reading https?://\S+: (?:5\d\d|429)\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "go get github.com/kataras/iris: module github.com/kataras/iris: reading http://goproxy.cn/github.com/kataras/iris/@v/list: 502 Bad Gateway",
                    source: "https://github.com/goproxy/goproxy.cn/issues/55",
                },
                Example {
                    text: "verifying cloud.google.com/go@v0.38.0/go.mod: cloud.google.com/go@v0.38.0/go.mod: reading https://goproxy.cn/sumdb/sum.golang.org/lookup/cloud.google.com/go@v0.38.0: 502 Bad Gateway",
                    source: "https://github.com/goproxy/goproxy.cn/issues/67",
                },
            ],
        },
        Pattern {
            name: "ruby_network",
            regex: r#"Gem::RemoteFetcher::(?:FetchError|UnknownHostError)|Bundler::HTTPError|Could not fetch specs from https?://|Net::(?:OpenTimeout|ReadTimeout)\b|(?i)bad response (?:Service Unavailable|Bad Gateway|Gateway Time-?out) 5\d\d"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Gem::RemoteFetcher::UnknownHostError: timed out",
                    source: "https://github.com/two-pack/redmine_xls_export/issues/106",
                },
                Example {
                    text: "11/home/vagrant/.rvm/rubies/ruby-1.9.2-p180/lib/ruby/site_ruby/1.9.1/rubygems/remote_fetcher.rb:331:in `open_uri_or_path': bad response Service Unavailable 503 (http://rubygems.org/quick/Marshal.4.8/ZenTest-4.5.0.gemspec.rz) (Gem::RemoteFetcher::FetchError)",
                    source: "https://github.com/travis-ci/travis-ci/issues/183",
                },
            ],
        },
        Pattern {
            name: "nuget_network",
            regex: r#"\bNU1301\b|Response status code does not indicate success: (?:5\d\d|429)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Response status code does not indicate success: 503 (Service Unavailable).",
                    source: "https://github.com/actions/checkout/issues/814",
                },
                Example {
                    text: "/src/backend.csproj : error NU1301: Unable to load the service index for source https://api.nuget.org/v3/index.json.",
                    source: "https://github.com/MicrosoftDocs/mslearn-dotnet-kubernetes/issues/4",
                },
            ],
        },
        Pattern {
            name: "composer_network",
            regex: r#"curl error (?:6|7|28|35|52|56) while downloading|file could not be downloaded \((?:HTTP/[\d.]+ (?:5\d\d|429)|[^)]*(?:timed out|Connection))"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "curl error 28 while downloading https://packagist.org/api/security-advisories/: Operation timed out after 10006 milliseconds with 0 bytes received",
                    source: "https://github.com/composer/composer/issues/12535",
                },
                Example {
                    text: "https://repo.packagist.org could not be fully loaded (The \"https://repo.packagist.org/p2/php-http/async-client-implementation.json\" file could not be downloaded (HTTP/2 502 )), package information was loaded from the local cache and may be out of date",
                    source: "https://github.com/composer/composer/issues/9810",
                },
            ],
        },
        Pattern {
            name: "apt_mirror",
            regex: r#"Hash Sum mismatch|File has unexpected size|Clearsigned file isn't valid|Mirror sync in progress|(?i)\bUnable to connect to [\w.-]+:(?:http|https|\d+):|(?i)\bCould not connect to [\w.-]+:\d+ \(|(?:Failed to fetch|Err:\d+) .*\b5\d\d\s+(?:Service Unavailable|Bad Gateway|Gateway Time-?out|Internal Server Error)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "E: Failed to fetch https://packages.microsoft.com/ubuntu/16.04/prod/dists/xenial/main/binary-amd64/Packages.bz2  Hash Sum mismatch",
                    source: "https://github.com/r-lib/actions/issues/51",
                },
                Example {
                    text: "Hash Sum mismatch",
                    source: "https://github.com/DynamoRIO/dynamorio/issues/5851",
                },
            ],
        },
        Pattern {
            name: "homebrew",
            regex: r#"Failed to download resource "|(?i)\bDownload failed: https?://"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "Failed to download resource \"chipmunk\"",
                source: "https://github.com/Homebrew/legacy-homebrew/pull/42733",
            }],
        },
        Pattern {
            name: "container_registry",
            regex: r#"toomanyrequests|(?i)You have reached your (?:unauthenticated )?pull rate limit|received unexpected HTTP status: (?:5\d\d|429)|(?i)invalid status code from registry (?:5\d\d|429)|unexpected status (?:code |from \w+ request to \S+: )?(?:5\d\d|429)\b|Error response from daemon: (?:(?:Get|Head|Post) "?https?://\S+:? (?:EOF|net/http|dial tcp|context deadline exceeded)|unexpected EOF)|(?i)error pulling image configuration: .*(?:5\d\d|EOF|timeout|reset)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Caused by: Error response from daemon: toomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit",
                    source: "https://github.com/lambdaclass/ethrex/issues/2633",
                },
                Example {
                    text: "Error response from daemon: received unexpected HTTP status: 500 Internal Server Error",
                    source: "https://github.com/EnricoMi/publish-unit-test-result-action/issues/401",
                },
            ],
        },
    ],
};
