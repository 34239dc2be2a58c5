//! `@network`: the network between the runner and a remote host failed.
//!
//! Connections reset or timed out, names that did not resolve, TLS handshakes cut
//! short, gateways answering 502, 503 or 504, as curl, git, Node, Python, Go and the
//! JVM word them. A connection *refused* is not here: in CI it is mostly a service the
//! workflow was to start on the runner itself, which a re-run does not fix.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "network",
    class: Class::Transient,
    doc: "the network failed: connections reset or timed out, names not resolved, TLS handshakes cut, gateways answering 502, 503 or 504",
    patterns: &[
        Pattern {
            name: "connection_reset",
            regex: r#"(?i)\bconnection reset by peer\b|\bECONNRESET\b|(?i)\bconnection was reset\b|SocketException: Connection reset|ConnectionResetError"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "test_api_multiple_articles.py::test_api_example Python says:('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
                    source: "https://github.com/qxf2/newsletter_automation/issues/221",
                },
                Example {
                    text: "FAILED tests/test_wpt.py::test_list_tests_missing_manifest - urllib3.exceptions.ProtocolError: (\"Connection broken: ConnectionResetError...",
                    source: "https://github.com/web-platform-tests/wpt/issues/51984",
                },
            ],
        },
        Pattern {
            name: "timed_out",
            regex: r#"\bE(?:SOCKET)?TIMEDOUT\b|(?i)\bconnection timed out\b|(?i)\bconnect(?:ion)? timeout\b|(?i)\boperation timed out after\b|\bi/o timeout\b|(?i)\bread timed out\b|SocketTimeoutException|Connect(?:Timeout|ion)TimeoutError|ReadTimeoutError|Client\.Timeout exceeded|request canceled while waiting for connection|\bERR_SOCKET_TIMEOUT\b|(?i)\bTimeout was reached\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "[warning]connect ETIMEDOUT 13.107.42.16:443",
                    source: "https://github.com/actions/cache/issues/141",
                },
                Example {
                    text: "raise ReadTimeoutError(self._pool, None, \"Read timed out.\")",
                    source: "https://github.com/conbench/conbench/issues/815",
                },
            ],
        },
        Pattern {
            name: "dns",
            regex: r#"\bEAI_AGAIN\b|getaddrinfo ENOTFOUND|(?i)\btemporary failure in name resolution\b|(?i)\bcould(?: not|n't) resolve host|(?i)\bname or service not known\b|: no such host\b|UnknownHostException|server misbehaving|NameResolutionError|nodename nor servname provided"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "info EAI_AGAIN registry.npmjs.org:443",
                    source: "https://github.com/pnpm/pnpm/issues/985",
                },
                Example {
                    text: "github.com: Temporary failure in name resolution",
                    source: "https://github.com/travis-ci/travis-ci/issues/1488",
                },
            ],
        },
        Pattern {
            name: "tls",
            regex: r#"(?i)\bTLS handshake timeout\b|SSL_ERROR_SYSCALL|UNEXPECTED_EOF_WHILE_READING|gnutls_handshake\(\) failed|SSLHandshakeException|SSLEOFError|(?i)\bTLS connection was non-properly terminated\b|(?i)\bOpenSSL SSL_(?:read|connect|write)\b|(?i)\bSSL connect error\b|(?i)remote host terminated the handshake|Client network socket disconnected before secure TLS connection was established"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "DEBUG:__main__:hera/['make', 'push']: Put https://quay.io/v2/ucsc_cgl/hera/blobs/uploads/e845910e-03d3-4f48-aecb-13bbb6eb634a?digest=sha256%3Aa3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4: net/http: TLS handshake timeout",
                source: "https://github.com/BD2KGenomics/cgl-docker-lib/issues/260",
            }],
        },
        Pattern {
            name: "connection_closed",
            regex: r#"(?i)\bsocket hang up\b|RemoteDisconnected|IncompleteRead\(|Connection aborted\.|(?i)\bconnection closed (?:by|unexpectedly)|(?i)\bempty reply from server\b|(?i)\bHTTP/2 stream \d+ was not closed cleanly|ERR_STREAM_PREMATURE_CLOSE|"https?://[^"\s]+": (?:unexpected )?EOF\b|(?i)\bfailure when receiving data from the peer\b|(?i)\bunexpected disconnect while reading sideband packet\b|(?i)\bthe remote end hung up unexpectedly\b|(?i)\bfatal: early EOF\b|(?i)\bRPC failed; curl \d+|stream error: stream ID \d+; (?:INTERNAL_ERROR|PROTOCOL_ERROR|REFUSED_STREAM|CANCEL)\b"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "test_api_multiple_articles.py::test_api_example Python says:('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
                source: "https://github.com/qxf2/newsletter_automation/issues/221",
            }],
        },
        Pattern {
            name: "unreachable",
            regex: r#"(?i)\bnetwork is unreachable\b|\bE(?:HOST|NET)UNREACH\b|(?i)\bno route to host\b"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "FAILED tests/test_api/test_api_spec.py::test_invalid_bearer - jwt.exceptions.PyJWKClientConnectionError: Fail to fetch data from the url, err: \"<urlopen error [Errno 101] Network is unreachable>\"",
                source: "https://github.com/ASFHyP3/hyp3/issues/3157",
            }],
        },
        Pattern {
            name: "gateway",
            regex: r#"\b(?:502 Bad Gateway|503 Service (?:Temporarily )?Unavailable|504 Gateway Time-?out)\b|(?i)\breturned error: 5\d\d\b|(?i)\bstatus code:? (?:502|503|504)\b|(?i)\bHTTP(?:/[\d.]+)? (?:502|503|504)\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "fatal: unable to access repo: The requested URL returned error: 500",
                    source: "https://github.com/desktop/desktop/issues/21282",
                },
                Example {
                    text: "Status Code: 503",
                    source: "https://github.com/actions/download-artifact/issues/72",
                },
            ],
        },
        Pattern {
            name: "curl",
            regex: r#"\bcurl: \((?:6|16|18|28|35|52|55|56|92)\)"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "curl: (35) LibreSSL SSL_connect: SSL_ERROR_SYSCALL in connection to homebrew.bintray.com:443",
                source: "https://github.com/actions/runner-images/issues/2947",
            }],
        },
    ],
};
