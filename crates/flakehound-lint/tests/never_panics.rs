//! Arbitrary bytes (and arbitrary Python-ish text) never panic the scanner.

use proptest::prelude::*;

const WORDS: &[&str] = &[
    "def ",
    "test_x",
    "(",
    ")",
    ":",
    "\n",
    "    ",
    "import ",
    "random",
    "time",
    ".",
    "sleep",
    "assert ",
    "==",
    "<",
    "set",
    "[",
    "]",
    "{",
    "}",
    "global ",
    "x",
    "=",
    "yield",
    "class ",
    "Test",
    "@",
    "pytest.fixture",
    "'/tmp/a'",
    "f\"",
    "\"",
    "#",
    " flakehound: ignore[",
    ",",
    "threading.Thread",
    "start",
    "join",
    "datetime",
    "now",
    "lambda",
    "with ",
    "finally",
    "del ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn bytes_never_panic(src in proptest::collection::vec(any::<u8>(), 0..2000), test in any::<bool>()) {
        let _ = flakehound_lint::python::analyse(&src, "tests.test_x", test);
        let _ = flakehound_lint::golang::analyse(&src);
        let _ = flakehound_lint::rustlang::analyse(&src);
        let _ = flakehound_lint::javascript::analyse(&src, flakehound_lint::javascript::Dialect::Tsx);
    }

    #[test]
    fn python_like_text_never_panics(parts in proptest::collection::vec(0..WORDS.len(), 0..300)) {
        let src: String = parts.iter().map(|i| WORDS[*i]).collect();
        let _ = flakehound_lint::python::analyse(src.as_bytes(), "tests.test_x", true);
    }
}

const JS_RUST_WORDS: &[&str] = &[
    "test(",
    "it(",
    "describe(",
    "'t', ",
    "() => {",
    "}",
    ")",
    ";",
    "\n",
    "expect(",
    ").toBe(",
    ").toBeLessThan(",
    "Math.random()",
    "Date.now()",
    "new Date()",
    " - ",
    "const x = ",
    "x",
    "setTimeout(f, 100)",
    "fetch('https://a.b/')",
    "'/tmp/a'",
    "let s = [];",
    "s.push(1)",
    "jest.retryTimes(2)",
    "// flakehound: ignore[",
    "`",
    "${",
    "#[test]\n",
    "fn t() {",
    "assert_eq!(",
    "assert!(",
    ", ",
    "<",
    "let k = ",
    "rand::random()",
    "Instant::now()",
    ".elapsed()",
    "Duration::from_millis(50)",
    "thread::spawn(|| 1)",
    "vec![",
    "]",
    "HashMap::new()",
    ".keys()",
    "static mut X: u32 = 0;",
    "X += 1",
    "mod m {",
    "\"/tmp/x\"",
    "é",
    "{:?}",
    "format!(",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn js_and_rust_like_text_never_panics(parts in proptest::collection::vec(0..JS_RUST_WORDS.len(), 0..300)) {
        let src: String = parts.iter().map(|i| JS_RUST_WORDS[*i]).collect();
        let _ = flakehound_lint::rustlang::analyse(src.as_bytes());
        for d in [
            flakehound_lint::javascript::Dialect::JavaScript,
            flakehound_lint::javascript::Dialect::TypeScript,
            flakehound_lint::javascript::Dialect::Tsx,
        ] {
            let _ = flakehound_lint::javascript::analyse(src.as_bytes(), d);
        }
    }
}

#[test]
fn deep_js_and_rust_nesting_is_cut_not_a_stack_overflow() {
    let mut js = String::from("test('t', () => { const x = ");
    js.push_str(&"[".repeat(20_000));
    js.push_str(&"]".repeat(20_000));
    js.push_str("; expect(x).toBe(1); });\n");
    let mut rs = String::from("#[test]\nfn t() { assert_eq!(");
    rs.push_str(&"vec![".repeat(5_000));
    rs.push_str(&"]".repeat(5_000));
    rs.push_str(", 1); let y = ");
    rs.push_str(&"(".repeat(20_000));
    rs.push('1');
    rs.push_str(&")".repeat(20_000));
    rs.push_str("; }\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/deep.test.js"), &js).unwrap();
    std::fs::write(dir.path().join("tests/deep.rs"), &rs).unwrap();
    let scan = flakehound_lint::scan(
        &[dir.path().to_path_buf()],
        &flakehound_lint::Config::default(),
        None,
    );
    assert_eq!(scan.files, 2, "{:?}", scan.errors);
}

#[test]
fn deep_nesting_is_cut_not_a_stack_overflow() {
    let mut src = String::from("def test_a():\n    x = ");
    src.push_str(&"(".repeat(50_000));
    src.push('1');
    src.push_str(&")".repeat(50_000));
    src.push('\n');
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test_deep.py"), &src).unwrap();
    let scan = flakehound_lint::scan(
        &[dir.path().to_path_buf()],
        &flakehound_lint::Config::default(),
        None,
    );
    assert_eq!(scan.files, 1);
}
