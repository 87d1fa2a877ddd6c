/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: "node",
	roots: ["<rootDir>/test"],
	testMatch: ["**/*.spec.ts"],
	transform: {
		"^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } }, module: { type: "commonjs" } }],
		// jose is ESM-only; Node 20 requires it natively, Jest's module runtime needs it compiled.
		"/node_modules/jose/.+\\.js$": ["@swc/jest", { jsc: { target: "es2022" }, module: { type: "commonjs" } }]
	},
	transformIgnorePatterns: ["/node_modules/(?!jose/)"],
	setupFiles: ["<rootDir>/test/helpers/setup-env.ts"],
	testTimeout: 30000,
	// A suite that leaves a handle open must not keep CI waiting forever after the run.
	forceExit: true,
	reporters: ["default", "<rootDir>/test/helpers/summary-reporter.js"],
	// Coverage over all source, not only the files a test happens to load.
	collectCoverageFrom: [
		"agents/**/*.ts",
		"services/**/*.ts",
		"mixins/**/*.ts",
		"lib/**/*.ts",
		"bin/**/*.ts",
		"moleculer.config.ts",
		"!**/*.d.ts"
	],
	coverageProvider: "v8",
	coverageReporters: ["text-summary", "text", "json-summary"],
	// The product's target since the orchestrator landed: 90 % of lines over all source.
	coverageThreshold: { global: { lines: 90 } }
};
