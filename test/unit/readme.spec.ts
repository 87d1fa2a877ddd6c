import fs from "node:fs";
import path from "node:path";
import { CONFIG_VARIABLES } from "../../lib/config";

const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");

describe("README", () => {
	it.each(CONFIG_VARIABLES)("documents %s in the configuration table", name => {
		expect(readme).toMatch(new RegExp(`^\\| \`${name}\` \\|`, "m"));
	});

	it("names the install-and-start and install-and-test commands that CI runs", () => {
		expect(readme).toContain("npm ci && npm start");
		expect(readme).toContain("npm ci && npm test");
		const ci = fs.readFileSync(path.join(__dirname, "..", "..", ".ci", "run"), "utf8");
		expect(ci).toMatch(/npm ci/);
		expect(ci).toMatch(/^(timeout \d+ )?npm test$/m);
	});
});
