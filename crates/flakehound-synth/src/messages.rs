//! Failure messages shaped like the real thing, per cause. Flaky families draw one of the
//! test's templates per failure with fresh values; bug templates keep one shape per test
//! (values vary, but mask to one fingerprint); infra messages name internal hosts, flaky network
//! messages external ones.

use crate::Category;
use crate::rng::Rng;
use flakehound_model::Outcome;
use jiff::tz::TimeZone;

/// The kinds of infrastructure incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InfraKind {
    Database,
    Dns,
    Disk,
    Oom,
}

pub(crate) const INFRA_KINDS: [InfraKind; 4] = [
    InfraKind::Database,
    InfraKind::Dns,
    InfraKind::Disk,
    InfraKind::Oom,
];

/// Where a failure's message comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// A flaky test of this category (environment tests use `EnvOs`/`EnvRunner`).
    Cat(Category),
    /// Environment: fails on one OS.
    EnvOs,
    /// Environment: fails on one runner.
    EnvRunner,
    /// Otherwise-healthy network/resource test that fails on the bad runner.
    BadRunner,
    /// A real bug (broken, regression, fixed).
    Bug,
    Infra(InfraKind),
}

impl Family {
    /// Number of message templates.
    pub(crate) fn templates(self) -> u8 {
        match self {
            Family::Cat(c) => match c {
                Category::Concurrency => 4,
                Category::Order => 4,
                Category::Time => 3,
                Category::Randomness => 3,
                Category::Unordered => 3,
                Category::Network => 4,
                Category::Timeout => 2,
                Category::Resource => 3,
                Category::Environment => Family::EnvRunner.templates(),
                Category::Filesystem => 3,
                Category::Float => 4,
                Category::Unknown => 5,
            },
            Family::EnvOs => 2,
            Family::EnvRunner => 3,
            Family::BadRunner => 4,
            Family::Bug => 10,
            Family::Infra(_) => 1,
        }
    }
}

/// What a message may refer to.
pub(crate) struct Ctx<'a> {
    pub noun: &'a str,
    /// Test function name without its parameter.
    pub func: &'a str,
    /// Timeout limit (timeout category), seconds.
    pub limit: f64,
    /// Start of the run, unix seconds.
    pub start: i64,
}

pub(crate) struct Msg {
    pub outcome: Outcome,
    pub kind: String,
    pub message: String,
    /// Duration forced by the failure (a timeout takes its limit), seconds.
    pub duration: Option<f64>,
}

const HOSTS: &[&str] = &[
    "api.stripe.com",
    "api.github.com",
    "hooks.slack.com",
    "s3.amazonaws.com",
    "api.sendgrid.com",
    "maps.googleapis.com",
    "pypi.org",
];
const WORDS: &[&str] = &[
    "alpha", "bravo", "cherry", "delta", "echo", "falcon", "garnet", "harbor", "iris", "juniper",
];
const WEEKDAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16)]))
        .collect()
}

fn alnum(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[rng.below(32)]))
        .collect()
}

fn permuted(rng: &mut Rng, items: &[String]) -> Vec<String> {
    let mut p = items.to_vec();
    while p == items {
        rng.shuffle(&mut p);
    }
    p
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// A message of `family`, template `template` (taken modulo the family's count).
pub(crate) fn message(family: Family, template: u8, ctx: &Ctx<'_>, rng: &mut Rng) -> Msg {
    let t = template % family.templates();
    let noun = ctx.noun;
    let mut outcome = Outcome::Failed;
    let mut duration = None;
    let message = match family {
        Family::Cat(Category::Concurrency) => match t {
            0 => {
                let n = *rng.pick(&[100, 500, 1000, 10_000]);
                let lost = rng.range(1, n / 10);
                format!(
                    "AssertionError: assert counter.value == {n} (got {})",
                    n - lost
                )
            }
            1 => {
                let a = rng.range(1, 8);
                let b = (a % 8) + 1;
                format!(
                    "RuntimeError: deadlock detected: worker-{a} waits for a lock held by worker-{b}"
                )
            }
            2 => "RuntimeError: dictionary changed size during iteration".to_string(),
            _ => {
                let v = rng.range(2, 40);
                format!(
                    "AssertionError: assert {noun}.version == {v} (got {}): lost update from a concurrent writer",
                    v - 1
                )
            }
        },
        Family::Cat(Category::Order) => match t {
            0 => format!(
                "AssertionError: assert len(registry) == 0 (found {} leftover entries)",
                rng.range(1, 9)
            ),
            1 => {
                outcome = Outcome::Errored;
                format!(
                    "sqlalchemy.exc.IntegrityError: duplicate key value violates unique constraint \"{noun}s_pkey\" (Key (id)=({}) already exists)",
                    rng.range(1, 500)
                )
            }
            2 => format!(
                "AssertionError: assert settings.FEATURE_{} is False",
                noun.to_ascii_uppercase()
            ),
            _ => format!(
                "AssertionError: assert cache.get('{noun}:{}') is None",
                rng.range(1, 999)
            ),
        },
        Family::Cat(Category::Time) => {
            let ts = jiff::Timestamp::from_second(ctx.start).expect("timestamp in range");
            let date = ts.to_zoned(TimeZone::UTC).date();
            let next = date.tomorrow().expect("date in range");
            match t {
                0 => format!(
                    "AssertionError: assert {noun}.due_date == datetime.date({}, {}, {}) (got datetime.date({}, {}, {}))",
                    date.year(),
                    date.month(),
                    date.day(),
                    next.year(),
                    next.month(),
                    next.day()
                ),
                1 => {
                    let wd = date.weekday().to_monday_zero_offset() as usize;
                    format!(
                        "AssertionError: assert '{}' == '{}'",
                        WEEKDAYS[(wd + 1) % 7],
                        WEEKDAYS[wd]
                    )
                }
                _ => format!(
                    "AssertionError: assert ({noun}.expires_at - now()).days == 1 (got 0, now={date}T{:02}:{:02}:{:02}Z)",
                    ts.as_second().rem_euclid(86_400) / 3600,
                    ts.as_second().rem_euclid(3600) / 60,
                    ts.as_second().rem_euclid(60)
                ),
            }
        }
        Family::Cat(Category::Randomness) => match t {
            0 => format!(
                "AssertionError: assert generate_code() != '{}' (collides with an existing {noun} code)",
                alnum(rng, 6)
            ),
            1 => format!(
                "AssertionError: Falsifying example: {}(value={}, size={})",
                ctx.func,
                rng.range(-100_000, 100_000),
                rng.range(0, 64)
            ),
            _ => {
                let want = rng.range(1, 50);
                let got = (want + rng.range(1, 49) - 1) % 50 + 1;
                format!(
                    "AssertionError: assert pick_winner({noun}_entries) == 'entry-{want}' (got 'entry-{got}'; random.seed not fixed)"
                )
            }
        },
        Family::Cat(Category::Unordered) => match t {
            0 => {
                let mut w: Vec<String> = WORDS.iter().map(|w| format!("'{w}'")).collect();
                rng.shuffle(&mut w);
                w.truncate(rng.range(3, 5) as usize);
                w.sort();
                format!(
                    "AssertionError: assert {} == {}",
                    list(&permuted(rng, &w)),
                    list(&w)
                )
            }
            1 => {
                let mut ids: Vec<i64> = (0..rng.range(3, 6)).map(|_| rng.range(1, 999)).collect();
                ids.sort();
                ids.dedup();
                if ids.len() < 2 {
                    ids = vec![1, 2, 3];
                }
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!(
                    "AssertionError: assert [{noun}.id for {noun} in result] == {} (got {})",
                    list(&ids),
                    list(&permuted(rng, &ids))
                )
            }
            _ => {
                let w: Vec<String> = WORDS[..rng.range(3, 5) as usize]
                    .iter()
                    .map(|w| w.to_string())
                    .collect();
                format!(
                    "AssertionError: assert '{}' == '{}'",
                    permuted(rng, &w).join(","),
                    w.join(",")
                )
            }
        },
        Family::Cat(Category::Network) => {
            let host = rng.pick(HOSTS);
            match t {
                0 => format!(
                    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /v1/{noun}s (Caused by ConnectionResetError(104, 'Connection reset by peer'))"
                ),
                1 => {
                    duration = Some(10.0 + rng.uniform(0.0, 0.05));
                    format!(
                        "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='{host}', port=443): Read timed out. (read timeout=10)"
                    )
                }
                2 => "urllib3.exceptions.ProtocolError: ('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))".to_string(),
                _ => {
                    duration = Some(5.0 + rng.uniform(0.0, 0.05));
                    format!("httpx.ConnectTimeout: timed out connecting to {host}:443")
                }
            }
        }
        Family::Cat(Category::Timeout) => {
            duration = Some(ctx.limit + rng.uniform(0.001, 0.04));
            match t {
                0 => format!("Failed: Timeout >{:.1}s", ctx.limit),
                _ => format!(
                    "TimeoutError: Timeout after {:.1}s waiting for the {noun} worker",
                    ctx.limit
                ),
            }
        }
        Family::Cat(Category::Resource) => match t {
            0 => format!(
                "OSError: [Errno 24] Too many open files: '/tmp/{noun}-{}.sock'",
                rng.range(1000, 65_000)
            ),
            1 => format!(
                "MemoryError: Unable to allocate {} MiB for an array with shape ({}, {}) and data type float64",
                rng.range(200, 4000),
                rng.range(10_000, 90_000),
                rng.range(100, 4000)
            ),
            _ => "OSError: [Errno 12] Cannot allocate memory".to_string(),
        },
        Family::Cat(Category::Filesystem) => match t {
            0 => format!(
                "FileExistsError: [Errno 17] File exists: '/tmp/pytest-of-runner/pytest-{}/{}0/{noun}.csv'",
                rng.range(1, 400),
                ctx.func
            ),
            1 => format!(
                "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/tmp{}/{noun}.db'",
                hex(rng, 8)
            ),
            _ => format!(
                "PermissionError: [Errno 13] Permission denied: '/tmp/{noun}-{}.lock'",
                rng.range(100, 99_999)
            ),
        },
        Family::Cat(Category::Float) => match t {
            0 => "AssertionError: assert 0.30000000000000004 == 0.3".to_string(),
            1 => {
                let a = rng.range(1, 999);
                let b = rng.range(1, 98);
                format!(
                    "AssertionError: assert {noun}.total == {a}.{b:02} (got {a}.{b:02}0000000000002)"
                )
            }
            2 => "AssertionError: assert 1.0000000000000002 == 1.0".to_string(),
            _ => {
                let a = rng.range(1, 99);
                format!("AssertionError: assert round({noun}.rate, 2) == {a}.68 (got {a}.67)")
            }
        },
        Family::Cat(Category::Unknown) => match t {
            0 => "AssertionError: assert False".to_string(),
            1 => format!("AssertionError: assert {noun}.status == 'done' (got 'pending')"),
            2 => "AssertionError: assert None is not None".to_string(),
            3 => format!("KeyError: '{}'", rng.pick(WORDS)),
            _ => format!(
                "AttributeError: 'NoneType' object has no attribute '{}'",
                rng.pick(WORDS)
            ),
        },
        Family::Cat(Category::Environment) | Family::EnvRunner => match t {
            0 => "FileNotFoundError: [Errno 2] No such file or directory: 'pg_dump'".to_string(),
            1 => format!(
                "UnicodeEncodeError: 'ascii' codec can't encode character '\\xe9' in position {}: ordinal not in range(128)",
                rng.range(0, 80)
            ),
            _ => "AssertionError: assert locale.getlocale()[0] == 'en_US' (got 'C')".to_string(),
        },
        Family::EnvOs => match t {
            0 => {
                let (a, b, n) = (hex(rng, 2), hex(rng, 6), rng.range(1, 300));
                format!(
                    "AssertionError: assert '/private/var/folders/{a}/{b}/T/pytest-{n}' == '/var/folders/{a}/{b}/T/pytest-{n}'"
                )
            }
            _ => format!(
                "AssertionError: assert '{noun}-cafe\u{301}.txt' in ['{noun}-caf\u{e9}.txt'] (file name came back NFD-normalised)"
            ),
        },
        Family::BadRunner => match t {
            0 => "ConnectionResetError: [Errno 104] Connection reset by peer".to_string(),
            1 => "OSError: [Errno 24] Too many open files".to_string(),
            2 => {
                duration = Some(5.0 + rng.uniform(0.0, 0.05));
                let host = rng.pick(HOSTS);
                format!(
                    "requests.exceptions.ConnectTimeout: HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded (Caused by ConnectTimeoutError('Connection to {host} timed out. (connect timeout=5)'))"
                )
            }
            _ => format!(
                "MemoryError: Unable to allocate {} MiB",
                rng.range(64, 2048)
            ),
        },
        Family::Bug => match t {
            0 => {
                let n = rng.range(10, 999);
                format!(
                    "AssertionError: assert {noun}.total == Decimal('{n}.00') (got Decimal('{}.00'))",
                    n + rng.range(1, 50)
                )
            }
            1 => format!("KeyError: '{noun}_reason'"),
            2 => {
                "TypeError: unsupported operand type(s) for +: 'NoneType' and 'Decimal'".to_string()
            }
            3 => format!("AttributeError: 'NoneType' object has no attribute '{noun}_id'"),
            4 => format!(
                "AssertionError: assert resp.status_code == 200 (got 500) for /api/v2/{noun}s/{}",
                rng.range(1, 99_999)
            ),
            5 => {
                let n = rng.range(2, 60);
                format!("AssertionError: assert len({noun}s) == {n} (got {})", n + 1)
            }
            6 => format!("ValueError: invalid {noun} quantity: -{}", rng.range(1, 99)),
            7 => "IndexError: list index out of range".to_string(),
            8 => {
                outcome = Outcome::Errored;
                format!("sqlalchemy.exc.ProgrammingError: column \"{noun}_zone\" does not exist")
            }
            _ => format!("AssertionError: assert {noun}.state == 'paid' (got 'pending')"),
        },
        Family::Infra(kind) => {
            outcome = Outcome::Errored;
            match kind {
                InfraKind::Database => {
                    duration = Some(rng.uniform(0.005, 0.08));
                    format!(
                        "psycopg2.OperationalError: could not connect to server: Connection refused (host=db-{}.internal, port=5432)",
                        rng.range(1, 3)
                    )
                }
                InfraKind::Dns => {
                    duration = Some(rng.uniform(0.005, 0.05));
                    format!(
                        "socket.gaierror: [Errno -2] Name or service not known: could not resolve host 'redis-{}.internal'",
                        rng.range(1, 3)
                    )
                }
                InfraKind::Disk => format!(
                    "OSError: [Errno 28] No space left on device: '/tmp/pytest-of-runner/pytest-{}/{}0'",
                    rng.range(1, 400),
                    ctx.func
                ),
                InfraKind::Oom => format!(
                    "Failed: worker 'gw{}' crashed: OOM killed (exit code 137)",
                    rng.range(0, 3)
                ),
            }
        }
    };
    let kind = message
        .split_once(':')
        .map_or(message.as_str(), |(k, _)| k)
        .to_string();
    Msg {
        outcome,
        kind,
        message,
        duration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders() {
        let mut rng = Rng::new(1, "m", 0);
        let ctx = Ctx {
            noun: "order",
            func: "test_create_order",
            limit: 5.0,
            start: 1_772_409_600,
        };
        let mut families: Vec<Family> = Category::ALL.iter().map(|c| Family::Cat(*c)).collect();
        families.extend([
            Family::EnvOs,
            Family::EnvRunner,
            Family::BadRunner,
            Family::Bug,
        ]);
        families.extend(INFRA_KINDS.iter().map(|k| Family::Infra(*k)));
        for f in families {
            for t in 0..f.templates() {
                let m = message(f, t, &ctx, &mut rng);
                assert!(!m.message.is_empty() && !m.kind.is_empty(), "{f:?} {t}");
                assert!(!m.message.contains('\n'), "{}", m.message);
                assert!(m.outcome.is_failure());
            }
        }
        let m = message(Family::Cat(Category::Timeout), 0, &ctx, &mut rng);
        assert_eq!(m.message, "Failed: Timeout >5.0s");
        assert_eq!(m.kind, "Failed");
        assert!(m.duration.unwrap() >= 5.0);
    }
}
