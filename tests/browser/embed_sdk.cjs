// Drives examples/embed_backend.rs in headless Chromium with puppeteer-core (the system browser;
// nothing is downloaded). Prints one JSON line with what each page saw. Run by tests/browser.rs.
//
// usage: node embed_sdk.cjs <app base url> <same app, another site> <a page of another origin on
//        the same site> <MockThoughtSpot base url> <chromium> <user data dir> <screenshot.png>
const puppeteer = require("puppeteer-core");

const [app, otherSite, sameSiteOther, thoughtspot, chromium, userDataDir, screenshot] =
  process.argv.slice(2);

async function embedOutcome(page) {
  await page.waitForFunction(() => window.embed && window.embed.status !== "pending", {
    timeout: 30000,
  });
  return page.evaluate(() => window.embed);
}

// What each embedded ThoughtSpot iframe shows, once every one of `count` has finished.
async function embedded(page, count) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const frames = page.frames().filter((f) => f.url().startsWith(thoughtspot));
    const seen = [];
    for (const frame of frames) {
      try {
        seen.push(
          await frame.evaluate(() => ({
            state: document.body ? document.body.dataset.state : "none",
            regions: [...new Set([...document.querySelectorAll("#rows tr[data-region]")]
              .map((tr) => tr.dataset.region))],
          })),
        );
      } catch (e) {
        seen.push({ state: "detached" });
      }
    }
    if (seen.length >= count && seen.every((s) => s.state && s.state !== "waiting")) return seen;
    if (Date.now() > deadline) return seen;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function logIn(page, user, password) {
  await page.goto(app + "/login", { waitUntil: "load" });
  await page.type("#user", user);
  await page.type("#password", password);
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("#submit")]);
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const out = {};
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 900, height: 520 });
    const logs = [];
    page.on("console", (m) => logs.push(m.type() + ": " + m.text()));

    // No app session: the endpoint answers 401, the SDK's auth fails.
    await page.goto(app + "/", { waitUntil: "load" });
    out.anonymous = await embedOutcome(page);

    // Log in to the app (its own cookie), land on the page, which the SDK authenticates; the
    // embedded view shows alice's rows.
    await logIn(page, "alice", "alice-pw");
    out.first = await embedOutcome(page);
    out.aliceFrames = await embedded(page, 1);
    await page.screenshot({ path: screenshot });

    // A second page load gets a new token.
    await page.reload({ waitUntil: "load" });
    out.second = await embedOutcome(page);

    // A page of another origin on the same site (another port of this host, as a sibling
    // subdomain would be; the app's SameSite=Strict cookie goes along) tries every way a page
    // can make the endpoint mint, three times over: more than the user's burst.
    await page.goto(sameSiteOther + "/other-origin", { waitUntil: "load" });
    out.attacks = [];
    for (let round = 0; round < 3; round++) {
      out.attacks.push(await page.evaluate((url) => window.attack(url), app + "/api/thoughtspot/token"));
    }
    // A page of another site cannot read a token either.
    await page.goto(otherSite + "/other-origin", { waitUntil: "load" });
    out.crossOrigin = await page.evaluate((url) => window.attempt(url), app + "/api/thoughtspot/token");
    // The user's own page still works.
    await page.goto(app + "/", { waitUntil: "load" });
    out.afterAttacks = await embedOutcome(page);

    // A dashboard with six embeds, reloaded ten times in ten seconds.
    const started = Date.now();
    out.six = [];
    for (let load = 0; load < 10; load++) {
      const at = Date.now();
      await page.goto(app + "/six", { waitUntil: "load" });
      const outcome = await embedOutcome(page);
      const frames = await embedded(page, 6);
      out.six.push({
        status: outcome.status,
        tokens: outcome.tokens.length,
        frames: frames.map((f) => f.state),
        ms: Date.now() - at,
      });
      const next = started + (load + 1) * 1000;
      if (Date.now() < next) await new Promise((r) => setTimeout(r, next - Date.now()));
    }
    out.sixSeconds = (Date.now() - started) / 1000;

    // bob, in a browser context of his own, sees his rows.
    const context = await browser.createBrowserContext();
    const bobPage = await context.newPage();
    await logIn(bobPage, "bob", "bob-pw");
    out.bob = await embedOutcome(bobPage);
    out.bobFrames = await embedded(bobPage, 1);
    await context.close();

    // A page that loops on the endpoint is still stopped.
    out.loop = await page.evaluate(async () => {
      const statuses = [];
      for (let i = 0; i < 60; i++) {
        statuses.push((await fetch("/api/thoughtspot/token", { credentials: "same-origin" })).status);
      }
      return statuses;
    });
    out.logs = logs;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
