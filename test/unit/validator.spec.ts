import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import { z } from "zod";
import { ZodValidator, dollarKeys, fieldErrors, wrapInputs } from "../../lib/validator";

// lodash comes with moleculer; its cloneDeep is what Moleculer applies to action definitions.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cloneDeep = require("lodash/cloneDeep") as <T>(value: T) => T;

interface Rejection {
	type?: string;
	code?: number;
	message: string;
	data?: { validation_errors?: { field: string; message: string }[] };
}

async function rejection(p: Promise<unknown>): Promise<Rejection> {
	try {
		await p;
	} catch (err) {
		return err as Rejection;
	}
	throw new Error("expected a rejection");
}

const Profile = z.object({
	name: z.string().min(1),
	age: z.coerce.number().int().min(0).optional(),
	tags: z.array(z.string()).default([]),
	address: z.object({ city: z.string() }).optional()
});

describe("dollarKeys", () => {
	it("finds $-keys at any depth, with their paths", () => {
		expect(dollarKeys({ a: 1, b: { c: 2 } })).toEqual([]);
		expect(dollarKeys({ $where: "1" })).toEqual(["$where"]);
		expect(dollarKeys({ email: { $ne: null } })).toEqual(["email.$ne"]);
		expect(dollarKeys({ a: { b: { c: { $gt: 1 } } } })).toEqual(["a.b.c.$gt"]);
		expect(dollarKeys({ list: [{ ok: 1 }, { $or: [{ $where: "x" }] }] })).toEqual(["list.1.$or", "list.1.$or.0.$where"]);
	});

	it("ignores non-objects and a $ that is not at a key's start", () => {
		expect(dollarKeys(null)).toEqual([]);
		expect(dollarKeys("$where")).toEqual([]);
		expect(dollarKeys({ price: "$5", "a$b": 1 })).toEqual([]);
	});

	it("stops at a depth limit instead of overflowing the stack", () => {
		let deep: Record<string, unknown> = { $end: 1 };
		for (let i = 0; i < 10_000; i++) deep = { d: deep };
		expect(() => dollarKeys(deep)).not.toThrow();
	});
});

describe("fieldErrors", () => {
	it("gives [{field, message}] with dotted paths, and (body) for the root", () => {
		const res = Profile.safeParse({ name: "", age: -1, address: { city: 5 } });
		expect(res.success).toBe(false);
		const errors = fieldErrors(res.error!);
		expect(errors.map(e => e.field).sort()).toEqual(["address.city", "age", "name"]);
		for (const e of errors) expect(Object.keys(e).sort()).toEqual(["field", "message"]);
		for (const e of errors) expect(typeof e.message).toBe("string");

		const root = z.object({ a: z.string() }).safeParse("nope");
		expect(fieldErrors(root.error!)).toEqual([{ field: "(body)", message: expect.any(String) }]);

		const arr = z.object({ tags: z.array(z.string()) }).safeParse({ tags: ["a", 2] });
		expect(fieldErrors(arr.error!).map(e => e.field)).toEqual(["tags.1"]);
	});
});

describe("ZodValidator as the broker's validator", () => {
	let broker: ServiceBroker;
	const seen: unknown[] = [];

	const mixin: Partial<ServiceSchema> = {
		actions: {
			fromMixin: {
				input: z.object({ n: z.coerce.number().int() }),
				handler(ctx: Context) {
					return ctx.params;
				}
			}
		}
	};

	const schema: ServiceSchema = {
		name: "profiles",
		mixins: [mixin],
		actions: {
			save: {
				input: Profile,
				handler(ctx: Context) {
					seen.push(ctx.params);
					return ctx.params;
				}
			},
			overridden: {
				input: z.object({ kept: z.string() }),
				handler(ctx: Context) {
					return ctx.params;
				}
			},
			noInput(ctx: Context) {
				return ctx.params;
			}
		}
	};

	beforeAll(async () => {
		broker = new ServiceBroker({ logger: false, validator: new ZodValidator() });
		broker.createService(schema);
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("replaces ctx.params with the parsed data: coerced, defaulted, unknown keys stripped", async () => {
		const out = await broker.call("profiles.save", { name: "Ada", age: "36", extra: "x", address: { city: "L", zip: "1" } });
		expect(out).toEqual({ name: "Ada", age: 36, tags: [], address: { city: "L" } });
		expect(seen.at(-1)).toEqual(out);
	});

	it("rejects invalid params with VALIDATION 422 and field errors", async () => {
		const err = await rejection(broker.call("profiles.save", { name: "", age: "x", address: {} }));
		expect(err).toMatchObject({ type: "VALIDATION", code: 422, message: "Validation failed" });
		const errors = err.data!.validation_errors!;
		expect(errors.map(e => e.field).sort()).toEqual(["address.city", "age", "name"]);
		for (const e of errors) expect(e).toEqual({ field: expect.any(String), message: expect.any(String) });
	});

	it("treats missing params as an empty object", async () => {
		const err = await rejection(broker.call("profiles.save"));
		expect(err.data!.validation_errors).toEqual([{ field: "name", message: expect.any(String) }]);
	});

	it("rejects $-keys at any depth, even in keys the schema would strip, naming their paths", async () => {
		const err = await rejection(
			broker.call("profiles.save", { name: "Ada", address: { city: { $ne: "" } }, junk: [{ $where: "sleep(1)" }], $or: [] })
		);
		expect(err).toMatchObject({ type: "VALIDATION", code: 422 });
		expect(err.data!.validation_errors!.map(e => e.field).sort()).toEqual(["$or", "address.city.$ne", "junk.0.$where"]);
		for (const e of err.data!.validation_errors!) expect(e.message).toBe("keys starting with $ are not allowed");
	});

	it("validates actions declared in mixins", async () => {
		await expect(broker.call("profiles.fromMixin", { n: "7", other: 1 })).resolves.toEqual({ n: 7 });
		await expect(rejection(broker.call("profiles.fromMixin", { n: "seven" }))).resolves.toMatchObject({ type: "VALIDATION" });
	});

	it("leaves actions without input alone", async () => {
		await expect(broker.call("profiles.noInput", { $anything: 1 })).resolves.toEqual({ $anything: 1 });
	});

	it("survives creating the same schema object on a second broker (inputs already wrapped)", async () => {
		const again = new ServiceBroker({ logger: false, validator: new ZodValidator() });
		again.createService(schema);
		await again.start();
		try {
			await expect(again.call("profiles.save", { name: "B", x: 1 })).resolves.toEqual({ name: "B", tags: [] });
			await expect(again.call("profiles.fromMixin", { n: "2" })).resolves.toEqual({ n: 2 });
			await expect(rejection(again.call("profiles.save", {}))).resolves.toMatchObject({ type: "VALIDATION" });
		} finally {
			await again.stop();
		}
	});
});

describe("a mixin's input overridden by the service", () => {
	it("uses the service's schema", async () => {
		const broker = new ServiceBroker({ logger: false, validator: new ZodValidator() });
		broker.createService({
			name: "over",
			mixins: [
				{
					actions: {
						act: { input: z.object({ a: z.string() }), handler: (ctx: Context) => ctx.params }
					}
				}
			],
			actions: {
				act: { input: z.object({ b: z.number() }), handler: (ctx: Context) => ctx.params }
			}
		});
		await broker.start();
		try {
			await expect(broker.call("over.act", { a: "x", b: 1 })).resolves.toEqual({ b: 1 });
		} finally {
			await broker.stop();
		}
	});
});

describe("wrapInputs", () => {
	it("turns zod inputs into thunks (in mixins too), once, so a deep clone keeps them", () => {
		const inner = z.object({ a: z.string() });
		const fromMixin = z.object({ m: z.number() });
		const mixin = { actions: { m: { input: fromMixin, handler() {} } } };
		const schema = { mixins: [mixin, mixin], actions: { a: { input: inner, handler() {} }, b: () => 1, c: false, d: null } };
		wrapInputs(schema);
		const a = schema.actions.a.input as unknown as () => unknown;
		expect(typeof a).toBe("function");
		expect(a()).toBe(inner);
		expect((mixin.actions.m.input as unknown as () => unknown)()).toBe(fromMixin);

		// Idempotent: a second pass leaves the thunks as they are.
		wrapInputs(schema);
		expect(schema.actions.a.input).toBe(a);

		// Moleculer deep-clones action definitions with lodash: a bare zod schema breaks, the thunk survives.
		expect(() => (cloneDeep({ input: inner }).input as typeof inner).safeParse({ a: "x" })).toThrow();
		const cloned = cloneDeep(schema.actions.a);
		expect((cloned.input as unknown as () => unknown)()).toBe(inner);
	});

	it("accepts junk without throwing", () => {
		expect(() => wrapInputs(null)).not.toThrow();
		expect(() => wrapInputs("x")).not.toThrow();
		expect(() => wrapInputs({ actions: null, mixins: [null, 1] })).not.toThrow();
	});
});

describe("ZodValidator methods", () => {
	const v = new ZodValidator();
	const schema = z.object({ a: z.string() }) as unknown as Record<string, unknown>;

	it("compile gives a boolean checker", () => {
		const check = v.compile(schema);
		expect(check({ a: "x" })).toBe(true);
		expect(check({ a: 1 })).toBe(false);
		expect(check({ a: "x", $b: 1 })).toBe(false);
	});

	it("validate throws VALIDATION with field errors", () => {
		expect(v.validate({ a: "x" }, schema)).toBe(true);
		try {
			v.validate({}, schema);
			throw new Error("expected a throw");
		} catch (err) {
			expect(err).toMatchObject({ type: "VALIDATION", code: 422, data: { validation_errors: [{ field: "a", message: expect.any(String) }] } });
		}
	});

	it("refuses a schema that is not zod, and fastest-validator conversion", () => {
		expect(() => v.checker({ a: "string" } as never)).toThrow("must be a zod schema");
		expect(() => v.convertSchemaToMoleculer()).toThrow(/not converted/);
	});

	it("looks for $-keys in an array at the root too", () => {
		const arr = z.array(z.object({ $x: z.number() }).loose());
		expect(v.checker(arr)([{ ok: 1 }, { $x: 1 }])).toEqual({
			ok: false,
			errors: [{ field: "1.$x", message: "keys starting with $ are not allowed" }]
		});
	});

	it("does not walk into non-plain values such as a Buffer", () => {
		const buf = z.instanceof(Buffer);
		expect(v.checker(buf)(Buffer.from("$x"))).toMatchObject({ ok: true });
	});
});
