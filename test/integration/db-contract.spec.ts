import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { configure } from "../../lib/config";
import { dbMixin, type DbMethods } from "../../mixins/db.mixin";
import { dbContract, type DbContractTarget } from "../helpers/db-contract";
import { tempDir } from "../helpers/node";

const COLLECTION = "contract_items";

/** The service under contract: nothing but the mixin, with a unique index on `code`. */
function contractService(): ServiceSchema {
	return { name: COLLECTION, mixins: [dbMixin(COLLECTION, { indexes: [{ fields: ["code"], unique: true }] })] } as ServiceSchema;
}

/** dbMixin reads the process-wide config when the schema is built, so configure first. */
async function startBroker(env: Record<string, string>): Promise<{ broker: ServiceBroker; svc: DbMethods }> {
	configure({ ...process.env, ...env });
	const broker = new ServiceBroker({ logger: false, nodeID: `db-contract-${randomUUID().slice(0, 8)}` });
	broker.createService(contractService());
	await broker.start();
	return { broker, svc: broker.getLocalService(COLLECTION) as unknown as DbMethods };
}

/** A target whose broker can be restarted on the same storage; `drop` wipes the storage afterwards. */
async function target(env: Record<string, string>, drop: (svc: DbMethods) => Promise<void>): Promise<DbContractTarget> {
	let current = await startBroker(env);
	return {
		get broker() {
			return current.broker;
		},
		get svc() {
			return current.svc;
		},
		async restart() {
			await current.broker.stop();
			current = await startBroker(env);
			return current.svc;
		},
		async cleanup() {
			try {
				await drop(current.svc);
			} finally {
				await current.broker.stop();
			}
		}
	};
}

// NeDB files under a fresh DATA_DIR: the embedded default, always available.
// MONGO_URI is blanked so this suite stays on NeDB even when MongoDB is configured.
dbContract("NeDB (files under DATA_DIR)", async () => {
	const dataDir = tempDir("lm-db-contract-");
	return target({ DATA_DIR: dataDir, MONGO_URI: "" }, async () => {
		fs.rmSync(dataDir, { recursive: true, force: true });
	});
});

// MongoDB runs the same contract wherever one is configured (CI with a mongo service, a developer's
// machine). It is registered only when MONGO_URI is set: this machine has no MongoDB, and without
// a server there is nothing to run the contract against (this is not a skipped test).
if (process.env.MONGO_URI) {
	dbContract("MongoDB (MONGO_URI)", async () => {
		// A database per target, dropped afterwards: parallel runs never see each other's records.
		const mongoDb = `lm_contract_${randomUUID().replace(/-/g, "").slice(0, 16)}`;
		return target({ MONGO_URI: process.env.MONGO_URI!, MONGO_DB: mongoDb, DATA_DIR: tempDir("lm-db-contract-") }, async svc => {
			await (svc as unknown as { adapter: { db: { dropDatabase(): Promise<unknown> } } }).adapter.db.dropDatabase();
		});
	});
}
