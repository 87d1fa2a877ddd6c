/**
 * Prints the run's outcome as one plain line on stdout — `N passed, N failed` (with
 * `, N skipped` when any were) — so any CI can read it without knowing Jest's format.
 */
class SummaryReporter {
	onRunComplete(_contexts, results) {
		const skipped = results.numPendingTests + results.numTodoTests;
		process.stdout.write(
			`\n${results.numPassedTests} passed, ${results.numFailedTests + (results.numRuntimeErrorTestSuites || 0)} failed${skipped ? `, ${skipped} skipped` : ""}\n`
		);
	}
}
module.exports = SummaryReporter;
