//! What the store already knows about the tests a detective command works on.

use crate::diagnose;
use flakehound_runner::TestRef;
use flakehound_store::{Store, StoreError};
use std::collections::{HashMap, HashSet};

/// What the store knows that orders the experiments, read once per command: each non-stable
/// test's likely cause (its verdict's category, which also reads history: preceding tests,
/// runners, time of day), its failure messages, and the flaky tests, most costly first.
#[derive(Clone, Debug, Default)]
pub struct Known {
    /// Each test's stored record: failures and runs.
    pub history: HashMap<String, (u64, u64)>,
    pub categories: HashMap<String, flakehound_analysis::category::Category>,
    pub messages: HashMap<String, Vec<String>>,
    /// The tests whose verdict is flaky, most costly first.
    pub flaky: Vec<String>,
}

impl Known {
    /// Reads the store (of the project the handle is scoped to).
    pub fn load(store: &mut dyn Store) -> Result<Known, StoreError> {
        let entries = flakehound_analysis::report_from_store(store, false)?.entries;
        let flaky = entries
            .iter()
            .filter(|e| e.verdict == flakehound_analysis::verdict::Verdict::Flaky)
            .map(|e| e.ranked.id.clone())
            .collect();
        let categories = entries
            .into_iter()
            .filter_map(|e| Some((e.ranked.id.clone(), e.category?)))
            .collect();
        let history = store
            .test_stats()?
            .into_iter()
            .map(|t| (t.id, (t.failures, t.passes + t.failures)))
            .collect();
        let ev = store.failing_evidence()?;
        let mut messages: HashMap<String, Vec<String>> = HashMap::new();
        for r in ev.results.iter().filter(|r| r.outcome.is_failure()) {
            if let Some(m) = r.message {
                messages
                    .entry(ev.tests[r.test as usize].id.clone())
                    .or_default()
                    .push(ev.messages[m as usize].clone());
            }
        }
        Ok(Known {
            history,
            categories,
            messages,
            flaky,
        })
    }

    /// The suspects the store points at for `test` (its likely cause's, then its failure
    /// messages' root-cause categories, most frequent first), and a line telling the user.
    /// With `only`, only those suspects are named (the others will not run).
    pub fn priors(
        &self,
        test: &str,
        only: &[diagnose::Suspect],
    ) -> (Vec<diagnose::Suspect>, Option<String>) {
        let mut first = Vec::new();
        let mut said = Vec::new();
        if let Some(&c) = self.categories.get(test) {
            let suspects = diagnose::suspects_for(c);
            if !suspects.is_empty() {
                first.extend_from_slice(suspects);
                said.push(format!("the verdict's likely cause is {c}"));
            }
        }
        let messages = self.messages.get(test).map_or(&[][..], Vec::as_slice);
        let tally = flakehound_analysis::category::tally(messages.iter().map(String::as_str));
        for (category, count, why) in &tally {
            let suspects = diagnose::suspects_for(*category);
            if suspects.is_empty() {
                continue;
            }
            for s in suspects {
                if !first.contains(s) {
                    first.push(*s);
                }
            }
            said.push(format!(
                "{count} of {} failure messages look like {category}{}",
                messages.len(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" (\"{why}\")")
                }
            ));
        }
        if !only.is_empty() {
            first.retain(|s| only.contains(s));
        }
        let line = (!first.is_empty()).then(|| {
            format!(
                "From the store: {}. Testing {} first.",
                said.join("; "),
                first
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        (first, line)
    }
}

/// The stored rate of `test` before a fix: (failures, attempts) over every stored attempt,
/// `None` when it has none.
pub fn rate_before(store: &mut dyn Store, test: &str) -> Result<Option<(u64, u64)>, StoreError> {
    Ok(store
        .test_stats()?
        .into_iter()
        .find(|t| t.id == test)
        .and_then(|t| (t.passes + t.failures > 0).then_some((t.failures, t.passes + t.failures))))
}

/// The tests that ran before `victim` in the newest stored run where it failed, in order (each
/// once); `None` when the victim never failed in a stored run, or nothing ran before it. Runs
/// where only a later attempt failed in the same process are skipped (see [`failing_orders`]).
pub fn failing_order(
    store: &mut dyn Store,
    victim: &str,
) -> Result<Option<Vec<TestRef>>, StoreError> {
    Ok(failing_orders(store, victim, 1)?.orders.into_iter().next())
}

/// The stored orders that made `victim` fail, for the polluter search.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailingOrders {
    /// The tests that ran before it, newest run first, distinct orders only, at most `max`.
    pub orders: Vec<Vec<TestRef>>,
    /// Runs where its first attempt passed and a later one failed: an in-process repeat (a
    /// hunt's repeat round) fails it on its own, which is non-idempotence, not order. They are
    /// not orders to search.
    pub later_attempt_only: usize,
}

/// [`FailingOrders`] of `victim`: runs where its first attempt failed, newest first.
pub fn failing_orders(
    store: &mut dyn Store,
    victim: &str,
    max: usize,
) -> Result<FailingOrders, StoreError> {
    let ev = store.evidence()?;
    Ok(orders_before_failure(&ev, victim, max))
}

fn orders_before_failure(
    ev: &flakehound_store::Evidence,
    victim: &str,
    max: usize,
) -> FailingOrders {
    let mut found = FailingOrders::default();
    let Some(v) = ev.tests.iter().position(|t| t.id == victim) else {
        return found;
    };
    let v = v as u32;
    // The victim's first attempt in each run it failed in.
    let mut first: HashMap<u32, &flakehound_store::ResultRow> = HashMap::new();
    let mut failed_runs: HashSet<u32> = HashSet::new();
    for r in ev.results.iter().filter(|r| r.test == v) {
        if r.outcome.is_failure() {
            failed_runs.insert(r.run);
        }
        let e = first.entry(r.run).or_insert(r);
        if (r.attempt, r.position) < (e.attempt, e.position) {
            *e = r;
        }
    }
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for run in failed_runs {
        let f = first[&run];
        if f.outcome.is_failure() {
            runs.push((run, f.position));
        } else {
            found.later_attempt_only += 1;
        }
    }
    runs.sort_by(|a, b| {
        ev.runs[b.0 as usize]
            .started_at
            .cmp(&ev.runs[a.0 as usize].started_at)
            .then(b.0.cmp(&a.0))
    });
    let mut seen_orders: HashSet<Vec<u32>> = HashSet::new();
    for (run, pos) in runs {
        if found.orders.len() >= max {
            break;
        }
        let mut before: Vec<&flakehound_store::ResultRow> = ev
            .results
            .iter()
            .filter(|r| r.run == run && r.position < pos && r.test != v)
            .collect();
        before.sort_by_key(|r| (r.position, r.attempt));
        let mut seen = HashSet::new();
        let ids: Vec<u32> = before
            .into_iter()
            .filter(|r| seen.insert(r.test))
            .map(|r| r.test)
            .collect();
        if ids.is_empty() || !seen_orders.insert(ids.clone()) {
            continue;
        }
        found.orders.push(
            ids.iter()
                .map(|&i| {
                    let t = &ev.tests[i as usize];
                    TestRef {
                        id: t.id.clone(),
                        classname: t.classname.clone(),
                        name: t.name.clone(),
                        file: t.file.clone(),
                        suite: Vec::new(),
                    }
                })
                .collect(),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use flakehound_model::{Attempt, Outcome, RunMeta, RunSource, TestCase};

    fn case(id: &str, o: Outcome, message: Option<&str>) -> TestCase {
        let mut a = Attempt::new(o);
        if let Some(m) = message {
            a.failure = Some(flakehound_model::Failure {
                kind: None,
                message: Some(m.to_string()),
                details: None,
            });
        }
        TestCase {
            id: id.into(),
            classname: None,
            name: id.into(),
            file: None,
            line: None,
            suite: vec![],
            outcome: o,
            attempts: vec![a],
            properties: vec![],
            timestamp: None,
        }
    }

    /// Stores runs (one per element, each a list of cases in execution order).
    fn store_with(runs: &[Vec<TestCase>]) -> flakehound_store_sqlite::SqliteStore {
        use flakehound_evidence::own;
        let mut store = flakehound_store_sqlite::SqliteStore::in_memory().unwrap();
        let meta = RunMeta::default();
        let session = own::Session {
            source: &RunSource::Hunt,
            id: "s",
            meta: &meta,
            runs: own::Runs::Each,
        };
        let executions = runs.iter().enumerate().map(|(i, cases)| own::Execution {
            number: i as u32 + 1,
            started: Some(format!("2024-05-01T10:00:0{i}Z")),
            cases,
            ..Default::default()
        });
        own::record(&mut store, &session, executions).unwrap();
        store.flush().unwrap();
        store
    }

    #[test]
    fn failing_order_is_what_ran_before_the_newest_failure() {
        use Outcome::{Failed, Passed};
        let mut store = store_with(&[
            vec![
                case("x", Passed, None),
                case("victim", Failed, None),
                case("z", Passed, None),
            ],
            vec![
                case("a", Passed, None),
                case("b", Passed, None),
                case("victim", Failed, None),
                case("c", Passed, None),
            ],
            vec![case("victim", Passed, None)],
        ]);
        let order = failing_order(&mut store, "victim").unwrap().unwrap();
        let ids: Vec<&str> = order.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(failing_order(&mut store, "a").unwrap().is_none());
        assert!(failing_order(&mut store, "unknown").unwrap().is_none());
        assert_eq!(rate_before(&mut store, "victim").unwrap(), Some((2, 3)));
        assert_eq!(rate_before(&mut store, "unknown").unwrap(), None);
        let all = failing_orders(&mut store, "victim", 5).unwrap();
        let ids: Vec<Vec<&str>> = all
            .orders
            .iter()
            .map(|o| o.iter().map(|t| t.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["a", "b"], vec!["x"]]);
    }

    /// A newer run where the victim passed its first attempt and failed its second in the same
    /// process (a repeat round) is not an order to search: the older failing order is.
    #[test]
    fn a_repeat_round_failure_is_not_a_failing_order() {
        use Outcome::{Failed, Passed};
        let repeated = {
            let mut c = case("victim", Passed, None);
            c.attempts = vec![
                flakehound_model::Attempt::new(Passed),
                flakehound_model::Attempt::new(Failed),
            ];
            c.outcome = Failed;
            c
        };
        let mut store = store_with(&[
            vec![case("polluter", Passed, None), case("victim", Failed, None)],
            vec![case("other", Passed, None), repeated],
        ]);
        let found = failing_orders(&mut store, "victim", 5).unwrap();
        assert_eq!(found.later_attempt_only, 1);
        let ids: Vec<Vec<&str>> = found
            .orders
            .iter()
            .map(|o| o.iter().map(|t| t.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["polluter"]]);
    }

    #[test]
    fn priors_come_from_failure_messages_and_respect_only() {
        use Outcome::{Failed, Passed};
        let timeout = "TimeoutError: timed out after 5s";
        let mut runs = Vec::new();
        for i in 0..12 {
            let o = if i % 3 == 0 { Failed } else { Passed };
            runs.push(vec![case("t", o, (o == Failed).then_some(timeout))]);
        }
        let mut store = store_with(&runs);
        let known = Known::load(&mut store).unwrap();
        assert_eq!(known.history.get("t"), Some(&(4, 12)));
        assert_eq!(known.messages["t"].len(), 4);
        let (first, line) = known.priors("t", &[]);
        assert!(!first.is_empty(), "{line:?}");
        let line = line.unwrap();
        assert!(line.starts_with("From the store: "), "{line}");
        // `--only` a suspect the store does not point at: nothing comes first.
        let other: Vec<_> = diagnose::Suspect::ALL
            .iter()
            .copied()
            .filter(|s| !first.contains(s))
            .take(1)
            .collect();
        assert_eq!(known.priors("t", &other), (Vec::new(), None));
        assert_eq!(Known::default().priors("t", &[]), (Vec::new(), None));
    }
}
