//! The server's records ([`Admin`]) in the PostgreSQL store (schema version 3).

use crate::store::{PostgresStore, backend};
use flakehound_store::{
    Admin, CodeownersAction, CodeownersOffer, CodeownersOutcome, CodeownersRecord,
    CodeownersSource, NewToken, QuarantineChange, QuarantineRecord, Result, Scope, SessionRecord,
    Store, TokenInfo, UploadRecord,
};

const TOKEN_COLUMNS: &str =
    "id, project, scope, label, prefix, created_at, expires_at, revoked_at, last_used_at";

fn token(r: &postgres::Row) -> TokenInfo {
    let scope: String = r.get(2);
    TokenInfo {
        id: r.get(0),
        project: r.get(1),
        // A scope this version does not know reads as the narrowest.
        scope: Scope::parse(&scope).unwrap_or(Scope::Upload),
        label: r.get(3),
        prefix: r.get(4),
        created_at: r.get(5),
        expires_at: r.get(6),
        revoked_at: r.get(7),
        last_used_at: r.get(8),
    }
}

impl Admin for PostgresStore {
    fn create_project(&mut self, name: &str, created_at: &str) -> Result<bool> {
        self.flush()?;
        let n = self
            .client
            .get()?
            .execute(
                "INSERT INTO server_projects (name, created_at) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &created_at],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn server_projects(&mut self) -> Result<Vec<(String, String)>> {
        self.flush()?;
        let rows = self
            .client
            .get()?
            .query(
                "SELECT name, created_at FROM server_projects ORDER BY name",
                &[],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn create_token(&mut self, t: &NewToken<'_>) -> Result<i64> {
        self.flush()?;
        let row = self
            .client
            .get()?
            .query_one(
                "INSERT INTO tokens (project, scope, label, hash, prefix, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &t.project,
                    &t.scope.as_str(),
                    &t.label,
                    &t.hash,
                    &t.prefix,
                    &t.created_at,
                    &t.expires_at,
                ],
            )
            .map_err(backend)?;
        Ok(row.get(0))
    }

    fn tokens(&mut self, project: Option<&str>) -> Result<Vec<TokenInfo>> {
        self.flush()?;
        let rows = self
            .client
            .get()?
            .query(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM tokens
                     WHERE $1::text IS NULL OR project = $1 ORDER BY id"
                ),
                &[&project],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(token).collect())
    }

    fn revoke_token(&mut self, id: i64, at: &str) -> Result<bool> {
        self.flush()?;
        let n = self
            .client
            .get()?
            .execute(
                "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn token_by_hash(&mut self, hash: &str) -> Result<Option<TokenInfo>> {
        self.flush()?;
        let row = self
            .client
            .get()?
            .query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1"),
                &[&hash],
            )
            .map_err(backend)?;
        Ok(row.as_ref().map(token))
    }

    fn touch_token(&mut self, id: i64, at: &str) -> Result<()> {
        self.flush()?;
        self.client
            .get()?
            .execute(
                "UPDATE tokens SET last_used_at = $2 WHERE id = $1",
                &[&id, &at],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn record_upload(&mut self, u: &UploadRecord) -> Result<()> {
        self.flush()?;
        self.client
            .get()?
            .execute(
                "INSERT INTO uploads (id, project, token_id, received_at, response)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&u.id, &u.project, &u.token_id, &u.received_at, &u.response],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn upload(&mut self, project: &str, id: &str) -> Result<Option<UploadRecord>> {
        self.flush()?;
        let row = self
            .client
            .get()?
            .query_opt(
                "SELECT id, project, token_id, received_at, response FROM uploads
                 WHERE project = $1 AND id = $2",
                &[&project, &id],
            )
            .map_err(backend)?;
        Ok(row.map(|r| UploadRecord {
            id: r.get(0),
            project: r.get(1),
            token_id: r.get(2),
            received_at: r.get(3),
            response: r.get(4),
        }))
    }

    fn quarantine(&mut self, project: &str) -> Result<Vec<QuarantineRecord>> {
        self.flush()?;
        let rows = self
            .client
            .get()?
            .query(
                "SELECT test, reason, owner, added, expires, issue FROM server_quarantine
                 WHERE project = $1 ORDER BY test",
                &[&project],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| QuarantineRecord {
                test: r.get(0),
                reason: r.get(1),
                owner: r.get(2),
                added: r.get(3),
                expires: r.get(4),
                issue: r.get(5),
            })
            .collect())
    }

    fn put_quarantine(
        &mut self,
        project: &str,
        e: &QuarantineRecord,
        actor: &str,
        at: &str,
    ) -> Result<()> {
        self.flush()?;
        let mut tx = self.client.get()?.transaction().map_err(backend)?;
        tx.execute(
            "INSERT INTO server_quarantine (project, test, reason, owner, added, expires, issue)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (project, test) DO UPDATE SET reason = excluded.reason,
                 owner = excluded.owner, added = excluded.added, expires = excluded.expires,
                 issue = excluded.issue",
            &[
                &project, &e.test, &e.reason, &e.owner, &e.added, &e.expires, &e.issue,
            ],
        )
        .map_err(backend)?;
        tx.execute(
            "INSERT INTO quarantine_audit (project, test, action, actor, reason, at)
             VALUES ($1, $2, 'put', $3, $4, $5)",
            &[&project, &e.test, &actor, &e.reason, &at],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn remove_quarantine(
        &mut self,
        project: &str,
        test: &str,
        actor: &str,
        reason: Option<&str>,
        at: &str,
    ) -> Result<bool> {
        self.flush()?;
        let mut tx = self.client.get()?.transaction().map_err(backend)?;
        let n = tx
            .execute(
                "DELETE FROM server_quarantine WHERE project = $1 AND test = $2",
                &[&project, &test],
            )
            .map_err(backend)?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO quarantine_audit (project, test, action, actor, reason, at)
             VALUES ($1, $2, 'delete', $3, $4, $5)",
            &[&project, &test, &actor, &reason, &at],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(true)
    }

    fn quarantine_changes(
        &mut self,
        project: &str,
        test: Option<&str>,
    ) -> Result<Vec<QuarantineChange>> {
        self.flush()?;
        let rows = self
            .client
            .get()?
            .query(
                "SELECT id, test, action, actor, reason, at FROM quarantine_audit
                 WHERE project = $1 AND ($2::text IS NULL OR test = $2) ORDER BY id",
                &[&project, &test],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| QuarantineChange {
                id: r.get(0),
                test: r.get(1),
                action: r.get(2),
                actor: r.get(3),
                reason: r.get(4),
                at: r.get(5),
            })
            .collect())
    }

    fn set_retention(&mut self, project: &str, days: Option<u32>, at: &str) -> Result<()> {
        self.write_retention(project, days, at)
    }

    fn retentions(&mut self) -> Result<Vec<(String, u32)>> {
        self.flush()?;
        self.read_retentions()
    }

    fn set_public_upload(&mut self, project: &str, id: Option<&str>, at: &str) -> Result<()> {
        self.flush()?;
        match id {
            Some(id) => self.client.get()?.execute(
                "INSERT INTO public_uploads (project, id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (project) DO UPDATE SET id = excluded.id,
                   created_at = excluded.created_at",
                &[&project, &id, &at],
            ),
            None => self
                .client
                .get()?
                .execute("DELETE FROM public_uploads WHERE project = $1", &[&project]),
        }
        .map_err(backend)?;
        Ok(())
    }

    fn public_upload(&mut self, project: &str) -> Result<Option<String>> {
        self.flush()?;
        Ok(self
            .client
            .get()?
            .query_opt(
                "SELECT id FROM public_uploads WHERE project = $1",
                &[&project],
            )
            .map_err(backend)?
            .map(|r| r.get(0)))
    }

    fn public_upload_project(&mut self, id: &str) -> Result<Option<String>> {
        self.flush()?;
        Ok(self
            .client
            .get()?
            .query_opt(
                "SELECT project FROM public_uploads WHERE id = $1",
                &[&crate::store::clean(id).as_ref()],
            )
            .map_err(backend)?
            .map(|r| r.get(0)))
    }

    fn put_session(&mut self, s: &SessionRecord) -> Result<()> {
        self.flush()?;
        self.client
            .get()?
            .execute(
                "INSERT INTO dashboard_sessions (id_hash, token_hash, csrf, last_seen)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id_hash) DO UPDATE SET token_hash = excluded.token_hash,
                   csrf = excluded.csrf, last_seen = excluded.last_seen",
                &[&s.id_hash, &s.token_hash, &s.csrf, &s.last_seen],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn session(&mut self, id_hash: &str) -> Result<Option<SessionRecord>> {
        self.flush()?;
        let row = self
            .client
            .get()?
            .query_opt(
                "SELECT id_hash, token_hash, csrf, last_seen FROM dashboard_sessions
                 WHERE id_hash = $1",
                &[&id_hash],
            )
            .map_err(backend)?;
        Ok(row.map(|r| SessionRecord {
            id_hash: r.get(0),
            token_hash: r.get(1),
            csrf: r.get(2),
            last_seen: r.get(3),
        }))
    }

    fn touch_session(&mut self, id_hash: &str, at: &str) -> Result<()> {
        self.flush()?;
        self.client
            .get()?
            .execute(
                "UPDATE dashboard_sessions SET last_seen = $2 WHERE id_hash = $1",
                &[&id_hash, &at],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn end_session(&mut self, id_hash: &str) -> Result<bool> {
        self.flush()?;
        let n = self
            .client
            .get()?
            .execute(
                "DELETE FROM dashboard_sessions WHERE id_hash = $1",
                &[&id_hash],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn end_idle_sessions(&mut self, before: &str) -> Result<u64> {
        self.flush()?;
        self.client
            .get()?
            .execute(
                "DELETE FROM dashboard_sessions WHERE last_seen < $1",
                &[&before],
            )
            .map_err(backend)
    }

    fn codeowners(&mut self, project: &str) -> Result<Option<CodeownersRecord>> {
        self.flush()?;
        let row = self
            .client
            .get()?
            .query_opt(
                &format!("SELECT {CODEOWNERS_COLUMNS} FROM project_codeowners WHERE project = $1"),
                &[&project],
            )
            .map_err(backend)?;
        Ok(row.as_ref().map(codeowners_record))
    }

    fn set_codeowners(&mut self, project: &str, text: Option<&str>, at: &str) -> Result<()> {
        self.flush()?;
        match text {
            // An admin's text: pinned (see `decide_codeowners`), no commit of its own.
            Some(t) => self.client.get()?.execute(
                "INSERT INTO project_codeowners
                   (project, text, updated_at, source, path, commit_sha, branch, commit_time)
                 VALUES ($1, $2, $3, 'admin', NULL, NULL, NULL, NULL)
                 ON CONFLICT (project) DO UPDATE SET text = excluded.text,
                   updated_at = excluded.updated_at, source = 'admin', path = NULL,
                   commit_sha = NULL, branch = NULL, commit_time = NULL",
                &[&project, &crate::store::clean(t), &at],
            ),
            None => self.client.get()?.execute(
                "DELETE FROM project_codeowners WHERE project = $1",
                &[&project],
            ),
        }
        .map_err(backend)?;
        Ok(())
    }

    fn offer_codeowners(
        &mut self,
        project: &str,
        offer: &CodeownersOffer<'_>,
    ) -> Result<CodeownersOutcome> {
        use crate::store::{clean, clean_opt};
        self.flush()?;
        // As stored: compared with the kept text as PostgreSQL keeps it.
        let text = clean(offer.text);
        let offer = CodeownersOffer {
            text: &text,
            ..offer.clone()
        };
        let mut tx = self.client.get()?.transaction().map_err(backend)?;
        // One decision at a time per project across replicas (the row may not exist yet, so
        // `FOR UPDATE` alone would not serialise two first offers).
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('flakehound.codeowners ' || current_schema()),
                                          hashtext($1))",
            &[&project],
        )
        .map_err(backend)?;
        let kept = tx
            .query_opt(
                &format!("SELECT {CODEOWNERS_COLUMNS} FROM project_codeowners WHERE project = $1"),
                &[&project],
            )
            .map_err(backend)?
            .as_ref()
            .map(codeowners_record);
        let (outcome, action) = flakehound_store::decide_codeowners(kept.as_ref(), &offer);
        let (path, commit, branch) = (
            clean_opt(offer.path),
            clean_opt(offer.commit),
            clean_opt(offer.branch),
        );
        match action {
            CodeownersAction::Nothing => return Ok(outcome),
            CodeownersAction::Write => tx.execute(
                "INSERT INTO project_codeowners
                   (project, text, updated_at, source, path, commit_sha, branch, commit_time)
                 VALUES ($1, $2, $3, 'upload', $4, $5, $6, $7)
                 ON CONFLICT (project) DO UPDATE SET text = excluded.text,
                   updated_at = excluded.updated_at, source = 'upload', path = excluded.path,
                   commit_sha = excluded.commit_sha, branch = excluded.branch,
                   commit_time = excluded.commit_time",
                &[
                    &project,
                    &offer.text,
                    &offer.at,
                    &path,
                    &commit,
                    &branch,
                    &offer.commit_time,
                ],
            ),
            CodeownersAction::Advance => tx.execute(
                "UPDATE project_codeowners SET commit_sha = $2, branch = $3, commit_time = $4
                 WHERE project = $1",
                &[&project, &commit, &branch, &offer.commit_time],
            ),
        }
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }
}

const CODEOWNERS_COLUMNS: &str = "text, source, path, commit_sha, branch, commit_time, updated_at";

fn codeowners_record(r: &postgres::Row) -> CodeownersRecord {
    CodeownersRecord {
        text: r.get(0),
        source: CodeownersSource::parse(r.get(1)),
        path: r.get(2),
        commit: r.get(3),
        branch: r.get(4),
        commit_time: r.get(5),
        updated_at: r.get(6),
    }
}
