import type { Readable } from "node:stream";
import {
	DeleteObjectCommand,
	GetObjectCommand,
	HeadObjectCommand,
	ListObjectsV2Command,
	PutObjectCommand,
	S3Client
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { assertKey, type Storage, type StoredObject, type UploadUrlOptions } from "./types";

export interface S3Options {
	bucket: string;
	region: string;
	endpoint: string | null;
	forcePathStyle: boolean;
	accessKeyId: string | null;
	secretAccessKey: string | null;
}

/** AWS S3 or any S3-compatible store (MinIO…): presigned PUT and GET URLs. */
export class S3Storage implements Storage {
	readonly kind = "s3" as const;
	readonly client: S3Client;

	constructor(private readonly opts: S3Options) {
		this.client = new S3Client({
			region: opts.region,
			endpoint: opts.endpoint ?? undefined,
			forcePathStyle: opts.forcePathStyle,
			credentials:
				opts.accessKeyId && opts.secretAccessKey
					? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey }
					: undefined
		});
	}

	async put(key: string, body: Buffer, contentType: string): Promise<void> {
		await this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: assertKey(key), Body: body, ContentType: contentType }));
	}

	async get(key: string): Promise<Buffer> {
		const res = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: assertKey(key) }));
		return Buffer.from(await res.Body!.transformToByteArray());
	}

	async stream(key: string): Promise<Readable> {
		const res = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: assertKey(key) }));
		return res.Body as Readable;
	}

	async head(key: string): Promise<StoredObject | null> {
		try {
			const res = await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: assertKey(key) }));
			return { size: Number(res.ContentLength ?? 0), contentType: res.ContentType };
		} catch (err) {
			const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
			if (status === 404 || (err as Error).name === "NotFound" || (err as Error).name === "NoSuchKey") return null;
			throw err;
		}
	}

	async delete(key: string): Promise<void> {
		await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: assertKey(key) }));
	}

	async list(prefix: string): Promise<string[]> {
		const keys: string[] = [];
		let token: string | undefined;
		do {
			const res = await this.client.send(
				new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: prefix, ContinuationToken: token })
			);
			for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
			token = res.IsTruncated ? res.NextContinuationToken : undefined;
		} while (token);
		return keys.sort();
	}

	async uploadUrl(key: string, opts: UploadUrlOptions): Promise<string> {
		// The content type is signed; the size is checked when the upload is turned into a media record.
		const cmd = new PutObjectCommand({ Bucket: this.opts.bucket, Key: assertKey(key), ContentType: opts.contentType });
		return getSignedUrl(this.client, cmd, { expiresIn: opts.expiresS, signableHeaders: new Set(["content-type"]) });
	}

	async downloadUrl(key: string, expiresS: number): Promise<string> {
		return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.opts.bucket, Key: assertKey(key) }), { expiresIn: expiresS });
	}
}
