//! The generator: roles, timeline, planted failures, records. See the crate docs for the
//! conventions; this file follows them in four phases:
//! 1. tests and their roles (what is planted where), runners, commits;
//! 2. the timeline of base runs (commit, start, runner, execution order);
//! 3. first-attempt failures of base runs, per test, with minimum evidence enforced, and the
//!    incidents with the tests each one hits;
//! 4. the records of every run: first attempts, retries, and whole-job re-runs of red runs.

use crate::heldout;
use crate::messages::{self, Ctx, Family, INFRA_KINDS, InfraKind};
use crate::names::{self, TestName};
use crate::rng::Rng;
use crate::{Category, Config, Detail, History, Style, SynthRun, Truth};
use flakehound_model::{Attempt, Failure, Outcome, RunMeta, TestCase};
use flakehound_store::RunKey;
use std::collections::BTreeMap;

/// CI job name of every run.
pub(crate) const JOB: &str = "test (3.11)";
/// Time-of-day window of time-category tests: start hour (inclusive) and end hour (exclusive),
/// UTC, wrapping past midnight.
pub(crate) const NIGHT: (u8, u8) = (23, 1);
/// Fewest failing base runs outside incidents a flaky test shows.
pub(crate) const MIN_FLAKY_FAILURES: usize = 3;
/// Fewest failing base runs from the culprit on an intermittent regression shows.
pub(crate) const MIN_REGRESSION_FAILURES: usize = 3;
/// Probability that the retry of a test hit by an incident fails again (the outage goes on).
const INCIDENT_RETRY_FAILS: f64 = 0.8;
/// Hour-of-day weights (UTC) of commits: European and American working hours, a few late ones.
const HOUR_WEIGHTS: [f64; 24] = [
    3.0, 1.0, 0.5, 0.3, 0.3, 0.5, 1.5, 4.0, 7.0, 9.0, 9.0, 8.0, 7.0, 9.0, 10.0, 9.0, 8.0, 6.0, 4.0,
    3.0, 2.5, 2.0, 2.0, 3.0,
];
const TIMEOUT_LIMITS: [f64; 4] = [2.0, 5.0, 10.0, 30.0];
/// Held-out histories: commit hours peak in American working hours.
const HELD_OUT_HOUR_WEIGHTS: [f64; 24] = [
    4.0, 3.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 9.0, 10.0, 9.0, 9.0,
    8.0, 8.0, 7.0, 6.0, 5.0,
];
/// Held-out histories: the nightly run starts at 07:00 UTC plus up to 90 minutes.
const HELD_OUT_NIGHTLY_HOUR: i64 = 7;
/// Held-out histories: time-test windows (midnight in the Americas, in UTC).
const HELD_OUT_WINDOWS: [(u8, u8); 3] = [(7, 9), (6, 9), (7, 10)];
/// Held-out histories: how much slower every test runs on the slow runner.
const SLOW_FACTOR: f64 = 1.6;
/// Held-out histories: share of a flaky test's failures with a shapeless message.
const NOISE_RATE: f64 = 0.1;

struct Runner {
    name: String,
    os: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Trigger {
    Always,
    /// Fails only when this test (the polluter) ran earlier in the same session.
    After(usize),
    /// Fails only in runs starting in this UTC hour window.
    Hours(u8, u8),
    /// Fails only on this runner.
    Runner(usize),
    /// Fails only on this OS.
    Os(&'static str),
    /// Fails mostly on this (slow) runner: the rate there, a tenth of it elsewhere.
    Mostly(usize),
}

#[derive(Clone, Debug)]
enum Role {
    Stable,
    Infra,
    Flaky {
        category: Category,
        rate: f64,
        trigger: Trigger,
        family: Family,
    },
    Broken {
        from: usize,
    },
    Regression {
        from: usize,
        rate: f64,
    },
    Fixed {
        from: usize,
        to: usize,
    },
}

struct TestDef {
    name: TestName,
    /// Function name without parameter.
    func: String,
    role: Role,
    /// Typical duration, seconds.
    base: f64,
    /// Timeout limit (timeout category), seconds; 0 otherwise.
    limit: f64,
    skip_on_macos: bool,
    /// Message templates this test's failures use.
    templates: Vec<u8>,
    /// Held-out message dialect (see `heldout.rs`).
    dialect: usize,
    /// Held-out per-test constant (the bound of randomness comparisons).
    bound: i64,
}

struct Plan {
    commit: usize,
    start: i64,
    runner: usize,
    order: Vec<u32>,
    /// Position of each test in `order`.
    pos: Vec<u32>,
    run_id: u64,
    attempt: u32,
}

struct Incident {
    kind: InfraKind,
    hits: Vec<bool>,
}

#[derive(Clone, Copy)]
enum Cause {
    Own,
    Infra(InfraKind),
}

struct Gen<'c> {
    cfg: &'c Config,
    runners: Vec<Runner>,
    bad_runner: Option<usize>,
    /// Held-out histories: the runner on which every test is slower.
    slow_runner: Option<usize>,
    tests: Vec<TestDef>,
    commits: Vec<String>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn hour_of(start: i64) -> u8 {
    (start.rem_euclid(86_400) / 3600) as u8
}

fn in_window(hour: u8, (a, b): (u8, u8)) -> bool {
    if a <= b {
        (a..b).contains(&hour)
    } else {
        hour >= a || hour < b
    }
}

pub(crate) fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .expect("timestamp in range")
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) fn generate(cfg: &Config) -> History {
    if let Err(e) = cfg.validate() {
        panic!("invalid synthetic history config: {e}");
    }
    let g = Gen::new(cfg);
    g.history()
}

impl<'c> Gen<'c> {
    fn new(cfg: &'c Config) -> Self {
        let seed = cfg.seed;
        let held_out = cfg.style == Style::HeldOut;
        let (linux, mac) = if held_out {
            ("buildkite-linux", "buildkite-mac")
        } else {
            ("gha-ubuntu", "gha-macos")
        };
        let mut runners = Vec::new();
        for i in 1..=cfg.linux_runners {
            runners.push(Runner {
                name: format!("{linux}-{i}"),
                os: "Linux",
            });
        }
        for i in 1..=cfg.macos_runners {
            runners.push(Runner {
                name: format!("{mac}-{i}"),
                os: "macOS",
            });
        }
        // Held-out draws come from their own stream, so tuning histories stay bit for bit.
        let mut extra = Rng::new(seed, "held-out", 0);
        let mut rng = Rng::new(seed, "commits", 0);
        let commits: Vec<String> = (0..cfg.commits)
            .map(|_| {
                format!(
                    "{:016x}{:016x}{:08x}",
                    rng.next_u64(),
                    rng.next_u64(),
                    rng.next_u64() as u32
                )
            })
            .collect();

        let mut rng = Rng::new(seed, "roles", 0);
        let bad_runner = (cfg.bad_runner_victims > 0).then(|| rng.below(cfg.linux_runners.max(1)));
        let total = cfg.total_tests();
        let names = names::generate(&mut Rng::new(seed, "names", 0), total, total > 150);
        let mut roles = vec![Role::Stable; total];
        let mut perm: Vec<usize> = (0..total).collect();
        rng.shuffle(&mut perm);
        let mut next = perm.into_iter();
        let mut take = |roles: &mut Vec<Role>, role: Role| {
            let t = next.next().expect("enough tests for every role");
            roles[t] = role;
            t
        };
        let n = cfg.commits as i64;
        let frac = |f: f64| (n as f64 * f) as i64;

        // Flaky tests of every category but order (placed last: their polluters must follow).
        let unconditional: Vec<Category> = Category::ALL
            .into_iter()
            .filter(|c| !matches!(c, Category::Order | Category::Time | Category::Environment))
            .collect();
        let m = unconditional.len() * cfg.flaky_per_category;
        let mut rates: Vec<f64> = (0..m)
            .map(|i| {
                if m == 1 {
                    0.2
                } else {
                    let x = i as f64 / (m - 1) as f64;
                    round3(0.02 + 0.48 * x * x)
                }
            })
            .collect();
        rng.shuffle(&mut rates);
        let mut rates = rates.into_iter();
        let other_runners: Vec<usize> = (0..runners.len())
            .filter(|r| Some(*r) != bad_runner)
            .collect();
        let slow_runner = if held_out {
            let linux: Vec<usize> = (0..cfg.linux_runners)
                .filter(|r| Some(*r) != bad_runner)
                .collect();
            (!linux.is_empty()).then(|| *extra.pick(&linux))
        } else {
            None
        };
        for category in Category::ALL {
            for j in 0..cfg.flaky_per_category {
                let (rate, trigger, family) = match category {
                    Category::Order => continue,
                    Category::Time => {
                        let rate = round3(rng.uniform(0.6, 1.0));
                        let (a, b) = if held_out {
                            *extra.pick(&HELD_OUT_WINDOWS)
                        } else {
                            NIGHT
                        };
                        (rate, Trigger::Hours(a, b), Family::Cat(category))
                    }
                    Category::Timeout if slow_runner.is_some() && j % 2 == 0 => {
                        let _ = rates.next();
                        (
                            round3(extra.uniform(0.3, 0.7)),
                            Trigger::Mostly(slow_runner.expect("slow runner")),
                            Family::Cat(category),
                        )
                    }
                    Category::Environment => {
                        let rate = round3(rng.uniform(0.4, 0.9));
                        if j % 2 == 0 && cfg.macos_runners > 0 {
                            (rate, Trigger::Os("macOS"), Family::EnvOs)
                        } else {
                            let r = *rng.pick(&other_runners);
                            (rate, Trigger::Runner(r), Family::EnvRunner)
                        }
                    }
                    _ => (
                        rates.next().expect("a rate per test"),
                        Trigger::Always,
                        Family::Cat(category),
                    ),
                };
                take(
                    &mut roles,
                    Role::Flaky {
                        category,
                        rate,
                        trigger,
                        family,
                    },
                );
            }
        }
        for _ in 0..cfg.bad_runner_victims {
            let rate = round3(rng.uniform(0.15, 0.45));
            let trigger = Trigger::Runner(bad_runner.expect("bad runner"));
            let role = Role::Flaky {
                category: Category::Environment,
                rate,
                trigger,
                family: Family::BadRunner,
            };
            take(&mut roles, role);
        }
        for _ in 0..cfg.broken {
            let from = rng.range(frac(0.4), frac(0.85)) as usize;
            take(&mut roles, Role::Broken { from });
        }
        for _ in 0..cfg.regressions {
            let from = rng.range(frac(0.35), frac(0.75)) as usize;
            let rate = round3(rng.uniform(0.2, 0.6));
            take(&mut roles, Role::Regression { from, rate });
        }
        for _ in 0..cfg.fixed {
            let from = rng.range(frac(0.1), frac(0.45));
            let len = rng.range(3, (n / 10).max(3));
            let to = (from + len).min(frac(0.65)).max(from + 1) as usize;
            take(
                &mut roles,
                Role::Fixed {
                    from: from as usize,
                    to,
                },
            );
        }
        for _ in 0..cfg.infra_tests {
            take(&mut roles, Role::Infra);
        }
        let mut skip = vec![false; total];
        for _ in 0..cfg.skipped_on_macos {
            let t = take(&mut roles, Role::Stable);
            skip[t] = true;
        }
        // Order victims: early in collection order, with a stable polluter collected after them
        // (so the default order never triggers them; shuffled runs sometimes do).
        let mut victims = Vec::new();
        let mut rest: Vec<usize> = next.collect();
        rest.retain(|&t| {
            if victims.len() < cfg.flaky_per_category && (t as f64) < total as f64 * 0.6 {
                victims.push(t);
                false
            } else {
                true
            }
        });
        let mut polluters: Vec<usize> = Vec::new();
        for &v in &victims {
            let candidates: Vec<usize> = rest
                .iter()
                .copied()
                .filter(|&p| p > v && !skip[p] && !polluters.contains(&p))
                .collect();
            let p = *rng.pick(&candidates);
            polluters.push(p);
            roles[v] = Role::Flaky {
                category: Category::Order,
                rate: round3(rng.uniform(0.7, 1.0)),
                trigger: Trigger::After(p),
                family: Family::Cat(Category::Order),
            };
        }

        // Per-test details: durations, timeout limits, message templates.
        let mut bug_templates: Vec<u8> = (0..Family::Bug.templates()).collect();
        rng.shuffle(&mut bug_templates);
        let mut bug_templates = bug_templates.into_iter().cycle();
        let tests = names
            .into_iter()
            .zip(roles)
            .zip(skip)
            .map(|((name, role), skip_on_macos)| {
                let timeout = matches!(
                    role,
                    Role::Flaky {
                        category: Category::Timeout,
                        ..
                    }
                );
                let limit = if timeout {
                    *rng.pick(&TIMEOUT_LIMITS)
                } else {
                    0.0
                };
                let base = if timeout {
                    limit * rng.uniform(0.6, 0.8)
                } else {
                    match rng.f64() {
                        x if x < 0.55 => rng.uniform(0.002, 0.05),
                        x if x < 0.85 => rng.uniform(0.05, 0.4),
                        x if x < 0.97 => rng.uniform(0.4, 2.5),
                        _ => rng.uniform(2.5, 9.0),
                    }
                };
                let templates = match &role {
                    Role::Flaky { family, .. } => {
                        let count = if held_out {
                            heldout::templates(*family)
                        } else {
                            family.templates()
                        };
                        let mut all: Vec<u8> = (0..count).collect();
                        rng.shuffle(&mut all);
                        all.truncate(rng.range(1, i64::from(count.min(3))) as usize);
                        all
                    }
                    Role::Broken { .. } | Role::Regression { .. } | Role::Fixed { .. } => {
                        let t = bug_templates.next().expect("cycle");
                        vec![if held_out {
                            t % heldout::templates(Family::Bug)
                        } else {
                            t
                        }]
                    }
                    Role::Stable | Role::Infra => Vec::new(),
                };
                let func = name.name.split('[').next().unwrap_or_default().to_string();
                let (dialect, bound) = if held_out {
                    (extra.below(heldout::DIALECTS), extra.range(20, 5000))
                } else {
                    (0, 0)
                };
                TestDef {
                    name,
                    func,
                    role,
                    base,
                    limit,
                    skip_on_macos,
                    templates,
                    dialect,
                    bound,
                }
            })
            .collect();
        Gen {
            cfg,
            runners,
            bad_runner,
            slow_runner,
            tests,
            commits,
        }
    }

    /// Commits where some test changes behaviour (culprits; fixed tests' whole failing window
    /// and fix): incidents avoid their runs, so no planted evidence is hidden in an outage.
    fn change_commits(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for t in &self.tests {
            match t.role {
                Role::Broken { from } | Role::Regression { from, .. } => out.push(from),
                Role::Fixed { from, to } => out.extend(from..=to),
                _ => {}
            }
        }
        out
    }

    /// Base runs (every run but whole-job re-runs), in time order.
    fn plan_runs(&self) -> Vec<Plan> {
        let cfg = self.cfg;
        let mut rng = Rng::new(cfg.seed, "timeline", 0);
        // Commit times: 3–7 commits on weekdays, 0–1 on weekends.
        let mut times: Vec<i64> = Vec::with_capacity(cfg.commits);
        let mut day = cfg.start - cfg.start.rem_euclid(86_400);
        while times.len() < cfg.commits {
            let weekday = (day / 86_400 + 3).rem_euclid(7); // 0 = Monday
            let count = if weekday < 5 {
                rng.range(3, 7)
            } else {
                rng.range(0, 1)
            };
            let weights = if cfg.style == Style::HeldOut {
                &HELD_OUT_HOUR_WEIGHTS
            } else {
                &HOUR_WEIGHTS
            };
            let mut today: Vec<i64> = (0..count)
                .map(|_| day + rng.weighted(weights) as i64 * 3600 + rng.range(0, 3599))
                .collect();
            today.sort_unstable();
            let room = cfg.commits - times.len();
            times.extend(today.into_iter().take(room));
            day += 86_400;
        }
        // The first run of each commit: a few minutes after the push, in commit order.
        let mut first = Vec::with_capacity(times.len());
        for (i, &c) in times.iter().enumerate() {
            let t = c + rng.range(60, 720);
            first.push(if i == 0 { t } else { t.max(first[i - 1] + 30) });
        }
        let mut slots: Vec<(i64, usize)> = first.iter().enumerate().map(|(i, &t)| (t, i)).collect();
        let mut per_commit = vec![1usize; times.len()];
        // More runs of the same commit (pull request, merge queue), before the next commit's.
        for i in 0..times.len() {
            let extra = if rng.chance(0.3) {
                if rng.chance(0.25) { 2 } else { 1 }
            } else {
                0
            };
            for _ in 0..extra {
                let t = times[i] + rng.range(900, 10_800);
                if first.get(i + 1).is_none_or(|&f| t < f) {
                    slots.push((t, i));
                    per_commit[i] += 1;
                }
            }
        }
        // A nightly scheduled run on the newest commit, 23:00–00:30 UTC.
        let mut night = times[0] - times[0].rem_euclid(86_400);
        let last = *first.last().expect("commits");
        let nightly = if cfg.style == Style::HeldOut {
            HELD_OUT_NIGHTLY_HOUR
        } else {
            23
        };
        while night <= last {
            let t = night + nightly * 3600 + rng.range(0, 5400);
            let i = first.partition_point(|&f| f < t);
            if i > 0 && per_commit[i - 1] < 3 {
                slots.push((t, i - 1));
                per_commit[i - 1] += 1;
            }
            night += 86_400;
        }
        slots.sort_unstable();

        let n = self.tests.len();
        let canonical: Vec<u32> = (0..n as u32).collect();
        let mut run_id = 4_000_000_000 + (rng.next_u64() % 1_000_000) * 1000;
        slots
            .into_iter()
            .map(|(start, commit)| {
                run_id += rng.range(1, 40) as u64;
                self.plan(commit, start, run_id, 1, &canonical, &mut rng)
            })
            .collect()
    }

    fn plan(
        &self,
        commit: usize,
        start: i64,
        run_id: u64,
        attempt: u32,
        canonical: &[u32],
        rng: &mut Rng,
    ) -> Plan {
        let runner = rng.below(self.runners.len());
        let mut order = canonical.to_vec();
        if rng.chance(self.cfg.shuffle_rate) {
            rng.shuffle(&mut order);
        }
        let mut pos = vec![0u32; order.len()];
        for (i, &t) in order.iter().enumerate() {
            pos[t as usize] = i as u32;
        }
        Plan {
            commit,
            start,
            runner,
            order,
            pos,
            run_id,
            attempt,
        }
    }

    /// The message of a failure of `def` from `family`, in the history's style.
    fn message(
        &self,
        def: &TestDef,
        family: Family,
        template: u8,
        start: i64,
        rng: &mut Rng,
    ) -> messages::Msg {
        if self.cfg.style == Style::HeldOut {
            let ctx = heldout::Ctx {
                noun: def.name.noun,
                func: &def.func,
                limit: def.limit,
                start,
                dialect: def.dialect,
                bound: def.bound,
            };
            let mut msg = heldout::message(family, template, &ctx, rng);
            if matches!(def.role, Role::Flaky { .. })
                && !matches!(family, Family::Infra(_))
                && rng.chance(NOISE_RATE)
            {
                msg.message = heldout::noise(def.dialect, rng);
                msg.kind = msg.message.split(':').next().unwrap_or("").to_string();
            }
            return msg;
        }
        let ctx = Ctx {
            noun: def.name.noun,
            func: &def.func,
            limit: def.limit,
            start,
        };
        messages::message(family, template, &ctx, rng)
    }

    /// Probability that test `t` fails an attempt of `plan` (outside incidents).
    fn p_fail(&self, t: usize, plan: &Plan, retry: bool) -> f64 {
        let def = &self.tests[t];
        if def.skip_on_macos && self.runners[plan.runner].os == "macOS" {
            return 0.0;
        }
        match def.role {
            Role::Stable | Role::Infra => 0.0,
            Role::Flaky { rate, trigger, .. } => {
                let holds = match trigger {
                    Trigger::Always => true,
                    // A retry is a fresh session of the failed tests only: the polluter did not
                    // run before it.
                    Trigger::After(p) => !retry && plan.pos[p] < plan.pos[t],
                    Trigger::Hours(a, b) => in_window(hour_of(plan.start), (a, b)),
                    Trigger::Runner(r) => plan.runner == r,
                    Trigger::Os(os) => self.runners[plan.runner].os == os,
                    Trigger::Mostly(r) if plan.runner != r => return rate / 10.0,
                    Trigger::Mostly(_) => true,
                };
                if holds { rate } else { 0.0 }
            }
            Role::Broken { from } => f64::from(u8::from(plan.commit >= from)),
            Role::Regression { from, rate } => {
                if plan.commit >= from {
                    rate
                } else {
                    0.0
                }
            }
            Role::Fixed { from, to } => f64::from(u8::from((from..to).contains(&plan.commit))),
        }
    }

    /// Incidents: spread over base runs (not the first tenth, not on runs of change commits),
    /// each hitting 20–60% of the other tests, and every infra test; no other test is hit by
    /// more than half of them.
    fn incidents(&self, plans: &[Plan]) -> Vec<(usize, Incident)> {
        let cfg = self.cfg;
        let mut rng = Rng::new(cfg.seed, "incidents", 0);
        let change = self.change_commits();
        let mut candidates: Vec<usize> = (plans.len() / 10..plans.len())
            .filter(|&i| !change.contains(&plans[i].commit))
            .collect();
        rng.shuffle(&mut candidates);
        let mut chosen: Vec<usize> = Vec::new();
        for c in candidates {
            if chosen.len() == cfg.incidents {
                break;
            }
            if chosen.iter().all(|&o| o.abs_diff(c) > 2) {
                chosen.push(c);
            }
        }
        chosen.sort_unstable();
        let mut kinds = INFRA_KINDS.to_vec();
        rng.shuffle(&mut kinds);
        let k = chosen.len();
        // Share of the tests each incident hits: 20–60%, scaled down (never below 20%) so that
        // every other test can be hit by at most half of the incidents.
        let cap = if k >= 2 { k / 2 } else { k };
        let mut shares: Vec<f64> = (0..k).map(|_| rng.uniform(0.2, 0.6)).collect();
        let budget = 0.9 * cap as f64;
        let sum: f64 = shares.iter().sum();
        if sum > budget {
            let s = (budget - 0.2 * k as f64) / (sum - 0.2 * k as f64);
            for x in &mut shares {
                *x = 0.2 + (*x - 0.2) * s;
            }
        }
        let others: Vec<usize> = (0..self.tests.len())
            .filter(|&t| !matches!(self.tests[t].role, Role::Infra))
            .collect();
        let mut hit_count = vec![0usize; self.tests.len()];
        let mut incidents: Vec<(usize, Incident)> = Vec::with_capacity(k);
        for (i, &run) in chosen.iter().enumerate() {
            let want = (shares[i] * others.len() as f64).round() as usize;
            // The least-hit tests first, in random order among equals.
            let mut candidates: Vec<(usize, u64, usize)> = others
                .iter()
                .filter(|&&t| hit_count[t] < cap)
                .map(|&t| (hit_count[t], rng.next_u64(), t))
                .collect();
            candidates.sort_unstable();
            let mut hits: Vec<bool> = self
                .tests
                .iter()
                .map(|t| matches!(t.role, Role::Infra))
                .collect();
            for &(_, _, t) in candidates.iter().take(want) {
                hits[t] = true;
                hit_count[t] += 1;
            }
            let kind = kinds[i % kinds.len()];
            incidents.push((run, Incident { kind, hits }));
        }
        incidents
    }

    /// First-attempt own failures of every base run: `own[run][test]`.
    fn own_failures(&self, plans: &[Plan], incident_runs: &[usize]) -> Vec<Vec<bool>> {
        let n = self.tests.len();
        let mut own = vec![vec![false; n]; plans.len()];
        for t in 0..n {
            let role = &self.tests[t].role;
            if matches!(role, Role::Stable | Role::Infra) {
                continue;
            }
            let mut rng = Rng::new(self.cfg.seed, "own", t as u64);
            for (r, plan) in plans.iter().enumerate() {
                own[r][t] = rng.chance(self.p_fail(t, plan, false));
            }
            // Minimum evidence, counted outside incidents.
            let counted = |own: &Vec<Vec<bool>>, from: usize| {
                (0..plans.len())
                    .filter(|&r| {
                        own[r][t] && plans[r].commit >= from && !incident_runs.contains(&r)
                    })
                    .count()
            };
            let (want, from) = match *role {
                Role::Flaky { .. } => (MIN_FLAKY_FAILURES, 0),
                Role::Regression { from, .. } => {
                    // The culprit's first run shows the bug.
                    if let Some(r) = plans.iter().position(|p| p.commit == from) {
                        own[r][t] = true;
                    }
                    (MIN_REGRESSION_FAILURES, from)
                }
                _ => continue,
            };
            let have = counted(&own, from);
            if have < want {
                let mut eligible: Vec<usize> = (0..plans.len())
                    .filter(|&r| {
                        !own[r][t]
                            && !incident_runs.contains(&r)
                            && self.p_fail(t, &plans[r], false) > 0.0
                    })
                    .collect();
                rng.shuffle(&mut eligible);
                for r in eligible.into_iter().take(want - have) {
                    own[r][t] = true;
                }
            }
        }
        own
    }

    fn pass_duration(&self, def: &TestDef, plan: &Plan, rng: &mut Rng) -> f64 {
        let mut slow = if self.runners[plan.runner].os == "macOS" {
            1.35
        } else {
            1.0
        };
        if Some(plan.runner) == self.slow_runner {
            slow *= SLOW_FACTOR;
        }
        let d = def.base * rng.uniform(0.85, 1.2) * slow;
        if def.limit > 0.0 {
            d.min(def.limit * rng.uniform(0.9, 0.97))
        } else {
            d
        }
    }

    /// One record (one attempt) of test `t` in `plan`.
    fn record(&self, t: usize, plan: &Plan, cause: Option<Cause>, rng: &mut Rng) -> TestCase {
        let def = &self.tests[t];
        let mut duration = self.pass_duration(def, plan, rng);
        let (outcome, failure) = if def.skip_on_macos && self.runners[plan.runner].os == "macOS" {
            duration = rng.uniform(0.0, 0.001);
            let failure = Failure {
                kind: Some("pytest.skip".to_string()),
                message: Some("requires Linux (inotify)".to_string()),
                details: Some(format!(
                    "{}:{}: requires Linux (inotify)",
                    def.name.file, def.name.line
                )),
            };
            (Outcome::Skipped, Some(failure))
        } else if let Some(cause) = cause {
            let (family, template) = match (cause, &def.role) {
                (Cause::Infra(kind), _) => (Family::Infra(kind), 0),
                (Cause::Own, Role::Flaky { family, .. }) => (*family, *rng.pick(&def.templates)),
                (Cause::Own, _) => (Family::Bug, def.templates[0]),
            };
            let msg = self.message(def, family, template, plan.start, rng);
            if let Some(d) = msg.duration {
                duration = d;
            }
            let code = msg
                .message
                .strip_prefix("AssertionError: ")
                .filter(|m| m.starts_with("assert "))
                .map(|m| m.split(" (").next().unwrap_or(m).to_string())
                .unwrap_or_else(|| format!("result = {}_service.run()", def.name.noun));
            let details = format!(
                "{}:{}: in {}\n    {code}\nE   {}",
                def.name.file, def.name.line, def.func, msg.message
            );
            let failure = Failure {
                kind: Some(msg.kind),
                message: Some(msg.message),
                details: Some(details),
            };
            (msg.outcome, Some(failure))
        } else {
            (Outcome::Passed, None)
        };
        TestCase {
            id: def.name.id.clone(),
            classname: Some(def.name.classname.clone()),
            name: def.name.name.clone(),
            file: Some(def.name.file.clone()),
            line: Some(def.name.line),
            suite: vec!["pytest".to_string()],
            outcome,
            attempts: vec![Attempt {
                outcome,
                duration: Some(round3(duration).max(0.001)),
                failure,
                stdout: None,
                stderr: None,
            }],
            properties: Vec::new(),
            timestamp: None,
        }
    }

    /// Every record of one run: the session in execution order, then the retries. Returns the
    /// run and whether it ended red (some test failed without passing a retry).
    fn run(
        &self,
        plan: &Plan,
        own: &[bool],
        incident: Option<&Incident>,
        rng: &mut Rng,
    ) -> (SynthRun, bool) {
        let mut cases = Vec::with_capacity(plan.order.len() + 8);
        let mut failed = Vec::new();
        for &t in &plan.order {
            let t = t as usize;
            let cause = if own[t] {
                Some(Cause::Own)
            } else {
                incident
                    .filter(|i| i.hits[t] && !self.tests[t].skip_on_macos_here(self, plan))
                    .map(|i| Cause::Infra(i.kind))
            };
            cases.push(self.record(t, plan, cause, rng));
            if let Some(c) = cause {
                failed.push((t, c));
            }
        }
        let session_len = cases.len();
        let mut red = false;
        for (t, cause) in failed {
            if !rng.chance(self.cfg.retry_rate) {
                red = true;
                continue;
            }
            let fails = match cause {
                Cause::Own => rng.chance(self.p_fail(t, plan, true)),
                Cause::Infra(_) if matches!(self.tests[t].role, Role::Infra) => true,
                Cause::Infra(_) => rng.chance(INCIDENT_RETRY_FAILS),
            };
            red |= fails;
            cases.push(self.record(t, plan, fails.then_some(cause), rng));
        }
        let busy: f64 = cases.iter().filter_map(TestCase::duration).sum();
        let duration = round3(busy + rng.uniform(40.0, 120.0));
        let runner = &self.runners[plan.runner];
        let meta = RunMeta {
            commit: Some(self.commits[plan.commit].clone()),
            branch: Some("main".to_string()),
            provider: Some("github-actions".to_string()),
            job: Some(JOB.to_string()),
            run_id: Some(plan.run_id.to_string()),
            run_attempt: Some(plan.attempt),
            runner: Some(runner.name.clone()),
            os: Some(runner.os.to_string()),
            started_at: Some(rfc3339(plan.start)),
            duration: Some(duration),
            url: Some(format!(
                "https://github.com/acme/shop/actions/runs/{}/attempts/{}",
                plan.run_id, plan.attempt
            )),
            pull_request: None,
        };
        let key = RunKey::from_meta(&meta).expect("run id set").0;
        let run = SynthRun {
            key,
            meta,
            commit_index: plan.commit,
            cases,
            session_len,
        };
        (run, red)
    }

    fn history(&self) -> History {
        let cfg = self.cfg;
        let plans = self.plan_runs();
        let incidents = self.incidents(&plans);
        let incident_runs: Vec<usize> = incidents.iter().map(|(r, _)| *r).collect();
        let own = self.own_failures(&plans, &incident_runs);
        let canonical: Vec<u32> = (0..self.tests.len() as u32).collect();

        // (start, sequence, run, is incident)
        let mut runs: Vec<(i64, usize, SynthRun, bool)> = Vec::with_capacity(plans.len() * 5 / 4);
        for (r, plan) in plans.iter().enumerate() {
            let mut rng = Rng::new(cfg.seed, "run", r as u64);
            let incident = incidents.iter().find(|(i, _)| *i == r).map(|(_, inc)| inc);
            let (run, red) = self.run(plan, &own[r], incident, &mut rng);
            let end = plan.start + run.meta.duration.unwrap_or(0.0) as i64;
            runs.push((plan.start, 2 * r, run, incident.is_some()));
            // A whole-job re-run of a red run: same commit and run id, attempt 2.
            let mut rng = Rng::new(cfg.seed, "rerun", r as u64);
            if red && rng.chance(cfg.rerun_rate) {
                let start = end + rng.range(300, 3600);
                let plan = self.plan(plan.commit, start, plan.run_id, 2, &canonical, &mut rng);
                let own: Vec<bool> = (0..self.tests.len())
                    .map(|t| rng.chance(self.p_fail(t, &plan, false)))
                    .collect();
                let (run, _) = self.run(&plan, &own, None, &mut rng);
                runs.push((start, 2 * r + 1, run, false));
            }
        }
        runs.sort_by_key(|(start, seq, _, _)| (*start, *seq));
        let incidents_at: Vec<usize> = runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.3)
            .map(|(i, _)| i)
            .collect();

        let mut truth = BTreeMap::new();
        let mut details = BTreeMap::new();
        for (t, def) in self.tests.iter().enumerate() {
            let (verdict, detail) = self.truth_of(t, def);
            truth.insert(def.name.id.clone(), verdict);
            if let Some(d) = detail {
                details.insert(def.name.id.clone(), d);
            }
        }
        History {
            seed: cfg.seed,
            commits: self.commits.clone(),
            runs: runs.into_iter().map(|r| r.2).collect(),
            truth,
            details,
            incidents: incidents_at,
            bad_runner: self.bad_runner.map(|r| self.runners[r].name.clone()),
        }
    }

    fn truth_of(&self, t: usize, def: &TestDef) -> (Truth, Option<Detail>) {
        let short = |c: usize| self.commits[c][..12].to_string();
        let pct = |r: f64| format!("{:.1}%", r * 100.0);
        let example = || {
            let mut rng = Rng::new(self.cfg.seed, "example", t as u64);
            self.message(def, Family::Bug, def.templates[0], self.cfg.start, &mut rng)
                .message
        };
        let mut d = Detail::default();
        let verdict = match def.role {
            Role::Stable => {
                if def.skip_on_macos {
                    d.os = Some("macOS".to_string());
                    d.note = "stable; skipped on macOS runners".to_string();
                } else {
                    return (Truth::Stable, None);
                }
                Truth::Stable
            }
            Role::Infra => {
                d.note = "fails in every infrastructure incident (all attempts) and nowhere else"
                    .to_string();
                Truth::Infra
            }
            Role::Flaky {
                category,
                rate,
                trigger,
                family,
            } => {
                let when = match trigger {
                    Trigger::Always => "of attempts".to_string(),
                    Trigger::After(p) => {
                        d.polluter = Some(self.tests[p].name.id.clone());
                        format!(
                            "of attempts where {} ran earlier in the same session (never on retry)",
                            self.tests[p].name.id
                        )
                    }
                    Trigger::Hours(a, b) => {
                        d.hours = Some((a, b));
                        format!("of attempts in runs starting {a:02}:00–{b:02}:00 UTC")
                    }
                    Trigger::Runner(r) => {
                        d.runner = Some(self.runners[r].name.clone());
                        if Some(r) == self.bad_runner {
                            format!(
                                "of attempts on the bad runner {} (network/resource messages)",
                                self.runners[r].name
                            )
                        } else {
                            format!("of attempts on runner {}", self.runners[r].name)
                        }
                    }
                    Trigger::Os(os) => {
                        d.os = Some(os.to_string());
                        format!("of attempts on {os} runners")
                    }
                    Trigger::Mostly(r) => {
                        d.runner = Some(self.runners[r].name.clone());
                        format!(
                            "of attempts on the slow runner {} (a tenth of that elsewhere)",
                            self.runners[r].name
                        )
                    }
                };
                if def.limit > 0.0 {
                    d.timeout = Some(def.limit);
                }
                let shape = if family == Family::BadRunner {
                    String::new()
                } else {
                    format!("; {} message template(s)", def.templates.len())
                };
                d.note = format!("flaky ({category}): fails {} {when}{shape}", pct(rate));
                Truth::Flaky { category, rate }
            }
            Role::Broken { from } => {
                let m = example();
                d.note = format!("broken since {}: every attempt fails", short(from));
                d.message = Some(m);
                Truth::Broken {
                    culprit: self.commits[from].clone(),
                }
            }
            Role::Regression { from, rate } => {
                let m = example();
                d.note = format!(
                    "intermittent regression since {}: no failure before, {} of attempts from it on (its first run fails), one message shape",
                    short(from),
                    pct(rate)
                );
                d.message = Some(m);
                Truth::Regression {
                    culprit: self.commits[from].clone(),
                    rate,
                }
            }
            Role::Fixed { from, to } => {
                let m = example();
                d.broken_since = Some(self.commits[from].clone());
                d.note = format!(
                    "fixed: every attempt failed from {} until {}, healthy since",
                    short(from),
                    short(to)
                );
                d.message = Some(m);
                Truth::Fixed {
                    fix_commit: self.commits[to].clone(),
                }
            }
        };
        (verdict, Some(d))
    }
}

impl TestDef {
    fn skip_on_macos_here(&self, g: &Gen<'_>, plan: &Plan) -> bool {
        self.skip_on_macos && g.runners[plan.runner].os == "macOS"
    }
}
