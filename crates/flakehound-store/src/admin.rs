//! What the team server keeps beside the evidence: the projects it serves, their access tokens
//! (hashed) and the log of uploads. Both engines implement [`Admin`] in the same database as the
//! evidence, so that every `flakehound serve` replica on one PostgreSQL sees the same tokens.

use crate::Result;

/// What a token may do. Ordered: a wider scope includes the narrower ones' reads where the
/// server says so (see the server's authorisation), not by comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Write runs (uploads) and read the quarantine: what CI holds.
    Upload,
    /// Every read endpoint.
    Read,
    /// Quarantine changes and tokens, and everything `read` and `upload` may do.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Upload => "upload",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "upload" => Some(Scope::Upload),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token to store: only its hash is kept (the secret is shown once, by the caller).
#[derive(Clone, Debug)]
pub struct NewToken<'a> {
    pub project: &'a str,
    pub scope: Scope,
    /// Free text naming the token's holder ("github-actions").
    pub label: Option<&'a str>,
    /// SHA-256 of the secret, hex.
    pub hash: &'a str,
    /// The secret's first characters, to recognise it in a list.
    pub prefix: &'a str,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// RFC 3339 UTC; `None`: never expires.
    pub expires_at: Option<&'a str>,
}

/// A stored token, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub project: String,
    pub scope: Scope,
    pub label: Option<String>,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

/// One upload the server answered: its id and the answer it gave (JSON), for
/// `GET /api/v1/uploads/{id}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub project: String,
    pub token_id: Option<i64>,
    /// RFC 3339 UTC.
    pub received_at: String,
    /// The response body the uploader got.
    pub response: String,
}

/// A test in the server's quarantine (the fields of a `.flakehound/quarantine.toml` entry).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuarantineRecord {
    pub test: String,
    pub reason: String,
    pub owner: String,
    /// `YYYY-MM-DD`.
    pub added: String,
    /// Last day the entry is current, `YYYY-MM-DD`.
    pub expires: String,
    pub issue: Option<String>,
}

/// One change of the server's quarantine.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct QuarantineChange {
    pub id: i64,
    pub test: String,
    /// `put` or `delete`.
    pub action: String,
    /// Who: the token's label, else `token N`.
    pub actor: String,
    pub reason: Option<String>,
    /// RFC 3339 UTC.
    pub at: String,
}

/// A dashboard session kept by the server: it survives a restart, and every replica on one
/// database sees it. Neither the session id nor the token is stored, only their SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 (hex) of the session id in the browser's cookie.
    pub id_hash: String,
    /// SHA-256 (hex) of the token the session was opened with (what the tokens table keys).
    pub token_hash: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// RFC 3339 UTC of its last use.
    pub last_seen: String,
}

/// The server's records. Methods other than reads commit before they return.
pub trait Admin: Send {
    /// Registers a project; `false` when it exists already.
    fn create_project(&mut self, name: &str, created_at: &str) -> Result<bool>;
    /// Registered projects with their creation time, by name.
    fn server_projects(&mut self) -> Result<Vec<(String, String)>>;
    /// Stores a token; returns its id.
    fn create_token(&mut self, token: &NewToken<'_>) -> Result<i64>;
    /// Tokens of `project` (every token when `None`), by id.
    fn tokens(&mut self, project: Option<&str>) -> Result<Vec<TokenInfo>>;
    /// Revokes a token at `at`; `false` when there is no such token or it is revoked already.
    fn revoke_token(&mut self, id: i64, at: &str) -> Result<bool>;
    /// The token whose secret hashes to `hash`, revoked and expired ones included (the caller
    /// decides what they may do).
    fn token_by_hash(&mut self, hash: &str) -> Result<Option<TokenInfo>>;
    /// Notes that a token was used at `at`.
    fn touch_token(&mut self, id: i64, at: &str) -> Result<()>;
    /// Logs an upload (its id is new).
    fn record_upload(&mut self, upload: &UploadRecord) -> Result<()>;
    /// An upload of `project` by id.
    fn upload(&mut self, project: &str, id: &str) -> Result<Option<UploadRecord>>;
    /// The quarantine of `project`, by test.
    fn quarantine(&mut self, project: &str) -> Result<Vec<QuarantineRecord>>;
    /// Adds or replaces an entry, and logs who did it (one transaction).
    fn put_quarantine(
        &mut self,
        project: &str,
        entry: &QuarantineRecord,
        actor: &str,
        at: &str,
    ) -> Result<()>;
    /// Removes an entry and logs it; `false` when the test was not quarantined (nothing logged).
    fn remove_quarantine(
        &mut self,
        project: &str,
        test: &str,
        actor: &str,
        reason: Option<&str>,
        at: &str,
    ) -> Result<bool>;
    /// The changes of `project`'s quarantine (of one test when given), oldest first.
    fn quarantine_changes(
        &mut self,
        project: &str,
        test: Option<&str>,
    ) -> Result<Vec<QuarantineChange>>;
    /// Sets `project`'s retention in days (`None`: keep everything, the default).
    fn set_retention(&mut self, project: &str, days: Option<u32>, at: &str) -> Result<()>;
    /// Every project with a retention, by name, with its days.
    fn retentions(&mut self) -> Result<Vec<(String, u32)>>;
    /// Sets `project`'s public upload id (`None`: turns it off). One per project: a new id
    /// replaces the old one.
    fn set_public_upload(&mut self, project: &str, id: Option<&str>, at: &str) -> Result<()>;
    /// `project`'s public upload id, when it has one.
    fn public_upload(&mut self, project: &str) -> Result<Option<String>>;
    /// The project whose public upload id is `id`.
    fn public_upload_project(&mut self, id: &str) -> Result<Option<String>>;

    /// Stores a dashboard session.
    fn put_session(&mut self, session: &SessionRecord) -> Result<()>;
    /// The session whose id hashes to `id_hash`.
    fn session(&mut self, id_hash: &str) -> Result<Option<SessionRecord>>;
    /// Notes a session's use at `at`.
    fn touch_session(&mut self, id_hash: &str, at: &str) -> Result<()>;
    /// Ends a session; `false` when there was none.
    fn end_session(&mut self, id_hash: &str) -> Result<bool>;
    /// Ends every session last used before `before` (RFC 3339 UTC); returns how many.
    fn end_idle_sessions(&mut self, before: &str) -> Result<u64>;
    /// The CODEOWNERS the server keeps for `project` (sent by an admin or carried by uploads),
    /// if any.
    fn codeowners(&mut self, project: &str) -> Result<Option<CodeownersRecord>>;
    /// Sets (`Some`: pinned, see [`CodeownersSource::Admin`]) or removes (`None`: uploads fill
    /// it again) a project's CODEOWNERS text.
    fn set_codeowners(&mut self, project: &str, text: Option<&str>, at: &str) -> Result<()>;
    /// Offers the CODEOWNERS an upload carried: kept or not by [`decide_codeowners`], read and
    /// written in one transaction (two replicas offering at once cannot both win). Writes
    /// nothing unless the outcome is [`CodeownersOutcome::Stored`] or a newer commit carried
    /// the kept text ([`CodeownersAction::Advance`]).
    fn offer_codeowners(
        &mut self,
        project: &str,
        offer: &CodeownersOffer<'_>,
    ) -> Result<CodeownersOutcome>;
}

/// Who set a project's CODEOWNERS on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeownersSource {
    /// `PUT /api/v1/codeowners`: pinned, uploads do not replace it until it is deleted.
    Admin,
    /// Carried by an upload of the default branch.
    Upload,
}

impl CodeownersSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeownersSource::Admin => "admin",
            CodeownersSource::Upload => "upload",
        }
    }

    /// A source this version does not know reads as `admin` (the one uploads leave alone).
    pub fn parse(s: &str) -> CodeownersSource {
        match s {
            "upload" => CodeownersSource::Upload,
            _ => CodeownersSource::Admin,
        }
    }
}

/// A project's CODEOWNERS as the server keeps it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CodeownersRecord {
    pub text: String,
    pub source: CodeownersSource,
    /// Where the file is in the repository (uploads: `.github/CODEOWNERS`, …).
    pub path: Option<String>,
    /// The newest commit an upload carried this text at, and its branch (uploads only).
    pub commit: Option<String>,
    pub branch: Option<String>,
    /// That commit's committer time, RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`, so that strings
    /// compare as times): an upload of an older commit does not replace the text.
    pub commit_time: Option<String>,
    /// When the text last changed (RFC 3339 UTC).
    pub updated_at: String,
}

/// The CODEOWNERS an upload of the default branch carried (the server checked the branch,
/// the token and the sizes before offering it).
#[derive(Clone, Debug)]
pub struct CodeownersOffer<'a> {
    pub text: &'a str,
    pub path: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub branch: Option<&'a str>,
    /// RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub commit_time: &'a str,
    /// Now (RFC 3339 UTC).
    pub at: &'a str,
}

/// What became of an offered CODEOWNERS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeownersOutcome {
    /// Kept: the project had none, or the upload's commit is not older than the kept text's.
    Stored,
    /// The same text is kept already: not written again.
    Unchanged,
    /// An admin's `PUT` pinned the text (at this time): uploads leave it alone.
    Pinned { since: String },
    /// The kept text came from a newer commit (its commit time).
    Older { kept: String },
}

/// What the store does with an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeownersAction {
    /// Nothing.
    Nothing,
    /// Writes the offer: text, path, commit, branch, commit time, and `updated_at` = now.
    Write,
    /// The kept text is the offer's, seen at a newer commit: records that commit and its time
    /// only (the text and `updated_at` stay), so that a late upload of a commit between the
    /// two cannot bring back an older text.
    Advance,
}

/// The rules for an upload's CODEOWNERS, given what the project keeps (both engines apply
/// them inside one transaction):
/// 1. the same text as kept: [`CodeownersOutcome::Unchanged`]; when the kept text is an
///    upload's from an older commit, that newer commit is recorded ([`CodeownersAction::Advance`]);
/// 2. a text an admin put (`PUT /api/v1/codeowners`) is pinned: uploads never replace it;
/// 3. an upload of a commit older than the kept text's commit does not replace it;
/// 4. else the offer is kept (a commit of the same second as the kept one wins: the later
///    upload of two commits made in the same second is the one that reached the server last).
pub fn decide_codeowners(
    kept: Option<&CodeownersRecord>,
    offer: &CodeownersOffer<'_>,
) -> (CodeownersOutcome, CodeownersAction) {
    let Some(kept) = kept else {
        return (CodeownersOutcome::Stored, CodeownersAction::Write);
    };
    let newer = kept
        .commit_time
        .as_deref()
        .is_none_or(|t| offer.commit_time > t);
    if kept.text == offer.text {
        let action = if kept.source == CodeownersSource::Upload && newer {
            CodeownersAction::Advance
        } else {
            CodeownersAction::Nothing
        };
        return (CodeownersOutcome::Unchanged, action);
    }
    if kept.source == CodeownersSource::Admin {
        return (
            CodeownersOutcome::Pinned {
                since: kept.updated_at.clone(),
            },
            CodeownersAction::Nothing,
        );
    }
    match kept.commit_time.as_deref() {
        Some(t) if offer.commit_time < t => (
            CodeownersOutcome::Older {
                kept: t.to_string(),
            },
            CodeownersAction::Nothing,
        ),
        _ => (CodeownersOutcome::Stored, CodeownersAction::Write),
    }
}

#[cfg(test)]
mod codeowners_rules {
    use super::*;

    fn kept(text: &str, source: CodeownersSource, time: Option<&str>) -> CodeownersRecord {
        CodeownersRecord {
            text: text.into(),
            source,
            path: None,
            commit: None,
            branch: None,
            commit_time: time.map(str::to_string),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn offer<'a>(text: &'a str, time: &'a str) -> CodeownersOffer<'a> {
        CodeownersOffer {
            text,
            path: None,
            commit: None,
            branch: None,
            commit_time: time,
            at: "2026-02-01T00:00:00Z",
        }
    }

    #[test]
    fn newest_commit_wins_and_admins_pin() {
        use CodeownersAction as A;
        use CodeownersOutcome as O;
        use CodeownersSource::{Admin, Upload};
        let t1 = "2026-01-10T00:00:00Z";
        let t2 = "2026-01-11T00:00:00Z";
        assert_eq!(
            decide_codeowners(None, &offer("a", t1)),
            (O::Stored, A::Write)
        );
        let up = kept("a", Upload, Some(t1));
        assert_eq!(
            decide_codeowners(Some(&up), &offer("b", t2)),
            (O::Stored, A::Write)
        );
        assert_eq!(
            decide_codeowners(Some(&up), &offer("b", t1)),
            (O::Stored, A::Write)
        );
        let older = "2026-01-09T23:59:59Z";
        assert_eq!(
            decide_codeowners(Some(&up), &offer("b", older)),
            (O::Older { kept: t1.into() }, A::Nothing)
        );
        // The same text: nothing written, but a newer commit is recorded.
        assert_eq!(
            decide_codeowners(Some(&up), &offer("a", t1)),
            (O::Unchanged, A::Nothing)
        );
        assert_eq!(
            decide_codeowners(Some(&up), &offer("a", older)),
            (O::Unchanged, A::Nothing)
        );
        assert_eq!(
            decide_codeowners(Some(&up), &offer("a", t2)),
            (O::Unchanged, A::Advance)
        );
        let pin = kept("a", Admin, None);
        assert_eq!(
            decide_codeowners(Some(&pin), &offer("b", t2)),
            (
                O::Pinned {
                    since: "2026-01-01T00:00:00Z".into()
                },
                A::Nothing
            )
        );
        assert_eq!(
            decide_codeowners(Some(&pin), &offer("a", t2)),
            (O::Unchanged, A::Nothing)
        );
    }
}
