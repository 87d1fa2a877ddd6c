import type { z } from "zod";
import type { SocialInput, SocialOutput } from "../../agents/social-perception";
import type { VisionResult } from "../../agents/providers/vision/types";

/** What the post-ingest job stores with a media: non-biometric readings of the vision pass and the social read. */
export interface StoredPerception {
	faces: { box: [number, number, number, number]; expression: string; emotions: Record<string, number> }[];
	posture: null;
	fashion: null;
	environment: { objects: { label: string; score: number }[] };
	quality: { blurry: boolean; too_dark: boolean; too_bright: boolean };
	social: { summary_text: string; tags: string[]; social_score: number; confidence: number };
	versions: { vision: string; social_perception: string };
	created_at: string;
}

/** The strongest emotion of a face; `neutral` when there is none. */
export function dominantExpression(emotions: Record<string, number>): string {
	let best = "neutral";
	let score = -1;
	for (const [k, v] of Object.entries(emotions)) if (v > score) [best, score] = [k, v];
	return best;
}

/** The social_perception input from a vision pass alone (posture and fashion come with a full analysis). */
export function socialInputOf(v: VisionResult): z.input<typeof SocialInput> {
	return {
		faces: v.faces.slice(0, 50).map((f, i) => ({ expression: dominantExpression(f.emotions), emotions: clampEmotions(f.emotions), is_subject: i === 0 })),
		posture: null,
		fashion: null,
		quality: { blurry: v.quality.blurry, too_dark: v.quality.too_dark, too_bright: v.quality.too_bright },
		objects: v.objects.slice(0, 100).map(o => ({ label: o.label.slice(0, 40), score: Math.max(0, Math.min(1, o.score)) })),
		minor: false
	};
}

export function perceptionOf(v: VisionResult, s: SocialOutput, now = new Date()): StoredPerception {
	return {
		faces: v.faces.map(f => ({ box: f.box, expression: dominantExpression(f.emotions), emotions: clampEmotions(f.emotions) })),
		posture: null,
		fashion: null,
		environment: { objects: v.objects.map(o => ({ label: o.label, score: o.score })) },
		quality: { blurry: v.quality.blurry, too_dark: v.quality.too_dark, too_bright: v.quality.too_bright },
		social: { summary_text: s.summary_text, tags: s.tags, social_score: s.social_score, confidence: s.confidence },
		versions: { vision: v.model_version, social_perception: s.prompt_version },
		created_at: now.toISOString()
	};
}

function clampEmotions(e: Record<string, number>): Record<string, number> {
	return Object.fromEntries(Object.entries(e).map(([k, v]) => [k.slice(0, 40), Math.max(0, Math.min(1, v))]));
}

/** `GET /media/media/{id}/perception` (SPEC §3), from what the post-ingest job stored. */
export function perceptionView(mediaId: string, mediaUrl: string, p: StoredPerception) {
	return {
		media_id: mediaId,
		media_url: mediaUrl,
		faces: p.faces,
		posture: p.posture,
		fashion: p.fashion,
		environment: p.environment,
		social: { summary_text: p.social.summary_text, tags: p.social.tags, social_score: p.social.social_score },
		summaries: { style_summary: { main_colors: [] as string[], items_detected: [] as string[] }, posture_grade: null, overall_score: p.social.social_score },
		created_at: p.created_at
	};
}
