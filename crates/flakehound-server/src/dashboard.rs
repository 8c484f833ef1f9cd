//! The dashboard at `/` (see `flakehound-dashboard`): its data comes from this server's store
//! and records, and a browser signs in with a token checked exactly as the API checks one.

use crate::{READ, Shared, actor, tokens};
use axum::http::{HeaderMap, HeaderValue, header};
use flakehound_dashboard::{Backend, BoxFuture, Identity};
use flakehound_store::{QuarantineRecord, SessionRecord, Store};
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct ServerBackend(pub(crate) Arc<Shared>);

fn plain(e: crate::ApiError) -> anyhow::Error {
    anyhow::anyhow!(e.message)
}

impl Backend for ServerBackend {
    fn open(&self, project: &str) -> anyhow::Result<Box<dyn Store>> {
        self.0.store(project).map_err(plain)
    }

    /// Moves on with every upload through this replica; [`Backend::max_age`] covers the others.
    fn generation(&self, project: &str) -> u64 {
        self.0.generation(project)
    }

    fn max_age(&self) -> Duration {
        self.0.config.cache_ttl
    }

    /// Carried by uploads of the default branch, or pinned by an admin (`PUT
    /// /api/v1/codeowners`): the server has no repository.
    fn codeowners(&self, project: &str) -> Option<flakehound_owners::CodeOwners> {
        match self.0.with_admin(|a| a.codeowners(project)) {
            Ok(kept) => kept.map(|k| flakehound_owners::CodeOwners::parse(&k.text)),
            Err(e) => {
                tracing::warn!(project, error = %e.message, "dashboard: CODEOWNERS not read");
                None
            }
        }
    }

    fn quarantine(&self, project: &str) -> anyhow::Result<Vec<QuarantineRecord>> {
        self.0.with_admin(|a| a.quarantine(project)).map_err(plain)
    }

    fn put_quarantine(
        &self,
        project: &str,
        entry: &QuarantineRecord,
        actor: &str,
    ) -> anyhow::Result<()> {
        let at = tokens::stamp(jiff::Timestamp::now());
        self.0
            .with_admin(|a| a.put_quarantine(project, entry, actor, &at))
            .map_err(plain)
    }

    fn remove_quarantine(&self, project: &str, test: &str, actor: &str) -> anyhow::Result<bool> {
        let at = tokens::stamp(jiff::Timestamp::now());
        self.0
            .with_admin(|a| {
                a.remove_quarantine(project, test, actor, Some("released in the dashboard"), &at)
            })
            .map_err(plain)
    }

    /// The token as a bearer token of a read request: unknown, revoked, expired, upload-only
    /// and over-the-rate tokens are refused with the API's message.
    fn sign_in<'a>(&'a self, secret: &'a str) -> BoxFuture<'a, Result<Identity, String>> {
        Box::pin(async move {
            let mut headers = HeaderMap::new();
            let value = HeaderValue::from_str(&format!("Bearer {secret}"))
                .map_err(|_| "a token is `fhk_` and 64 hex digits".to_string())?;
            headers.insert(header::AUTHORIZATION, value);
            let token = self
                .0
                .authorize(&headers, READ)
                .await
                .map_err(|e| e.message)?;
            Ok(Identity {
                admin: token.scope == flakehound_store::Scope::Admin,
                actor: actor(&token),
                project: token.project,
            })
        })
    }

    /// Stored as the SHA-256 of the id and of the token: the database holds neither.
    fn keep_session(&self, id: &str, secret: &str, csrf: &str) -> anyhow::Result<()> {
        let now = jiff::Timestamp::now();
        let idle = jiff::SignedDuration::try_from(flakehound_dashboard::SESSION_IDLE)?;
        let record = SessionRecord {
            id_hash: tokens::hash_secret(id),
            token_hash: tokens::hash_secret(secret),
            csrf: csrf.to_string(),
            last_seen: tokens::stamp(now),
        };
        let before = tokens::stamp(now - idle);
        self.0
            .with_admin(|a| {
                a.end_idle_sessions(&before)?;
                a.put_session(&record)
            })
            .map_err(plain)
    }

    fn resume_session<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(Identity, String), String>> {
        Box::pin(async move {
            let id_hash = tokens::hash_secret(id);
            let h = id_hash.clone();
            let found = self
                .0
                .blocking(move |s| s.with_admin(|a| a.session(&h)))
                .await
                .map_err(|e| e.message)?
                .ok_or_else(|| "the session ended".to_string())?;
            let now = jiff::Timestamp::now();
            let idle = jiff::SignedDuration::try_from(flakehound_dashboard::SESSION_IDLE)
                .map_err(|e| e.to_string())?;
            let fresh = found
                .last_seen
                .parse::<jiff::Timestamp>()
                .is_ok_and(|t| now.duration_since(t) < idle);
            if !fresh {
                let h = id_hash.clone();
                let _ = self
                    .0
                    .blocking(move |s| s.with_admin(|a| a.end_session(&h)))
                    .await;
                return Err("the session ended (12 hours without a request)".to_string());
            }
            let token = match self.0.check_hash(found.token_hash, None, READ).await {
                Ok(t) => t,
                Err(e) => {
                    let h = id_hash.clone();
                    let _ = self
                        .0
                        .blocking(move |s| s.with_admin(|a| a.end_session(&h)))
                        .await;
                    return Err(e.message);
                }
            };
            let at = tokens::stamp(now);
            let _ = self
                .0
                .blocking(move |s| s.with_admin(|a| a.touch_session(&id_hash, &at)))
                .await;
            Ok((
                Identity {
                    admin: token.scope == flakehound_store::Scope::Admin,
                    actor: actor(&token),
                    project: token.project,
                },
                found.csrf,
            ))
        })
    }

    fn forget_session(&self, id: &str) {
        let h = tokens::hash_secret(id);
        if let Err(e) = self.0.with_admin(|a| a.end_session(&h)) {
            tracing::warn!(error = %e.message, "dashboard: session not removed from the store");
        }
    }
}
