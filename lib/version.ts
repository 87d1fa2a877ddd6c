import fs from "node:fs";
import path from "node:path";

/** This package's version, read once from the package.json above this file (source tree or dist/). */
export const PACKAGE_VERSION: string = (() => {
	for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
		const file = path.join(dir, "package.json");
		if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string }).version ?? "0.0.0";
	}
	return "0.0.0";
})();
