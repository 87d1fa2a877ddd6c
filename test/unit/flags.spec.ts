import { ServiceBroker, type Context } from "moleculer";
import { configure } from "../../lib/config";
import { flagsText, replCommands } from "../../lib/repl-commands";
import { FLAG_DEFAULTS, bucketOf, flagList, flagOn, flagsFor, flagsMiddleware, type Flags } from "../../lib/flags";

const parse = (text?: string) => flagList.parse(text) as Flags;
const ids = Array.from({ length: 2000 }, (_, i) => `user-${i}`);

describe("feature flags", () => {
	it("are all on by default; FLAGS sets on, off and percentages", () => {
		expect(parse()).toEqual(FLAG_DEFAULTS);
		const f = parse("enhanced_pipeline=25%, public_feed=off,social_graph=on,comparisons=0%");
		expect(f.enhanced_pipeline.percent).toBe(25);
		expect(f.public_feed.percent).toBe(0);
		expect(f.social_graph.percent).toBe(100);
		expect(f.hybrid_pipeline.percent).toBe(100);
		expect(configure({ FLAGS: "hybrid_pipeline=10%" }).flags.hybrid_pipeline.percent).toBe(10);
	});

	it("refuse unknown flags and bad values at start, naming the part", () => {
		for (const bad of ["turbo=on", "public_feed=maybe", "public_feed=101%", "public_feed"]) expect(() => parse(bad)).toThrow(/not name=on\|off\|N%/);
		expect(() => configure({ FLAGS: "turbo=on" })).toThrow(/FLAGS/);
	});

	it("put a stable share of users in the rollout", () => {
		const f = parse("enhanced_pipeline=25%");
		const on = ids.filter(id => flagOn(f, "enhanced_pipeline", id)).length;
		expect(on).toBeGreaterThan(2000 * 0.2);
		expect(on).toBeLessThan(2000 * 0.3);
		// Stable: the same answer every time.
		for (const id of ids.slice(0, 50)) expect(flagOn(f, "enhanced_pipeline", id)).toBe(flagOn(parse("enhanced_pipeline=25%"), "enhanced_pipeline", id));
	});

	it("keep users in as the percentage grows, and bucket each flag independently", () => {
		const at10 = ids.filter(id => flagOn(parse("public_feed=10%"), "public_feed", id));
		const at50 = new Set(ids.filter(id => flagOn(parse("public_feed=50%"), "public_feed", id)));
		expect(at10.every(id => at50.has(id))).toBe(true);
		const same = ids.filter(id => bucketOf("public_feed", id) === bucketOf("social_graph", id)).length;
		expect(same).toBeLessThan(100);
	});

	it("show anonymous callers a flag only at 100 %", () => {
		expect(flagOn(parse("public_feed=99%"), "public_feed", null)).toBe(false);
		expect(flagOn(parse("public_feed=100%"), "public_feed", null)).toBe(true);
		expect(flagsFor(parse("public_feed=off"), "u1").find(f => f.name === "public_feed")).toEqual({ name: "public_feed", percent: 0, on: false });
		expect(flagsFor(parse()).every(f => !("on" in f))).toBe(true);
	});
});

describe("flags middleware", () => {
	let broker: ServiceBroker;
	let flags = parse("enhanced_pipeline=50%");
	const inside = ids.find(id => flagOn(flags, "enhanced_pipeline", id))!;
	const outside = ids.find(id => !flagOn(flags, "enhanced_pipeline", id))!;

	beforeAll(async () => {
		broker = new ServiceBroker({ logger: false, middlewares: [flagsMiddleware(() => flags)] });
		broker.createService({ name: "feature", actions: { run: { flag: "enhanced_pipeline", handler: () => "ran" }, open: { handler: () => "open" } } });
		broker.createService({ name: "api", actions: { relay: { handler: (ctx: Context<{ action: string }>) => ctx.call(ctx.params.action) } } });
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("runs the action for users inside the rollout and refuses others with 403 FEATURE_DISABLED", async () => {
		expect(await broker.call("feature.run", {}, { meta: { userId: inside } })).toBe("ran");
		await expect(broker.call("feature.run", {}, { meta: { userId: outside } })).rejects.toMatchObject({ code: 403, type: "FEATURE_DISABLED", data: { flag: "enhanced_pipeline" } });
		expect(await broker.call("feature.open", {}, { meta: { userId: outside } })).toBe("open");
	});

	it("lets the system's own calls through, but not anonymous calls relayed by the gateway", async () => {
		expect(await broker.call("feature.run")).toBe("ran");
		await expect(broker.call("api.relay", { action: "feature.run" })).rejects.toMatchObject({ type: "FEATURE_DISABLED" });
	});

	it("reads the flags at call time", async () => {
		flags = parse("enhanced_pipeline=off");
		await expect(broker.call("feature.run", {}, { meta: { userId: inside } })).rejects.toMatchObject({ type: "FEATURE_DISABLED" });
		flags = parse("enhanced_pipeline=on");
		expect(await broker.call("feature.run", {}, { meta: { userId: outside } })).toBe("ran");
	});
});

describe("lm-flags", () => {
	it("prints every flag with its percentage, and whether it is on for a user", () => {
		configure({ FLAGS: "social_graph=40%" });
		expect(replCommands.some(c => c.command.startsWith("lm-flags"))).toBe(true);
		expect(flagsText()).toMatch(/^social_graph +40 %$/m);
		const on = flagOn(parse("social_graph=40%"), "social_graph", "u-7");
		expect(flagsText("u-7")).toMatch(new RegExp(`^social_graph +40 % {2}${on ? "on" : "off"} for u-7$`, "m"));
		configure({});
	});
});
