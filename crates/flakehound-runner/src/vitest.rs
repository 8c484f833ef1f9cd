//! STUB: to be written.
use std::path::Path;

use crate::{Adapter, Capabilities, Cmd, Error, Plan, Request, Result, Results, RunnerKind};

#[allow(dead_code)]
pub struct Vitest {
    cmd: Cmd,
}

impl Vitest {
    pub fn new(cmd: Cmd) -> Self {
        Self { cmd }
    }
}

impl Adapter for Vitest {
    fn kind(&self) -> RunnerKind {
        RunnerKind::Vitest
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    fn plan(&self, _req: &Request, _scratch: &Path) -> Result<Plan> {
        Err(Error::Unsupported {
            runner: self.kind().name(),
            what: "run yet".into(),
        })
    }
    fn read(&self, _plan: &Plan) -> Result<Results> {
        Err(Error::Unsupported {
            runner: self.kind().name(),
            what: "read yet".into(),
        })
    }
}
