/** Settings of the operator installation that shape every cluster's objects. */
export interface BuildOptions {
  /** Broker image used when a cluster does not override it (the chart sets the release's). */
  brokerImage: string;
  /** DNS suffix of the Kubernetes cluster, for names advertised to clients and in certificates. */
  clusterDomain: string;
}

export const DEFAULT_BUILD_OPTIONS: BuildOptions = {
  brokerImage: 'ghcr.io/kafscale/broker:0.1.0',
  clusterDomain: 'cluster.local',
};
