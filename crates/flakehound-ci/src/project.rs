//! The project a checkout belongs to: the name its evidence is kept under in a store that
//! serves many repositories.
//!
//! The name is the git remote (`origin`, else the first remote) as `host/owner/name`, so that
//! every clone of a repository — a laptop, a CI runner, a fork's checkout of the same remote —
//! names the same project; else the git root directory's name; else the directory's own name.

use std::path::Path;

use crate::git::git_line;

/// The project of the checkout containing `dir` (see the module documentation). `None` only
/// when `dir` has no name at all (the file system root outside git).
pub fn project_of(dir: &Path) -> Option<String> {
    if let Some(remote) = remote_url(dir).and_then(|url| normalize_remote(&url)) {
        return Some(remote);
    }
    let root = crate::git::git_root(dir);
    let named = root.as_deref().unwrap_or(dir);
    named
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// The URL of `origin`, else of the first remote `git remote` lists.
fn remote_url(dir: &Path) -> Option<String> {
    if let Some(url) = git_line(dir, &["config", "--get", "remote.origin.url"]) {
        return Some(url);
    }
    let remotes = git_line(dir, &["remote"])?;
    let first = remotes.lines().next()?.trim();
    git_line(dir, &["config", "--get", &format!("remote.{first}.url")])
}

/// A git remote URL as `host/owner/name`: the scheme, user, password and port are dropped, the
/// host lower-cased, a trailing `.git` and slashes removed. Both URL forms
/// (`https://host/owner/name.git`, `ssh://git@host:22/owner/name`) and the scp-like form
/// (`git@host:owner/name.git`) are read. `None` for a remote without a host (a local path or
/// `file://` URL), or without a path.
pub fn normalize_remote(url: &str) -> Option<String> {
    let url = url.trim();
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            return None;
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        // user[:password]@host[:port]
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match host_port.strip_prefix('[') {
            // [::1]:22
            Some(v6) => v6.split_once(']').map_or(v6, |(h, _)| h),
            None => host_port.split_once(':').map_or(host_port, |(h, _)| h),
        };
        (host, path)
    } else {
        // scp-like: [user@]host:path, where the part before the colon has no slash (else it is
        // a local path such as ./a:b) and is longer than a drive letter (C:\repo).
        let (before, path) = url.split_once(':')?;
        if before.contains('/') || before.contains('\\') || before.len() < 2 {
            return None;
        }
        let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
        (host, path)
    };
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let path = path.trim().trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    // A scp-like path may start with `~user/` or `/`; both are not part of the name.
    let path = path.trim_start_matches('~').trim_start_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() {
        return None;
    }
    Some(format!("{host}/{}", segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::normalize_remote;

    #[track_caller]
    fn check(url: &str, want: Option<&str>) {
        assert_eq!(normalize_remote(url).as_deref(), want, "{url}");
    }

    #[test]
    fn remotes_of_one_repository_name_one_project() {
        for url in [
            "git@github.com:acme/shop.git",
            "git@github.com:acme/shop",
            "https://github.com/acme/shop.git",
            "https://github.com/acme/shop",
            "https://github.com/acme/shop/",
            "https://user:token@github.com/acme/shop.git",
            "http://GitHub.com/acme/shop.git",
            "ssh://git@github.com/acme/shop.git",
            "ssh://git@github.com:22/acme/shop.git",
            "git://github.com/acme/shop.git",
            "github.com:acme/shop.git",
            "  git@github.com:acme/shop.git\n",
        ] {
            check(url, Some("github.com/acme/shop"));
        }
    }

    #[test]
    fn nested_groups_ports_and_ipv6_hosts() {
        check(
            "https://gitlab.example.com:8443/group/sub/repo.git",
            Some("gitlab.example.com/group/sub/repo"),
        );
        check("ssh://git@[::1]:2222/acme/shop.git", Some("::1/acme/shop"));
        check(
            "ssh://git@host.example/~alice/proj.git",
            Some("host.example/alice/proj"),
        );
        check(
            "git@host.example:/srv/repo.git",
            Some("host.example/srv/repo"),
        );
    }

    #[test]
    fn local_remotes_have_no_host() {
        check("/srv/git/shop.git", None);
        check("../shop", None);
        check("./a:b", None);
        check("file:///srv/git/shop.git", None);
        check("C:\\repos\\shop", None);
        check("https://github.com/", None);
        check("", None);
    }
}

#[cfg(test)]
mod checkout_tests {
    use super::project_of;
    use std::path::Path;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .status()
            .expect("git runs")
            .success();
        assert!(ok, "git {args:?}");
    }

    /// After a prefetch, a directory's checkout is the one the command started with (each query
    /// answered once); directories that were not prefetched are asked again every time.
    #[test]
    fn a_prefetched_checkout_is_fixed_for_the_process_and_others_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let (fixed, live) = (tmp.path().join("fixed"), tmp.path().join("live"));
        for repo in [&fixed, &live] {
            std::fs::create_dir_all(repo).unwrap();
            git(repo, &["init", "-q"]);
            git(
                repo,
                &[
                    "remote",
                    "add",
                    "origin",
                    "https://example.org/acme/one.git",
                ],
            );
        }
        crate::prefetch(&fixed);
        let before = (crate::git_root(&fixed), crate::from_git(&fixed));
        for repo in [&fixed, &live] {
            git(
                repo,
                &[
                    "remote",
                    "set-url",
                    "origin",
                    "https://example.org/acme/two.git",
                ],
            );
        }
        assert_eq!(project_of(&fixed).as_deref(), Some("example.org/acme/one"));
        assert_eq!(project_of(&live).as_deref(), Some("example.org/acme/two"));
        assert_eq!((crate::git_root(&fixed), crate::from_git(&fixed)), before);
        assert!(before.0.is_some_and(|r| r.ends_with("fixed")));
    }

    /// What a prefetch remembers is what each question asked alone answers: in a checkout with
    /// commits and remotes but no `origin`, before the first commit, and outside git.
    #[test]
    fn prefetched_answers_equal_the_answers_asked_one_by_one() {
        let tmp = tempfile::tempdir().unwrap();
        let (full, unborn, outside) = (
            tmp.path().join("full"),
            tmp.path().join("unborn"),
            tmp.path().join("outside"),
        );
        for d in [&full, &unborn, &outside] {
            std::fs::create_dir_all(d).unwrap();
        }
        for repo in [&full, &unborn] {
            git(repo, &["init", "-q"]);
        }
        git(
            &full,
            &["remote", "add", "zeta", "https://example.org/z/zeta.git"],
        );
        git(
            &full,
            &["remote", "add", "up.stream", "git@example.org:acme/up.git"],
        );
        git(
            &full,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "x",
            ],
        );
        let ask = |d: &Path| {
            (
                project_of(d),
                crate::git_root(d),
                crate::from_git(d),
                crate::head_time(d),
            )
        };
        for d in [&full, &unborn, &outside] {
            let alone = ask(d);
            crate::prefetch(d);
            assert_eq!(ask(d), alone, "{}", d.display());
        }
        // `git remote` sorts the names: the first remote is up.stream, whose name has a dot.
        assert_eq!(project_of(&full).as_deref(), Some("example.org/acme/up"));
        assert!(crate::from_git(&full).commit.is_some());
        assert_eq!(project_of(&unborn).as_deref(), Some("unborn"));
        assert_eq!(project_of(&outside).as_deref(), Some("outside"));
    }

    #[test]
    fn origin_else_first_remote_else_directory_name() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("shop-checkout");
        let sub = repo.join("src");
        std::fs::create_dir_all(&sub).unwrap();
        // Outside git: the directory's own name.
        assert_eq!(project_of(&sub).as_deref(), Some("src"));
        git(&repo, &["init", "-q"]);
        // A repository without remotes: its root directory's name, from anywhere inside it.
        assert_eq!(project_of(&sub).as_deref(), Some("shop-checkout"));
        git(
            &repo,
            &["remote", "add", "upstream", "git@example.org:acme/up.git"],
        );
        assert_eq!(project_of(&sub).as_deref(), Some("example.org/acme/up"));
        git(
            &repo,
            &[
                "remote",
                "add",
                "origin",
                "https://github.com/acme/shop.git",
            ],
        );
        assert_eq!(project_of(&sub).as_deref(), Some("github.com/acme/shop"));
    }
}
