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
    }

    #[test]
    fn python_like_text_never_panics(parts in proptest::collection::vec(0..WORDS.len(), 0..300)) {
        let src: String = parts.iter().map(|i| WORDS[*i]).collect();
        let _ = flakehound_lint::python::analyse(src.as_bytes(), "tests.test_x", true);
    }
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
