/**
 * PII detection and redaction in free text (a bio, a goal, a feedback comment) before any
 * provider sees it. Pure and synchronous; no I/O.
 *
 * Detectors, in priority order (an earlier kind wins where two overlap):
 * - `pii.email`   plain addresses and obfuscated ones ("jane at gmail dot com", "jane[at]web[dot]de",
 *                 "jean arobase orange point fr");
 * - `pii.url`     http(s)://, www. and bare domains with a common TLD;
 * - `pii.iban`    country code + check digits + BBAN, length checked per country, ISO 13616 mod-97;
 * - `pii.card`    13–19 digits (spaces or dashes allowed) passing Luhn with a known network prefix;
 * - `pii.phone`   libphonenumber-js (full metadata) in international form and in the national
 *                 formats of US, GB, DE, FR, IN, BR, run over each run of digits and phone
 *                 punctuation (at most 64 characters); national numbers need ≥ 10 digits, or ≥ 7
 *                 after a cue word ("call", "tel", "WhatsApp" …); dates, prices and runs of more
 *                 than 15 digits (cards, IBANs, ids) are never phones;
 * - `pii.address` a house number with a street word (US/UK "221B Baker Street", DE/NL/AT/CH
 *                 "Hauptstraße 5", FR "12 rue de la Paix", ES/IT/PT/BR "Calle Mayor 10", "Rua Augusta, 1500",
 *                 IN "Flat 12, MG Road"), optionally followed by a postal code and town;
 * - `pii.handle`  @handles and "IG: name"-style social handles.
 *
 * Each match becomes a `Finding` with its span in the text given, and `redactPii` replaces
 * it with a tag: `[email]`, `[phone]`, `[card]`, `[iban]`, `[address]`, `[handle]`, `[url]`.
 */
import { findPhoneNumbersInText, type CountryCode } from "libphonenumber-js/max";
import type { Finding, Severity } from "./types";

export type PiiKind = "email" | "url" | "iban" | "card" | "phone" | "address" | "handle";

export interface PiiMatch {
	kind: PiiKind;
	start: number;
	end: number;
}

const PRIORITY: PiiKind[] = ["email", "url", "iban", "card", "phone", "address", "handle"];
const SEVERITY: Record<PiiKind, Severity> = {
	email: "medium",
	url: "low",
	iban: "high",
	card: "high",
	phone: "medium",
	address: "medium",
	handle: "low"
};
const LABEL: Record<PiiKind, string> = {
	email: "email address",
	url: "link",
	iban: "bank account number (IBAN)",
	card: "payment card number",
	phone: "phone number",
	address: "street address",
	handle: "social media handle"
};

/** The national formats tried for numbers written without a country code. */
export const PHONE_REGIONS: CountryCode[] = ["US", "GB", "DE", "FR", "IN", "BR"];

// ---------------------------------------------------------------- emails

const LOCAL = String.raw`[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_])?`;
const LABEL_RE = String.raw`[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?`;
const PLAIN_EMAIL = new RegExp(String.raw`(?<![\w.%+-])${LOCAL}@${LABEL_RE}(?:\.${LABEL_RE})*\.[A-Za-z]{2,24}\b`, "g");

/** Common TLDs: an obfuscated address or a bare domain must end in one of these. */
const TLDS =
	"com|net|org|edu|gov|info|biz|io|co|me|app|dev|ai|xyz|online|site|tech|shop|store|blog|" +
	"de|fr|uk|nl|es|it|pt|br|in|eu|us|ca|au|nz|ch|at|be|dk|se|no|fi|pl|cz|ie|ru|jp|cn|kr|mx|ar|za|tv|gg|ly|to";
const AT_WORD = String.raw`(?:\s*[\[\(\{<]\s*(?:at|@|ät|arobase)\s*[\]\)\}>]\s*|\s+(?:at|AT|At|arobase|ät)\s+|\s+@\s+)`;
const DOT_WORD = String.raw`(?:\s*[\[\(\{<]\s*(?:dot|\.|punkt|point|ponto|punto)\s*[\]\)\}>]\s*|\s+(?:dot|DOT|Dot|punkt|point|ponto|punto)\s+|\s+\.\s+)`;
const OBFUSCATED_EMAIL = new RegExp(
	String.raw`(?<![\w.%+-])${LOCAL}(?:${DOT_WORD}[A-Za-z0-9_%+-]+)*${AT_WORD}${LABEL_RE}(?:(?:${DOT_WORD}|\.)${LABEL_RE})*?${DOT_WORD}(?:${TLDS})\b`,
	"gi"
);

/** "jane_doe at hotmail.com": a spelled-out "at" before a real domain, when the local part looks like one. */
const AT_REAL_DOMAIN = new RegExp(
	String.raw`(?<![\w.%+-])(?=[A-Za-z0-9%-]{0,63}[._+\d])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}${AT_WORD}${LABEL_RE}(?:\.${LABEL_RE}){0,8}\.(?:${TLDS})\b`,
	"gi"
);

// ---------------------------------------------------------------- URLs

const URL_SCHEME = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/gi;
const BARE_DOMAIN = new RegExp(
	String.raw`(?<![\w@.\-/])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:${TLDS})(?![\w@-])(?::\d{2,5})?(?:/[^\s<>"'\x60]*)?`,
	"gi"
);

/** Trailing punctuation that ends a sentence rather than a URL. */
function trimUrl(s: string): number {
	let end = s.length;
	while (end > 0 && /[.,;:!?)\]}'"»]/.test(s[end - 1])) {
		// Keep a closing parenthesis that has its opening one inside the URL.
		if (s[end - 1] === ")" && s.slice(0, end).split("(").length > s.slice(0, end).split(")").length - 1) break;
		end--;
	}
	return end;
}

// ---------------------------------------------------------------- IBAN

/** IBAN length per country (ISO 13616 registry). */
export const IBAN_LENGTHS: Record<string, number> = {
	AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22,
	CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22,
	GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30,
	KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31,
	MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SC: 31, SE: 24,
	SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20
};

const IBAN_CANDIDATE = /\b[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]){10,31}/gi;

/** ISO 7064 mod-97-10 over the rearranged IBAN. */
export function ibanValid(compact: string): boolean {
	const iban = compact.toUpperCase();
	const len = IBAN_LENGTHS[iban.slice(0, 2)];
	if (!len || iban.length !== len || !/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
	const moved = iban.slice(4) + iban.slice(0, 4);
	let rem = 0;
	for (const ch of moved) {
		const v = ch >= "A" ? String(ch.charCodeAt(0) - 55) : ch;
		for (const d of v) rem = (rem * 10 + Number(d)) % 97;
	}
	return rem === 1;
}

// ---------------------------------------------------------------- cards

const CARD_CANDIDATE = /(?<![\d.,])\d(?:[ -]?\d){12,18}(?![\d])/g;

export function luhnValid(digits: string): boolean {
	let sum = 0;
	let dbl = false;
	for (let i = digits.length - 1; i >= 0; i--) {
		let d = digits.charCodeAt(i) - 48;
		if (dbl) {
			d *= 2;
			if (d > 9) d -= 9;
		}
		sum += d;
		dbl = !dbl;
	}
	return digits.length > 0 && sum % 10 === 0;
}

/** A known card network by prefix and length (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro). */
export function cardNetwork(digits: string): string | null {
	const n = digits.length;
	const p2 = Number(digits.slice(0, 2));
	const p4 = Number(digits.slice(0, 4));
	const p6 = Number(digits.slice(0, 6));
	if (digits[0] === "4" && (n === 13 || n === 16 || n === 19)) return "visa";
	if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n === 16) return "mastercard";
	if ((p2 === 34 || p2 === 37) && n === 15) return "amex";
	if ((digits.startsWith("6011") || digits.startsWith("65") || (p6 >= 622126 && p6 <= 622925) || (p4 >= 6440 && p4 <= 6499)) && n >= 16) return "discover";
	if (p4 >= 3528 && p4 <= 3589 && n >= 16) return "jcb";
	if ((p2 === 36 || p2 === 38 || p2 === 39 || (p4 >= 3000 && p4 <= 3059)) && n >= 14) return "diners";
	if (p2 === 62 && n >= 16) return "unionpay";
	if (["50", "56", "57", "58", "63", "67"].includes(digits.slice(0, 2)) && n >= 12) return "maestro";
	return null;
}

// ---------------------------------------------------------------- phones

const PHONE_CUE = /(?:call|phone|tel|tél|telefon|telefone|telephone|téléphone|mobile|mobil|cell|handy|portable|celular|whats ?app|signal|text(?:\s+me)?|sms|ring|reach me|contact|number|nummer|numéro|número|no\.|nr\.|ph)\W{0,6}(?:(?:me|at|on|is|:|me at|me on|unter|au|no)\W{0,3}){0,3}$/i;
const DATE_LIKE = [
	/^\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}$/,
	/^\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4}$/,
	/^(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$/
];
const digitsOf = (s: string) => s.replace(/\D/g, "");

function phoneAcceptable(text: string, start: number, end: number): boolean {
	const raw = text.slice(start, end);
	const digits = digitsOf(raw);
	const intl = /^\s*(?:\+|00)/.test(raw);
	if (DATE_LIKE.some(re => re.test(raw.trim()))) return false;
	// Part of a longer run of digits (a card, an IBAN, an id): not a phone.
	let a = start;
	let b = end;
	while (a > 0 && /[\d \-.]/.test(text[a - 1])) a--;
	while (b < text.length && /[\d \-.]/.test(text[b])) b++;
	if (digitsOf(text.slice(a, b)).length > 15) return false;
	// Glued to letters (an IBAN, a product code) or to a currency sign: not a phone.
	const before = text.slice(Math.max(0, start - 2), start);
	if (/[A-Za-z]\s?$/.test(before) && !/\s$/.test(before)) return false;
	if (/[$€£¥₹]\s?$/.test(before)) return false;
	if (/^\s?(?:€|\$|eur|usd|kg|cm|km|mm|m²|%)/i.test(text.slice(end, end + 4))) return false;
	if (intl) return digits.length >= 8;
	if (digits.length >= 10) return true;
	if (digits.length >= 7) return PHONE_CUE.test(text.slice(Math.max(0, start - 30), start));
	return false;
}

/** Runs of digits and phone punctuation: the only places a phone number can be. */
const NUMBER_RUN = /[+(]?\d[\d\s().\-/+]*\d\)?/g;

function findPhones(text: string): PiiMatch[] {
	const out: PiiMatch[] = [];
	const seen = new Set<string>();
	for (const run of text.matchAll(NUMBER_RUN)) {
		const digits = digitsOf(run[0]).length;
		// Too few digits for any phone, or too long a run to be one (and not worth parsing).
		if (digits < 7 || run[0].length > 64) continue;
		const offset = run.index!;
		for (const region of PHONE_REGIONS) {
			for (const f of findPhoneNumbersInText(run[0], { defaultCountry: region })) {
				const start = offset + f.startsAt;
				const end = offset + f.endsAt;
				const key = `${start}:${end}`;
				if (seen.has(key)) continue;
				seen.add(key);
				if (phoneAcceptable(text, start, end)) out.push({ kind: "phone", start, end });
			}
		}
	}
	// Short local numbers after a cue ("call me at 555-0199"), which the parser leaves to context.
	for (const m of text.matchAll(/(?<![\w+])\d{3}[ .\-]\d{4}(?![\d\-.]\d)/g)) {
		const s = m.index!;
		if (PHONE_CUE.test(text.slice(Math.max(0, s - 30), s))) out.push({ kind: "phone", start: s, end: s + m[0].length });
	}
	return out;
}

// ---------------------------------------------------------------- addresses

const EN_STREET =
	"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Close|Crescent|" +
	"Highway|Hwy|Parkway|Pkwy|Square|Sq|Gardens|Grove|Mews|Row|Walk|Hill|Circle|Cir|Trail|Alley|Loop|Wharf|Quay";
const NAME_WORD = String.raw`(?:[A-Z][a-zA-Z'’\-]+|[A-Z]{1,3}|\d{1,3}(?:st|nd|rd|th))`;
const POSTAL_TAIL = String.raw`(?:,?\s+(?:(?:Apt|Apartment|Suite|Unit|Flat)\.?\s*#?\w+,?\s*)?(?:[A-Z][a-zA-Z\-]+(?:\s[A-Z][a-zA-Z\-]+)?,?\s+)?(?:[A-Z]{2}\s+\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|\d{5}(?:\s+[A-ZÄÖÜ][a-zäöüß]+)?|\d{4}\s?[A-Z]{2}))?`;
const ADDRESS_PATTERNS: RegExp[] = [
	// US / UK / AU / CA: "221B Baker Street", "1600 Pennsylvania Ave NW", "10 Downing St".
	new RegExp(
		String.raw`\b\d{1,5}[A-Za-z]?,?\s+(?:${NAME_WORD}\s+){1,4}(?:${EN_STREET})\b(?:(?<=St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Hwy|Pkwy|Sq|Cir)\.)?(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?${POSTAL_TAIL}`,
		"g"
	),
	// DE / AT / CH / NL / BE (Dutch): "Hauptstraße 5", "Prinsengracht 263", "Kurfürstendamm 21".
	new RegExp(
		String.raw`\b[A-ZÄÖÜ][a-zäöüß\-]*(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|straat|laan|gracht|plein|kade|singel|dijk|markt)\s+\d{1,4}\s?[a-zA-Z]?\b${POSTAL_TAIL}`,
		"g"
	),
	// German with a separate street word: "Unter den Linden 77", "Am Markt 3".
	/\b(?:Unter den|Am|An der|Auf der|Im)\s+[A-ZÄÖÜ][a-zäöüß]+\s+\d{1,4}[a-z]?\b(?:,?\s+\d{5}\s+[A-ZÄÖÜ][a-zäöüß]+)?/g,
	// FR / BE: "12 rue de la Paix", "5 bis avenue Victor Hugo", "3, place du Marché".
	new RegExp(
		String.raw`\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|allée|allee|chemin|impasse|quai|cours|route|square|passage)\s+(?:(?:de la|de l'|de l’|du|des|de|d'|d’|la|le|les)\s*)?[A-ZÀ-Ý][\wÀ-ÿ'’\-]*(?:\s+[A-ZÀ-Ý][\wÀ-ÿ'’\-]*){0,3}(?:,?\s+\d{5}\s+[A-ZÀ-Ý][\wÀ-ÿ\-]+)?`,
		"g"
	),
	// FR / CH / BE with the number after the name: "Rue du Rhône 5", "Avenue Louise 54".
	/\b(?:Rue|Avenue|Boulevard|Chemin|Route|Place|Quai|Allée)\s+(?:(?:de la|de l'|de l’|du|des|de|d'|d’)\s*)?[A-ZÀ-Ý][\wÀ-ÿ'’\-]*(?:\s+[A-ZÀ-Ý][\wÀ-ÿ'’\-]*){0,2}\s+\d{1,4}[a-z]?\b(?:,?\s+(?:\d{4,5}\s+)?[A-ZÀ-Ý][\wÀ-ÿ\-]+)?/gu,
	// ES / IT / PT / BR: "Calle Mayor 10", "Via Roma, 12", "Rua Augusta, 1500", "Av. Paulista, 1000".
	new RegExp(
		String.raw`\b(?:Calle|C/|Avenida|Avda\.|Av\.|Paseo|Plaza|Carrer|Via|Viale|Piazza|Corso|Largo|Rua|Travessa|Alameda|Praça|Estrada|Rodovia)\s+(?:(?:de|del|da|do|dos|das|la|di|della|dei)\s+)?[A-ZÀ-Ý][\wÀ-ÿ'’\-]*(?:\s+(?:de|del|da|do|dos|das|di|della)?\s*[A-ZÀ-Ý][\wÀ-ÿ'’\-]*){0,3},?\s*(?:n[º°o]\.?\s*)?\d{1,5}\b(?:\s*[-,]\s*(?:apto|apt|piso|andar)\.?\s*\w+)?(?:,?\s+\d{5}(?:-\d{3})?(?:\s+[A-ZÀ-Ý][\wÀ-ÿ\-]+)?)?`,
		"g"
	),
	// IN: "Flat 12, MG Road", "House No. 45, Sector 21", "12 Nehru Nagar".
	/\b(?:Flat|House|H\.?\s?No\.?|Plot|Door No\.?)\s*(?:No\.?\s*)?#?\d+[A-Za-z]?(?:\/\d+)?,?\s+(?:[A-Z][\w.]*\s+){0,3}(?:Road|Rd|Marg|Nagar|Colony|Sector\s+\d+|Layout|Cross|Main)\b(?:,?\s+[A-Z][a-z]+)?(?:\s*[-,]?\s*\d{6})?/g,
	/\b\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][a-z]+\s+){1,2}(?:Nagar|Marg|Colony|Layout)\b(?:,?\s+[A-Z][a-z]+)?(?:\s*[-,]?\s*\d{6})?/g
];

function findAddresses(text: string): PiiMatch[] {
	const out: PiiMatch[] = [];
	for (const re of ADDRESS_PATTERNS) {
		re.lastIndex = 0;
		for (const m of text.matchAll(re)) {
			let end = m.index! + m[0].length;
			while (end > m.index! && /[\s,]/.test(text[end - 1])) end--;
			out.push({ kind: "address", start: m.index!, end });
		}
	}
	return out;
}

// ---------------------------------------------------------------- handles

const AT_HANDLE = /(?<![\w@.\/])@(?=[A-Za-z0-9_.]*[A-Za-z])[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])/g;
const TIME_AT = /^@\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|h)?$/i;
const PLATFORM =
	"instagram|insta|ig|tiktok|tik tok|twitter|snapchat|snap|sc|telegram|tg|discord|kik|threads|bluesky|bsky|mastodon|twitch|youtube|yt|reddit|onlyfans|linkedin|facebook|fb|github";
// "IG: jane.doe", "insta - jane_doe", "my snapchat is jane_doe92", "find me on TikTok as jane.d".
const PLATFORM_HANDLE = new RegExp(
	String.raw`\b(?:${PLATFORM})\b\s*(?:[:\-–]\s*|(?:handle|name|username|user|id)\s*(?:is|:)?\s*|\s(?:is|as)\s+)@?([A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_]))\b`,
	"gi"
);
const COMMON_WORDS = new Set([
	"the", "and", "is", "are", "was", "my", "me", "a", "an", "too", "all", "great", "fun", "good", "nice", "life",
	"private", "public", "here", "there", "every", "daily", "sometimes", "always", "never", "mostly", "often"
]);

function findHandles(text: string): PiiMatch[] {
	const out: PiiMatch[] = [];
	for (const m of text.matchAll(AT_HANDLE)) {
		if (TIME_AT.test(m[0])) continue;
		out.push({ kind: "handle", start: m.index!, end: m.index! + m[0].length });
	}
	for (const m of text.matchAll(PLATFORM_HANDLE)) {
		const name = m[1];
		const explicit = /[:\-–]|handle|name|user|id/i.test(m[0].slice(0, m[0].length - name.length));
		if (COMMON_WORDS.has(name.toLowerCase())) continue;
		// After "is"/"as" a plain word is too likely prose ("my insta is inactive"): want a digit, _ or dot.
		if (!explicit && !/[\d_.]/.test(name)) continue;
		const start = m.index! + m[0].lastIndexOf(name) - (m[0][m[0].lastIndexOf(name) - 1] === "@" ? 1 : 0);
		out.push({ kind: "handle", start, end: m.index! + m[0].lastIndexOf(name) + name.length });
	}
	return out;
}

// ---------------------------------------------------------------- all together

function findEmails(text: string): PiiMatch[] {
	const out: PiiMatch[] = [];
	for (const re of [PLAIN_EMAIL, OBFUSCATED_EMAIL, AT_REAL_DOMAIN]) {
		for (const m of text.matchAll(re)) out.push({ kind: "email", start: m.index!, end: m.index! + m[0].length });
	}
	return out;
}

function findUrls(text: string): PiiMatch[] {
	const out: PiiMatch[] = [];
	for (const m of text.matchAll(URL_SCHEME)) out.push({ kind: "url", start: m.index!, end: m.index! + trimUrl(m[0]) });
	for (const m of text.matchAll(BARE_DOMAIN)) {
		const s = m[0];
		// "ASP.NET", "Node.JS": all capitals is a product name, not a link.
		if (s === s.toUpperCase() && !s.includes("/")) continue;
		// "St.Louis", "e.g.": need a label of two or more characters before the TLD.
		if (/^[a-z]\./i.test(s) && s.split(".").length === 2) continue;
		out.push({ kind: "url", start: m.index!, end: m.index! + trimUrl(s) });
	}
	return out;
}

function findIbans(text: string): PiiMatch[] {
	const out: PiiMatch[] = [];
	for (const m of text.matchAll(IBAN_CANDIDATE)) {
		const country = m[0].slice(0, 2).toUpperCase();
		const len = IBAN_LENGTHS[country];
		if (!len) continue;
		// Take exactly the country's length of alphanumerics (the candidate may run into the next word).
		let count = 0;
		let end = m.index!;
		for (let i = m.index!; i < text.length && count < len; i++) {
			if (/[A-Za-z0-9]/.test(text[i])) count++;
			else if (!/[ \-]/.test(text[i])) break;
			end = i + 1;
		}
		if (count !== len) continue;
		if (end < text.length && /[A-Za-z0-9]/.test(text[end]) && !/[ \-]/.test(text[end - 1])) continue;
		const compact = text.slice(m.index!, end).replace(/[ \-]/g, "");
		if (ibanValid(compact)) out.push({ kind: "iban", start: m.index!, end });
	}
	return out;
}

function findCards(text: string): PiiMatch[] {
	const out: PiiMatch[] = [];
	for (const m of text.matchAll(CARD_CANDIDATE)) {
		const digits = digitsOf(m[0]);
		// Grouping must be regular-ish: no mixed separators.
		if (/ /.test(m[0]) && /-/.test(m[0])) continue;
		if (luhnValid(digits) && cardNetwork(digits)) out.push({ kind: "card", start: m.index!, end: m.index! + m[0].length });
	}
	return out;
}

/** Every PII match, overlaps resolved (priority, then the longer match), sorted by position. */
export function detectPii(text: string): PiiMatch[] {
	const all = [
		...findEmails(text),
		...findUrls(text),
		...findIbans(text),
		...findCards(text),
		...findPhones(text),
		...findAddresses(text),
		...findHandles(text)
	].filter(m => m.end > m.start);
	all.sort((a, b) => PRIORITY.indexOf(a.kind) - PRIORITY.indexOf(b.kind) || b.end - b.start - (a.end - a.start) || a.start - b.start);
	const kept: PiiMatch[] = [];
	for (const m of all) {
		if (kept.some(k => m.start < k.end && k.start < m.end)) continue;
		kept.push(m);
	}
	return kept.sort((a, b) => a.start - b.start);
}

export const piiTag = (kind: PiiKind) => `[${kind}]`;

export function piiFinding(m: PiiMatch): Finding {
	return {
		category: `pii.${m.kind}`,
		severity: SEVERITY[m.kind],
		span: [m.start, m.end],
		message: `${/^[aeiou]/i.test(LABEL[m.kind]) ? "An" : "A"} ${LABEL[m.kind]} was removed before analysis.`
	};
}

/** The text with every PII match replaced by its tag, and one finding per match (spans in the given text). */
export function redactPii(text: string): { text: string; findings: Finding[]; matches: PiiMatch[] } {
	const matches = detectPii(text);
	let out = "";
	let at = 0;
	for (const m of matches) {
		out += text.slice(at, m.start) + piiTag(m.kind);
		at = m.end;
	}
	out += text.slice(at);
	return { text: out, findings: matches.map(piiFinding), matches };
}
