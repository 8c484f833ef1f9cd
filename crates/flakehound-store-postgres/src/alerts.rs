//! Alerting's records ([`AlertStore`]) in the PostgreSQL store (schema versions 4 and 6). Every
//! replica of the server shares them: a transition is one conditional statement, so of two
//! replicas that read the same version exactly one changes the row (and notifies).

use crate::store::{PostgresStore, backend, clean, clean_opt};
use flakehound_store::{AlertConfig, AlertState, AlertStore, Delivery, Mute, Result, Store};

impl AlertStore for PostgresStore {
    fn alert_states(&mut self, project: &str) -> Result<Vec<AlertState>> {
        self.flush()?;
        let rows = self
            .client
            .get()?
            .query(
                "SELECT project, monitor, subject, state, version, changed_at, notified_at, detail
                 FROM alert_states WHERE project = $1 ORDER BY monitor, subject",
                &[&project],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| AlertState {
                project: r.get(0),
                monitor: r.get(1),
                subject: r.get(2),
                state: r.get(3),
                version: r.get(4),
                changed_at: r.get(5),
                notified_at: r.get(6),
                detail: r.get(7),
            })
            .collect())
    }

    fn transition(
        &mut self,
        project: &str,
        monitor: &str,
        subject: &str,
        expected: Option<i64>,
        state: &str,
        detail: &str,
        at: &str,
        notify: bool,
    ) -> Result<bool> {
        self.flush()?;
        let notified = notify.then_some(at);
        let detail = clean(detail);
        let subject = clean(subject);
        let n = match expected {
            // The primary key decides between concurrent first transitions.
            None => self.client.get()?.execute(
                "INSERT INTO alert_states
                   (project, monitor, subject, state, version, changed_at, notified_at, detail)
                 VALUES ($1, $2, $3, $4, 1, $5, $6, $7)
                 ON CONFLICT (project, monitor, subject) DO NOTHING",
                &[
                    &project, &monitor, &subject, &state, &at, &notified, &detail,
                ],
            ),
            // Row lock + re-check of the version under READ COMMITTED: a second updater waits
            // for the first, then finds the version changed and updates nothing.
            Some(v) => self.client.get()?.execute(
                "UPDATE alert_states SET state = $4, version = version + 1, changed_at = $5,
                   notified_at = coalesce($6, notified_at), detail = $7
                 WHERE project = $1 AND monitor = $2 AND subject = $3 AND version = $8",
                &[
                    &project, &monitor, &subject, &state, &at, &notified, &detail, &v,
                ],
            ),
        }
        .map_err(backend)?;
        Ok(n == 1)
    }

    fn log_delivery(&mut self, d: &Delivery) -> Result<i64> {
        self.flush()?;
        let row = self
            .client
            .get()?
            .query_one(
                "INSERT INTO alert_deliveries
                   (project, monitor, subject, channel, status, attempts, error, title, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                &[
                    &d.project,
                    &d.monitor,
                    &clean(&d.subject),
                    &d.channel,
                    &d.status,
                    &(d.attempts as i64),
                    &clean_opt(d.error.as_deref()),
                    &clean(&d.title),
                    &d.at,
                ],
            )
            .map_err(backend)?;
        Ok(row.get(0))
    }

    fn deliveries(&mut self, project: &str, limit: u32) -> Result<Vec<Delivery>> {
        self.flush()?;
        let rows = self
            .client
            .get()?
            .query(
                "SELECT id, project, monitor, subject, channel, status, attempts, error, title, at
                 FROM alert_deliveries WHERE project = $1 ORDER BY id DESC LIMIT $2",
                &[&project, &(limit as i64)],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| Delivery {
                id: r.get(0),
                project: r.get(1),
                monitor: r.get(2),
                subject: r.get(3),
                channel: r.get(4),
                status: r.get(5),
                attempts: r.get::<_, i64>(6) as u32,
                error: r.get(7),
                title: r.get(8),
                at: r.get(9),
            })
            .collect())
    }

    fn sent_since(&mut self, project: &str, since: &str) -> Result<u64> {
        self.flush()?;
        let row = self
            .client
            .get()?
            .query_one(
                "SELECT count(*) FROM alert_deliveries
                 WHERE project = $1 AND status = 'sent' AND at >= $2",
                &[&project, &since],
            )
            .map_err(backend)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn mute(&mut self, m: &Mute) -> Result<()> {
        self.flush()?;
        self.client
            .get()?
            .execute(
                "INSERT INTO alert_mutes (project, subject, until, reason, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (project, subject) DO UPDATE SET until = excluded.until,
                   reason = excluded.reason, created_at = excluded.created_at",
                &[
                    &m.project,
                    &clean(&m.subject),
                    &m.until,
                    &clean_opt(m.reason.as_deref()),
                    &m.created_at,
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn unmute(&mut self, project: &str, subject: &str) -> Result<bool> {
        self.flush()?;
        let n = self
            .client
            .get()?
            .execute(
                "DELETE FROM alert_mutes WHERE project = $1 AND subject = $2",
                &[&project, &clean(subject)],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn mutes(&mut self, project: &str) -> Result<Vec<Mute>> {
        self.flush()?;
        let rows = self
            .client
            .get()?
            .query(
                "SELECT project, subject, until, reason, created_at FROM alert_mutes
                 WHERE project = $1 ORDER BY subject",
                &[&project],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| Mute {
                project: r.get(0),
                subject: r.get(1),
                until: r.get(2),
                reason: r.get(3),
                created_at: r.get(4),
            })
            .collect())
    }

    fn alert_config(&mut self, project: &str) -> Result<Option<AlertConfig>> {
        self.flush()?;
        let row = self
            .client
            .get()?
            .query_opt(
                "SELECT project, config, updated_at, updated_by FROM alert_configs
                 WHERE project = $1",
                &[&project],
            )
            .map_err(backend)?;
        Ok(row.map(|r| AlertConfig {
            project: r.get(0),
            config: r.get(1),
            updated_at: r.get(2),
            updated_by: r.get(3),
        }))
    }

    fn set_alert_config(&mut self, c: &AlertConfig) -> Result<()> {
        self.flush()?;
        self.client
            .get()?
            .execute(
                "INSERT INTO alert_configs (project, config, updated_at, updated_by)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (project) DO UPDATE SET config = excluded.config,
                   updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                &[
                    &c.project,
                    &clean(&c.config),
                    &c.updated_at,
                    &clean(&c.updated_by),
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn remove_alert_config(&mut self, project: &str) -> Result<bool> {
        self.flush()?;
        let n = self
            .client
            .get()?
            .execute("DELETE FROM alert_configs WHERE project = $1", &[&project])
            .map_err(backend)?;
        Ok(n == 1)
    }
}
