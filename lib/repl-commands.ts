import type { ReplOptions, ServiceBroker } from "moleculer";
import { config, redactedConfig } from "./config";

type ReplCommand = NonNullable<ReplOptions["customCommands"]>[number];

/** Operator commands added to the Moleculer REPL (`npm run repl`), next to its own (nodes, services, call…). */
export const replCommands: ReplCommand[] = [
	{
		command: "lm-config",
		description: "Show this node's LifeMirror configuration (secrets masked)",
		async action() {
			console.log(JSON.stringify(redactedConfig(config()), null, 2));
		}
	},
	{
		command: "lm-ready",
		description: "Probe every data store in the cluster (the *.dbHealth actions)",
		async action(broker: ServiceBroker) {
			const names = [
				...new Set(
					broker.registry
						.getActionList({ onlyAvailable: true, skipInternal: true })
						.map(a => a.name)
						.filter(n => n.endsWith(".dbHealth"))
				)
			];
			if (names.length === 0) console.log("No data services are reachable.");
			for (const name of names) {
				const started = Date.now();
				try {
					await broker.call(name, {}, { timeout: 2000, retries: 0 });
					console.log(`${name.split(".")[0].padEnd(20)} ok   ${Date.now() - started} ms`);
				} catch (err) {
					console.log(`${name.split(".")[0].padEnd(20)} FAIL ${(err as Error).message}`);
				}
			}
		}
	}
];
