/** What `ctx.meta` carries through the cluster: who is calling, and which request this is. */
export interface Meta {
	userId?: string;
	roles?: string[];
	requestId?: string;
}
