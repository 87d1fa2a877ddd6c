import type { ServiceSchema } from "moleculer";
import { notification, type NotificationDeps } from "../../agents/notification";
import { agentMixin } from "../../mixins/agent.mixin";

/**
 * `agent.notification`: the notification rules over the broker, like every agent. The
 * notifications service runs the same pure module in-process (its input is that service's own
 * dedupe history and it runs on every event), so creating a notification never waits on a worker.
 */
const NotificationAgentService: ServiceSchema = {
	name: `agent.${notification.name}`,
	mixins: [agentMixin(notification, (): NotificationDeps => ({ now: () => new Date() }))]
};

export default NotificationAgentService;
