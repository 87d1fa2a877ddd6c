import { Validators, type Context, type ServiceBroker } from "moleculer";
import { toJSONSchema, type ZodError, type ZodType } from "zod";
import { validation, type FieldError } from "./errors";

type Checker = (params: unknown) => { ok: true; data: unknown } | { ok: false; errors: FieldError[] };

/** Field errors in the SPEC shape `[{field, message}]`, from a zod error. */
export function fieldErrors(err: ZodError): FieldError[] {
	return err.issues.map(i => ({
		field: i.path.length ? i.path.map(String).join(".") : "(body)",
		message: i.message
	}));
}

/** Paths of keys that start with `$` anywhere in a value (NoSQL operator injection). */
export function dollarKeys(value: unknown, prefix = "", depth = 0): string[] {
	if (depth > 32 || value === null || typeof value !== "object") return [];
	const out: string[] = [];
	for (const [k, v] of Object.entries(value)) {
		const p = prefix ? `${prefix}.${k}` : k;
		if (k.startsWith("$")) out.push(p);
		out.push(...dollarKeys(v, p, depth + 1));
	}
	return out;
}

/**
 * The JSON Schema of what an action accepts (zod's input side). It is plain data, so it travels
 * with the action's definition to every node's registry, where the gateway builds the OpenAPI
 * document from it. A schema zod cannot express (a custom check) reads as "any value".
 */
export function inputJsonSchema(zod: ZodType): Record<string, unknown> {
	const { $schema: _ignored, ...rest } = toJSONSchema(zod, { io: "input", unrepresentable: "any", target: "draft-2020-12" }) as Record<string, unknown>;
	return rest;
}

/**
 * Replaces every action's zod `input` (in the schema and its mixins) by a thunk returning it,
 * and records its JSON Schema as `inputSchema`.
 */
export function wrapInputs(schema: unknown, seen = new Set<unknown>()): void {
	if (!schema || typeof schema !== "object" || seen.has(schema)) return;
	seen.add(schema);
	const s = schema as { actions?: Record<string, unknown>; mixins?: unknown[] };
	for (const action of Object.values(s.actions ?? {})) {
		const a = action as { input?: unknown; inputSchema?: unknown } | null;
		if (a && typeof a === "object" && a.input && typeof a.input === "object") {
			const zod = a.input as ZodType;
			a.input = () => zod;
			a.inputSchema = inputJsonSchema(zod);
		}
	}
	for (const m of s.mixins ?? []) wrapInputs(m, seen);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
	if (v === null || typeof v !== "object") return false;
	const proto = Object.getPrototypeOf(v);
	return proto === Object.prototype || proto === null;
}

/**
 * A body's `"__proto__"` key, merged into the params with Object.assign (moleculer-web does),
 * becomes their prototype, and zod reads inherited fields as if they were sent. Such params
 * are reduced to their own keys; class instances are left alone.
 */
function ownKeysOnly(v: unknown): unknown {
	if (v === null || typeof v !== "object" || isPlainObject(v)) return v;
	return isPlainObject(Object.getPrototypeOf(v)) ? Object.fromEntries(Object.entries(v)) : v;
}

/**
 * zod as Moleculer's param validator. An action declares `input: z.object(...)`;
 * the middleware parses ctx.params with it and *replaces* them with the parsed value,
 * so unknown keys are dropped and handlers see exactly the declared shape.
 * A `$`-key anywhere in the params is a validation error.
 */
export class ZodValidator extends Validators.Base {
	constructor() {
		super({ paramName: "input" });
	}

	compile(schema: Record<string, unknown>): Validators.Base.CheckerFunction {
		const check = this.checker(schema as unknown as ZodType);
		return params => check(params).ok;
	}

	validate(params: Record<string, unknown>, schema: Record<string, unknown>): boolean {
		const res = this.checker(schema as unknown as ZodType)(params);
		if (!res.ok) throw validation(res.errors);
		return true;
	}

	convertSchemaToMoleculer(): Record<string, unknown> {
		throw new Error("zod schemas are not converted to fastest-validator schemas");
	}

	checker(schema: ZodType): Checker {
		if (typeof (schema as { safeParse?: unknown }).safeParse !== "function")
			throw new Error("An action's `input` must be a zod schema");
		return input => {
			const params = ownKeysOnly(input);
			if (isPlainObject(params) || Array.isArray(params)) {
				const bad = dollarKeys(params);
				if (bad.length)
					return {
						ok: false,
						errors: bad.map(field => ({ field, message: "keys starting with $ are not allowed" }))
					};
			}
			const res = schema.safeParse(params);
			return res.success ? { ok: true, data: res.data } : { ok: false, errors: fieldErrors(res.error) };
		};
	}

	override middleware(_broker: ServiceBroker) {
		return {
			name: "ZodValidator",
			// Moleculer deep-clones action definitions (lodash cloneDeep), which drops zod's
			// non-enumerable internals; a function survives the clone, so wrap schemas first.
			createService: (next: (schema: unknown, mods?: unknown) => unknown) => (schema: unknown, mods?: unknown) => {
				wrapInputs(schema);
				return next(schema, mods);
			},
			localAction: (handler: (ctx: Context) => unknown, action: { input?: ZodType | (() => ZodType) }) => {
				if (!action.input) return handler;
				const check = this.checker(typeof action.input === "function" ? action.input() : action.input);
				return function validateParams(ctx: Context) {
					// Stream actions (uploads) carry a stream, validated by their handler.
					if (ctx.params && typeof (ctx.params as { pipe?: unknown }).pipe === "function") return handler(ctx);
					const res = check(ctx.params ?? {});
					if (!res.ok) return Promise.reject(validation(res.errors));
					(ctx as { params: unknown }).params = res.data;
					return handler(ctx);
				};
			}
		};
	}
}
