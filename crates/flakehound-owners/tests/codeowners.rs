//! CODEOWNERS semantics, checked against the example file in GitHub's docs.

use flakehound_owners::CodeOwners;

/// The example CODEOWNERS from GitHub's documentation (reproduced from its rules).
const GITHUB_EXAMPLE: &str = r"# This is a comment.
# Each line is a file pattern followed by one or more owners.

# These owners will be the default owners for everything in the repo.
*       @global-owner1 @global-owner2

# Order is important; the last matching pattern takes the most precedence.
*.js    @js-owner #This is an inline comment.

# You can also use email addresses if you prefer.
*.go docs@example.com

# Teams can be specified as code owners as well.
*.txt @octo-org/octocats

# @doctocat owns any files in the build/logs directory at the root of the
# repository and any of its subdirectories.
/build/logs/ @doctocat

# The `docs/*` pattern will match files like `docs/getting-started.md` but not
# further nested files like `docs/build-app/troubleshooting.md`.
docs/*  docs@example.com

# @octocat owns any file in an apps directory anywhere in your repository.
apps/ @octocat

# @doctocat owns any file in the `/docs` directory in the root of your
# repository and any of its subdirectories.
/docs/ @doctocat

# Any change inside the `/scripts` directory requires @doctocat or @octocat.
/scripts/ @doctocat @octocat

# @octocat owns any file in a `/logs` directory such as `/build/logs`,
# `/scripts/logs`, and `/deeply/nested/logs`.
**/logs @octocat

# @octocat owns any file in the `/apps` directory in the root of your
# repository except for the `/apps/github` subdirectory, as its owners are left empty.
/apps/ @octocat
/apps/github
";

#[test]
fn github_documented_example() {
    let co = CodeOwners::parse(GITHUB_EXAMPLE);
    assert!(co.errors().is_empty(), "{:?}", co.errors());
    let table: &[(&str, Option<&[&str]>)] = &[
        // `*`: default owners, any depth.
        ("README.md", Some(&["@global-owner1", "@global-owner2"])),
        ("src/deep/x.rs", Some(&["@global-owner1", "@global-owner2"])),
        (".hidden", Some(&["@global-owner1", "@global-owner2"])),
        // `*.js` beats `*` (later); inline comment not an owner.
        ("app.js", Some(&["@js-owner"])),
        ("web/static/app.js", Some(&["@js-owner"])),
        ("app.jsx", Some(&["@global-owner1", "@global-owner2"])),
        ("main.go", Some(&["docs@example.com"])),
        ("notes/todo.txt", Some(&["@octo-org/octocats"])),
        // `/build/logs/` anchored, contents at any depth below; `**/logs` comes later and also matches.
        ("build/logs/a.log", Some(&["@octocat"])),
        ("build/logs/sub/b.txt", Some(&["@octocat"])),
        // `docs/*` direct children only; but `/docs/` comes later and owns all of docs/.
        ("docs/getting-started.md", Some(&["@doctocat"])),
        ("docs/build-app/troubleshooting.md", Some(&["@doctocat"])),
        // `apps/` at any depth.
        ("src/apps/main.rs", Some(&["@octocat"])),
        ("apps", Some(&["@global-owner1", "@global-owner2"])), // a file named apps is not a dir
        ("/scripts/deploy.sh", Some(&["@doctocat", "@octocat"])),
        ("scripts/ci/run.sh", Some(&["@doctocat", "@octocat"])),
        // `**/logs` anywhere, file or directory.
        ("deeply/nested/logs/x.log", Some(&["@octocat"])),
        ("scripts/logs/x.txt", Some(&["@octocat"])),
        ("logs", Some(&["@octocat"])),
        ("catalogs/x", Some(&["@global-owner1", "@global-owner2"])),
        // `/apps/github` with no owners un-assigns.
        ("apps/web/index.html", Some(&["@octocat"])),
        ("apps/github", None),
        ("apps/github/hook.rb", None),
        ("apps/githubx/hook.rb", Some(&["@octocat"])),
        // Windows separators and ./ prefix.
        (".\\apps\\web\\index.html", Some(&["@octocat"])),
        ("./main.go", Some(&["docs@example.com"])),
    ];
    let mut failures = Vec::new();
    for (path, want) in table {
        let got = co
            .owners_of(path)
            .map(|o| o.iter().map(String::as_str).collect::<Vec<_>>());
        let want = want.map(<[&str]>::to_vec);
        if got != want {
            failures.push(format!("{path}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Un-assigned paths still report which rule matched.
    let unassign_line = GITHUB_EXAMPLE
        .lines()
        .position(|l| l == "/apps/github")
        .unwrap()
        + 1;
    assert_eq!(
        co.matching_rule("apps/github/x").map(|r| r.line),
        Some(unassign_line)
    );
}

/// Each pattern in isolation: (pattern, path, matches?).
#[test]
fn pattern_table() {
    let table: &[(&str, &str, bool)] = &[
        ("docs/*", "docs/a.md", true),
        ("docs/*", "docs/sub/b.md", false),
        ("docs/*", "x/docs/a.md", false), // middle slash anchors
        ("/docs/", "docs/sub/b.md", true),
        ("/docs/", "docs", false), // a file named docs
        ("/docs/", "x/docs/a", false),
        ("docs/", "x/docs/a", true),
        ("docs", "x/docs/a", true),
        ("docs", "docs", true),
        ("/docs", "x/docs", false),
        ("*.md", "a/b/c.md", true),
        ("*.md", "a.md/b", true), // directory named *.md owns its contents
        ("/*.md", "a/b.md", false),
        ("/*.md", "b.md", true),
        ("a*b", "a/b", false), // `*` does not cross `/`
        ("a*b", "axxb", true),
        ("?.rs", "a.rs", true),
        ("?.rs", "ab.rs", false),
        ("**/foo", "foo", true),
        ("**/foo", "a/b/foo/c", true),
        ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/y/b", true),
        ("a/**/b", "a/x/y/c", false),
        ("a/**", "a/x/y", true),
        ("a/**", "a", false),
        ("a/**", "b/a/x", false),
        ("src/**/*.rs", "src/a/b/c.rs", true),
        ("src/**/*.rs", "src/c.rs", true),
        ("src/**/*.rs", "lib/c.rs", false),
        ("a**b", "axyb", true), // `**` inside a segment acts as `*`
        ("a**b", "ax/yb", false),
        ("*", "anything/at/all", true),
        ("/*", "anything/at/all", true),
        ("\\#notes", "#notes", true),
        ("my\\ file.txt", "dir/my file.txt", true),
        ("Docs/", "docs/a", false), // case-sensitive
        ("tests/test_*.py", "tests/test_io.py", true),
        ("tests/test_*.py", "tests/unit/test_io.py", false),
    ];
    let mut failures = Vec::new();
    for (pattern, path, want) in table {
        let co = CodeOwners::parse(&format!("{pattern} @o"));
        assert!(co.errors().is_empty(), "{pattern}: {:?}", co.errors());
        let got = co.owners_of(path).is_some();
        if got != *want {
            failures.push(format!("`{pattern}` vs `{path}`: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_lines_are_skipped_and_reported_with_line_numbers() {
    let text = "\
* @all
!secret.txt @nobody
[abc].rs @x
*.rs not-an-owner
*.py @ok @bad/team/extra
a//b @x
*.md @docs
";
    let co = CodeOwners::parse(text);
    let lines: Vec<usize> = co.errors().iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6]);
    assert!(co.errors()[0].message.contains("negat"));
    assert!(co.errors()[0].to_string().starts_with("line 2:"));
    assert_eq!(co.rules().len(), 2);
    // The valid lines still apply.
    assert_eq!(co.owners_of("x.md"), Some(&["@docs".to_string()][..]));
    assert_eq!(co.owners_of("x.rs"), Some(&["@all".to_string()][..]));
}

#[test]
fn gitlab_sections_are_tolerated() {
    let text = "\
[Backend] @backend-team
*.rs
/api/ @api-lead

^[Docs][2]
*.md @writers
[Empty]
*.py
[
";
    let co = CodeOwners::parse(text);
    assert_eq!(co.errors().len(), 1, "{:?}", co.errors());
    assert_eq!(co.errors()[0].line, 9);
    assert_eq!(
        co.owners_of("src/a.rs"),
        Some(&["@backend-team".to_string()][..])
    );
    assert_eq!(
        co.owners_of("api/x.go"),
        Some(&["@api-lead".to_string()][..])
    );
    assert_eq!(
        co.owners_of("README.md"),
        Some(&["@writers".to_string()][..])
    );
    // A section without default owners: owner-less entry un-assigns.
    assert_eq!(co.owners_of("a.py"), None);
}

#[test]
fn comments_blank_lines_and_no_match() {
    let co = CodeOwners::parse("# only comments\n\n   # indented\n/src/ @dev # trailing\n");
    assert!(co.errors().is_empty());
    assert_eq!(co.rules().len(), 1);
    assert_eq!(co.rules()[0].owners, vec!["@dev"]);
    assert_eq!(co.owners_of("README.md"), None);
    assert_eq!(co.owners_of(""), None);
}

#[test]
fn discover_prefers_github_dir_then_root_then_docs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(CodeOwners::discover(root).unwrap().is_none());

    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/CODEOWNERS"), "* @from-docs\n").unwrap();
    let co = CodeOwners::discover(root).unwrap().unwrap();
    assert_eq!(co.owners_of("a"), Some(&["@from-docs".to_string()][..]));
    assert_eq!(co.path(), Some(root.join("docs/CODEOWNERS").as_path()));

    std::fs::write(root.join("CODEOWNERS"), "* @from-root\n").unwrap();
    let co = CodeOwners::discover(root).unwrap().unwrap();
    assert_eq!(co.owners_of("a"), Some(&["@from-root".to_string()][..]));

    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::write(root.join(".github/CODEOWNERS"), "* @from-github\n").unwrap();
    let co = CodeOwners::discover(root).unwrap().unwrap();
    assert_eq!(co.owners_of("a"), Some(&["@from-github".to_string()][..]));
}
