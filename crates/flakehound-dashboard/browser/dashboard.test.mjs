// The dashboard in a real browser: Debian's chromium driven by playwright-core, checked with
// axe-core. Run by crates/flakehound/tests/dashboard_browser.rs against `flakehound dashboard`
// over the bundled demo history (examples/history, truth in examples/history/truth.txt).
//
// Environment: DASHBOARD_URL (required), SCREENSHOT_DIR (default: screenshots), CHROMIUM
// (default: /usr/bin/chromium). Exit status 0 when every check passes; each failure is printed.
//
// With `--fcp URL...` it measures instead (benches/dashboard.sh): first contentful paint and
// bytes transferred of each URL, as JSON lines.

import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const launch = () =>
  chromium.launch({
    executablePath,
    headless: true,
    // Root in a container has no user namespace for chromium's sandbox.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });

if (process.argv[2] === "--fcp") {
  await measure(process.argv.slice(3));
  process.exit(0);
}

const base = (process.env.DASHBOARD_URL || "").replace(/\/$/, "");
if (!base) {
  console.error("DASHBOARD_URL is not set");
  process.exit(2);
}
const shots = process.env.SCREENSHOT_DIR || "screenshots";
mkdirSync(shots, { recursive: true });

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
// axe-core as an init script: injected by the browser itself, so the pages' Content Security
// Policy (no inline scripts) stays in force for everything else.
await context.addInitScript({ content: axeSource });
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => {
  if (m.type() === "error") consoleErrors.push(`${page.url()}: ${m.text()}`);
});
page.on("pageerror", (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
page.on("requestfailed", (r) => {
  const why = r.failure()?.errorText ?? "";
  // A request the browser cancels because the page navigated on (the icon still loading when
  // the test clicks a link on a busy machine) is not a failure of the page.
  if (why === "net::ERR_ABORTED") return;
  consoleErrors.push(`${r.url()}: ${why}`);
});

async function axe(name) {
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ["violations"] }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) {
    console.log(`  axe ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes), e.g. ${v.nodes[0]?.target}`);
  }
  check(bad.length === 0, `${name}: axe-core finds no serious or critical violation`);
}

async function shot(name, top) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  // The top of the page (the README shows two of these).
  if (top) {
    await page.screenshot({
      path: path.join(shots, `${name}-top.png`),
      clip: { x: 0, y: 0, width: 1280, height: top },
    });
  }
}

async function visit(url) {
  const response = await page.goto(base + url, { waitUntil: "load" });
  return response.status();
}

const planted = {
  "tests/test_payments.py::TestRefunds::test_partial_refund": "broken",
  "tests/test_orders.py::test_order_total": "regression",
  "tests/test_checkout.py::test_checkout_timeout": "flaky",
  "tests/test_cache.py::test_cache_ttl_expiry": "flaky",
  "tests/test_search.py::test_search_ranking": "flaky",
  "tests/test_users.py::test_session_refresh": "flaky",
  "tests/test_reports.py::test_report_timezone": "flaky",
};

try {
  // Overview.
  check((await visit("/")) === 200, "overview answers 200");
  const count = async (v) =>
    Number(await page.locator(`a[data-verdict="${v}"] .n`).textContent());
  check((await count("broken")) === 1, "overview: 1 broken");
  check((await count("regression")) === 1, "overview: 1 regression");
  check((await count("flaky")) === 5, "overview: 5 flaky");
  check((await page.locator("svg.chart").count()) === 3, "overview: two trend charts and the health chart");
  // The trend as of each day ends on today's verdicts.
  const lastOf = async (v) =>
    page.locator(`#verdict-trend li[data-verdict="${v}"]`).getAttribute("data-last");
  check(
    (await lastOf("flaky")) === "5" && (await lastOf("broken")) === "1",
    "overview: the verdicts as of the newest day are today's",
  );
  check(
    (await page.getByRole("heading", { name: "Incidents" }).count()) === 1,
    "overview: incidents section",
  );
  await axe("overview");
  await shot("overview", 1000);
  // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
  await page.keyboard.press("Tab");
  check(
    (await page.evaluate(() => document.activeElement?.textContent)) === "Skip to content",
    "keyboard: the first Tab stop is the skip link",
  );
  await page.keyboard.press("Enter");
  check(
    (await page.evaluate(() => document.activeElement?.id)) === "main",
    "keyboard: the skip link moves focus to the main content",
  );

  // Tests table: filters through the form (select changes submit it), text search, sorting.
  check((await visit("/tests")) === 200, "tests answers 200");
  await Promise.all([page.waitForURL(/verdict=flaky/), page.selectOption("#f-verdict", "flaky")]);
  const verdicts = await page.locator("#tests tbody tr").evaluateAll((rows) =>
    rows.map((r) => r.dataset.verdict),
  );
  check(
    verdicts.length === 5 && verdicts.every((v) => v === "flaky"),
    `filter verdict=flaky shows the 5 flaky tests (got ${verdicts.join(",")})`,
  );
  await page.fill("#f-q", "order_total");
  await Promise.all([page.waitForURL(/q=order_total/), page.press("#f-q", "Enter")]);
  const none = await page.locator("#tests tbody tr").first().textContent();
  check(/No test matches/.test(none), "text search combined with verdict=flaky finds nothing");
  await visit("/tests?q=order_total");
  const found = await page.locator("#tests tbody tr").evaluateAll((rows) =>
    rows.map((r) => [r.dataset.id, r.dataset.verdict]),
  );
  check(
    found.length === 1 && found[0][1] === "regression",
    "text search finds the regression",
  );
  await visit("/tests");
  await Promise.all([page.waitForURL(/sort=id/), page.click('th a[data-sort="id"]')]);
  const ids = await page.locator("#tests tbody tr").evaluateAll((rows) =>
    rows.map((r) => r.dataset.id),
  );
  check(
    ids.length === 39 && ids.every((id, i) => i === 0 || ids[i - 1] <= id),
    "sorting by test id: ascending",
  );
  check(
    (await page.locator('th[aria-sort="ascending"]').count()) === 1,
    "the sorted column says so (aria-sort)",
  );
  await Promise.all([page.waitForURL(/dir=desc/), page.click('th a[data-sort="id"]')]);
  const desc = await page.locator("#tests tbody tr").evaluateAll((rows) =>
    rows.map((r) => r.dataset.id),
  );
  check(desc[0] === ids[ids.length - 1], "sorting again: descending");
  await visit("/tests");
  await axe("tests");
  await shot("tests");

  // Every planted test's page shows its verdict.
  for (const [id, verdict] of Object.entries(planted)) {
    await visit(`/test?id=${encodeURIComponent(id)}`);
    const shown = await page.locator(".lead .verdict").first().textContent();
    check(shown.startsWith(verdict), `${id}: verdict ${verdict} (shown: ${shown})`);
  }

  // The regression's timeline marks its culprit, and the planted commit is in its range.
  await visit(`/test?id=${encodeURIComponent("tests/test_orders.py::test_order_total")}`);
  const culprit = await page.locator("svg.timeline g.culprit").getAttribute("data-culprit");
  check(culprit === "8fd1be4", `regression: the timeline marks culprit ${culprit}`);
  check(
    (await page.locator("svg.timeline .culprit-range").count()) === 1,
    "regression: the culprit range is shaded",
  );
  const cells = await page.locator("svg.timeline rect.cell title").allTextContents();
  const commitAt = cells.map((t) => t.split(" ")[0]);
  const range = await page.locator("#culprit code").allTextContents();
  const lo = commitAt.indexOf(range[1]);
  const hi = commitAt.lastIndexOf(range[2]);
  const planted7b = commitAt.indexOf("7b95ea9");
  check(
    lo >= 0 && hi >= lo && planted7b >= lo && planted7b <= hi,
    `regression: the planted commit 7b95ea9 lies in the culprit range ${range[1]}…${range[2]}`,
  );
  check(
    (await page.locator("svg.timeline rect.cell.incident").count()) === 1,
    "regression: its failure in the outage is marked as an incident",
  );
  await axe("test page");
  await shot("test-regression", 820);

  // The runner-specific test: its environment table names gha-runner-3 first.
  await visit(`/test?id=${encodeURIComponent("tests/test_checkout.py::test_checkout_timeout")}`);
  const firstRunner = await page
    .locator("table.rates", { has: page.locator("caption", { hasText: "Runner" }) })
    .locator("tbody tr td")
    .first()
    .textContent();
  check(firstRunner === "gha-runner-3", `timeout test: worst runner ${firstRunner}`);
  await shot("test-environment");

  // The incident page, reached from the overview.
  await visit("/");
  await Promise.all([
    page.waitForURL(/\/incident\?/),
    page.locator("section[aria-labelledby=h-incidents] a").first().click(),
  ]);
  const incident = await page.locator("main").textContent();
  check(/Connection refused/.test(incident), "incident page: the database outage");
  check((await page.locator("#incident-failed").textContent()) === "23 of 39", "incident page: 23 of 39 tests failed");
  await axe("incident");
  await shot("incident");

  // A cluster and a run, by their links.
  await visit(`/test?id=${encodeURIComponent("tests/test_search.py::test_search_ranking")}`);
  await Promise.all([
    page.waitForURL(/\/cluster\?/),
    page.locator("section[aria-labelledby=h-patterns] a").first().click(),
  ]);
  check(/test_search_ranking/.test(await page.locator("main").textContent()), "cluster page lists its test");
  await axe("cluster");
  await shot("cluster");
  await page.goBack();
  await Promise.all([
    page.waitForURL(/\/run\?/),
    page.locator("section[aria-labelledby=h-runs] a").first().click(),
  ]);
  check(/Tests that failed their first attempt/.test(await page.locator("main").textContent()), "run page");
  await axe("run");
  await shot("run");
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  await browser.close();
}
for (const e of consoleErrors) console.log(`  console: ${e}`);
check(consoleErrors.length === 0, "no console errors, failed requests or page errors");
console.log(failures.length === 0 ? "all browser checks passed" : `${failures.length} browser check(s) failed`);
process.exit(failures.length === 0 ? 0 : 1);

async function measure(urls) {
  const browser = await launch();
  try {
    for (const url of urls) {
      // A fresh context per page: nothing cached, as a first visit.
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      let bytes = 0;
      const cdp = await context.newCDPSession(page);
      await cdp.send("Network.enable");
      cdp.on("Network.loadingFinished", (e) => (bytes += e.encodedDataLength));
      const started = Date.now();
      await page.goto(url, { waitUntil: "load" });
      // The paint may come after the load event (headless chromium 156 paints after `load` on
      // these small pages): waited for, up to 10 s, instead of read at `load` (which gave no
      // entry at all, and no number).
      const fcp = await page.evaluate(
        () =>
          new Promise((resolve) => {
            const seen = performance.getEntriesByName("first-contentful-paint")[0];
            if (seen) return resolve(seen.startTime);
            new PerformanceObserver((list) => {
              const e = list.getEntriesByName("first-contentful-paint")[0];
              if (e) resolve(e.startTime);
            }).observe({ type: "paint", buffered: true });
            setTimeout(() => resolve(null), 10000);
          }),
      );
      const load = Date.now() - started;
      console.log(JSON.stringify({ url, fcp_ms: fcp, load_ms: load, bytes }));
      await context.close();
    }
  } finally {
    await browser.close();
  }
}
