import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";

/**
 * A minimal ZIP (PKWARE APPNOTE) writer and reader: enough for the data export, without a
 * dependency. Text entries are deflated, already-compressed media is stored as is. No ZIP64:
 * an archive stays under 4 GiB and 65535 entries (the media quota keeps it far below).
 */
export interface ZipEntry {
	name: string;
	data: Buffer;
}

const STORE_EXT = /\.(jpe?g|png|webp|gif|mp4|mov|webm|zip)$/i;

export function zip(entries: ZipEntry[], date = new Date()): Buffer {
	if (entries.length > 0xffff) throw new Error("too many entries for a ZIP without ZIP64");
	const dosTime = ((date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2)) & 0xffff;
	const dosDate = (((date.getFullYear() - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate()) & 0xffff;
	const locals: Buffer[] = [];
	const centrals: Buffer[] = [];
	let offset = 0;
	for (const e of entries) {
		const name = Buffer.from(e.name, "utf8");
		const store = STORE_EXT.test(e.name);
		const body = store ? e.data : deflateRawSync(e.data);
		const crc = crc32(e.data);
		const local = Buffer.alloc(30);
		local.writeUInt32LE(0x04034b50, 0);
		local.writeUInt16LE(20, 4);
		local.writeUInt16LE(0x0800, 6); // UTF-8 names
		local.writeUInt16LE(store ? 0 : 8, 8);
		local.writeUInt16LE(dosTime, 10);
		local.writeUInt16LE(dosDate, 12);
		local.writeUInt32LE(crc, 14);
		local.writeUInt32LE(body.length, 18);
		local.writeUInt32LE(e.data.length, 22);
		local.writeUInt16LE(name.length, 26);
		const central = Buffer.alloc(46);
		central.writeUInt32LE(0x02014b50, 0);
		central.writeUInt16LE(20, 4);
		central.writeUInt16LE(20, 6);
		local.copy(central, 8, 6, 30); // flags, method, time, date, crc, sizes, name length (extra length 0)
		central.writeUInt32LE(offset, 42);
		locals.push(local, name, body);
		centrals.push(central, name);
		offset += 30 + name.length + body.length;
		if (offset > 0xffffffff) throw new Error("archive too large for a ZIP without ZIP64");
	}
	const dir = Buffer.concat(centrals);
	const end = Buffer.alloc(22);
	end.writeUInt32LE(0x06054b50, 0);
	end.writeUInt16LE(entries.length, 8);
	end.writeUInt16LE(entries.length, 10);
	end.writeUInt32LE(dir.length, 12);
	end.writeUInt32LE(offset, 16);
	return Buffer.concat([...locals, dir, end]);
}

/** Reads an archive written by `zip` (or any plain ZIP: stored or deflated entries, no ZIP64), checking each CRC. */
export function unzip(buf: Buffer): ZipEntry[] {
	const endAt = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
	if (endAt < 0) throw new Error("not a ZIP archive");
	const count = buf.readUInt16LE(endAt + 10);
	let p = buf.readUInt32LE(endAt + 16);
	const out: ZipEntry[] = [];
	for (let i = 0; i < count; i++) {
		if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error("bad central directory");
		const method = buf.readUInt16LE(p + 10);
		const crc = buf.readUInt32LE(p + 16);
		const size = buf.readUInt32LE(p + 20);
		const nameLen = buf.readUInt16LE(p + 28);
		const extraLen = buf.readUInt16LE(p + 30);
		const commentLen = buf.readUInt16LE(p + 32);
		const localAt = buf.readUInt32LE(p + 42);
		const name = buf.subarray(p + 46, p + 46 + nameLen).toString("utf8");
		const dataAt = localAt + 30 + buf.readUInt16LE(localAt + 26) + buf.readUInt16LE(localAt + 28);
		const raw = buf.subarray(dataAt, dataAt + size);
		const data = method === 0 ? Buffer.from(raw) : inflateRawSync(raw);
		if (crc32(data) !== crc) throw new Error(`CRC mismatch in ${name}`);
		out.push({ name, data });
		p += 46 + nameLen + extraLen + commentLen;
	}
	return out;
}
