import argon2 from "argon2";

/** The most common passwords of public breach corpora (lower-cased), refused at sign-up. */
const COMMON = new Set(
	`123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball abc123
football monkey letmein 696969 shadow master 666666 qwertyuiop 123321 mustang 1234567890 michael 654321
superman 1qaz2wsx 7777777 121212 000000 qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh
hunter buster soccer harley batman andrew tigger sunshine iloveyou 2000 charlie robert thomas hockey
ranger daniel starwars klaster 112233 george computer michelle jessica pepper 1111 zxcvbn 555555 11111111
131313 freedom 777777 pass maggie 159753 aaaaaa ginger princess joshua cheese amanda summer love ashley
nicole chelsea biteme matthew access yankees 987654321 dallas austin thunder taylor matrix mobilemail
mom monitor monitoring montana moon moscow passw0rd password1 password123 welcome welcome1 admin admin123
administrator qwerty123 qwerty1 1q2w3e4r 1q2w3e4r5t 1q2w3e 123abc abcd1234 a1b2c3d4 changeme letmein1
iloveyou1 football1 baseball1 sunshine1 princess1 whatever secret secret123 p@ssw0rd p@ssword passw0rd1
qwertyui asdfghjkl asdf1234 zaq12wsx zaq1zaq1 q1w2e3r4 q1w2e3r4t5 11223344 123123123 00000000 12341234
87654321 lifemirror lifemirror1 1234qwer qwer1234 aa123456 abc12345 password! password1! trustno1!`
		.split(/\s+/)
		.filter(Boolean)
);

export interface PasswordIssue {
	message: string;
}

/** Password policy: 8 to 128 characters, not a common password, not all one character, not the email. */
export function passwordIssues(password: string, email?: string): PasswordIssue[] {
	const issues: PasswordIssue[] = [];
	if (password.length < 8) issues.push({ message: "must be at least 8 characters" });
	if (password.length > 128) issues.push({ message: "must be at most 128 characters" });
	const lower = password.toLowerCase();
	if (COMMON.has(lower)) issues.push({ message: "is too common" });
	else if (password.length >= 8 && new Set(password).size < 3) issues.push({ message: "is too repetitive" });
	const local = email?.split("@")[0]?.toLowerCase();
	if (local && local.length >= 4 && lower.includes(local)) issues.push({ message: "must not contain your email" });
	return issues;
}

export interface HashOptions {
	memoryCost: number;
	timeCost: number;
}

export function hashPassword(password: string, opts: HashOptions): Promise<string> {
	return argon2.hash(password, { type: argon2.argon2id, memoryCost: opts.memoryCost, timeCost: opts.timeCost, parallelism: 1 });
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
	try {
		return await argon2.verify(hash, password);
	} catch {
		return false;
	}
}

/** A hash to verify against when the account does not exist, so timing does not reveal it. */
let dummy: Promise<string> | null = null;
export function dummyHash(opts: HashOptions): Promise<string> {
	dummy ??= hashPassword("not-a-real-password-0", opts);
	return dummy;
}
