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
    /// The CODEOWNERS text the server keeps for `project` (set by an admin), if any.
    fn codeowners(&mut self, project: &str) -> Result<Option<String>>;
    /// Sets (`Some`) or removes (`None`) a project's CODEOWNERS text.
    fn set_codeowners(&mut self, project: &str, text: Option<&str>, at: &str) -> Result<()>;
}
