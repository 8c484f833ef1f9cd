//! The dashboard at `/` (see `flakehound-dashboard`): its data comes from this server's store
//! and records, and a browser signs in with a token checked exactly as the API checks one.

use crate::{READ, Shared, actor, tokens};
use axum::http::{HeaderMap, HeaderValue, header};
use flakehound_dashboard::{Backend, BoxFuture, Identity};
use flakehound_store::{QuarantineRecord, Store};
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
}
