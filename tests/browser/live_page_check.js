// Opens vigil's live page in headless Chromium, waits until its event stream
// is connected, raises an alert through POST /api/v1/alerts and asserts that
// it appears in the DOM within a second; keeps a screenshot.
//   node live_page_check.js BASE_URL SCREENSHOT.png
const { chromium } = require("playwright-core");
(async () => {
  const [base, shot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  let failed = false;
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(base + "/");
    await page.waitForSelector("#conn.live", { timeout: 10000 });  // the SSE stream is open
    const res = await fetch(base + "/api/v1/alerts", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ rule: "door-open", key: { zone: "nord" }, severity: "major", message: "loading bay door open" }),
    });
    if (res.status !== 201 && res.status !== 200) throw new Error("POST /api/v1/alerts answered " + res.status);
    const t0 = Date.now();
    await page.waitForFunction(() => document.body.innerText.includes("loading bay door open"), null, { timeout: 1000 });
    console.log("ok   the alert appeared on the live page after " + (Date.now() - t0) + " ms");
    await page.screenshot({ path: shot });
    console.log("ok   screenshot kept: " + shot);
  } catch (e) {
    console.log("FAIL: " + e.message);
    failed = true;
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
