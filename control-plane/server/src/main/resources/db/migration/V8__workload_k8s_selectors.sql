-- Kubernetes selectors of workload registrations: a pod attesting with its projected service-account token
-- (cluster, namespace, service account) gets the SPIFFE ID of the one registration whose selector matches.
-- cluster '' selects the namespace and service account in every configured cluster.
-- Rows go with their workload (the store writes and deletes them in the workload's transaction).
CREATE TABLE workload_k8s_selector (
    spiffe_id       TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    cluster         TEXT    NOT NULL,
    namespace       TEXT    NOT NULL,
    service_account TEXT    NOT NULL,
    PRIMARY KEY (spiffe_id, cluster, namespace, service_account)
);
CREATE INDEX workload_k8s_selector_by_account ON workload_k8s_selector (namespace, service_account);
