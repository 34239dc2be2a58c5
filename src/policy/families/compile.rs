//! `@compile`: the code does not compile, link or type-check.
//!
//! Compiler and linker errors as rustc, gcc/clang/MSVC, Go, javac/Maven/Gradle,
//! Kotlin, C#, F#, Swift, tsc and bundlers print them, Python syntax and import
//! errors, and the type checkers mypy and pyright. A compiler that was *killed*
//! (`internal compiler error: Killed`) is `@resources`, not this.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "compile",
    class: Class::Broken,
    doc: "the code does not compile or type-check: compiler, linker and type-checker errors",
    patterns: &[
        Pattern {
            name: "rust",
            regex: r#"error\[E\d{4}\]|error: linking with `\S+` failed"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "error[E0308]: `match` arms have incompatible types",
                    source: "https://github.com/ioneyed/tauri-plugin-highlander/issues/10",
                },
                Example {
                    text: "error[E0425]: cannot find value `result` in this scope",
                    source: "https://github.com/acg-team/rust-phylo/issues/81",
                },
            ],
        },
        Pattern {
            name: "rust_summary",
            regex: r#"error: could not compile `|error: aborting due to"#,
            weight: Weight::Summary,
            examples: &[
                Example {
                    text: "error: could not compile `tauri-plugin-highlander` due to previous error",
                    source: "https://github.com/ioneyed/tauri-plugin-highlander/issues/10",
                },
                Example {
                    text: "error: could not compile `phylo` (lib) due to 1 previous error",
                    source: "https://github.com/acg-team/rust-phylo/issues/81",
                },
            ],
        },
        Pattern {
            name: "c_family",
            regex: r#"\.(?:c|cc|cpp|cxx|h|hh|hpp|hxx|m|mm|cu|ino)(?::\d+){1,2}: (?:fatal )?error: |\.(?:c|cc|cpp|cxx|h|hpp)\(\d+(?:,\d+)?\): (?:fatal )?error |(?i)\bundefined reference to\b|\berror (?:C|LNK)\d{4}:|(?i)\buse of undeclared identifier\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "/usr/bin/../lib/gcc/x86_64-linux-gnu/12/../../../../include/c++/12/bits/chrono.h:82:12: error: redefinition of '__duration_common_type<_CT, _Period1, _Period2>'",
                    source: "https://github.com/CleverRaven/Cataclysm-DDA/pull/62405",
                },
                Example {
                    text: "/home/travis/build/ParadoxZero/stmp/stmp/src/stmp_process.c:(.text+0x357): undefined reference to `get_all_lines'",
                    source: "https://github.com/ParadoxZero/stmp/issues/4",
                },
            ],
        },
        Pattern {
            name: "c_summary",
            regex: r#"ld returned 1 exit status|ld: symbol\(s\) not found|(?i)linker command failed with exit code|(?i)is not able to compile a simple test program"#,
            weight: Weight::Summary,
            examples: &[
                Example {
                    text: "is not able to compile a simple test program.",
                    source: "https://github.com/rust-lang/rust/issues/121058",
                },
                Example {
                    text: "clang: error: linker command failed with exit code 1 (use -v to see invocation)",
                    source: "https://github.com/ParadoxZero/stmp/issues/4",
                },
            ],
        },
        Pattern {
            name: "go",
            regex: r#"\.go:\d+:\d+: (?:undefined: |cannot use |declared (?:and|but) not used|\S+ declared and not used|imported and not used|too many arguments|not enough arguments|missing return|syntax error|invalid operation|undeclared name)|unknown import path ""#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "/home/runner/go/pkg/mod/github.com/libp2p/go-libp2p-core@v0.3.0/crypto/ed25519.go:5:2: unknown import path \"crypto/ed25519\": cannot find module providing package crypto/ed25519",
                source: "https://github.com/filecoin-project/specs/pull/884",
            }],
        },
        Pattern {
            name: "jvm",
            regex: r#"\.java:\d+: error: |\.java:\[\d+,\d+\] |\[\d+,\d+\] error: |error: cannot find symbol|^e: (?:file://)?\S+\.kts?:\d+"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "/home/runner/work/B4D/B4D/src/main/java/fr/B4D/program/Program.java:[27,32] error: cannot find symbol",
                    source: "https://github.com/bot4dofus/B4D/issues/30",
                },
                Example {
                    text: "[ERROR] /C:/Users/Jacob/research_workspace/MM-NEAT/src/main/java/edu/southwestern/tasks/gvgai/zelda/level/ZeldaState.java:[334,51] cannot find symbol",
                    source: "https://github.com/schrum2/MM-NEAT/issues/351",
                },
            ],
        },
        Pattern {
            name: "jvm_summary",
            regex: r#"\bCOMPILATION ERROR\b|Compilation failed; see the compiler error output|\bCompilation failure\b"#,
            weight: Weight::Summary,
            examples: &[
                Example {
                    text: "COMPILATION ERROR :",
                    source: "https://github.com/bot4dofus/B4D/issues/30",
                },
                Example {
                    text: "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.6.2:compile (default-compile) on project MM-NEAT: Compilation failure",
                    source: "https://github.com/schrum2/MM-NEAT/issues/351",
                },
            ],
        },
        Pattern {
            name: "dotnet_swift",
            regex: r#"\berror CS\d{4}:|\berror FS\d{4}:|\.swift:\d+:\d+: error: "#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "/Users/runner/work/MyActionTest/MyActionTest/Sources/MegaX/Camera/Model/CameraModel.swift:58:29: error: expansion of macro 'ObservationIgnored()' did not produce a observing accessor",
                source: "https://github.com/sersoft-gmbh/swifty-docs-action/issues/215",
            }],
        },
        Pattern {
            name: "typescript",
            regex: r#"\berror TS\d{4,5}:|Module not found: Error: Can't resolve"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "[10:47:27] TypeScript error: /home/runner/work/into-cps-application/into-cps-application/node_modules/@types/fs-extra/index.d.ts(232,38): error TS2694: Namespace '\"fs\"' has no exported member 'BaseEncodingOptions'.",
                    source: "https://github.com/INTO-CPS-Association/into-cps-application/issues/137",
                },
                Example {
                    text: "__tests__/git.test.ts:83:16 - error TS2571: Object is of type 'unknown'.",
                    source: "https://github.com/JamesIves/github-pages-deploy-action/issues/866",
                },
            ],
        },
        Pattern {
            name: "python",
            regex: r#"ImportError while importing test module|^\s*(?:E\s+)?(?:ModuleNotFoundError|ImportError): |No module named '?[\w.]+'?$"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "ImportError while importing test module '/home/runner/work/CUQIpy/CUQIpy/tests/experimental/test_recommender.py'.",
                    source: "https://github.com/CUQI-DTU/CUQIpy/issues/736",
                },
                Example {
                    text: "No module named 'pytest'",
                    source: "https://github.com/iowarp/ppi-jarvis-cd/issues/21",
                },
            ],
        },
        Pattern {
            name: "type_checkers",
            regex: r#"\.pyi?:\d+(?::\d+)?: error: .*\[[a-z][a-z-]*\]$|^\s*\S+:\d+:\d+ - error: "#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "virtualizarr/manifests/manifest.py:137: error: Incompatible types in assignment (expression has type \"ndarray[Any, dtype[Any]]\", variable has type \"ndarray[Any, StringDType]\")  [assignment]",
                    source: "https://github.com/zarr-developers/VirtualiZarr/issues/249",
                },
                Example {
                    text: "sympy/parsing/sympy_parser.py:1075: error: Incompatible types in assignment (expression has type \"CodeType\", variable has type \"str\")  [assignment]",
                    source: "https://github.com/sympy/sympy/issues/24873",
                },
            ],
        },
        Pattern {
            name: "type_checker_summary",
            regex: r#"^Found \d+ errors? in \d+ files? \(|^\d+ errors?, \d+ warnings?, \d+ informations?"#,
            weight: Weight::Summary,
            examples: &[
                Example {
                    text: "Found 3 errors in 1 file (checked 37 source files)",
                    source: "https://github.com/zarr-developers/VirtualiZarr/issues/249",
                },
                Example {
                    text: "3 errors, 0 warnings, 0 informations",
                    source: "https://github.com/nextstrain/cli/issues/424",
                },
            ],
        },
    ],
};
