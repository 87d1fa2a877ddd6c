/**
 * The input rail: everything a user writes (a bio, a goal, a feedback comment) passes here
 * before any provider sees it. Pure, synchronous, and fast (well under a millisecond per
 * typical bio).
 *
 * 1. Normalise: Unicode NFKC (full-width and stylised letters become plain ones), zero-width,
 *    bidi and other invisible format characters removed, `\r` dropped.
 * 2. Length: counted in characters (code points) of the trimmed text; outside
 *    [minLength, maxLength] the input is blocked. Only the first max(4 × maxLength, 1024) UTF-16
 *    units are scanned, so a huge input costs no more than a long one.
 * 3. PII (`pii.ts`) redacted to `[email]`, `[phone]`, `[card]`, `[iban]`, `[address]`,
 *    `[handle]`, `[url]`.
 * 4. Prompt-injection markers (`injection.ts`) replaced by `[removed]`.
 * 5. Toxicity, sexual content, self-harm (`toxicity.ts`): reported, not rewritten.
 *
 * Verdict: `blocked` when the length is out of bounds, or on a high-severity threat, hate or
 * sexual-content-involving-minors finding, or on three or more medium-or-higher toxicity /
 * sexual findings ("too hostile to analyse"). `self_harm` on any medium-or-higher self-harm
 * finding: the caller answers with `supportiveResources()` instead of an analysis (and the
 * input is not blocked for it: the person should get a kind reply, not an error).
 * Every finding's span indexes into the text as given to `checkInput`.
 */
import { detectInjection, NEUTRALISED } from "./injection";
import { detectPii, piiFinding, piiTag } from "./pii";
import { detectToxicity } from "./toxicity";
import type { Finding, InputVerdict, Severity } from "./types";

export interface InputOptions {
	/** Fewest characters (code points, trimmed). Default 1. */
	minLength?: number;
	/** Most characters (code points, trimmed). Default 5000 (the bio limit of SPEC §1). */
	maxLength?: number;
}

export const DEFAULT_MIN_LENGTH = 1;
export const DEFAULT_MAX_LENGTH = 5000;

const INVISIBLE = /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\u{E0000}-\u{E007F}]/u;
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\r]/;

export interface Normalised {
	text: string;
	/** For each UTF-16 unit of `text`: [start, end) of the code point of the original it came from. */
	from: Int32Array;
	to: Int32Array;
}

/** NFKC per code point, invisible and control characters dropped, with a map back to the original. */
export function normaliseInput(input: string): Normalised {
	let text = "";
	const from: number[] = [];
	const to: number[] = [];
	let i = 0;
	for (const cp of input) {
		const start = i;
		i += cp.length;
		if (INVISIBLE.test(cp) || CONTROL.test(cp)) continue;
		const out = cp.charCodeAt(0) < 0x80 ? cp : cp.normalize("NFKC");
		for (let k = 0; k < out.length; k++) {
			from.push(start);
			to.push(i);
		}
		text += out;
	}
	return { text, from: Int32Array.from(from), to: Int32Array.from(to) };
}

const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2 };
const HOSTILE = (c: string) => c.startsWith("toxicity.") || c === "sexual" || c === "sexual.minors";
const BLOCKING_HIGH = new Set(["toxicity.threat", "toxicity.hate", "sexual.minors"]);

const codePoints = (s: string) => {
	let n = 0;
	for (const _ of s) n++;
	return n;
};

export function checkInput(input: string, opts: InputOptions = {}): InputVerdict {
	const minLength = opts.minLength ?? DEFAULT_MIN_LENGTH;
	const maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH;
	const raw = typeof input === "string" ? input : "";
	// Only a bounded prefix is ever scanned: a huge input costs no more than a long one.
	const cap = Math.max(maxLength * 4, 1024);
	const oversized = raw.length > cap;
	const norm = normaliseInput(oversized ? raw.slice(0, cap) : raw);
	const findings: Finding[] = [];
	const toOriginal = (s: number, e: number): [number, number] => {
		if (norm.text.length === 0) return [0, 0];
		const a = norm.from[Math.min(s, norm.text.length - 1)];
		const b = norm.to[Math.max(0, Math.min(e, norm.text.length) - 1)];
		return [a, Math.max(a, b)];
	};

	const length = codePoints(norm.text.trim());
	let blocked = false;
	if (oversized) {
		blocked = true;
		findings.push({ category: "length", severity: "high", span: null, message: `The text is too long (more than ${cap} characters; at most ${maxLength}).` });
	} else if (length < minLength) {
		blocked = true;
		findings.push({ category: "length", severity: "medium", span: null, message: `The text is too short (${length} characters; at least ${minLength} needed).` });
	} else if (length > maxLength) {
		blocked = true;
		findings.push({ category: "length", severity: "high", span: null, message: `The text is too long (${length} characters; at most ${maxLength}).` });
	}

	const text = norm.text;
	const pii = detectPii(text);
	const injection = detectInjection(text);
	const toxicity = detectToxicity(text);

	// Rewrite: PII tags and neutralised markers; where two overlap, one replacement covers both.
	type Edit = { start: number; end: number; with: string };
	const edits: Edit[] = [
		...pii.map(m => ({ start: m.start, end: m.end, with: piiTag(m.kind) })),
		...injection.map(x => ({ start: x.span![0], end: x.span![1], with: NEUTRALISED }))
	].sort((a, b) => a.start - b.start || b.end - a.end);
	const merged: Edit[] = [];
	for (const e of edits) {
		const last = merged[merged.length - 1];
		if (last && e.start < last.end) {
			if (e.end - e.start > last.end - last.start) last.with = e.with;
			last.end = Math.max(last.end, e.end);
		} else merged.push({ ...e });
	}
	let out = "";
	let at = 0;
	for (const e of merged) {
		out += text.slice(at, e.start) + e.with;
		at = e.end;
	}
	out += text.slice(at);

	for (const m of pii) findings.push({ ...piiFinding(m), span: toOriginal(m.start, m.end) });
	for (const x of [...injection, ...toxicity]) findings.push({ ...x, span: x.span ? toOriginal(x.span[0], x.span[1]) : null });

	const self_harm = toxicity.some(x => x.category === "self_harm" && RANK[x.severity] >= RANK.medium);
	const hostile = toxicity.filter(x => HOSTILE(x.category) && RANK[x.severity] >= RANK.medium);
	if (hostile.some(x => x.severity === "high" && BLOCKING_HIGH.has(x.category)) || hostile.length >= 3) blocked = true;

	findings.sort((a, b) => (a.span?.[0] ?? -1) - (b.span?.[0] ?? -1));
	return { text: out.trim(), findings, blocked, self_harm };
}

/** The categories of a verdict's findings, without repeats (for `warnings[]` and metrics). */
export function categoriesOf(findings: Finding[]): string[] {
	return [...new Set(findings.map(f => f.category))];
}
