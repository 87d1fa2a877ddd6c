/**
 * The supportive note answered instead of an analysis when a text carries a self-harm signal
 * (`InputVerdict.self_harm`). Kind, non-clinical, international: a directory that finds a free,
 * confidential line in any country, the main national lines, and emergency numbers.
 * Numbers as the services publish them (988lifeline.org, samaritans.org, telefonseelsorge.de,
 * 3114.fr, lifeline.org.au, telemanas.mohfw.gov.in, cvv.org.br, findahelpline.com,
 * befrienders.org); re-check them whenever this list is edited.
 */

export interface HelpResource {
	name: string;
	/** Where it answers: a country code, or "international". */
	region: string;
	contact: string;
}

export const HELP_RESOURCES: readonly HelpResource[] = [
	{ name: "Find A Helpline (free, confidential lines in 130+ countries)", region: "international", contact: "https://findahelpline.com" },
	{ name: "Befrienders Worldwide", region: "international", contact: "https://www.befrienders.org" },
	{ name: "988 Suicide & Crisis Lifeline", region: "US", contact: "call or text 988" },
	{ name: "988 Suicide Crisis Helpline", region: "CA", contact: "call or text 988" },
	{ name: "Samaritans", region: "GB/IE", contact: "116 123" },
	{ name: "TelefonSeelsorge", region: "DE", contact: "0800 111 0 111 or 0800 111 0 222" },
	{ name: "3114 (numéro national de prévention du suicide)", region: "FR", contact: "3114" },
	{ name: "Lifeline", region: "AU", contact: "13 11 14" },
	{ name: "Tele-MANAS", region: "IN", contact: "14416" },
	{ name: "CVV (Centro de Valorização da Vida)", region: "BR", contact: "188" }
];

export interface SupportNote {
	title: string;
	message: string;
	resources: HelpResource[];
}

/**
 * The note itself. `region` (an ISO country code, when known) puts that country's line first;
 * the international directory is always included.
 */
export function supportiveResources(region?: string | null): SupportNote {
	const r = (region ?? "").toUpperCase();
	const local = r ? HELP_RESOURCES.filter(x => x.region.split("/").includes(r)) : [];
	const rest = HELP_RESOURCES.filter(x => !local.includes(x));
	return {
		title: "You don't have to go through this alone",
		message:
			"Some of what you wrote sounds really heavy, so we've paused the analysis. " +
			"You matter, and how you feel matters more than any report. " +
			"If you can, reach out to someone you trust, or talk to a trained listener: it's free and confidential, and they're there for exactly this. " +
			"If you might act on thoughts of ending your life, or you're in danger right now, please call your local emergency number (such as 112 or 911).",
		resources: [...local, ...rest]
	};
}

/** The same note as plain text lines, for a `warnings[]` entry or a text-only reply. */
export function supportiveResourcesText(region?: string | null): string {
	const note = supportiveResources(region);
	return [note.title, note.message, ...note.resources.map(x => `${x.name} (${x.region}): ${x.contact}`)].join("\n");
}

/** The note as one paragraph (for a single text field such as a bio reply's `vibe_summary`). */
export function supportiveResourcesParagraph(region?: string | null): string {
	const note = supportiveResources(region);
	const lines = note.resources.map(x => `${x.name} (${x.region === "international" ? "worldwide" : x.region}): ${x.contact}`);
	return `${note.message} Free, confidential support: ${lines.join("; ")}.`;
}

/** The default note (no region known), as one paragraph. */
export const SELF_HARM_NOTE = supportiveResourcesParagraph();
