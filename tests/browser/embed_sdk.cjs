// Drives examples/embed_backend.rs in headless Chromium with puppeteer-core (the system browser;
// nothing is downloaded). Prints one JSON line with what each page saw. Run by tests/browser.rs.
//
// usage: node embed_sdk.cjs <app base url> <same app, other origin> <chromium> <user data dir>
const puppeteer = require("puppeteer-core");

const [app, otherOrigin, chromium, userDataDir] = process.argv.slice(2);

async function embedOutcome(page) {
  await page.waitForFunction(() => window.embed && window.embed.status !== "pending", {
    timeout: 30000,
  });
  return page.evaluate(() => window.embed);
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
    const logs = [];
    page.on("console", (m) => logs.push(m.type() + ": " + m.text()));

    // No app session: the endpoint answers 401, the SDK's auth fails.
    await page.goto(app + "/", { waitUntil: "load" });
    out.anonymous = await embedOutcome(page);

    // Log in to the app (its own cookie), land on the page, which the SDK authenticates.
    await page.goto(app + "/login", { waitUntil: "load" });
    await page.type("#user", "alice");
    await page.type("#password", "alice-pw");
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click("#submit")]);
    out.first = await embedOutcome(page);

    // A second page load gets a new token.
    await page.reload({ waitUntil: "load" });
    out.second = await embedOutcome(page);

    // A page of another origin, in the same browser (the app's cookie is there), cannot read a
    // token.
    await page.goto(otherOrigin + "/other-origin", { waitUntil: "load" });
    out.crossOrigin = await page.evaluate((url) => window.attempt(url), app + "/api/thoughtspot/token");
    out.logs = logs;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
