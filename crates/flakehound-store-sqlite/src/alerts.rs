//! Alerting's records ([`AlertStore`]) in the SQLite store (schemas 7 and 9).

use crate::store::{SqliteStore, backend};
use flakehound_store::{AlertConfig, AlertState, AlertStore, Delivery, Mute, Result};
use rusqlite::OptionalExtension;
use rusqlite::params;

impl AlertStore for SqliteStore {
    fn alert_states(&mut self, project: &str) -> Result<Vec<AlertState>> {
        flakehound_store::Store::flush(self)?;
        let mut st = self
            .conn_mut()
            .prepare(
                "SELECT project, monitor, subject, state, version, changed_at, notified_at, detail
                 FROM alert_states WHERE project = ?1 ORDER BY monitor, subject",
            )
            .map_err(backend)?;
        let rows = st
            .query_map([project], |r| {
                Ok(AlertState {
                    project: r.get(0)?,
                    monitor: r.get(1)?,
                    subject: r.get(2)?,
                    state: r.get(3)?,
                    version: r.get(4)?,
                    changed_at: r.get(5)?,
                    notified_at: r.get(6)?,
                    detail: r.get(7)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)
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
        flakehound_store::Store::flush(self)?;
        let notified = notify.then_some(at);
        // One statement each: SQLite serialises writers, so the conditional write is the
        // compare-and-set (a second caller with the same `expected` changes no row).
        let n = match expected {
            None => self.conn_mut().execute(
                "INSERT INTO alert_states
                   (project, monitor, subject, state, version, changed_at, notified_at, detail)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)
                 ON CONFLICT (project, monitor, subject) DO NOTHING",
                params![project, monitor, subject, state, at, notified, detail],
            ),
            Some(v) => self.conn_mut().execute(
                "UPDATE alert_states SET state = ?4, version = version + 1, changed_at = ?5,
                   notified_at = coalesce(?6, notified_at), detail = ?7
                 WHERE project = ?1 AND monitor = ?2 AND subject = ?3 AND version = ?8",
                params![project, monitor, subject, state, at, notified, detail, v],
            ),
        }
        .map_err(backend)?;
        Ok(n == 1)
    }

    fn log_delivery(&mut self, d: &Delivery) -> Result<i64> {
        flakehound_store::Store::flush(self)?;
        self.conn_mut()
            .execute(
                "INSERT INTO alert_deliveries
                   (project, monitor, subject, channel, status, attempts, error, title, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    d.project, d.monitor, d.subject, d.channel, d.status, d.attempts, d.error,
                    d.title, d.at
                ],
            )
            .map_err(backend)?;
        Ok(self.conn_mut().last_insert_rowid())
    }

    fn deliveries(&mut self, project: &str, limit: u32) -> Result<Vec<Delivery>> {
        flakehound_store::Store::flush(self)?;
        let mut st = self
            .conn_mut()
            .prepare(
                "SELECT id, project, monitor, subject, channel, status, attempts, error, title, at
                 FROM alert_deliveries WHERE project = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(backend)?;
        let rows = st
            .query_map(params![project, limit], |r| {
                Ok(Delivery {
                    id: r.get(0)?,
                    project: r.get(1)?,
                    monitor: r.get(2)?,
                    subject: r.get(3)?,
                    channel: r.get(4)?,
                    status: r.get(5)?,
                    attempts: r.get(6)?,
                    error: r.get(7)?,
                    title: r.get(8)?,
                    at: r.get(9)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)
    }

    fn sent_since(&mut self, project: &str, since: &str) -> Result<u64> {
        flakehound_store::Store::flush(self)?;
        let n: i64 = self
            .conn_mut()
            .query_row(
                "SELECT count(*) FROM alert_deliveries
                 WHERE project = ?1 AND status = 'sent' AND at >= ?2",
                params![project, since],
                |r| r.get(0),
            )
            .map_err(backend)?;
        Ok(n as u64)
    }

    fn mute(&mut self, m: &Mute) -> Result<()> {
        flakehound_store::Store::flush(self)?;
        self.conn_mut()
            .execute(
                "INSERT INTO alert_mutes (project, subject, until, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (project, subject) DO UPDATE SET until = excluded.until,
                   reason = excluded.reason, created_at = excluded.created_at",
                params![m.project, m.subject, m.until, m.reason, m.created_at],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn unmute(&mut self, project: &str, subject: &str) -> Result<bool> {
        flakehound_store::Store::flush(self)?;
        let n = self
            .conn_mut()
            .execute(
                "DELETE FROM alert_mutes WHERE project = ?1 AND subject = ?2",
                params![project, subject],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn mutes(&mut self, project: &str) -> Result<Vec<Mute>> {
        flakehound_store::Store::flush(self)?;
        let mut st = self
            .conn_mut()
            .prepare(
                "SELECT project, subject, until, reason, created_at FROM alert_mutes
                 WHERE project = ?1 ORDER BY subject",
            )
            .map_err(backend)?;
        let rows = st
            .query_map([project], |r| {
                Ok(Mute {
                    project: r.get(0)?,
                    subject: r.get(1)?,
                    until: r.get(2)?,
                    reason: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<_>>().map_err(backend)
    }

    fn alert_config(&mut self, project: &str) -> Result<Option<AlertConfig>> {
        flakehound_store::Store::flush(self)?;
        self.conn_mut()
            .query_row(
                "SELECT project, config, updated_at, updated_by FROM alert_configs
                 WHERE project = ?1",
                [project],
                |r| {
                    Ok(AlertConfig {
                        project: r.get(0)?,
                        config: r.get(1)?,
                        updated_at: r.get(2)?,
                        updated_by: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(backend)
    }

    fn set_alert_config(&mut self, c: &AlertConfig) -> Result<()> {
        flakehound_store::Store::flush(self)?;
        self.conn_mut()
            .execute(
                "INSERT INTO alert_configs (project, config, updated_at, updated_by)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project) DO UPDATE SET config = excluded.config,
                   updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                params![c.project, c.config, c.updated_at, c.updated_by],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn remove_alert_config(&mut self, project: &str) -> Result<bool> {
        flakehound_store::Store::flush(self)?;
        let n = self
            .conn_mut()
            .execute("DELETE FROM alert_configs WHERE project = ?1", [project])
            .map_err(backend)?;
        Ok(n == 1)
    }
}
