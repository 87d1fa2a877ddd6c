import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { PAGE_CSP } from "../../services/api.service";
import { freePort, realPhoto, uploadForm } from "../factories/images";
import { registerUser } from "../factories/users";
import { allServices, http, startNode, type TestNode } from "../helpers/node";
import { waitFor } from "../helpers/wait";

/**
 * The demo page at `/` (public/) in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): a real photo goes from sign-up and upload through the consent dialog and
 * the job's progress stream to a rendered report, then history and the public feed. Screenshots
 * of each step land in test-artifacts/e2e/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = path.join(__dirname, "..", "..", "test-artifacts", "e2e");
const PASSWORD = "Blue-Harbor-Lantern-42";
const XSS_ALIAS = "<img src=x onerror=alert(1)>";
const CONSENT_KEYS = ["face_analysis", "fashion_analysis", "posture_analysis", "bio_analysis", "detailed_analysis", "biometric_analysis", "technical_metadata"];

interface Watched {
	page: Page;
	context: BrowserContext;
	/** Browser dialogs (alert/confirm) that fired: an executed XSS payload shows up here. */
	dialogs: string[];
	/** Uncaught exceptions, console errors (CSP violations are reported there) and failed same-origin requests. */
	errors: string[];
}

describe("demo page (headless Chromium)", () => {
	let node: TestNode;
	let browser: Browser;
	let photoFile: string;
	const opened: BrowserContext[] = [];

	beforeAll(async () => {
		fs.mkdirSync(ARTIFACTS, { recursive: true });
		photoFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lm-e2e-")), "portrait.jpg");
		fs.writeFileSync(photoFile, await realPhoto());
		const port = await freePort();
		[node, browser] = await Promise.all([
			startNode({ services: allServices(), env: { VISION_THREADS: "1", PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` } }),
			// Root in CI containers: Chromium's sandbox needs user namespaces it does not have there.
			chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] })
		]);
	}, 90_000);

	afterAll(async () => {
		for (const c of opened) await c.close().catch(() => undefined);
		await browser?.close();
		await node?.stop();
		if (photoFile) fs.rmSync(path.dirname(photoFile), { recursive: true, force: true });
	});

	async function openPage(): Promise<Watched> {
		const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
		opened.push(context);
		context.setDefaultTimeout(20_000);
		const page = await context.newPage();
		const watched: Watched = { page, context, dialogs: [], errors: [] };
		page.on("dialog", d => {
			watched.dialogs.push(`${d.type()}: ${d.message()}`);
			void d.dismiss();
		});
		page.on("pageerror", err => watched.errors.push(`pageerror: ${err.message}`));
		page.on("console", msg => msg.type() === "error" && watched.errors.push(`console: ${msg.text()}`));
		await page.goto(`${node.url}/`);
		await page.waitForSelector("#auth-form");
		await page.locator("#status", { hasText: "Service ready" }).waitFor();
		return watched;
	}

	const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

	it("serves the page and its files with a strict CSP and the security headers; other paths stay 404", async () => {
		const page = await fetch(`${node.url}/`);
		const html = await page.text();
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/^text\/html/);
		expect(page.headers.get("content-security-policy")).toBe(PAGE_CSP);
		expect(PAGE_CSP).toMatch(/(^|; )default-src 'self'(;|$)/);
		expect(PAGE_CSP).toMatch(/(^|; )script-src 'self'(;|$)/);
		expect(PAGE_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
		expect(page.headers.get("x-frame-options")).toBe("DENY");
		expect(page.headers.get("x-content-type-options")).toBe("nosniff");
		// No inline script or handler, nothing from another origin.
		expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
		expect(html).not.toMatch(/\son[a-z]+=/i);
		expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
		for (const [file, type] of [["/assets/app.js", /javascript/], ["/assets/style.css", /text\/css/]] as const) {
			const res = await fetch(node.url + file);
			expect({ file, status: res.status, type: res.headers.get("content-type") }).toEqual({ file, status: 200, type: expect.stringMatching(type) });
			expect(res.headers.get("content-security-policy")).toBe(PAGE_CSP);
			await res.arrayBuffer();
		}
		const request = http(node.url);
		for (const p of ["/assets/nope.js", "/assets", "/assets/../../package.json", "/..%2fpackage.json", "/.env", "/index.html/x"]) {
			const res = await request("GET", p);
			expect({ p, status: res.status, code: res.body?.error_code }).toEqual({ p, status: 404, code: "NOT_FOUND" });
		}
		// The API is still the alias table's alone: a POST to the page is no route.
		expect((await request("POST", "/", { body: {} })).status).toBe(404);
	});

	it("signs up, uploads a real photo, consents, follows the job's progress and renders the report, history and feed", async () => {
		const { page, dialogs, errors } = await openPage();
		await shot(page, "01-sign-in");

		const email = `demo-${Date.now()}@example.com`;
		await page.fill("#auth-form input[name=email]", email);
		await page.fill("#auth-form input[name=password]", PASSWORD);
		await page.fill("#auth-form input[name=public_alias]", "Demo Tester");
		await page.check("#auth-form input[name=opt_in_public_analysis]");
		await page.click("#sign-up");
		await page.waitForSelector("#view-analyse:not([hidden])");
		expect(await page.textContent("#who")).toContain(email);

		await page.setInputFiles("#photo", photoFile);
		await page.waitForSelector("#preview:not([hidden])");
		await page.click("#analyse");
		await page.waitForSelector("#consent-dialog[open]");
		const boxes = page.locator("#consent-switches input[type=checkbox]");
		const switches = [];
		for (let i = 0; i < (await boxes.count()); i++) switches.push([await boxes.nth(i).getAttribute("name"), await boxes.nth(i).isChecked()]);
		// SPEC §2 defaults: the first five on, biometric and technical metadata off.
		expect(switches).toEqual(CONSENT_KEYS.map(k => [k, !["biometric_analysis", "technical_metadata"].includes(k)]));
		await page.check("#consent-switches input[name=technical_metadata]");
		await page.fill("#bio-text", "I love hiking with friends, cooking for my family and reading on quiet Sunday mornings.");
		await shot(page, "02-consent");
		await page.click("#consent-start");

		// Events from the job's stream (read with fetch + the Authorization header), then the report.
		await page.waitForSelector("#progress-log li[data-event]", { timeout: 30_000 });
		await shot(page, "03-progress");
		await page.waitForSelector("#report[data-state=ready]", { timeout: 60_000 });
		expect(await page.getAttribute("#progress-bar", "value")).toBe("100");
		// Node-level progress came over the stream (the analysis takes seconds; the stream opens right after the 202).
		const streamed = await page.$$eval("#progress-log li[data-event]", lis => lis.map(li => li.textContent ?? ""));
		expect(streamed.some(line => /^[a-z_]+: (started|done|running)/.test(line))).toBe(true);
		expect(streamed.at(-1)).toBe("job completed");

		expect(await page.textContent("#notice")).toBe("");
		expect(await page.textContent(".score[data-score=overall] .score-value")).toMatch(/^\d+(\.\d+)? \/ 10$/);
		// technical_metadata consented: every score shows its range.
		for (const range of await page.$$eval(".score:not([data-score=confidence]) .range", els => els.map(e => e.textContent)))
			expect(range).toMatch(/^range \d+(\.\d+)?–\d+(\.\d+)?$/);
		expect((await page.textContent("#summary p"))!.trim().length).toBeGreaterThan(20);
		expect(await page.locator("#insights li").count()).toBeGreaterThanOrEqual(3);
		expect(await page.locator("#recommendations li").count()).toBeGreaterThanOrEqual(1);
		expect(await page.locator("#disclaimers li").count()).toBeGreaterThanOrEqual(1);
		const tabs = await page.$$eval(".tabs [role=tab]", bs => bs.map(b => b.getAttribute("data-tab")));
		expect(tabs).toEqual(expect.arrayContaining(["face", "metadata"]));
		await page.click(".tabs [data-tab=metadata]");
		expect(await page.textContent("#detail-panel")).toMatch(/aggregate/);
		await page.click(`.tabs [data-tab=${tabs[0]}]`);
		await shot(page, "04-report");

		// History reads the photo's stored perception (a background job after the upload): look again until it is there.
		await waitFor(
			async () => {
				await page.click("#nav [data-view=history]");
				await page.waitForSelector("#view-history[data-state=ready]");
				return (await page.locator("#trend-chart svg.trend circle.point").count()) >= 1;
			},
			30_000,
			500
		);
		expect((await page.textContent("#trend-summary"))!.length).toBeGreaterThan(0);
		await shot(page, "05-history");

		// The analysis reaches the feed through events: look again until the card is there.
		await waitFor(
			async () => {
				await page.click("#nav [data-view=feed]");
				await page.waitForSelector("#view-feed[data-state=ready]");
				return (await page.locator("#feed-list .card .alias", { hasText: "Demo Tester" }).count()) > 0;
			},
			30_000,
			500
		);
		await shot(page, "06-feed");

		expect(dialogs).toEqual([]);
		expect(errors).toEqual([]);
	}, 120_000);

	it("shows a stored hostile alias in the feed as text: no element, no script", async () => {
		const request = http(node.url);
		const user = await registerUser(request, { public_alias: "Planted Alias", opt_in_public_analysis: true });
		// The API refuses such an alias; the page must hold even for stored text that got in another way (older data, imports).
		expect((await request("PATCH", "/auth/me", { token: user.access_token, body: { public_alias: XSS_ALIAS } })).status).toBe(422);
		const me = (await request("GET", "/auth/me", { token: user.access_token })).body as { id: string };
		expect((await uploadForm(node.url, user.access_token, await realPhoto())).status).toBe(200);
		const users = node.broker.getLocalService("users") as unknown as { dbUpdate(id: string, set: Record<string, unknown>): Promise<unknown> };
		await users.dbUpdate(me.id, { public_alias: XSS_ALIAS });
		await waitFor(async () => ((await request("GET", "/public/feed?limit=100")).body.items as { user_id: string; alias: string }[]).some(i => i.user_id === me.id && i.alias === XSS_ALIAS), 40_000, 250);

		// The feed is public: first as a visitor.
		const { page, dialogs, errors } = await openPage();
		await page.click("#nav [data-view=feed]");
		await page.waitForSelector("#view-feed[data-state=ready]");
		const card = page.locator(`#feed-list .card[data-user="${me.id}"]`);
		await card.waitFor();
		expect(await card.locator(".alias").textContent()).toBe(XSS_ALIAS);
		expect(await card.locator(".alias").evaluate(e => e.childElementCount)).toBe(0);
		expect(await page.locator("img[src=x]").count()).toBe(0);

		// Then signed in through the page's form: the alias is in the header too.
		await page.click("#nav [data-view=auth]");
		await page.fill("#auth-form input[name=email]", user.email);
		await page.fill("#auth-form input[name=password]", user.password);
		await page.click("#sign-in");
		await page.waitForSelector("#view-analyse:not([hidden])");
		expect(await page.textContent("#who")).toBe(`${XSS_ALIAS} (${user.email})`);
		await page.click("#nav [data-view=feed]");
		await page.waitForSelector("#view-feed[data-state=ready]");
		await card.waitFor();
		expect(await page.locator("img[src=x]").count()).toBe(0);
		// Give a planted onerror time to fire, had it become an element.
		await page.waitForTimeout(300);
		await shot(page, "07-feed-hostile-alias");
		expect(dialogs).toEqual([]);
		expect(errors).toEqual([]);
	}, 90_000);
});
